"""Validate a data package: every problem at once, each with file, line, column and value."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from carte_evidence.package import integrity, lean
from carte_evidence.package.parse import ParsedTable, read_table
from carte_evidence.package.paths import resolve_package
from carte_evidence.package.problems import Problem, ProblemTable
from carte_evidence.package.failures import pandera_problems
from carte_evidence.package.rules import encoded_columns, prepare, rule_checks
from carte_evidence.package.schema import anything_to_check, pandera, screened_blocks, screened_specs
from carte_evidence.package.threads import file_size, gc_paused, in_background, in_threads, release_memory, workers
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


def csv_bytes(path: str | Path | None = None) -> int:
    """The bytes of CSV the resources of a package hold (those that can be read: a descriptor
    or a file that cannot is reported by :func:`validate`, and counts 0 here)."""
    package = resolve_package(path)
    try:
        descriptor = read_descriptor(package)
    except ValueError:
        return 0
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        return 0
    total = 0
    for res in integrity.usable_resources(descriptor):
        file, unsafe = integrity.resource_path(res, package.parent)
        total += file_size(file) if unsafe is None else 0
    return total


def validate(path: str | Path | None = None, today: dt.date | None = None, on_read=None, keep: dict | None = None) -> ValidationReport:
    """Validate a data package (a datapackage.json or its folder; see :func:`resolve_package`).

    Returns a :class:`ValidationReport` holding every problem found (empty when valid) and the
    typed tables. Never raises on bad data. ``on_read(name, frame)``, if given, is called with
    each table as soon as it is typed (in the thread that read it, before any check), so that
    a caller can start its own work on a table early; with ``keep``, once every table is read
    (before the checks across tables), when the memory of the blocks is free again.

    ``keep``: for a caller that needs only some columns (`carte validate`). The tables are then
    read in row blocks and keep only the columns that checks across rows read, plus ``keep``'s
    (table -> column names); the problems are the same, the memory a fraction of the CSV's
    (see :mod:`carte_evidence.package.lean`).
    """
    with gc_paused():
        return _validate(path, today, on_read, keep)


def _read_all(readable: list, descriptor: dict, threads: int, on_read=None, kept: dict | None = None,
              reviewed: set | None = None, quoted: dict | None = None) -> tuple[list, dict]:
    """Read and type each (resource, file), in ``threads`` threads; in the same thread, work out
    what needs only that table: the rules' share (:func:`rules.prepare`: id columns hashed once,
    for the rules and for the column checks) and the checks each column needs
    (:func:`schema.screened_specs`). Returns (parsed table, screened specs; None: the schema is
    unusable, the resource its checks are built from, problems found while reading) for each of
    ``readable``, in its order, and the prepared rule work.

    ``kept``: the columns each table keeps (:func:`lean.kept_columns`); the others are checked
    block by block as they are read, and dropped, and the quote rule's findings in each block
    go into ``quoted`` (table -> :func:`integrity.quote_block` of each block; ``reviewed``:
    the reviewed numbers)."""
    quoted = {} if quoted is None else quoted
    ids = encoded_columns(descriptor)
    names = [res["name"] for res, _file in readable]
    share = len(set(names)) == len(names)  # (two resources of one name: each table on its own)
    prepared: dict = {}
    started: list = []
    deferred: list = []

    def import_pandera() -> None:
        if not started:  # pandera will run: imported now, beside the other tables' reading
            started.append(in_background(pandera, threads=threads))

    def read(item) -> tuple[ParsedTable, tuple | None, dict, ProblemTable]:
        res, file = item
        name, display = res["name"], str(Path(res["path"]))
        # (a whole table is read in one pass, which is faster: blocks only save memory)
        parts = lean.split(res, kept.get(name, set())) if kept is not None and share else None
        # (an id column's checks: judged on its distinct values, which prepare() works out below)
        done = lean.read_checked(res, file, display, parts, reviewed, frozenset(ids.get(name, ()))) if parts is not None else None
        if done is not None:
            (table, found, verdicts, quotes), res = done, parts[0]
            if table.readable:
                quoted[name] = quotes
        else:
            table = read_table(name, file, res["schema"], display)
            found, verdicts = ProblemTable.of(table.problems), None
        if on_read is not None:
            if kept is None:
                on_read(name, table.frame)
            else:  # (once every table is read, when the blocks' memory is free again)
                deferred.append((name, table.frame))
        mine = prepare(name, table.frame, ids.get(name, set())) if table.readable and share else {}
        prepared.update(mine)
        distinct = {key[2]: codes.values for key, codes in mine.items() if key[0] == "codes"}
        try:
            if verdicts is None:
                specs = screened_specs(res["schema"], table.frame, distinct)
            else:  # (screened block by block as it was read)
                specs = screened_blocks(res["schema"], table.frame, verdicts, distinct)
        except Exception:  # an unusable schema: reported when its pandera schema is built
            specs = None
        if specs is None or len(found) or anything_to_check(specs):
            import_pandera()
        release_memory()
        return table, specs, res, found

    tables_read = in_threads(read, readable, lambda item: file_size(item[1]), threads)
    for name, frame in deferred:
        on_read(name, frame)
    return tables_read, prepared


def _validate(path: str | Path | None, today: dt.date | None, on_read=None, keep: dict | None = None) -> ValidationReport:
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
    kept = lean.kept_columns(descriptor, keep) if keep is not None else None
    reviewed = integrity.reviewed_quotes() if kept is not None else None
    quoted: dict = {}
    read, prepared = _read_all(readable, descriptor, threads, on_read, kept, reviewed, quoted)
    parsed: dict[str, ParsedTable] = {}
    screened: dict[str, tuple | None] = {}
    checked_as: dict[str, dict] = {}  # (a table that keeps only some columns: its schema has only those)
    read_problems = []
    for (res, _file), (table, specs, as_res, found) in zip(readable, read):
        parsed[res["name"]], screened[res["name"]], checked_as[res["name"]] = table, specs, as_res
        read_problems.append(found)
    tables = {name: t.frame for name, t in parsed.items()}
    unreadable = frozenset(name for name, t in parsed.items() if not t.readable)
    # The quote rule reads only the parsed tables: it runs beside the other rules and pandera.
    quotes = in_background(integrity.quote_problems, parsed, reviewed, quoted, threads=threads)
    rules = rule_checks(tables, descriptor, today, unreadable, prepared)
    release_memory()
    fields_of = {res["name"]: {f["name"]: f for f in res["schema"]["fields"]} for res in resources if res["name"] in parsed}

    def check(res) -> ProblemTable:
        # One pandera pass per table: the Table Schema's constraints and our rules together.
        table, specs, own_rules = parsed[res["name"]], screened.get(res["name"]), rules.get(res["name"], {})
        if specs is not None and not own_rules and not anything_to_check(specs):
            return ProblemTable.of([])  # no row breaks anything: pandera is not even imported
        schema, unusable = integrity.pandera_schema(checked_as[res["name"]], package.name, own_rules, specs)
        if unusable is not None:
            return ProblemTable.of([unusable])
        found = pandera_problems(schema, table.frame, table, fields_of[res["name"]])
        release_memory()
        return found

    checked = [res for res in resources if res["name"] in parsed]
    found = in_threads(check, checked, lambda res: len(parsed[res["name"]].frame), threads)
    report.problems = triage(ProblemTable.concat([ProblemTable.of(report.problems), *read_problems, *found, quotes()]), parsed, fields_of)
    report.tables = tables
    return report
