"""Field metadata -> Frictionless Table Schemas -> pandera schemas.

``schemas/fields.yaml`` defines every column once and ``schemas/resources.yaml`` lists the
fields of each table; this module derives everything else from those two files. The pandera
schema is built here directly from the Table Schema's fields (no frictionless import, no
copies), since `carte validate` pays for it on every run.
"""

from __future__ import annotations

import json
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from carte_evidence.package.paths import schemas_dir

# Table Schema type -> pandas dtype of the loaded tables. Nullable dtypes, because unknown
# values stay empty in every non-required column.
PANDAS_DTYPES = {
    "string": "string",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
}
TRUE_VALUES = ("true", "True", "TRUE", "1")
FALSE_VALUES = ("false", "False", "FALSE", "0")


def read_yaml(path: str | Path) -> Any:
    """A YAML file's data, read once and again only when the file changes (cached: do not mutate)."""
    p = Path(path)
    info = p.stat()
    return _read_yaml_cached(str(p.resolve()), info.st_mtime_ns, info.st_size)


@lru_cache(maxsize=None)
def _read_yaml_cached(path: str, mtime_ns: int, size: int) -> Any:
    # libyaml's loader when PyYAML has it: the same data, 10x faster than the Python one.
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def field_metadata(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every field's definition, by name (from fields.yaml)."""
    return read_yaml(str((directory or schemas_dir()) / "fields.yaml"))["fields"]


def resource_metadata(directory: Path | None = None) -> dict[str, Any]:
    """The package and table definitions (from resources.yaml)."""
    return read_yaml(str((directory or schemas_dir()) / "resources.yaml"))


def table_schema(resource: str, directory: Path | None = None) -> dict[str, Any]:
    """Frictionless Table Schema of one resource, derived from the field metadata."""
    fields_meta = field_metadata(directory)
    meta = resource_metadata(directory)
    res = {**meta["resources"], **meta.get("derived_resources", {})}[resource]
    required = set(res.get("required", []))
    unique = set(res.get("unique", []))
    fields = []
    for name in res["fields"]:
        meta = fields_meta[name]
        field: dict[str, Any] = {"name": name, "type": meta["type"], "description": meta["description"]}
        if meta.get("format") == "uri":
            field["format"] = "uri"
        # A fresh dict (and lists) per call: the cached YAML must never be changed by a caller.
        constraints = {k: list(v) if isinstance(v, list) else v for k, v in meta.get("constraints", {}).items()}
        if name in required:
            constraints["required"] = True
        if name in unique:
            constraints["unique"] = True
        if constraints:
            field["constraints"] = constraints
        if meta["type"] == "boolean":
            field["trueValues"] = list(TRUE_VALUES)
            field["falseValues"] = list(FALSE_VALUES)
        fields.append(field)
    schema: dict[str, Any] = {
        "fields": fields,
        "missingValues": [""],
        "primaryKey": res["primary_key"],
    }
    if res.get("foreign_keys"):
        schema["foreignKeys"] = [
            {
                "fields": fk["fields"],
                # Frictionless writes a self-reference as the empty resource name.
                "reference": {
                    "resource": "" if fk["resource"] == resource else fk["resource"],
                    "fields": fk["reference"],
                },
            }
            for fk in res["foreign_keys"]
        ]
    return schema


def datapackage_descriptor(directory: Path | None = None) -> dict[str, Any]:
    """The whole datapackage.json descriptor of the source package."""
    meta = resource_metadata(directory)
    descriptor = dict(meta["package"])
    descriptor["$schema"] = "https://datapackage.org/profiles/2.0/datapackage.json"
    descriptor["resources"] = [
        {
            "name": name,
            "path": f"data/{name}.csv",
            "type": "table",
            "scheme": "file",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "description": res["description"],
            "schema": table_schema(name, directory),
        }
        for name, res in meta["resources"].items()
    ]
    return descriptor


def render_datapackage(directory: Path | None = None) -> str:
    """The canonical text of datapackage.json generated from the schema files."""
    import json

    return json.dumps(datapackage_descriptor(directory), indent=2, ensure_ascii=False) + "\n"


def render_data_dictionary(directory: Path | None = None) -> str:
    """Markdown data dictionary of every table and field (docs/data-dictionary.md)."""
    meta = resource_metadata(directory)
    lines = ["# Data dictionary", "", "Generated from `schemas/fields.yaml` and `schemas/resources.yaml` by",
             "`python scripts/generate_datapackage.py`; do not edit by hand.", ""]
    for group, resources in (("Source tables", meta["resources"]), ("Derived tables (written by `carte build`)", meta.get("derived_resources", {}))):
        lines += [f"## {group}", ""]
        for name, res in resources.items():
            schema = table_schema(name, directory)
            keys = ", ".join(schema["primaryKey"])
            lines += [f"### `{name}`", "", res["description"], "", f"Primary key: `{keys}`.", "",
                      "| field | type | required | allowed values / form | description |", "| --- | --- | --- | --- | --- |"]
            for f in schema["fields"]:
                c = f.get("constraints", {})
                form = ", ".join(map(str, c["enum"])) if "enum" in c else (f"`{c['pattern']}`" if "pattern" in c else "")
                if "minimum" in c:
                    form = (form + " " if form else "") + f">= {c['minimum']}"
                lines.append(f"| `{f['name']}` | {f['type']} | {'yes' if c.get('required') else ''} | {form.replace('|', '&#124;')} | {f['description'].replace('|', '&#124;')} |")
            for fk in schema.get("foreignKeys", []):
                lines.append(f"\nForeign key: `{fk['fields']}` -> `{fk['reference']['resource'] or name}.{fk['reference']['fields']}`")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def derived_resource(name: str, directory: Path | None = None) -> dict[str, Any]:
    """Descriptor of a derived table written by `carte build` under ``derived/``."""
    meta = resource_metadata(directory)["derived_resources"][name]
    return {
        "name": name,
        "path": f"derived/{name}.csv",
        "type": "table",
        "scheme": "file",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "description": meta["description"],
        "schema": table_schema(name, directory),
    }


_PANDERA_LOCK = threading.Lock()


def pandera():
    """The ``pandera.pandas`` module, imported without its data-synthesis extra.

    When hypothesis is installed (as in every development install), pandera's built-in checks
    import it, and through it pytest and trio: about 0.3 s added to every `carte validate`, for
    strategies carte never uses. Hidden during pandera's first import only; a process that has
    already imported hypothesis (a test run) is left as it is. Safe to call from several threads
    (validation imports pandera in the background while it reads the tables).
    """
    module = sys.modules.get("pandera.pandas")
    if module is not None and _PANDERA_LOCK.acquire(blocking=False):  # imported, and not being imported
        _PANDERA_LOCK.release()
        return module
    with _PANDERA_LOCK:
        hide = "hypothesis" not in sys.modules
        if hide:
            sys.modules["hypothesis"] = None  # type: ignore[assignment]  # `import hypothesis` -> ImportError
        try:
            import pandera.backends.pandas.builtin_checks  # noqa: F401  (what imports hypothesis)
            import pandera.backends.pandas.builtin_hypotheses  # noqa: F401
            import pandera.pandas as module
        finally:
            if hide:
                del sys.modules["hypothesis"]
        return module


def primary_key(schema: dict[str, Any]) -> list[str]:
    """The fields of a Table Schema's primary key (a string or a list there)."""
    key = schema.get("primaryKey") or []
    return [key] if isinstance(key, str) else list(key)


def _constraint_specs(constraints: dict[str, Any]) -> list[tuple[str, tuple]]:
    """(pandera built-in check, its arguments) of a field's Table Schema constraints.

    Same checks, names and order as ``pandera.io.from_frictionless_schema`` (a minimum and a
    maximum together are one ``in_range``), so the problems reported do not depend on the route.
    """
    specs: list[tuple[str, tuple]] = []
    rest = dict(constraints)
    for name, low, high in (("in_range", "minimum", "maximum"), ("str_length", "minLength", "maxLength")):
        if low in rest and high in rest:
            specs.append((name, (rest.pop(low), rest.pop(high))))
    for kind, value in rest.items():
        if kind == "maximum":
            specs.append(("less_than_or_equal_to", (value,)))
        elif kind == "minimum":
            specs.append(("greater_than_or_equal_to", (value,)))
        elif kind == "maxLength":
            specs.append(("str_length", (None, value)))
        elif kind == "minLength":
            specs.append(("str_length", (value, None)))
        elif kind == "pattern":
            specs.append(("str_matches", (rf"^{value}$",)))
        elif kind == "enum":
            specs.append(("isin", (value,)))
    return specs


@lru_cache(maxsize=512)
def _pandera_check(spec_json: str):
    # Keyed by the spec's JSON: the same field in many tables builds its check once.
    name, args = json.loads(spec_json)
    return getattr(pandera().Check, name)(*args)


def pandera_checks(specs: list[tuple[str, tuple]]) -> list:
    """The pandera checks of :func:`_constraint_specs`."""
    return [_pandera_check(json.dumps(spec)) for spec in specs]


def holds(spec: tuple[str, tuple], values) -> bool:
    """Whether every one of ``values`` (a Series without empty values) passes the check ``spec``:
    the pandas code of pandera's built-in check (pandera/backends/pandas/builtin_checks.py), run
    without pandera, so that a valid package does not need pandera at all. A property test holds
    it to pandera's own verdict."""
    name, args = spec
    if name == "in_range":
        passed = (args[0] <= values) & (args[1] >= values)
    elif name == "greater_than_or_equal_to":
        passed = values >= args[0]
    elif name == "less_than_or_equal_to":
        passed = values <= args[0]
    elif name == "str_length":
        length = values.str.len()
        low, high = args
        passed = length >= low if high is None else length <= high if low is None else (length <= high) & (length >= low)
    elif name == "str_matches":
        passed = values.str.match(args[0], na=False)
    elif name == "isin":
        passed = values.isin(frozenset(args[0]))
    else:  # pragma: no cover - _constraint_specs makes no other
        raise ValueError(name)
    return bool(passed.all())


def _column_specs(schema: dict[str, Any]):
    """(name, dtype, nullable, unique, constraint specs) of each field, and the table's
    multi-field key."""
    key = primary_key(schema)
    specs = []
    for field in schema["fields"]:
        name = field["name"]
        constraints = field.get("constraints") or {}
        nullable = name not in key and not constraints.get("required", False)
        unique = (len(key) == 1 and name in key) or bool(constraints.get("unique", False))
        specs.append((name, PANDAS_DTYPES.get(field.get("type", "string"), "string"), nullable, unique, _constraint_specs(constraints)))
    return specs, (key if len(key) > 1 else None)


def to_pandera(schema: dict[str, Any]):
    """pandera schema of a typed table, derived from its Frictionless Table Schema.

    Types, required, enum, pattern, minimum/maximum and uniqueness (the primary key too) become
    pandera columns and checks. Dtypes are pandas' nullable ones, since unknown values stay
    empty; no coercion, because :mod:`carte_evidence.package.parse` has already typed the columns
    (and reported every value that would not convert, with its line).
    """
    pa = pandera()

    specs, unique = _column_specs(schema)
    columns = {
        name: pa.Column(dtype, checks=pandera_checks(checks), nullable=nullable, unique=unique_col, coerce=True, required=True, name=name)
        for name, dtype, nullable, unique_col, checks in specs
    }
    return pa.DataFrameSchema(columns=columns, coerce=False, strict=False, unique=unique)


@lru_cache(maxsize=None)
def _unique_check():
    """pandera's column uniqueness as a check over the non-empty values: the same failures
    (every copy of a duplicated value, under pandera's name ``field_uniqueness``) without
    pandera's error path for the repeated empty cells of optional unique columns (DOI, PMID),
    which it drops from the report anyway but pays for on every valid package."""
    return pandera().Check(lambda s: ~s.duplicated(keep=False), name="field_uniqueness")


def _may_fail(column, checks: list, unique: bool, nullable: bool, distinct=None) -> tuple[list, bool, bool]:
    """The checks (constraint specs) of one column that some value breaks: each value-by-value
    check is judged (:func:`holds`) on the distinct non-empty values only, uniqueness is a
    count, and a required column with no empty cell needs no null check. On a valid table
    nothing is left for pandera to run; where a value fails, pandera runs that check and
    reports it. ``distinct``: the column's distinct non-empty values (an arrow array), when the
    caller has them."""
    import pandas as pd

    if nullable and not checks and not unique:
        return [], False, True
    empty = int(column.isna().sum())
    if not empty:
        nullable = True  # no empty cell: 'required' cannot fail
    if not checks and not unique:
        return [], False, nullable
    if distinct is not None and str(column.dtype).startswith("string"):
        distinct = column.dtype.__from_arrow__(distinct)  # the distinct values, already worked out
    else:
        distinct = column.unique()
        distinct = distinct[~pd.isna(distinct)]
    sample = pd.Series(distinct, dtype=column.dtype) if len(distinct) else None
    kept = []
    for check in checks:
        try:
            passed = sample is None or holds(check, sample)
        except Exception:  # pandera reports a check that cannot run; leave it to pandera
            passed = False
        if not passed:
            kept.append(check)
    return kept, unique and len(distinct) < len(column) - empty, nullable


def _key_may_repeat(unique: list | None, frame) -> list | None:
    """A multi-field key, unless no two rows of ``frame`` share it (empty values count as equal
    here: pandera's check can only find fewer)."""
    if unique and all(k in frame.columns for k in unique) and not frame.duplicated(subset=unique, keep=False).any():
        return None
    return unique


def screened_specs(schema: dict[str, Any], frame, distinct: dict | None = None) -> tuple[list, list | None]:
    """The column specs and multi-field key of ``schema`` (as :func:`_column_specs`), keeping
    only what some value of the typed ``frame`` breaks (see :func:`_may_fail`; ``distinct``:
    column -> its distinct values, where the caller has them)."""
    specs, unique = _column_specs(schema)
    unique = _key_may_repeat(unique, frame)
    kept = []
    for name, dtype, nullable, unique_col, checks in specs:
        if name in frame.columns:
            checks, unique_col, nullable = _may_fail(frame[name], checks, unique_col, nullable, (distinct or {}).get(name))
        kept.append((name, dtype, nullable, unique_col, checks))
    return kept, unique


def row_verdicts(schema: dict[str, Any], frame, later: frozenset = frozenset()) -> list[tuple[set[int] | None, bool]]:
    """What :func:`screened_specs` judges from the rows alone, for each field of ``schema``: the
    positions of its constraint checks that some value of ``frame`` breaks, and whether it has
    an empty cell. A table read in blocks is judged block by block (:func:`screened_blocks`).
    The checks of the columns in ``later`` are not judged here (None): those are judged once
    on the whole column, whose distinct values the caller will have (id columns)."""
    out = []
    for name, _dtype, _nullable, unique, checks in _column_specs(schema)[0]:
        column = frame[name]
        if name in later and not unique:
            out.append((None, bool(column.hasnans)))
            continue
        # (a unique column's values are its distinct values: judged as they are, not hashed first)
        arrow = getattr(column.array, "_pa_array", None) if unique and checks else None
        values = arrow.drop_null() if arrow is not None else None
        failing, _unique_col, _nullable_col = _may_fail(column, checks, False, False, values) if checks else ([], False, False)
        out.append(({i for i, check in enumerate(checks) if any(check is f for f in failing)}, bool(column.hasnans)))
    return out


def screened_blocks(schema: dict[str, Any], frame, verdicts: list[list], distinct: dict | None = None) -> tuple[list, list | None]:
    """:func:`screened_specs` of a table read in blocks: each block's :func:`row_verdicts`
    merged, and what needs the whole table (uniqueness, a multi-field key) judged on ``frame``,
    without a list of each column's distinct values (a unique column's are all its values)."""
    specs, unique = _column_specs(schema)
    unique = _key_may_repeat(unique, frame)
    kept = []
    for i, (name, dtype, nullable, unique_col, checks) in enumerate(specs):
        if name in frame.columns:
            nullable = nullable or not any(v[i][1] for v in verdicts)
            if any(v[i][0] is None for v in verdicts):  # (judged on the whole column's distinct values)
                checks = _may_fail(frame[name], checks, False, False, (distinct or {}).get(name))[0] if checks else []
            else:
                failing = set().union(*(v[i][0] for v in verdicts))
                checks = [check for j, check in enumerate(checks) if j in failing]
            if unique_col:
                column = frame[name]
                known = (distinct or {}).get(name)
                unique_col = (len(known) if known is not None else _distinct_count(column)) < len(column) - int(column.isna().sum())
        kept.append((name, dtype, nullable, unique_col, checks))
    return kept, unique


def _distinct_count(column) -> int:
    """How many distinct non-empty values a column holds (an arrow-backed one counted by pyarrow:
    the length of pc.unique, 4x faster than pc.count_distinct on a million ids; a long text
    column in parts, see :func:`_distinct_in_parts`)."""
    import pyarrow.compute as pc

    arrow = getattr(column.array, "_pa_array", None)
    if arrow is None:
        return len(column.dropna().unique())
    if len(arrow) >= _PARTED and _is_text(arrow):
        return _distinct_in_parts(arrow)
    return len(pc.unique(arrow.drop_null()))


_PARTED = 1 << 16  # rows from which a text column's values are counted in parts
_PARTS = 8


def _is_text(arrow) -> bool:
    import pyarrow as pa

    return pa.types.is_large_string(arrow.type) or pa.types.is_string(arrow.type)


def _distinct_in_parts(arrow) -> int:
    """The distinct count of a text column, counted in parts that share no value (each value's
    part is worked out from its length and last byte, so equal values fall in the same part):
    the table of distinct values pyarrow builds is then a part's, not the whole column's (a
    million ids: some 40 MB less at the peak of a validation)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from carte_evidence.package.columns import string_layout

    chunks = arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
    parts = []
    for chunk in chunks:
        chunk = chunk.drop_null()
        if not len(chunk):
            continue
        offsets, data = string_layout(chunk)
        length = np.diff(offsets).astype(np.int64)
        last = np.where(length > 0, data[np.maximum(offsets[1:] - 1, 0)] if len(data) else 0, 0).astype(np.int64)
        parts.append((chunk, (last * 31 + length) % _PARTS))
    total = 0
    for part in range(_PARTS):
        taken = [chunk.filter(pa.array(of == part)) for chunk, of in parts]
        taken = [t for t in taken if len(t)]
        if taken:
            total += len(pc.unique(pa.chunked_array(taken)))
        del taken
    return total


def anything_to_check(specs: tuple) -> bool:
    """Whether :func:`screened_specs` left pandera anything to run on its table."""
    columns, unique = specs
    return bool(unique) or any(checks or unique_col or not nullable for _name, _dtype, nullable, unique_col, checks in columns)


def validation_schema(schema: dict[str, Any], extra_checks: dict[str, list] | None = None, specs: tuple | None = None):
    """The one pandera schema `validate` runs on a parsed table: its Table Schema's constraints
    plus ``extra_checks`` (column -> checks, the cross-field rules), in a single pass.

    Unlike :func:`to_pandera`, it leaves out what cannot fail on a table from
    :mod:`~carte_evidence.package.parse`, which has already typed every column and added any
    missing one: dtypes, column presence, and columns without any check. ``specs``: the
    :func:`screened_specs` of the table, which leave out the constraints no value breaks.
    """
    pa = pandera()

    extra_checks = extra_checks or {}
    specs, unique = specs if specs is not None else _column_specs(schema)
    columns = {}
    for name, _dtype, nullable, unique_col, checks in specs:
        checks = pandera_checks(checks) + list(extra_checks.get(name, []))
        if unique_col:
            checks.append(_unique_check())
        if checks or not nullable:
            columns[name] = pa.Column(None, checks=checks, nullable=nullable, required=False, name=name)
    for name, checks in extra_checks.items():  # rule checks on a column the schema does not list
        if name not in columns and checks and name not in {s[0] for s in specs}:
            columns[name] = pa.Column(None, checks=list(checks), nullable=True, required=False, name=name)
    return pa.DataFrameSchema(columns=columns, coerce=False, strict=False, unique=unique)
