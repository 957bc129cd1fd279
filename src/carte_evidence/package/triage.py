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
    Schema field (for the hints). An all-invalid package has a problem in every row, so each
    step below works on the few problems it can change, picked out by their rule, and decides
    once per rule or message what it decides for all of them.
    """
    by_file = {t.file: name for name, t in parsed.items()}
    broken = {by_file.get(p.file, p.file) for p in problems if p.rule in STRUCTURAL}
    broken_files = {parsed[n].file: n for n in broken if n in parsed}

    kept = _reworded(problems)
    skipped: dict[str, int] = {}
    if broken:
        kept = _unblocked(kept, broken, by_file, skipped)
    kept = _one_per_cell(kept, parsed, fields)
    for name, count in skipped.items():
        kept.append(Problem(parsed[name].file if name in parsed else name, None, None, None, "checks-skipped",
                            f"{count} check(s) of other tables against this file were skipped until its structural problems are fixed",
                            "fix the problems listed for this file, then run `carte validate` again"))
    # Files with structural problems first, and in each file its structural problems first; then
    # by line, column and rule (one sort: an all-invalid package has a problem per row).
    first = {f for f in {p.file for p in kept} if f in broken_files or f in broken}
    return _ordered(kept, first)


def _reworded(problems: list[Problem]) -> list[Problem]:
    """pandera's range check worded as ours, and an exception's text never shown as a value."""
    ranges = {rule: m for rule in {p.rule for p in problems} if (m := _IN_RANGE.match(rule))}
    out = list(problems)
    for i, p in enumerate(problems):
        m = ranges.get(p.rule) if ranges else None
        # (the substring tests first: a regex per value is the slow part of a long list)
        raised = p.value is not None and ("Error(" in p.value or "Exception(" in p.value) and _EXCEPTION_TEXT.match(p.value)
        if m:
            p = out[i] = Problem(p.file, p.line, p.column, p.value, "range", f"the value is outside the allowed range {m.group(1)} to {m.group(2)}", f"use a value from {m.group(1)} to {m.group(2)}")
        if raised:
            out[i] = Problem(p.file, None, p.column, None, p.rule, f"the check '{p.rule}' could not run on this column", "fix the other problems of this file first")
    return out


def _unblocked(problems: list[Problem], broken: set, by_file: dict, skipped: dict[str, int]) -> list[Problem]:
    """The problems that do not read a broken table; those that do are counted in ``skipped``."""
    out = []
    for p in problems:
        blocked = [r for r in _refs(p) if r in broken and r != by_file.get(p.file)]
        if blocked and p.rule not in STRUCTURAL:
            for r in blocked:
                skipped[r] = skipped.get(r, 0) + 1
            continue
        out.append(p)
    return out


def _ranks(values: list) -> tuple:
    """Each value's rank in code-point order, empty (None) ranked as "", and where it was None."""
    import numpy as np

    distinct = set(values)
    none = None in distinct
    if none:
        distinct.discard(None)
        distinct.add("")
    rank = {v: i for i, v in enumerate(sorted(distinct))}
    if none:
        rank[None] = rank[""]
    ranks = np.fromiter(map(rank.__getitem__, values), dtype=np.int64, count=len(values))
    empty = np.fromiter((v is None for v in values), dtype=bool, count=len(values)) if none else np.zeros(len(values), dtype=bool)
    return ranks, empty


def _packed(columns: list) -> list:
    """Non-negative integer columns, primary first, packed into as few int64 words as they fit
    (mixed radix, each word below 2**62): the words sort as the columns do."""
    import numpy as np

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


def _ordered(problems: list[Problem], first: set[str]) -> list[Problem]:
    """The distinct problems, sorted by (file not in ``first``, file, not structural, line,
    column, rule, value, message, hint); empty values (None) sort as 0 or "".

    One numpy sort over the fields' ranks instead of Python's sort of key tuples: an
    all-invalid package has a problem per row. Python compares strings by code point, and the
    ranks are taken in that order.
    """
    import numpy as np

    if len(problems) < 2:
        return list(dict.fromkeys(problems))
    n = len(problems)
    files, lines, columns, values, rules, messages, hints = map(list, zip(*problems))  # (a Problem is the tuple of its fields)
    keys, empties = {}, []
    for name, column in (("file", files), ("column", columns), ("value", values), ("rule", rules), ("message", messages), ("hint", hints)):
        keys[name], empty = _ranks(column)
        empties.append((name, empty))
    line_empty = np.fromiter((line is None for line in lines), dtype=bool, count=n)
    keys["line"] = np.fromiter((0 if line is None else line for line in lines), dtype=np.int64, count=n)
    empties = dict(empties, line=line_empty)
    keys["not_first"] = np.fromiter((f not in first for f in files), dtype=bool, count=n)
    keys["not_structural"] = np.fromiter((r not in STRUCTURAL for r in rules), dtype=bool, count=n)
    order_of = ["not_first", "file", "not_structural", "line", "column", "rule", "value", "message", "hint"]
    # The None flags only order otherwise-equal keys. The ranks are packed into as few 63-bit
    # words as they fit (lexsort's time grows with the number of keys, not their width).
    words = _packed([*[keys[k] for k in order_of], *[empties[k] for k in ("line", "column", "value", "rule", "message", "hint")]])
    order = np.lexsort(words[::-1])  # (numpy's lexsort takes its primary key last)
    distinct = np.zeros(n, dtype=bool)
    distinct[0] = True
    for word in words:  # equal in every word: the same problem
        ranked = word[order]
        distinct[1:] |= ranked[1:] != ranked[:-1]
    return [problems[i] for i in order[distinct].tolist()]


def _one_per_cell(problems: list[Problem], parsed: dict, fields: dict[str, dict[str, dict]]) -> list[Problem]:
    """One problem per cell with the most useful hint: a missing value beside a type problem of
    the same cell is dropped, and a value outside a list or form becomes a 'case' problem when
    it differs from an allowed value only in case, or a 'date' problem in a date field.

    Only those two kinds of problem can change (a problem per row of an all-invalid package
    goes through here), so only they are looked at, and only the cells holding more than one
    of them are grouped; the order is the caller's to set.
    """
    by_file = {t.file: name for name, t in parsed.items()}
    rules = [p.rule for p in problems]
    present = set(rules)
    typed_rules = present.intersection(_TYPE_RULES)
    typed = {(p.file, p.line, p.column) for p in problems if p.rule in typed_rules and p.line is not None and p.column is not None} if typed_rules else set()
    changing = VALUE_RULES.intersection(present) | ({"required"} if typed and "required" in present else set())
    if not changing:
        return list(problems)
    out = []
    cells: dict[tuple, list[Problem]] = {}
    for p, rule in zip(problems, rules):
        if rule not in changing or p.line is None or p.column is None:
            out.append(p)
        elif rule == "required":
            if (p.file, p.line, p.column) not in typed:
                out.append(p)
        elif (cell := (p.file, p.line, p.column)) in cells:
            cells[cell].append(p)
        else:
            cells[cell] = [p]
    folded: dict[tuple, dict[str, list[str]]] = {}
    keys: dict[tuple, tuple | None] = {}
    dates: dict[tuple, bool] = {}
    for (file, line, column), value_rules in cells.items():
        value = value_rules[0].value
        if not value:
            out.extend(value_rules)
            continue
        # One case-folded index per vocabulary or referenced column (not a scan per problem:
        # an all-invalid package has a problem in every row).
        match = []
        for p in value_rules:
            where = (file, column, p.rule, p.message)  # FK messages name the table, not the value
            key = keys.get(where, keys)
            if key is keys:
                key = keys[where] = _allowed_key(fields.get(by_file.get(file, ""), {}).get(column, {}), parsed, p)
            if key is not None:
                allowed = folded.get(key)
                if allowed is None:
                    allowed = folded[key] = _folded(key, parsed)
                found = allowed.get(value.strip().casefold())
                if found:
                    match += [a for a in found if a != value]
        if match:
            out.append(Problem(file, line, column, value, "case", "the value differs from an allowed value only in upper/lower case",
                               f"did you mean {match[0]}?"))
            continue
        if any(p.rule == "pattern" for p in value_rules):
            date = dates.get((file, column))
            if date is None:
                date = dates[file, column] = _is_date(fields.get(by_file.get(file, ""), {}).get(column, {}))
            if date:
                value_rules = [Problem(p.file, p.line, p.column, p.value, "date", "the value is not a date in the form YYYY-MM-DD", DATE_HINT)
                               if p.rule == "pattern" else p for p in value_rules]
        out.extend(value_rules)
    return out


def _is_date(field_def: dict) -> bool:
    from carte_evidence.package.parse import is_date_field

    return is_date_field(field_def)
