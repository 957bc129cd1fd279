"""Downloads for analysts: the validated tables (and derived ones) as CSV, xlsx, Parquet,
SQLite or DuckDB, with keys and analysis-ready views in the databases."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd

FORMATS = ("csv", "xlsx", "parquet", "sqlite", "duckdb")
SQL_TYPES = {"integer": "INTEGER", "number": "DOUBLE", "boolean": "BOOLEAN", "string": "TEXT"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

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
    """Prefix a quote to text cells a spreadsheet would run as a formula (=, +, -, @)."""
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("string") or out[column].dtype == object:
            text = out[column].astype("string")
            risky = text.str.startswith(FORMULA_START).fillna(False)
            out[column] = text.mask(risky, "'" + text)
    return out


def export_tables(path=None) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """The validated source tables plus the derived ones, and the Table Schema of each."""
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


def _write_database(tables, schemas, target: Path, kind: str) -> None:
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
    if kind == "sqlite":
        con.commit()
    con.close()


def export(fmt: str, out: str | Path | None = None, path=None) -> Path:
    """Export the package (validated) and its derived tables; returns the path written.

    csv and parquet write a folder of files; xlsx one workbook (a sheet per table and a README
    sheet of field descriptions); sqlite and duckdb one database with primary and foreign keys
    and the views in :data:`VIEWS`. Text that a spreadsheet would run as a formula is
    neutralised in csv and xlsx. The target is replaced atomically.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    tables, schemas = export_tables(path)
    suffix = {"csv": "-csv", "parquet": "-parquet", "xlsx": ".xlsx", "sqlite": ".sqlite", "duckdb": ".duckdb"}[fmt]
    target = Path(out) if out else Path("dist") / f"carte-evidence{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        work = Path(tmp) / target.name
        if fmt in ("csv", "parquet"):
            work.mkdir()
            for name, frame in tables.items():
                if fmt == "csv":
                    neutralise_formulas(frame).to_csv(work / f"{name}.csv", index=False, lineterminator="\n")
                else:
                    frame.to_parquet(work / f"{name}.parquet", index=False)
        elif fmt == "xlsx":
            with pd.ExcelWriter(work, engine="openpyxl") as writer:
                _readme(schemas).to_excel(writer, sheet_name="README", index=False)
                for name, frame in tables.items():
                    neutralise_formulas(frame).to_excel(writer, sheet_name=name[:31], index=False)
        else:
            _write_database(tables, schemas, work, fmt)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        shutil.move(str(work), target)
    return target
