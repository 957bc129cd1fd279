"""Checks of the package as a whole, before and after its tables are read: the descriptor's
shape, the safety of its resource paths, the descriptor against the one generated from the
schema files, and the one rule (every number is in its verbatim quote)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

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


class Unquoted(NamedTuple):
    """The rows of one checked column whose number is not in their quote (see :func:`quote_block`)."""

    rows: np.ndarray
    values: list  # each number as text
    one: np.ndarray  # a count of one (which a case report's row states by being one)
    arms: np.ndarray  # each row's arm (None: none), for the case reports


class QuoteBlock(NamedTuple):
    """What the quote rule finds in a table, or in a block of its rows (:func:`quote_block`)."""

    rows: int
    missing: np.ndarray  # rows with a number but no quote
    unquoted: dict[str, Unquoted]  # by checked column


def quote_problems(parsed: dict, reviewed: set[tuple[str, str, str]] | None = None, found: dict | None = None) -> ProblemTable:
    """The one rule: every outcome and adverse-event row with a number has a quote, and each
    number can be read in its quote (or is reviewed, or ``value_source`` says it was derived).

    ``found``: table -> the :func:`quote_block` of each block of its rows, in order, for tables
    read in blocks (whose quotes are not kept); the others are looked at whole here.
    """
    from carte_evidence.package.provenance import CHECKED, ID, case_report_arms, single_case_rows

    needed = ("studies", *CHECKED)
    if any(name not in parsed or not parsed[name].readable for name in needed):
        return ProblemTable.of([])
    found = dict(found or {})
    reviewed = reviewed_quotes() if reviewed is None and any(t not in found for t in CHECKED) else reviewed
    for table in CHECKED:
        if table not in found:
            found[table] = [quote_block(table, parsed[table].frame, reviewed)]
    if any(block is None for table in CHECKED for block in found[table]):
        return ProblemTable.of([])  # (a table without the columns the rule reads: the schema's problem)
    single = case_report_arms({name: parsed[name].frame for name in ("studies", "arms")})
    missing, groups = [], []
    for table in CHECKED:
        t, blocks = parsed[table], found[table]
        offsets = np.cumsum([0] + [block.rows for block in blocks[:-1]]).tolist()  # each block's first row
        for offset, block in zip(offsets, blocks):
            for row in block.missing.tolist():
                missing.append(Problem(t.file, int(t.lines[offset + row]), "quote", None, "quote-missing",
                                       "the row has a number but no verbatim quote", "copy the sentence the number was read from into quote"))
        first_line = None
        for column in CHECKED[table]:
            parts = [(offset, block.unquoted[column]) for offset, block in zip(offsets, blocks) if column in block.unquoted]
            if not parts:
                continue
            rows = np.concatenate([offset + part.rows for offset, part in parts])
            values = [v for _offset, part in parts for v in part.values]
            one = np.concatenate([part.one for _offset, part in parts])
            arms = pd.Series(np.concatenate([part.arms for _offset, part in parts]), dtype=object)
            kept = ~(one & single_case_rows(arms, single))
            if not kept.any():
                continue
            if first_line is None:
                # The line of the first row with the row's id (as the report has always named it).
                id_codes, _ = pd.factorize(t.frame[ID[table]])
                codes, first = np.unique(id_codes, return_index=True)
                lines = np.full(len(id_codes) + 1, -1, dtype=np.int64)  # by code; -1 (no id): no line
                lines[codes[codes >= 0]] = t.lines[first[codes >= 0]]
                first_line = id_codes, lines
            id_codes, lines = first_line
            at = lines[id_codes[rows[kept]]]
            # (a column's problems as one group: the report's order is triage's to set)
            groups.append(ProblemTable.group(t.file, [None if line < 0 else line for line in at.tolist()], column,
                                             [v for v, k in zip(values, kept.tolist()) if k], "quote",
                                             "the number cannot be found in the row's quote",
                                             "quote the sentence that states it; if it was derived, set value_source and explain in notes"))
    return ProblemTable.concat([ProblemTable.of(missing), *groups])


def quote_block(table: str, frame: pd.DataFrame, reviewed: set | None) -> QuoteBlock | None:
    """What the quote rule finds in a table, or in a block of its rows: the rows with a number
    but no quote, and for each checked column the rows whose number is not in their quote
    (case reports are known only once every table is read: their rows are told apart later).
    None when the table lacks a column the rule reads."""
    from carte_evidence.package.provenance import CHECKED, ID, unquoted_in

    if any(col not in frame.columns for col in [*CHECKED[table], ID[table], "quote"]):
        return None
    missing = np.zeros(0, dtype=np.int64)
    if table in QUOTED_TABLES:
        has_number = frame[CHECKED[table]].notna().any(axis=1).to_numpy()
        missing = np.flatnonzero(has_number & frame["quote"].isna().to_numpy())
    unquoted = {}
    for rows, column, one in unquoted_in(table, frame):
        if len(rows):  # rows without a quote are quote-missing (above); reviewed ones are fine
            quoted = frame["quote"].iloc[rows]
            keep = (quoted.notna() & (quoted.astype(str) != "")).to_numpy(dtype=bool, copy=True)
            if reviewed:
                keep &= ~np.array([(table, i, column) in reviewed for i in frame[ID[table]].iloc[rows].tolist()], dtype=bool)
            rows, one = rows[keep], one[keep]
        if not len(rows):
            continue
        values = [str(int(value)) if float(value) == int(value) else str(value) for value in frame[column].iloc[rows].tolist()]
        arms = frame["arm_id"].iloc[rows].to_numpy(dtype=object, na_value=None) if "arm_id" in frame.columns else np.full(len(rows), None, dtype=object)
        unquoted[column] = Unquoted(rows, values, one, arms)
    return QuoteBlock(len(frame), missing, unquoted)
