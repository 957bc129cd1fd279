"""Validate a data package: every problem at once, each with file, line, column and value."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from carte_evidence.package import integrity
from carte_evidence.package.parse import ParsedTable, read_table
from carte_evidence.package.paths import resolve_package
from carte_evidence.package.problems import Problem, ProblemTable
from carte_evidence.package.rules import describe_rule, encoded_columns, prepare, rule_checks
from carte_evidence.package.schema import anything_to_check, pandera, screened_specs
from carte_evidence.package.threads import file_size, gc_paused, in_background, in_threads, workers
from carte_evidence.package.triage import triage


class ValidationReport:
    """Result of :func:`validate`: the problems and the typed tables that were read.

    ``problems`` is a list of :class:`Problem`; a validation keeps them as columns
    (``problem_table``) and makes the list only when it is asked for: a package with a problem
    in every row has hundreds of thousands, which `carte validate` prints from the columns.
    """

    def __init__(self, package: Path, problems=None, tables: dict[str, pd.DataFrame] | None = None, descriptor: dict | None = None):
        self.package = package
        self.tables = tables if tables is not None else {}
        self.descriptor = descriptor if descriptor is not None else {}
        self.problems = problems if problems is not None else []

    @property
    def problems(self) -> list[Problem]:
        if self._list is None:
            self._list = self._table.to_list()
        return self._list

    @problems.setter
    def problems(self, problems) -> None:
        self._table, self._list = (problems, None) if isinstance(problems, ProblemTable) else (None, list(problems))

    @property
    def problem_table(self) -> ProblemTable:
        """The problems as columns (see :class:`ProblemTable`)."""
        if self._table is None:
            self._table = ProblemTable.of(self._list)
        return self._table

    @property
    def valid(self) -> bool:
        return not (len(self._table) if self._list is None else self._list)

    def to_list(self) -> list[dict]:
        """Problems as JSON-ready dicts (what `carte validate --format json` prints)."""
        return [p.to_dict() for p in self.problems]


def read_descriptor(package: Path) -> dict:
    """Read datapackage.json; raises ValueError with a readable message."""
    from carte_evidence.package.atomic import UnsafeRead, read_bounded

    try:
        return json.loads(read_bounded(package).decode("utf-8-sig"))
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError("no datapackage.json here", None) from None
    except (UnsafeRead, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"datapackage.json cannot be read ({exc})".replace(str(package), "it"), None) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg}, column {exc.colno})", exc.lineno) from None


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


def _pandera_problems(schema, frame: pd.DataFrame, parsed: ParsedTable, fields: dict) -> ProblemTable:
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


def release_memory() -> None:
    """Give the memory pyarrow has freed back to the system (its allocator keeps it otherwise, and
    numpy and pandas, which allocate elsewhere, cannot reuse it): keeps the peak down between
    the steps of a large validation."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def validate(path: str | Path | None = None, today: dt.date | None = None, on_read=None) -> ValidationReport:
    """Validate a data package (a datapackage.json or its folder; see :func:`resolve_package`).

    Returns a :class:`ValidationReport` holding every problem found (empty when valid) and the
    typed tables. Never raises on bad data. ``on_read(name, frame)``, if given, is called with
    each table as soon as it is typed (in the thread that read it, before any check), so that
    a caller can start its own work on a table early.
    """
    with gc_paused():
        return _validate(path, today, on_read)


def _read_all(readable: list, descriptor: dict, threads: int, on_read=None) -> tuple[list, dict]:
    """Read and type each (resource, file), in ``threads`` threads; in the same thread, work out
    what needs only that table: the rules' share (:func:`rules.prepare`: id columns hashed once,
    for the rules and for the column checks) and the checks each column needs
    (:func:`schema.screened_specs`). Returns (parsed table, screened specs; None: the schema is
    unusable) for each of ``readable``, in its order, and the prepared rule work."""
    ids = encoded_columns(descriptor)
    names = [res["name"] for res, _file in readable]
    share = len(set(names)) == len(names)  # (two resources of one name: each table on its own)
    prepared: dict = {}
    started: list = []

    def import_pandera() -> None:
        if not started:  # pandera will run: imported now, beside the other tables' reading
            started.append(in_background(pandera, threads=threads))

    def read(item) -> tuple[ParsedTable, tuple | None]:
        res, file = item
        name = res["name"]
        table = read_table(name, file, res["schema"], str(Path(res["path"])))
        if on_read is not None:
            on_read(name, table.frame)
        mine = prepare(name, table.frame, ids.get(name, set())) if table.readable and share else {}
        prepared.update(mine)
        distinct = {key[2]: codes.values for key, codes in mine.items() if key[0] == "codes"}
        try:
            specs = screened_specs(res["schema"], table.frame, distinct)
        except Exception:  # an unusable schema: reported when its pandera schema is built
            specs = None
        if specs is None or table.problems or anything_to_check(specs):
            import_pandera()
        release_memory()
        return table, specs

    return in_threads(read, readable, lambda item: file_size(item[1]), threads), prepared


def _validate(path: str | Path | None, today: dt.date | None, on_read=None) -> ValidationReport:
    package = resolve_package(path)
    report = ValidationReport(package)
    try:
        descriptor = read_descriptor(package)
    except ValueError as exc:
        message, line = exc.args
        report.problems.append(Problem(str(package), line, None, None, "descriptor", message, "point PATH at a datapackage.json or its folder"))
        return report
    report.descriptor = descriptor
    base = package.parent
    shape = integrity.descriptor_shape(descriptor, str(package))
    report.problems.extend(shape)
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        return report
    resources = integrity.usable_resources(descriptor)
    descriptor = {**descriptor, "resources": resources}
    report.problems.extend(integrity.against_generated(descriptor, package.name))
    readable = []
    for res in resources:
        file, unsafe = integrity.resource_path(res, base)
        if unsafe is not None:
            report.problems.append(unsafe)
        else:
            readable.append((res, file))
    threads = workers(sum(file_size(file) for _res, file in readable))
    read, prepared = _read_all(readable, descriptor, threads, on_read)
    parsed: dict[str, ParsedTable] = {}
    screened: dict[str, tuple | None] = {}
    for (res, _file), (table, specs) in zip(readable, read):
        parsed[res["name"]], screened[res["name"]] = table, specs
        report.problems.extend(table.problems)
    tables = {name: t.frame for name, t in parsed.items()}
    unreadable = frozenset(name for name, t in parsed.items() if not t.readable)
    # The quote rule reads only the parsed tables: it runs beside the other rules and pandera.
    quotes = in_background(integrity.quote_problems, parsed, threads=threads)
    rules = rule_checks(tables, descriptor, today, unreadable, prepared)
    release_memory()
    fields_of = {res["name"]: {f["name"]: f for f in res["schema"]["fields"]} for res in resources if res["name"] in parsed}

    def check(res) -> ProblemTable:
        # One pandera pass per table: the Table Schema's constraints and our rules together.
        table, specs, own_rules = parsed[res["name"]], screened.get(res["name"]), rules.get(res["name"], {})
        if specs is not None and not own_rules and not anything_to_check(specs):
            return ProblemTable.of([])  # no row breaks anything: pandera is not even imported
        schema, unusable = integrity.pandera_schema(res, package.name, own_rules, specs)
        if unusable is not None:
            return ProblemTable.of([unusable])
        found = _pandera_problems(schema, table.frame, table, fields_of[res["name"]])
        release_memory()
        return found

    checked = [res for res in resources if res["name"] in parsed]
    found = in_threads(check, checked, lambda res: len(parsed[res["name"]].frame), threads)
    report.problems = triage(ProblemTable.concat([ProblemTable.of(report.problems), *found, quotes()]), parsed, fields_of)
    report.tables = tables
    return report
