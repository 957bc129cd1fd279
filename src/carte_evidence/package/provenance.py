"""Checks that each number of a row can be found in the verbatim quote it was read from.

Part of the data package layer: `validate` reports a number missing from its quote as a problem
(rule `quote`), and the test suite uses the same functions.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
# Phrases that state a count without its digits: "no patient" = 0, "all" = the denominator, "a patient" = 1.
ZERO = re.compile(r"\b(no|none|without|zero|neither|absence|not observed|did not|didn't|didn’t|free of)\b|未", re.I)
ONE = re.compile(r"\b(a|an|one|single|the)\s+(\w+\s+)?(patient|woman|man|girl|boy|case|child|adolescent)\b|\b(she|he)\b", re.I)
ALL = re.compile(r"\b(all|every|each|both)\b", re.I)

CHECKED = {"arms": ["n_treated"], "outcomes": ["n_evaluable", "n_events", "value"], "adverse_events": ["n_events", "n_evaluable"]}
ID = {"arms": "arm_id", "outcomes": "outcome_id", "adverse_events": "ae_id"}


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


def unquoted_values(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows whose numbers are not visible in their quote and whose value_source does not say why.

    Rows with value_source 'derived_from_percentage' or 'derived_by_curator' are exempt (their
    notes say how the number was obtained).
    """
    problems = []
    # In a case report the count of one is the report itself.
    single = tables["studies"].loc[tables["studies"]["design"] == "case report", "study_id"]
    single_arms = set(tables["arms"].loc[tables["arms"]["study_id"].isin(single), "arm_id"])
    for table, columns in CHECKED.items():
        frame = tables[table]
        if "value_source" in frame:
            frame = frame[frame["value_source"].isin(["reported", "secondary_source"]).fillna(True)]
        for row in frame.to_dict("records"):  # a data-quality report, not the validator: clarity over speed
            quote = row.get("quote")
            quote = "" if quote is None or pd.isna(quote) else str(quote)
            total = row.get("n_evaluable") if table != "arms" else None
            total = None if total is None or pd.isna(total) else float(total)
            for column in columns:
                value = row.get(column)
                if value is None or pd.isna(value) or (value == 1 and row["arm_id"] in single_arms and column != "value"):
                    continue
                if not stated(float(value), quote, column, total):
                    problems.append({"table": table, "id": row[ID[table]], "column": column, "value": value, "quote": quote[:160]})
    return pd.DataFrame(problems, columns=["table", "id", "column", "value", "quote"])
