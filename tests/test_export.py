"""Each export round-trips to the same values; spreadsheet formulas are neutralised."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from typer.testing import CliRunner

from carte_evidence.cli.main import app
from carte_evidence.outputs.export import export, export_tables, neutralise_formulas
from conftest import edit

runner = CliRunner()


def _norm(frame: pd.DataFrame) -> list[list[str]]:
    """Values as comparable strings (1 == 1.0, missing == '')."""
    def cell(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return ""
        if isinstance(v, (bool,)) or str(v) in ("True", "False"):
            return str(v).lower()
        try:
            f = float(v)
            return repr(int(f)) if f == int(f) else repr(round(f, 9))
        except (TypeError, ValueError):
            return str(v)
    return sorted([cell(v) for v in row] for row in frame.astype(object).values.tolist())


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "sqlite", "duckdb"])
def test_export_round_trips(mini, tmp_path, fmt):
    target = export(fmt, tmp_path / f"out.{fmt}", mini)
    tables, schemas = export_tables(mini)
    for name in ("publications", "arms", "outcomes", "study_grades"):
        columns = [f["name"] for f in schemas[name]["fields"]]
        if fmt == "csv":
            back = pd.read_csv(target / f"{name}.csv", dtype=str, keep_default_na=False)
        elif fmt == "parquet":
            back = pd.read_parquet(target / f"{name}.parquet")
        elif fmt == "xlsx":
            back = pd.read_excel(target, sheet_name=name, dtype=str, keep_default_na=False)
        elif fmt == "sqlite":
            with sqlite3.connect(target) as con:
                back = pd.read_sql(f'SELECT * FROM "{name}"', con)
            for f in schemas[name]["fields"]:  # SQLite stores booleans as 0/1
                if f["type"] == "boolean":
                    back[f["name"]] = back[f["name"]].map({1: True, 0: False})
        else:
            import duckdb

            with duckdb.connect(str(target), read_only=True) as con:
                back = con.execute(f'SELECT * FROM "{name}"').df()
        assert list(back.columns) == columns
        assert _norm(back) == _norm(tables[name][columns]), name


def test_database_has_keys_and_views(mini, tmp_path):
    target = export("sqlite", tmp_path / "c.sqlite", mini)
    with sqlite3.connect(target) as con:
        ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = 'arms'").fetchone()[0]
        assert 'PRIMARY KEY ("arm_id")' in ddl and 'REFERENCES "studies" ("study_id")' in ddl
        rows = con.execute("SELECT arm_id, n_events FROM primary_outcomes WHERE measure = 'doris_remission' ORDER BY arm_id").fetchall()
    assert rows == [("study-one.sle", 8), ("study-two.sle", 3)]  # the superseded 5/5 is not a primary row


def test_formulas_neutralised_in_spreadsheet_exports(mini, tmp_path):
    frame = pd.DataFrame({"a": pd.array(["=1+1", "+x", "-y", "@z", "ok", None], dtype="string"), "n": [1, 2, 3, 4, 5, 6]})
    out = neutralise_formulas(frame)
    assert out["a"].tolist()[:5] == ["'=1+1", "'+x", "'-y", "'@z", "ok"] and pd.isna(out["a"].iloc[5])
    assert out["n"].tolist() == [1, 2, 3, 4, 5, 6]


def test_cli_export_refuses_invalid_package(mini, tmp_path):
    edit(mini / "data" / "studies.csv", "case series", "case-series")
    result = runner.invoke(app, ["export", str(mini), "--format", "csv", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and not (tmp_path / "x").exists()
    assert "case-series" in result.output


def test_cli_export_xlsx_has_readme_sheet(mini, tmp_path):
    target = tmp_path / "c.xlsx"
    result = runner.invoke(app, ["export", str(mini), "--format", "xlsx", "--out", str(target)])
    assert result.exit_code == 0, result.output
    readme = pd.read_excel(target, sheet_name="README", header=7)  # below the title/version/licence/citation/date block
    row = readme[(readme["table"] == "arms") & (readme["field"] == "n_treated")].iloc[0]
    assert row["type"] == "integer" and "primary publication" in row["description"]


def test_xlsx_opens_on_the_headline_table(mini, tmp_path):
    target = tmp_path / "h.xlsx"
    assert runner.invoke(app, ["export", str(mini), "--format", "xlsx", "--out", str(target)]).exit_code == 0
    sheets = pd.ExcelFile(target).sheet_names
    assert sheets[:2] == ["headline", "README"]
    headline = pd.read_excel(target, sheet_name="headline")
    assert headline["disease"].iloc[0] == "All autoimmune diseases" and "CRS, any grade" in headline.columns
