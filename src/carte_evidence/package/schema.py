"""Field metadata -> Frictionless Table Schemas -> pandera schemas.

``schemas/fields.yaml`` defines every column once and ``schemas/resources.yaml`` lists the
fields of each table; this module derives everything else from those two files.
"""

from __future__ import annotations

import copy
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


def _read_yaml(path: str) -> dict[str, Any]:
    p = Path(path)
    return _read_yaml_cached(str(p), p.stat().st_mtime_ns)


@lru_cache(maxsize=None)
def _read_yaml_cached(path: str, mtime: int) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def field_metadata(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every field's definition, by name (from fields.yaml)."""
    return _read_yaml(str((directory or schemas_dir()) / "fields.yaml"))["fields"]


def resource_metadata(directory: Path | None = None) -> dict[str, Any]:
    """The package and table definitions (from resources.yaml)."""
    return _read_yaml(str((directory or schemas_dir()) / "resources.yaml"))


def table_schema(resource: str, directory: Path | None = None) -> dict[str, Any]:
    """Frictionless Table Schema of one resource, derived from the field metadata."""
    fields_meta = field_metadata(directory)
    meta = resource_metadata(directory)
    res = {**meta["resources"], **meta.get("derived_resources", {})}[resource]
    required = set(res.get("required", []))
    unique = set(res.get("unique", []))
    fields = []
    for name in res["fields"]:
        meta = copy.deepcopy(fields_meta[name])
        field: dict[str, Any] = {"name": name, "type": meta["type"], "description": meta["description"]}
        if meta.get("format") == "uri":
            field["format"] = "uri"
        constraints = meta.get("constraints", {})
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


def to_pandera(schema: dict[str, Any]):
    """pandera schema of a typed table, derived from its Frictionless Table Schema.

    pandera reads the Table Schema (types, required, enum, pattern, min/max, unique); we then
    swap its dtypes for pandas' nullable ones, since unknown values stay empty, and drop its
    coercion because :mod:`carte_evidence.parse` has already typed the columns (and reported
    every value that would not convert, with its line).
    """
    import pandera.pandas as pa
    from pandera.io.pandas_io import from_frictionless_schema

    derived = from_frictionless_schema(schema)
    updates = {}
    for field in schema["fields"]:
        updates[field["name"]] = {"dtype": PANDAS_DTYPES.get(field["type"], "string")}
    derived = derived.update_columns(updates)
    return pa.DataFrameSchema(
        columns=derived.columns,
        checks=derived.checks,
        coerce=False,
        strict=False,  # unknown/missing columns are reported earlier, with a hint
        unique=derived.unique,
        name=derived.name,
    )
