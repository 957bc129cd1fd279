"""Downloads for analysts: the validated tables (and derived ones) as CSV, xlsx, Parquet,
SQLite or DuckDB, with keys and analysis-ready views in the databases."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd

from carte_evidence.outputs.owned import owned_directory, owned_file

FORMATS = ("csv", "xlsx", "parquet", "sqlite", "duckdb")
SQL_TYPES = {"integer": "INTEGER", "number": "DOUBLE", "boolean": "BOOLEAN", "string": "TEXT"}
# A spreadsheet runs a cell as a formula when it starts with one of these (full-width forms
# included: some spreadsheet programs normalise them), also after leading control characters.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_LEADING_CONTROL = re.compile(r"^[\x00-\x1f\x7f]")
# Characters an xlsx file cannot hold (openpyxl refuses them): written as visible escapes.
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
GENERATOR = "carte-evidence"

# Analysis-ready views of the databases, in SQL both SQLite and DuckDB understand.
VIEWS = {
    "primary_outcomes": """
        SELECT o.*, a.study_id, a.disease_id, a.product_id
        FROM outcomes o JOIN arms a ON a.arm_id = o.arm_id
        JOIN studies s ON s.study_id = a.study_id AND s.primary_publication_id = o.publication_id""",
    "primary_adverse_events": """
        SELECT e.*, a.study_id, a.disease_id, a.product_id
        FROM adverse_events e JOIN arms a ON a.arm_id = e.arm_id
        JOIN studies s ON s.study_id = a.study_id AND s.primary_publication_id = e.publication_id""",
    "arm_overview": """
        SELECT a.arm_id, a.study_id, s.name AS study_name, s.design, s.indication, a.disease_id, d.name AS disease_name,
               a.product_id, p.name AS product_name, p.modality, p.targets, p.cell_source, a.n_treated,
               s.primary_publication_id, pub.first_author, pub.year, pub.doi, pub.pmid
        FROM arms a JOIN studies s ON s.study_id = a.study_id
        JOIN diseases d ON d.disease_id = a.disease_id JOIN products p ON p.product_id = a.product_id
        JOIN publications pub ON pub.publication_id = s.primary_publication_id""",
}


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix a quote to text cells a spreadsheet would run as a formula (=, +, -, @, their
    full-width forms, or any of them after leading control characters such as NUL)."""
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("string") or out[column].dtype == object:
            text = out[column].astype("string")
            risky = (text.str.lstrip("".join(map(chr, range(32))) + "\x7f").str.startswith(FORMULA_START)
                     | text.str.contains(_LEADING_CONTROL)).fillna(False)
            out[column] = text.mask(risky, "'" + text)
    return out


def _xlsx_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Control characters an xlsx cannot store, written as visible escapes (e.g. \\x00)."""
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("string") or out[column].dtype == object:
            text = out[column].astype("string")
            out[column] = text.str.replace(_ILLEGAL_XLSX, lambda m: f"\\x{ord(m.group()):02x}", regex=True)
    return out


def package_metadata(descriptor: dict, today: dt.date | None = None) -> dict[str, str]:
    """Title, version, licence, citation and date of an export (its README sheet / metadata table)."""
    title = str(descriptor.get("title") or descriptor.get("name") or "carte-evidence")
    version = str(descriptor.get("version", ""))
    licences = ", ".join(str(lic.get("name", "")) for lic in descriptor.get("licenses", []) if isinstance(lic, dict))
    date = (today or dt.date.today()).isoformat()
    return {
        "title": title,
        "version": version,
        "licence": licences,
        "citation": f"carte-evidence contributors. {title}. Version {version} ({date}). Licence {licences}.",
        "date": date,
        "generator": GENERATOR,
    }


def export_tables(path=None, with_descriptor: bool = False):
    """The validated source tables plus the derived ones, and the Table Schema of each
    (and the package descriptor with ``with_descriptor``)."""
    from carte_evidence.outputs.build import derived_tables
    from carte_evidence.package.schema import derived_resource
    from carte_evidence.package.validate import validate

    report = validate(path)
    if not report.valid:
        from carte_evidence.package.problems import ValidationError

        raise ValidationError(report.problems)
    schemas = {r["name"]: r["schema"] for r in report.descriptor["resources"]}
    tables = dict(report.tables)
    for name, frame in derived_tables(report.tables).items():
        tables[name] = frame
        schemas[name] = derived_resource(name)["schema"]
    if with_descriptor:
        return tables, schemas, report.descriptor, report.package.parent
    return tables, schemas


def _readme(schemas: dict[str, dict]) -> pd.DataFrame:
    rows = [{"table": t, "field": f["name"], "type": f["type"], "description": f.get("description", "")} for t, s in schemas.items() for f in s["fields"]]
    return pd.DataFrame(rows)


def _ddl(name: str, schema: dict, created: set[str], sqlite: bool) -> str:
    cols = [f'"{f["name"]}" {SQL_TYPES.get(f["type"], "TEXT")}' + (" NOT NULL" if f.get("constraints", {}).get("required") else "") for f in schema["fields"]]
    pk = schema.get("primaryKey") or []
    if pk:
        cols.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in pk) + ")")
    for fk in schema.get("foreignKeys", []):
        parent = fk["reference"]["resource"] or name
        # DuckDB needs the parent table first; SQLite accepts forward and self references.
        if sqlite or (parent in created and parent != name):
            cols.append(f'FOREIGN KEY ("{fk["fields"]}") REFERENCES "{parent}" ("{fk["reference"]["fields"]}")')
    return f'CREATE TABLE "{name}" (\n  ' + ",\n  ".join(cols) + "\n)"


def _order(schemas: dict[str, dict]) -> list[str]:
    """Tables ordered so that parents come before children where the keys allow it."""
    done: list[str] = []
    pending = list(schemas)
    while pending:
        for name in pending:
            parents = {fk["reference"]["resource"] for fk in schemas[name].get("foreignKeys", [])} - {"", name}
            if parents <= set(done) or all(p not in pending for p in parents):
                break
        else:
            name = pending[0]  # a cycle (studies <-> publications): take the first
        done.append(name)
        pending.remove(name)
    return done


def _write_database(tables, schemas, target: Path, kind: str, metadata: dict[str, str] | None = None) -> None:
    if kind == "sqlite":
        con = sqlite3.connect(target)
    else:
        try:
            import duckdb
        except ImportError as err:  # optional extra
            raise RuntimeError("DuckDB export needs the duckdb package: pip install duckdb") from err
        con = duckdb.connect(str(target))
    created: set[str] = set()
    for name in _order(schemas):
        con.execute(_ddl(name, schemas[name], created, kind == "sqlite"))
        frame = tables[name]
        columns = [f["name"] for f in schemas[name]["fields"]]
        values = frame[columns].astype(object).where(frame[columns].notna(), None).values.tolist()
        if values:
            marks = ", ".join("?" for _ in columns)
            con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', values)
        created.add(name)
    for view, sql in VIEWS.items():
        con.execute(f'CREATE VIEW "{view}" AS {sql}')
    con.execute('CREATE TABLE "metadata" ("key" TEXT PRIMARY KEY, "value" TEXT)')
    con.executemany('INSERT INTO "metadata" VALUES (?, ?)', list((metadata or {}).items()))
    if kind == "sqlite":
        con.commit()
    con.close()


def _is_carte_file(path: Path) -> bool:
    """Whether a file is an export carte wrote (its generator stamp), so it may be replaced."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return GENERATOR in z.read("docProps/core.xml").decode("utf-8", "replace")
        with open(path, "rb") as handle:
            head = handle.read(16)
        if head.startswith(b"SQLite format 3"):
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return con.execute("SELECT value FROM metadata WHERE key = 'generator'").fetchone() == (GENERATOR,)
            finally:
                con.close()
        if head[8:12] == b"DUCK":
            import duckdb

            with duckdb.connect(str(path), read_only=True) as con:
                return con.execute("SELECT value FROM metadata WHERE key = 'generator'").fetchone() == (GENERATOR,)
    except Exception:  # any unreadable file is simply not ours
        return False
    return False


def export(fmt: str, out: str | Path | None = None, path=None, force: bool = False) -> Path:
    """Export the package (validated) and its derived tables; returns the path written.

    csv and parquet write a folder of files; xlsx one workbook (first the headline table, then a
    README sheet with the title, version, licence, citation and date and the field descriptions,
    then a sheet per table);
    sqlite and duckdb one database with primary and foreign keys, the views in :data:`VIEWS` and
    a ``metadata`` table. Text that a spreadsheet would run as a formula is neutralised in csv and
    xlsx. The target is replaced atomically, and only when carte wrote it (a folder with the
    ``.carte-output`` marker, a file with carte's stamp) unless ``force``
    (:class:`~carte_evidence.outputs.owned.OutputRefused`).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    tables, schemas, descriptor, source = export_tables(path, with_descriptor=True)
    metadata = package_metadata(descriptor)
    suffix = {"csv": "-csv", "parquet": "-parquet", "xlsx": ".xlsx", "sqlite": ".sqlite", "duckdb": ".duckdb"}[fmt]
    target = Path(out) if out else Path("dist") / f"carte-evidence{suffix}"
    if fmt in ("csv", "parquet"):
        with owned_directory(target, f"export {fmt}", force=force, protect=[source]) as work:
            for name, frame in tables.items():
                if fmt == "csv":
                    neutralise_formulas(frame).to_csv(work / f"{name}.csv", index=False, lineterminator="\n")
                else:
                    frame.to_parquet(work / f"{name}.parquet", index=False)
        return target
    with owned_file(target, "export", force=force, is_ours=_is_carte_file, protect=[source]) as work:
        if fmt == "xlsx":
            meta = pd.DataFrame({"table": list(metadata), "field": list(metadata.values())})
            with pd.ExcelWriter(work, engine="openpyxl") as writer:
                writer.book.properties.creator = GENERATOR
                writer.book.properties.title = metadata["title"]
                writer.book.properties.version = metadata["version"]
                readme = pd.concat([meta, pd.DataFrame([{}]), pd.DataFrame([{"table": "table", "field": "field", "type": "type", "description": "description"}]), _readme(schemas)])
                from carte_evidence.analysis.headline import headline_wide

                # The table a reader of a review looks for first (analysis/headline.py).
                _xlsx_safe(neutralise_formulas(headline_wide(tables))).to_excel(writer, sheet_name="headline", index=False)
                _xlsx_safe(readme).to_excel(writer, sheet_name="README", index=False, header=False)
                for name, frame in tables.items():
                    _xlsx_safe(neutralise_formulas(frame)).to_excel(writer, sheet_name=name[:31], index=False)
        else:
            work.unlink()  # DuckDB will not open an empty file as a database
            _write_database(tables, schemas, work, fmt, metadata)
    return target
