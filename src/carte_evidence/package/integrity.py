"""Checks of the package as a whole, before and after its tables are read: the descriptor's
shape, the safety of its resource paths, the descriptor against the one generated from the
schema files, and the one rule (every number is in its verbatim quote)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carte_evidence.package.problems import Problem, ProblemTable

REGENERATE = "run `python scripts/generate_datapackage.py` (it writes datapackage.json from schemas/)"
# Field properties that must equal the generated ones (descriptions may be edited freely).
COMPARED = ("type", "format", "constraints", "trueValues", "falseValues")
QUOTED_TABLES = ("outcomes", "adverse_events")  # a row with a number there needs a quote


def descriptor_shape(descriptor: Any, display: str) -> list[Problem]:
    """Problems of a datapackage.json that is not an object with a list of named table resources."""
    def problem(message: str, hint: str = REGENERATE) -> Problem:
        return Problem(display, None, None, None, "descriptor", message, hint)

    if not isinstance(descriptor, dict):
        return [problem(f"datapackage.json holds a {type(descriptor).__name__}, not an object with 'resources'")]
    resources = descriptor.get("resources")
    if not isinstance(resources, list) or not resources:
        return [problem("datapackage.json has no 'resources' list")]
    out = []
    for i, res in enumerate(resources, 1):
        if not isinstance(res, dict):
            out.append(problem(f"resource {i} is not an object"))
            continue
        name = res.get("name")
        if not isinstance(name, str) or not name:
            out.append(problem(f"resource {i} has no 'name'"))
            continue
        schema = res.get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list) or not all(_field_ok(f) for f in schema["fields"]):
            out.append(problem(f"resource '{name}' has no valid 'schema' with named and typed 'fields'"))
        if not isinstance(res.get("path"), str):
            out.append(problem(f"resource '{name}' has no 'path' (a single relative path to its CSV file)"))
    return out


def _field_ok(f: Any) -> bool:
    return isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("type"), str)


def _fk_ok(fk: Any) -> bool:
    ref = fk.get("reference") if isinstance(fk, dict) else None
    return isinstance(fk, dict) and isinstance(fk.get("fields"), str) and isinstance(ref, dict) \
        and isinstance(ref.get("resource"), str) and isinstance(ref.get("fields"), str)


def usable_resources(descriptor: dict) -> list[dict]:
    """The resources that passed :func:`descriptor_shape` (named, with a path and a schema of
    typed fields); malformed keys are left out (the comparison with schemas/ reports them)."""
    out = []
    for r in descriptor.get("resources", []):
        if not (isinstance(r, dict) and isinstance(r.get("name"), str) and r.get("name") and isinstance(r.get("path"), str)
                and isinstance(r.get("schema"), dict) and isinstance(r["schema"].get("fields"), list)
                and all(_field_ok(f) for f in r["schema"]["fields"])):
            continue
        schema = dict(r["schema"])
        schema["foreignKeys"] = [fk for fk in schema.get("foreignKeys", []) or [] if _fk_ok(fk)] if isinstance(schema.get("foreignKeys", []), list) else []
        if not schema["foreignKeys"]:
            schema.pop("foreignKeys")
        if not (isinstance(schema.get("primaryKey"), list) and all(isinstance(k, str) for k in schema["primaryKey"])):
            schema.pop("primaryKey", None)
        out.append({**r, "schema": schema})
    return out


def resource_path(res: dict, base: Path) -> tuple[Path | None, Problem | None]:
    """The CSV file of a resource, if its path is safe: relative, inside the package folder (also
    after following symlinks), not a URL, ending in .csv. Otherwise a problem."""
    raw = res["path"]
    display = raw

    def refuse(message: str) -> tuple[None, Problem]:
        return None, Problem(display, None, None, raw, "resource-path", f"resource '{res['name']}': {message}",
                             f"use a relative path inside the package folder, e.g. data/{res['name']}.csv")

    if "://" in raw or raw.lower().startswith(("http:", "https:", "ftp:", "file:")):
        return refuse("the path is a URL; carte reads only files of the package")
    p = Path(raw)
    if p.is_absolute() or raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        return refuse("the path is absolute")
    if ".." in p.parts or "\\" in raw:
        return refuse("the path leaves the package folder ('..')")
    if p.suffix.lower() != ".csv":
        return refuse("the path does not end in .csv")
    root = base.resolve()
    target = (base / p).resolve()
    try:
        target.relative_to(root)
    except ValueError:
        return refuse("the path leads outside the package folder (through a symbolic link)")
    return base / p, None


def pandera_schema(res: dict, display: str, rules: dict | None = None, specs: tuple | None = None):
    """The one-pass pandera schema of a resource (its Table Schema plus our ``rules``; given its
    ``schema.screened_specs``, only the checks that some value breaks), or a problem when the
    descriptor's schema is unusable."""
    from carte_evidence.package.schema import validation_schema

    try:
        return validation_schema(res["schema"], rules or {}, specs), None
    except Exception as exc:  # frictionless/pandera reject a malformed schema in many ways
        message = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return None, Problem(display, None, None, None, "descriptor", f"the schema of resource '{res['name']}' cannot be used ({message})", REGENERATE)


def _generated() -> dict[str, dict]:
    from carte_evidence.package.schema import datapackage_descriptor, derived_resource, resource_metadata

    out = {r["name"]: r for r in datapackage_descriptor()["resources"]}
    derived = {name: derived_resource(name) for name in resource_metadata().get("derived_resources", {})}
    return {"source": out, "derived": derived}


def against_generated(descriptor: dict, display: str) -> list[Problem]:
    """Differences of the descriptor from the one generated from schemas/ (a missing resource,
    field, key or constraint), each naming the command that fixes it."""
    try:
        generated = _generated()
    except (OSError, KeyError, TypeError, ValueError):  # pragma: no cover - broken schema files are the schema tests' job
        return []
    have = {r["name"]: r for r in usable_resources(descriptor)}
    names = {r.get("name") for r in descriptor.get("resources", []) if isinstance(r, dict)}
    out = []

    def problem(message: str, column: str | None = None) -> None:
        out.append(Problem(display, None, column, None, "descriptor-stale", message, REGENERATE))

    for name, gen in generated["source"].items():
        if name not in names:
            problem(f"the resource '{name}' is missing")
        elif name in have:
            _compare(name, have[name], gen, problem)
    for name, res in have.items():
        if name in generated["derived"]:
            _compare(name, res, generated["derived"][name], problem)
        elif name not in generated["source"]:
            problem(f"the resource '{name}' is not a table of schemas/resources.yaml")
    return out


def _compare(name: str, res: dict, gen: dict, problem) -> None:
    schema, gschema = res["schema"], gen["schema"]
    fields = {f["name"]: f for f in schema["fields"]}
    for gf in gschema["fields"]:
        f = fields.get(gf["name"])
        if f is None:
            problem(f"resource '{name}': the field '{gf['name']}' is missing", gf["name"])
            continue
        for key in COMPARED:
            if key == "constraints":
                have, want = f.get(key, {}) or {}, gf.get(key, {})
                for c in sorted(set(have) | set(want)):
                    if have.get(c) != want.get(c):
                        state = "missing" if c not in have else ("not in schemas/fields.yaml" if c not in want else "different")
                        problem(f"resource '{name}': the constraint '{c}' of field '{gf['name']}' is {state}", gf["name"])
            elif f.get(key) != gf.get(key):
                problem(f"resource '{name}': the {key} of field '{gf['name']}' is {f.get(key)!r}, schemas/ say {gf.get(key)!r}", gf["name"])
    for extra in sorted(set(fields) - {gf["name"] for gf in gschema["fields"]}):
        problem(f"resource '{name}': the field '{extra}' is not in schemas/resources.yaml", extra)
    if [f["name"] for f in schema["fields"]] != [gf["name"] for gf in gschema["fields"]] and set(fields) == {gf["name"] for gf in gschema["fields"]}:
        problem(f"resource '{name}': the fields are not in the order of schemas/resources.yaml")
    for key in ("primaryKey", "foreignKeys", "missingValues"):
        if schema.get(key) != gschema.get(key):
            problem(f"resource '{name}': the {key} differs from schemas/resources.yaml")


def reviewed_quotes() -> set[tuple[str, str, str]]:
    """(table, id, column) of the numbers reviewed by hand that are not visible in their quote
    (schemas/provenance_reviewed.csv, with the reason of each)."""
    from carte_evidence.package.paths import schemas_dir

    file = schemas_dir() / "provenance_reviewed.csv"
    if not file.exists():
        return set()
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    return set(zip(frame["table"], frame["id"], frame["column"]))


def quote_problems(parsed: dict, reviewed: set[tuple[str, str, str]] | None = None) -> ProblemTable:
    """The one rule: every outcome and adverse-event row with a number has a quote, and each
    number can be read in its quote (or is reviewed, or ``value_source`` says it was derived)."""
    from carte_evidence.package.provenance import CHECKED, ID, unquoted_rows

    needed = ("studies", *CHECKED)
    if any(name not in parsed or not parsed[name].readable for name in needed):
        return ProblemTable.of([])
    tables = {name: parsed[name].frame for name in needed}
    if any(col not in tables[t].columns for t, cols in CHECKED.items() for col in [*cols, ID[t], "quote"]):
        return ProblemTable.of([])
    reviewed = reviewed_quotes() if reviewed is None else reviewed
    out = []
    for table in QUOTED_TABLES:
        frame, lines = tables[table], parsed[table].lines
        has_number = frame[CHECKED[table]].notna().any(axis=1).to_numpy()
        no_quote = frame["quote"].isna().to_numpy()
        for i in np.flatnonzero(has_number & no_quote):
            out.append(Problem(parsed[table].file, int(lines[i]), "quote", None, "quote-missing",
                               "the row has a number but no verbatim quote", "copy the sentence the number was read from into quote"))
    found = [ProblemTable.of(out)]
    first_line: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for table, rows, column in unquoted_rows(tables):
        t, frame = parsed[table], tables[table]
        if len(rows):  # rows without a quote are quote-missing (above); reviewed ones are fine
            quoted = frame["quote"].iloc[rows]
            keep = (quoted.notna() & (quoted.astype(str) != "")).to_numpy(dtype=bool, copy=True)
            if reviewed:
                keep &= ~np.array([(table, i, column) in reviewed for i in frame[ID[table]].iloc[rows].tolist()], dtype=bool)
            rows = rows[keep]
        if not len(rows):
            continue
        if table not in first_line:
            # The line of the first row with the row's id (as the report has always named it).
            id_codes, _ = pd.factorize(frame[ID[table]])
            codes, first = np.unique(id_codes, return_index=True)
            lines = np.full(len(id_codes) + 1, -1, dtype=np.int64)  # by code; -1 (no id): no line
            lines[codes[codes >= 0]] = t.lines[first[codes >= 0]]
            first_line[table] = id_codes, lines
        id_codes, lines = first_line[table]
        at = lines[id_codes[rows]]
        values = [str(int(value)) if float(value) == int(value) else str(value) for value in frame[column].iloc[rows].tolist()]
        # (a column's problems as one group: the report's order is triage's to set)
        found.append(ProblemTable.group(t.file, [None if line < 0 else line for line in at.tolist()], column, values, "quote",
                                        "the number cannot be found in the row's quote",
                                        "quote the sentence that states it; if it was derived, set value_source and explain in notes"))
    return ProblemTable.concat(found)
