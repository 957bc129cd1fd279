"""pandera's failures on a typed table, as Problems: the checks of a table's one-pass schema, the
failing ones called one by one, and pandera's own lazy validation only where it alone says what
failed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from carte_evidence.package.parse import ParsedTable
from carte_evidence.package.problems import ProblemTable
from carte_evidence.package.rules import describe_rule
from carte_evidence.package.schema import pandera

_PANDERA_RULES = [
    (r"^not_nullable", "required", "a required value is missing", "fill in this field"),
    (r"^isin\(", "enum", "the value is not in the allowed list", "allowed: {enum}"),
    (r"^str_matches\(", "pattern", "the value does not have the expected form", "expected pattern {pattern}"),
    (r"^greater_than_or_equal_to\((.*)\)", "minimum", "the value is below the minimum {0}", "use a value >= {0}"),
    (r"^less_than_or_equal_to\((.*)\)", "maximum", "the value is above the maximum {0}", "use a value <= {0}"),
    (r"^(field_uniqueness|unique)", "unique", "the value is duplicated; it must be unique in this column", "give each row its own value"),
    (r"^multiple_fields_uniqueness", "unique", "this row repeats another row's values of the primary key's columns", "give each row its own combination of key values"),
    (r"^column_in_dataframe", "missing-column", "the column is missing", "add the column"),
]


def _describe(check: str, field_def: dict) -> tuple[str, str, str]:
    """Rule name, message and hint of a pandera check name."""
    own = describe_rule(check)
    if own:
        return own
    constraints = field_def.get("constraints", {})
    for pattern, rule, message, hint in _PANDERA_RULES:
        m = re.match(pattern, check)
        if m:
            args = m.groups()[1:] if rule == "unique" else m.groups()
            enum = ", ".join(map(str, constraints.get("enum", [])))
            return rule, message.format(*args), hint.format(*args, enum=enum, pattern=constraints.get("pattern", ""))
    return check, f"fails the check {check}", ""


def pandera_problems(schema, frame: pd.DataFrame, parsed: ParsedTable, fields: dict) -> ProblemTable:
    """Run one table's pandera schema (every failure, not the first) and turn each failure into a
    Problem, worded once per (check, column): a report of every row of a large table stays cheap."""
    failures = _column_failures(schema, frame)
    if failures is None:
        failures = _lazy_failures(schema, frame)
    groups = []
    for check, column, rows, values in failures:
        rule, message, hint = _describe(check, fields.get(column, {}))
        known = (rows >= 0) & (rows < len(parsed.lines))
        lines = parsed.lines[np.where(known, rows, 0)].tolist() if len(parsed.lines) else [None] * len(rows)
        if not known.all():  # (a row pandera could not place: no line)
            lines = [line if ok else None for line, ok in zip(lines, known.tolist())]
        groups.append(ProblemTable.group(parsed.file, lines, column, [None] * len(rows) if values is None else values, rule, message, hint))
    return ProblemTable.concat(groups)


def _column_failures(schema, frame: pd.DataFrame) -> list[tuple] | None:
    """The failures of ``schema`` on ``frame`` as (check, column, rows, values as text), check by
    check: the schema's own pandera checks, each called on its column through pandera's Check
    API, and its required columns' empty cells.

    What pandera's lazy ``schema.validate`` finds, without the error report it builds around
    them (every failure case formatted into a message that carte does not show: two thirds of
    the time of a report with a problem in every row). None where that report would say more
    than failure cases (a multi-field key, a check that raises or judges a whole column):
    :func:`_lazy_failures` then runs pandera's own validation.
    """
    if schema.unique:
        return None
    out = []
    for name, column in schema.columns.items():
        if name not in frame.columns:  # (required=False: pandera skips it too)
            continue
        series = frame[name]
        if not column.nullable and series.hasnans:
            out.append(("not_nullable", name, np.flatnonzero(series.isna().to_numpy()), None))
        for check in column.checks:
            try:
                result = check(series)
            except Exception:  # pandera reports the exception itself: left to it
                return None
            if bool(result.check_passed):
                continue
            cases = result.failure_cases
            if cases is None:  # a verdict on the whole column
                return None
            if str(cases.dtype).startswith("string"):  # already text: no str() per value
                values = cases.to_numpy(dtype=object, na_value=None).tolist()
            else:
                values = [None if na else str(v) for v, na in zip(cases.astype(object).tolist(), cases.isna().to_numpy().tolist())]
            out.append((check.error or check.name, name, cases.index.to_numpy(dtype=np.int64), values))
    return out


def _lazy_failures(schema, frame: pd.DataFrame) -> list[tuple]:
    """The failures of pandera's lazy validation, as :func:`_column_failures` gives them."""
    pa = pandera()
    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    except pa.errors.SchemaError as err:  # pragma: no cover - lazy=True collects all
        cases = err.failure_cases if err.failure_cases is not None else pd.DataFrame()
    if cases is None or not len(cases):
        return []
    out = []
    keys = [cases[c].astype(object) if c in cases.columns else pd.Series(None, index=cases.index, dtype=object) for c in ("check", "column")]
    for (check, column), group in cases.groupby(keys, sort=False, dropna=False):  # (no sort: pandera's order)
        rows = group["index"] if "index" in group.columns else pd.Series(-1, index=group.index)
        values = group["failure_case"].astype(object) if "failure_case" in group.columns else pd.Series(None, index=group.index, dtype=object)
        out.append((str(check), None if pd.isna(column) else str(column), np.where(rows.isna(), -1, rows).astype(np.int64),
                    [None if pd.isna(v) else str(v) for v in values.tolist()]))
    return out
