"""Checks that each number of a row can be found in the verbatim quote it was read from.

Part of the data package layer: `validate` reports a number missing from its quote as a problem
(rule `quote`), and the test suite uses the same functions.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
# Phrases that state a count without its digits: "no patient" = 0, "all" = the denominator, "a patient" = 1.
ZERO = re.compile(r"\b(no|none|without|zero|neither|absence|not observed|did not|didn't|didn’t|free of)\b|未", re.I)
ONE = re.compile(r"\b(a|an|one|single|the)\s+(\w+\s+)?(patient|woman|man|girl|boy|case|child|adolescent)\b|\b(she|he)\b", re.I)
ALL = re.compile(r"\b(all|every|each|both)\b", re.I)

CHECKED = {"arms": ["n_treated"], "outcomes": ["n_evaluable", "n_events", "value"], "adverse_events": ["n_events", "n_evaluable"]}
ID = {"arms": "arm_id", "outcomes": "outcome_id", "adverse_events": "ae_id"}
# The columns that tell the arms of case reports (:func:`case_report_arms`): all the quote rule
# reads across tables (a table read in blocks has the rest of it worked out block by block).
CASE_REPORT_COLUMNS = {"studies": {"study_id", "design"}, "arms": {"study_id", "arm_id"}}


DIGITS = re.compile(r"(?<![A-Za-z0-9_.])\d[\d,]*(?:\.\d+)?")
# One search for all number words (was one search per word: 21 per quote and column).
NUMBER_WORDS = re.compile(r"\b(" + "|".join(WORDS) + r")\b", re.I)


@lru_cache(maxsize=65536)
def _numbers(text: str) -> frozenset[float]:
    found = {float(x.replace(",", "")) for x in DIGITS.findall(text)}
    found |= {float(WORDS.index(w.lower())) for w in NUMBER_WORDS.findall(text)}
    return frozenset(found)


def stated(value: float, quote: str, role: str, total: float | None = None) -> bool:
    """Whether ``value`` can be read from ``quote`` (digits, number words or a phrase such as 'all')."""
    if abs(value) in _numbers(quote):
        return True
    if value == 0 and ZERO.search(quote):
        return True
    if value == 1 and ONE.search(quote):
        return True
    return total is not None and value == total and role == "n_events" and bool(ALL.search(quote))


def _quote_numbers(quotes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(quote index, number) of every number that can be read in each quote: digits (commas
    dropped) and number words, as :func:`_numbers` reads one quote.

    One regex pass over all quotes joined by NUL (a NUL is neither a digit nor a word
    character, so it bounds the matches as the start and end of a quote do; its matches count
    the quotes), not one per quote: the quote rule must scale to millions of rows.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if any("\x00" in q for q in quotes):  # a quote with a NUL (reported as a control character)
        pairs = [(i, x) for i, q in enumerate(quotes) for x in _numbers(q)]
        return np.array([i for i, _ in pairs], dtype=np.int64), np.array([x for _, x in pairs], dtype=float)
    text = "\x00".join(quotes)
    codes, numbers = [], []
    for pattern, to_float in ((_JOINED_DIGITS, _digits_to_float), (_JOINED_WORDS, _words_to_float)):
        tokens = pa.array(pattern.findall(text), pa.string())
        sep = pc.equal(tokens, "\x00").to_numpy(zero_copy_only=False)
        codes.append(np.cumsum(sep)[~sep])
        numbers.append(to_float(tokens.filter(pa.array(~sep))))
    return np.concatenate(codes).astype(np.int64), np.concatenate(numbers)


def _digits_to_float(tokens) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    plain = pc.replace_substring(tokens, ",", "")
    try:
        return pc.cast(plain, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # digits of other scripts (\d is Unicode): Python reads them
        return np.array([float(x) for x in plain.to_pylist()], dtype=float)


def _words_to_float(tokens) -> np.ndarray:
    index = {w: float(i) for i, w in enumerate(WORDS)}
    return np.array([index[w.lower()] for w in tokens.to_pylist()], dtype=float)


_JOINED_DIGITS = re.compile("\x00|" + DIGITS.pattern)
_JOINED_WORDS = re.compile(r"\x00|\b(?:" + "|".join(WORDS) + r")\b", re.I)


def unquoted_rows(tables: dict[str, pd.DataFrame]) -> list[tuple[str, np.ndarray, str]]:
    """(table, rows, column) of the numbers not visible in their quote, whose value_source does
    not say why: the rows (positions in the table, ascending) of each checked column.

    Vectorised over whole columns: the numbers of each distinct quote are read once (see
    :func:`_quote_numbers`) and each row's number is looked up among its quote's; the phrases
    ('no patient', 'a patient', 'all') are searched only in the quotes of the rows that need them.
    """
    single = case_report_arms(tables)
    out = []
    for table in CHECKED:
        frame = tables[table]
        exempt = single_case_rows(frame["arm_id"] if "arm_id" in frame else pd.Series([None] * len(frame), dtype=object), single)
        for rows, column, one in unquoted_in(table, frame):
            out.append((table, rows[~(one & exempt[rows])], column))
    return out


def case_report_arms(tables: dict[str, pd.DataFrame]) -> tuple[list, bool]:
    """The arms of case reports (where a count of one is the report itself): their ids, and
    whether an arm without id is one (it then matches the rows without arm_id)."""
    single = tables["studies"].loc[tables["studies"]["design"] == "case report", "study_id"]
    single_arms = pd.Series(tables["arms"].loc[tables["arms"]["study_id"].isin(single), "arm_id"])
    return single_arms.dropna().unique().tolist(), bool(single_arms.isna().any())


def single_case_rows(arm: pd.Series, single: tuple[list, bool]) -> np.ndarray:
    """The rows whose arm (``arm``: each row's arm_id) is a case report's (see :func:`case_report_arms`)."""
    single_ids, single_na = single
    return np.asarray(arm.isin(single_ids).fillna(False), dtype=bool) | (arm.isna().to_numpy() & single_na)


def unquoted_in(table: str, frame: pd.DataFrame) -> list[tuple[np.ndarray, str, np.ndarray]]:
    """:func:`unquoted_rows` of one table (or a block of its rows), before the case reports are
    known: (rows, column, whether each is a count of one, which a case report's row states by
    being one) for each checked column."""
    columns = CHECKED[table]
    out = []
    n = len(frame)
    keep = np.ones(n, dtype=bool)
    if "value_source" in frame:
        keep = np.asarray(frame["value_source"].isin(["reported", "secondary_source"]).fillna(True), dtype=bool)
    quote = frame["quote"] if "quote" in frame else pd.Series([None] * n, dtype=object)
    codes, uniques = pd.factorize(quote)
    quotes = [str(q) for q in uniques.tolist()] + [""]  # code -1 (no quote) -> the last, ""
    codes = np.where(codes < 0, len(quotes) - 1, codes)
    q_codes, q_numbers = _quote_numbers(quotes)
    known = np.unique(q_numbers)
    quote_keys = np.unique(q_codes * (len(known) + 1) + np.searchsorted(known, q_numbers))
    total = _floats(frame["n_evaluable"]) if table != "arms" and "n_evaluable" in frame else np.full(n, np.nan)
    phrases: dict[str, dict[int, bool]] = {}

    def says(regex: re.Pattern, name: str, rows: np.ndarray) -> np.ndarray:
        found = phrases.setdefault(name, {})
        for code in np.unique(codes[rows]).tolist():
            if code not in found:
                found[code] = bool(regex.search(quotes[code]))
        return np.array([found[c] for c in codes[rows].tolist()], dtype=bool)

    for column in columns:
        if column not in frame:
            continue
        value = _floats(frame[column])
        check = keep & ~np.isnan(value)
        rows = np.flatnonzero(check)
        v = np.abs(value[rows])
        at = np.minimum(np.searchsorted(known, v), max(len(known) - 1, 0))
        seen = np.zeros(len(rows), dtype=bool)
        if len(known):
            seen = (known[at] == v) & np.isin(codes[rows] * (len(known) + 1) + at, quote_keys)
        for target, regex, name in ((0.0, ZERO, "zero"), (1.0, ONE, "one")):
            maybe = np.flatnonzero(~seen & (value[rows] == target))
            seen[maybe] = says(regex, name, rows[maybe])
        if column == "n_events":
            maybe = np.flatnonzero(~seen & (value[rows] == total[rows]))
            seen[maybe] = says(ALL, "all", rows[maybe])
        rows = rows[~seen]
        out.append((rows, column, (value[rows] == 1) & (column != "value")))
    return out


def _floats(column: pd.Series) -> np.ndarray:
    """A column of numbers as floats, NaN where empty."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def unquoted_values(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows whose numbers are not visible in their quote and whose value_source does not say why.

    Rows with value_source 'derived_from_percentage' or 'derived_by_curator' are exempt (their
    notes say how the number was obtained).
    """
    found = []
    for table, rows, column in unquoted_rows(tables):
        frame = tables[table]
        quote = frame["quote"].iloc[rows].tolist()
        for row, value, id_, q in zip(rows.tolist(), frame[column].iloc[rows].tolist(), frame[ID[table]].iloc[rows].tolist(), quote):
            found.append((table, row, list(CHECKED[table]).index(column), id_, column, value, "" if q is None or q is pd.NA or q != q else str(q)))
    order = {t: i for i, t in enumerate(CHECKED)}
    found.sort(key=lambda f: (order[f[0]], f[1], f[2]))  # table by table, row by row: as read
    problems = [{"table": t, "id": i, "column": c, "value": v, "quote": q[:160]} for t, _, _, i, c, v, q in found]
    return pd.DataFrame(problems, columns=["table", "id", "column", "value", "quote"])
