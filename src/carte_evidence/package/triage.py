"""Put the problems of a validation in the order a person fixes them: structural problems of a
file first; no cascade of consequential errors from a broken file (one line says what was
skipped); one problem per cell with the most useful hint; never an exception's text as a value."""

from __future__ import annotations

import re
from functools import lru_cache

from carte_evidence.package.problems import Problem

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


def _refs(problem: Problem) -> tuple[str, ...]:
    return _refs_of(problem.rule, problem.message)


@lru_cache(maxsize=4096)
def _refs_of(rule: str, message: str) -> tuple[str, ...]:
    if rule in ("foreign-key", "list-foreign-key"):
        m = _REFERENCE.search(message)
        return (m.group(1),) if m else ()
    return READS.get(rule, ())


def _allowed_key(field_def: dict, parsed: dict, problem: Problem) -> tuple | None:
    """What the allowed values of a problem's cell are: the field's enum or a referenced column."""
    enum = field_def.get("constraints", {}).get("enum")
    if enum:
        return ("enum", tuple(str(v) for v in enum))
    m = _REFERENCE.search(problem.message)
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


def triage(problems: list[Problem], parsed: dict, fields: dict[str, dict[str, dict]]) -> list[Problem]:
    """The problems of one validation, cleaned and ordered.

    ``parsed``: the ParsedTable of each resource; ``fields``: resource -> field name -> Table
    Schema field (for the hints).
    """
    by_file = {t.file: name for name, t in parsed.items()}
    broken = {by_file.get(p.file, p.file) for p in problems if p.rule in STRUCTURAL}
    broken_files = {parsed[n].file: n for n in broken if n in parsed}

    kept: list[Problem] = []
    skipped: dict[str, int] = {}
    ranges: dict[str, re.Match | None] = {}  # per rule, not per problem
    for p in problems:
        m = ranges[p.rule] if p.rule in ranges else ranges.setdefault(p.rule, _IN_RANGE.match(p.rule))
        if m:
            p = Problem(p.file, p.line, p.column, p.value, "range", f"the value is outside the allowed range {m.group(1)} to {m.group(2)}", f"use a value from {m.group(1)} to {m.group(2)}")
        if p.value is not None and _EXCEPTION_TEXT.match(p.value):
            p = Problem(p.file, None, p.column, None, p.rule, f"the check '{p.rule}' could not run on this column", "fix the other problems of this file first")
        blocked = [r for r in _refs(p) if r in broken and r != by_file.get(p.file)] if broken else ()
        if blocked and p.rule not in STRUCTURAL:
            for r in blocked:
                skipped[r] = skipped.get(r, 0) + 1
            continue
        kept.append(p)

    kept = _one_per_cell(kept, parsed, fields)
    for name, count in skipped.items():
        kept.append(Problem(parsed[name].file if name in parsed else name, None, None, None, "checks-skipped",
                            f"{count} check(s) of other tables against this file were skipped until its structural problems are fixed",
                            "fix the problems listed for this file, then run `carte validate` again"))
    # Files with structural problems first, and in each file its structural problems first; then
    # by line, column and rule (one sort: an all-invalid package has a problem per row).
    first = {f for f in {p.file for p in kept} if f in broken_files or f in broken}
    return _ordered(kept, first)


def _ordered(problems: list[Problem], first: set[str]) -> list[Problem]:
    """The distinct problems, sorted by (file not in ``first``, file, not structural, line,
    column, rule, value, message, hint); empty values (None) sort as 0 or "".

    One numpy sort over the fields' ranks instead of Python's sort of key tuples: an
    all-invalid package has a problem per row (about 3x faster at 272,636 problems). Python
    compares strings by code point, and the ranks are taken in that order.
    """
    import numpy as np
    import pandas as pd

    if len(problems) < 2:
        return list(dict.fromkeys(problems))
    fields = list(zip(*problems))  # (a Problem is the tuple of its fields, in this order)
    keys, empties = {}, []
    for name, values in zip(("file", "line", "column", "value", "rule", "message", "hint"), fields):
        column = np.array(values, dtype=object)
        empty = pd.isna(column) if name != "file" else np.zeros(len(column), dtype=bool)
        if name == "line":
            keys[name] = np.where(empty, 0, column).astype(np.int64)
        else:
            keys[name] = pd.factorize(np.where(empty, "", column), sort=True)[0]
        empties.append(empty)
    keys["not_first"] = np.array([f not in first for f in fields[0]])
    keys["not_structural"] = np.array([r not in STRUCTURAL for r in fields[4]])
    order_of = ["not_first", "file", "not_structural", "line", "column", "rule", "value", "message", "hint"]
    # numpy's lexsort takes its primary key last; the None flags only order otherwise-equal keys
    columns = [*[keys[k] for k in order_of], *empties[1:]]
    order = np.lexsort(columns[::-1])
    distinct = np.zeros(len(order), dtype=bool)
    distinct[0] = True
    for column in columns:  # equal ranks and flags in every column: the same problem
        ranked = column[order]
        distinct[1:] |= ranked[1:] != ranked[:-1]
    return [problems[i] for i in order[distinct].tolist()]


def _one_per_cell(problems: list[Problem], parsed: dict, fields: dict[str, dict[str, dict]]) -> list[Problem]:
    """One problem per cell with the most useful hint: a missing value beside a type problem of
    the same cell is dropped, and a value outside a list or form becomes a 'case' problem when
    it differs from an allowed value only in case, or a 'date' problem in a date field.

    Only those two kinds of problem can change (a problem per row of an all-invalid package
    goes through here), so only they are grouped by cell; the order is the caller's to set.
    """
    by_file = {t.file: name for name, t in parsed.items()}
    typed = {(p.file, p.line, p.column) for p in problems if p.rule in _TYPE_RULES and p.line is not None and p.column is not None}
    out = []
    cells: dict[tuple, list[Problem]] = {}
    for p in problems:
        rule = p.rule
        if (rule not in VALUE_RULES and rule != "required") or p.line is None or p.column is None:
            out.append(p)
        elif rule == "required":
            if (p.file, p.line, p.column) not in typed:
                out.append(p)
        else:
            cells.setdefault((p.file, p.line, p.column), []).append(p)
    folded: dict[tuple, dict[str, list[str]]] = {}
    keys: dict[tuple, tuple | None] = {}
    for (file, line, column), value_rules in cells.items():
        field_def = fields.get(by_file.get(file, ""), {}).get(column, {})
        if value_rules[0].value:
            value = value_rules[0].value
            # One case-folded index per vocabulary or referenced column (not a scan per problem:
            # an all-invalid package has a problem in every row).
            match = []
            for p in value_rules:
                where = (file, column, p.rule, p.message)  # FK messages name the table, not the value
                if where not in keys:
                    keys[where] = _allowed_key(field_def, parsed, p)
                key = keys[where]
                if key is not None:
                    if key not in folded:
                        folded[key] = _folded(key, parsed)
                    match += [a for a in folded[key].get(value.strip().casefold(), []) if a != value]
            if match:
                out.append(Problem(file, line, column, value, "case", "the value differs from an allowed value only in upper/lower case",
                                   f"did you mean {match[0]}?"))
                continue
            if any(p.rule == "pattern" for p in value_rules) and _is_date(field_def):
                value_rules = [Problem(p.file, p.line, p.column, p.value, "date", "the value is not a date in the form YYYY-MM-DD", DATE_HINT)
                               if p.rule == "pattern" else p for p in value_rules]
        out.extend(value_rules)
    return out


def _is_date(field_def: dict) -> bool:
    from carte_evidence.package.parse import is_date_field

    return is_date_field(field_def)
