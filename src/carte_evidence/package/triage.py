"""Put the problems of a validation in the order a person fixes them: structural problems of a
file first; no cascade of consequential errors from a broken file (one line says what was
skipped); one problem per cell with the most useful hint; never an exception's text as a value.

A package with a problem in every row has hundreds of thousands of them, so the problems are
worked on as columns (:class:`~carte_evidence.package.problems.ProblemTable`): each decision is
taken once per distinct rule, message, file or value, and handed to its rows by numpy.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from carte_evidence.package.problems import COLUMN, FILE, HINT, LINE, MESSAGE, RULE, VALUE, Problem, ProblemTable

# Problems that make a file's rows unreliable: the checks of other tables against it are skipped.
STRUCTURAL = frozenset({
    "file-missing", "unsafe-file", "file-unreadable", "resource-path", "encoding", "empty-file",
    "delimiter", "missing-column", "duplicate-column", "malformed-csv", "malformed-row",
    "field-too-long", "descriptor", "descriptor-stale",
})
# Rules that read another table (besides the foreign keys, whose table is in the message).
READS = {
    "publication-of-study": ("publications", "arms"),
    "evaluable-le-treated": ("arms",),
    "primary-publication-of-study": ("publications",),
    "binary-needs-counts": ("measures",),
    "continuous-needs-value": ("measures",),
    "registry-format": ("registries",),
    "quote": ("studies", "arms"),
}
# Type problems that make a "required value is missing" of the same cell redundant.
_TYPE_RULES = ("type-integer", "type-number", "type-boolean")
VALUE_RULES = frozenset({"pattern", "enum", "foreign-key"})  # a value outside a list or form
_IN_RANGE = re.compile(r"^in_range\(([^,]+), ([^)]+)\)$")
_REFERENCE = re.compile(r"\b(?:no|not a) (\w+)\.(\w+)")  # "no arms.arm_id has ...": the table and column named
_EXCEPTION_TEXT = re.compile(r"^[A-Z]\w*(Error|Exception)\(")
DATE_HINT = "write dates as YYYY-MM-DD, e.g. 2024-03-12 (YYYY-MM or YYYY when the source gives no day)"


@lru_cache(maxsize=4096)
def _refs_of(rule: str, message: str) -> tuple[str, ...]:
    """The tables a problem's check read (besides its own)."""
    if rule in ("foreign-key", "list-foreign-key"):
        m = _REFERENCE.search(message)
        return (m.group(1),) if m else ()
    return READS.get(rule, ())


def _allowed_key(field_def: dict, parsed: dict, message: str) -> tuple | None:
    """What the allowed values of a problem's cell are: the field's enum or a referenced column."""
    enum = field_def.get("constraints", {}).get("enum")
    if enum:
        return ("enum", tuple(str(v) for v in enum))
    m = _REFERENCE.search(message)
    if m and m.group(1) in parsed and m.group(2) in parsed[m.group(1)].frame:
        return ("column", m.group(1), m.group(2))
    return None


def _folded(key: tuple, parsed: dict) -> dict[str, list[str]]:
    """The allowed values by their case-folded form, in their order (each list in first-seen order)."""
    values = key[1] if key[0] == "enum" else [str(v) for v in parsed[key[1]].frame[key[2]].dropna().unique()]
    out: dict[str, list[str]] = {}
    for v in values:
        out.setdefault(v.casefold(), []).append(v)
    return out


def _per_row(table: ProblemTable, field: int, decide) -> np.ndarray:
    """``decide(value)`` (True or False) for each row, worked out once per distinct value."""
    codes, distinct = table.codes(field)
    return np.array([bool(decide(v)) for v in distinct], dtype=bool)[codes] if distinct else np.zeros(len(codes), dtype=bool)


def _group_ids(table: ProblemTable, fields: tuple, rows=None, combos: bool = True) -> tuple[np.ndarray, list[tuple]]:
    """A number per distinct combination of ``fields`` (at ``rows``, default all), and the
    combinations (tuples of values; only with ``combos``), in order of first appearance."""
    packed = np.zeros(len(table) if rows is None else len(rows), dtype=np.int64)
    for field in fields:
        codes, distinct = table.codes(field)
        packed = packed * max(len(distinct), 1) + (codes if rows is None else codes[rows])
    ids, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # numbered in order of first appearance
    renumber = np.empty(len(ids), dtype=np.int64)
    renumber[order] = np.arange(len(ids))
    if not combos:
        return renumber[inverse.ravel()], []
    at = first[order] if rows is None else np.asarray(rows)[first[order]]
    return renumber[inverse.ravel()], [tuple(table.columns[f][i] for f in fields) for i in at.tolist()]


def triage(problems, parsed: dict, fields: dict[str, dict[str, dict]]) -> ProblemTable:
    """The problems of one validation (a list of Problems or a ProblemTable), cleaned and ordered.

    ``parsed``: the ParsedTable of each resource; ``fields``: resource -> field name -> Table
    Schema field (for the hints).
    """
    table = problems if isinstance(problems, ProblemTable) else ProblemTable.of(problems)
    by_file = {t.file: name for name, t in parsed.items()}
    structural = _per_row(table, RULE, lambda rule: rule in STRUCTURAL)
    broken = {by_file.get(f, f) for f in set(table.columns[FILE][structural].tolist())}
    broken_files = {parsed[n].file: n for n in broken if n in parsed}

    table = _reworded(table)
    skipped: dict[str, int] = {}
    if broken:
        table = _unblocked(table, broken, by_file, skipped)
    table = _one_per_cell(table, parsed, fields)
    extra = [Problem(parsed[name].file if name in parsed else name, None, None, None, "checks-skipped",
                     f"{count} check(s) of other tables against this file were skipped until its structural problems are fixed",
                     "fix the problems listed for this file, then run `carte validate` again") for name, count in skipped.items()]
    if extra:
        table = ProblemTable.concat([table, ProblemTable.of(extra)])
    # Files with structural problems first, and in each file its structural problems first; then
    # by line, column and rule (one sort: an all-invalid package has a problem per row).
    first = {f for f in table.codes(FILE)[1] if f in broken_files or f in broken}
    return _ordered(table, first)


def _reworded(table: ProblemTable) -> ProblemTable:
    """pandera's range check worded as ours, and an exception's text never shown as a value."""
    rule_codes, rule_names = table.codes(RULE)
    for code, rule in enumerate(list(rule_names)):
        m = _IN_RANGE.match(rule) if isinstance(rule, str) else None
        if m:
            rows = rule_codes == code
            table = (table.with_value(RULE, rows, "range")
                     .with_value(MESSAGE, rows, f"the value is outside the allowed range {m.group(1)} to {m.group(2)}")
                     .with_value(HINT, rows, f"use a value from {m.group(1)} to {m.group(2)}"))
    # (the substring tests first: a regex per distinct value is the slow part of a long list)
    raised = _per_row(table, VALUE, lambda v: isinstance(v, str) and ("Error(" in v or "Exception(" in v) and _EXCEPTION_TEXT.match(v))
    if raised.any():
        rules = table.columns[RULE]
        lines, values, messages, hints = (table.columns[f].copy() for f in (LINE, VALUE, MESSAGE, HINT))
        rows = np.flatnonzero(raised)
        lines[rows] = None
        values[rows] = None
        for row in rows.tolist():
            messages[row] = f"the check '{rules[row]}' could not run on this column"
            hints[row] = "fix the other problems of this file first"
        table = table.replaced({LINE: lines, VALUE: values, MESSAGE: messages, HINT: hints})
    return table


def _unblocked(table: ProblemTable, broken: set, by_file: dict, skipped: dict[str, int]) -> ProblemTable:
    """The problems that do not read a broken table; those that do are counted in ``skipped``.
    Decided once per distinct (file, rule, message)."""
    ids, combos = _group_ids(table, (FILE, RULE, MESSAGE))
    keep = np.ones(len(combos), dtype=bool)
    counts = np.bincount(ids, minlength=len(combos))
    for i, (file, rule, message) in enumerate(combos):
        blocked = [r for r in _refs_of(rule, message) if r in broken and r != by_file.get(file)]
        if blocked and rule not in STRUCTURAL:
            keep[i] = False
            for r in blocked:
                skipped[r] = skipped.get(r, 0) + int(counts[i])
    return table if keep.all() else table.take(keep[ids])


def _one_per_cell(table: ProblemTable, parsed: dict, fields: dict[str, dict[str, dict]]) -> ProblemTable:
    """One problem per cell with the most useful hint: a missing value beside a type problem of
    the same cell is dropped, and a value outside a list or form becomes a 'case' problem when
    it differs from an allowed value only in case, or a 'date' problem in a date field.

    Only problems at a cell (a line and a column) can change; the order is the caller's to set.
    """
    n = len(table)
    if not n:
        return table
    files, lines, columns, values, rules, messages, hints = table.columns
    by_file = {t.file: name for name, t in parsed.items()}
    rule_codes, rule_names = table.codes(RULE)

    def with_rule(names) -> np.ndarray:
        return np.isin(rule_codes, [i for i, r in enumerate(rule_names) if r in names])

    at_cell = ~(_per_row(table, LINE, lambda v: v is None) | _per_row(table, COLUMN, lambda v: v is None))
    typed, required, valued = with_rule(_TYPE_RULES) & at_cell, with_rule(("required",)) & at_cell, with_rule(VALUE_RULES) & at_cell
    keep = np.ones(n, dtype=bool)
    if typed.any() and required.any():
        # a missing value beside a type problem of the same cell: the type problem says it all
        both = np.flatnonzero(typed | required)
        cells, _ = _group_ids(table, (FILE, LINE, COLUMN), both, combos=False)
        keep[both[required[both] & np.isin(cells, cells[typed[both]])]] = False
    if not valued.any():
        return table if keep.all() else table.take(keep)
    rows = np.flatnonzero(valued)  # in the order of the problems
    cell_of, _ = _group_ids(table, (FILE, LINE, COLUMN), rows, combos=False)  # (numbered in order of their first problem)
    first = np.full(int(cell_of.max()) + 1, len(rows), dtype=np.int64)
    np.minimum.at(first, cell_of, np.arange(len(rows)))
    value_codes, distinct_values = table.codes(VALUE)
    cell_value_code = value_codes[rows[first]][cell_of]  # the value of the cell's first problem
    cell_value = values[rows[first]][cell_of]
    checked = np.array([isinstance(v, str) and v != "" for v in distinct_values], dtype=bool)[cell_value_code]
    # One case-folded index per vocabulary or referenced column, for each (file, column, rule,
    # message) of the problems (foreign-key messages name the table, not the value).
    group_of, groups = _group_ids(table, (FILE, COLUMN, RULE, MESSAGE), rows)
    folded_of: dict[tuple, dict] = {}
    allowed_of = []
    for file, column, _rule, message in groups:
        key = _allowed_key(fields.get(by_file.get(file, ""), {}).get(column, {}), parsed, message)
        if key is not None and key not in folded_of:
            folded_of[key] = _folded(key, parsed)
        allowed_of.append(None if key is None else folded_of[key])
    # Looked up once per (group, value): an all-invalid package repeats its bad values.
    matches: dict[int, list] = {}
    looked_up = np.flatnonzero(checked & np.array([a is not None for a in allowed_of], dtype=bool)[group_of])
    if len(looked_up):
        pairs = group_of[looked_up] * len(distinct_values) + cell_value_code[looked_up]
        unique_pairs, pair_of = np.unique(pairs, return_inverse=True)
        close_of = []
        for pair in unique_pairs.tolist():
            value = distinct_values[pair % len(distinct_values)]
            found = allowed_of[pair // len(distinct_values)].get(value.strip().casefold())
            close_of.append([a for a in found if a != value] if found else None)
        pair_of = pair_of.ravel()
        hit = np.array([bool(close) for close in close_of], dtype=bool)[pair_of]
        for i, pair in zip(looked_up[hit].tolist(), pair_of[hit].tolist()):
            matches[i] = close_of[pair]
    replaced = []
    if matches:
        matched = np.isin(cell_of, [cell_of[i] for i in matches])
        keep[rows[matched]] = False
        seen: set = set()
        for i in sorted(matches):  # the cell's first problem with a match gives the hint
            cell = int(cell_of[i])
            if cell not in seen:
                seen.add(cell)
                row = rows[i]
                replaced.append(Problem(files[row], lines[row], columns[row], cell_value[i], "case",
                                        "the value differs from an allowed value only in upper/lower case", f"did you mean {matches[i][0]}?"))
        checked &= ~matched
    # A value that does not have the form of a date field: say so, with the date's form.
    out = table
    pattern = rules[rows] == "pattern"
    if pattern.any():
        date_of, places = _group_ids(table, (FILE, COLUMN), rows)
        is_date = np.array([_is_date(fields.get(by_file.get(file, ""), {}).get(column, {})) for file, column in places], dtype=bool)
        dated = rows[checked & pattern & is_date[date_of]]
        if len(dated):
            out = (table.with_value(RULE, dated, "date").with_value(MESSAGE, dated, "the value is not a date in the form YYYY-MM-DD")
                   .with_value(HINT, dated, DATE_HINT))
    if not keep.all():
        out = out.take(keep)
    return ProblemTable.concat([out, ProblemTable.of(replaced)]) if replaced else out


def _ranks(table: ProblemTable, field: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's rank in code-point order of ``field``, empty (None) ranked as "", and where it
    was None."""
    codes, distinct = table.codes(field)
    keys = ["" if v is None else v for v in distinct]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    rank = np.empty(len(keys), dtype=np.int64)
    previous, r = object(), -1
    for i in order:  # equal keys ("" and None) share a rank
        if keys[i] != previous:
            r, previous = r + 1, keys[i]
        rank[i] = r
    none = np.array([v is None for v in distinct], dtype=bool)
    return rank[codes], none[codes]


def _packed(columns: list) -> list:
    """Non-negative integer columns, primary first, packed into as few int64 words as they fit
    (mixed radix, each word below 2**62): the words sort as the columns do."""
    words: list = []
    word, span = None, 1
    for column in columns:
        radix = int(column.max()) + 1 if len(column) else 1
        if word is None or span * radix >= 1 << 62:
            if word is not None:
                words.append(word)
            word, span = column.astype(np.int64), radix
        else:
            word, span = word * radix + column, span * radix
    words.append(word)
    return words


def _ordered(problems, first: set[str]) -> ProblemTable:
    """The distinct problems (a list or a ProblemTable), sorted by (file not in ``first``, file,
    not structural, line, column, rule, value, message, hint); empty values (None) sort as 0 or "".

    One numpy sort over the fields' ranks, packed into as few words as they fit, instead of
    Python's sort of key tuples: an all-invalid package has a problem per row. Python compares
    strings by code point, and the ranks are taken in that order.
    """
    table = problems if isinstance(problems, ProblemTable) else ProblemTable.of(problems)
    n = len(table)
    if n < 2:
        return table
    keys, empties = {}, {}
    for name, field in (("file", FILE), ("column", COLUMN), ("value", VALUE), ("rule", RULE), ("message", MESSAGE), ("hint", HINT)):
        keys[name], empties[name] = _ranks(table, field)
    line_codes, line_values = table.codes(LINE)
    empties["line"] = np.array([v is None for v in line_values], dtype=bool)[line_codes]
    keys["line"] = np.array([0 if v is None else v for v in line_values], dtype=np.int64)[line_codes]
    keys["not_first"] = _per_row(table, FILE, lambda f: f not in first)
    keys["not_structural"] = _per_row(table, RULE, lambda r: r not in STRUCTURAL)
    order_of = ["not_first", "file", "not_structural", "line", "column", "rule", "value", "message", "hint"]
    # The None flags only order otherwise-equal keys.
    words = _packed([*[keys[k] for k in order_of], *[empties[k] for k in ("line", "column", "value", "rule", "message", "hint")]])
    order = np.lexsort(words[::-1])  # (numpy's lexsort takes its primary key last)
    distinct = np.zeros(n, dtype=bool)
    distinct[0] = True
    for word in words:  # equal in every word: the same problem
        ranked = word[order]
        distinct[1:] |= ranked[1:] != ranked[:-1]
    return table.take(order[distinct])


def _is_date(field_def: dict) -> bool:
    from carte_evidence.package.parse import is_date_field

    return is_date_field(field_def)
