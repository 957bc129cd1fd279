"""Counts and pooled analyses on the hand-built mini package, worked out by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from carte_evidence import load
from carte_evidence.cli.main import app
from carte_evidence.analysis.summary import analysis_rows, counts, summarize
from conftest import edit

runner = CliRunner()


def test_counts_by_disease(mini):
    table = counts(load(mini), "disease").set_index("disease")
    # sle: study-one (2 reports) + study-two (1 report); patients 10 + 5 from the primary reports
    assert table.loc["sle", ["publications", "studies", "patients"]].tolist() == [3, 2, 15]
    assert table.loc["ssc", ["publications", "studies", "patients"]].tolist() == [2, 1, 4]
    assert table.loc["mg", ["publications", "studies", "patients"]].tolist() == [1, 1, 1]


def test_counts_by_target_and_design(mini):
    tables = load(mini)
    assert counts(tables, "target").set_index("target")["patients"].to_dict() == {"CD19": 15, "BCMA": 5}
    assert counts(tables, "design").set_index("design")["studies"].to_dict() == {"phase 1": 1, "case series": 1, "case report": 1}


def test_superseded_report_is_not_pooled(mini):
    rows = analysis_rows(load(mini), "outcome")
    doris = rows[rows["measure"] == "doris_remission"].set_index("study_id")
    # study-one: the 5/5 of the superseded abstract is ignored; 8/10 of the primary report is used
    assert doris.loc["study-one", ["n_events", "n_evaluable"]].tolist() == [8, 10]
    assert len(doris) == 2


def test_pooled_doris_by_disease(mini):
    frame = summarize(mini, by=["disease"], measure="doris_remission")
    pooled = frame[frame["level"] == "pooled"].iloc[0]
    assert (pooled["k"], pooled["n"], pooled["events"]) == (2, 15, 11)
    assert pooled["estimate"] == pytest.approx(11 / 15, abs=1e-3)  # tau2 = 0: the pooled logistic estimate
    assert pooled["tau2"] == pytest.approx(0, abs=1e-6)
    studies = frame[frame["level"] == "study"]
    assert studies["proportion"].tolist() == [0.8, 0.6]


def test_oncologic_studies_are_not_pooled(mini):
    edit(mini / "data" / "studies.csv", "study-two,Study two,case series,autoimmune", "study-two,Study two,case series,oncologic")
    frame = summarize(mini, by=["disease"], measure="doris_remission")
    assert frame["study_id"].dropna().tolist() == ["study-one"]


def test_zero_evaluable_is_excluded_with_a_note(mini):
    edit(mini / "data" / "adverse_events.csv", "study-three.mg.ae1,study-three.mg,three-2022-a,abstract,crs,,any,0,1", "study-three.mg.ae1,study-three.mg,three-2022-a,abstract,crs,,any,0,0")
    frame = summarize(mini, by=["disease"], event="crs")
    mg = frame[(frame["level"] == "pooled") & (frame["disease"] == "mg")].iloc[0]
    assert mg["k"] == 0 and "0 evaluable excluded" in mg["note"]


def test_all_events_and_single_study(mini):
    frame = summarize(mini, event="crs", disease="sle", target="BCMA")
    pooled = frame[frame["level"] == "pooled"].iloc[0]
    assert (pooled["k"], pooled["events"], pooled["n"], pooled["estimate"]) == (1, 5, 5, 1.0)
    assert "single study" in pooled["note"]


def test_cli_summary_json_equals_library(mini):
    result = runner.invoke(app, ["summary", str(mini), "--measure", "doris_remission", "--by", "disease", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = summarize(mini, by=["disease"], measure="doris_remission")
    assert len(data) == len(expected)
    assert data[-1]["events"] == 11 and data[-1]["k"] == 2
    assert {"estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "reml_estimate"} <= set(data[-1])


def test_cli_summary_formats(mini, tmp_path):
    for fmt in ("table", "csv", "markdown"):
        result = runner.invoke(app, ["summary", str(mini), "--format", fmt])
        assert result.exit_code == 0 and "sle" in result.output
    out = tmp_path / "s.csv"
    assert runner.invoke(app, ["summary", str(mini), "--format", "csv", "--out", str(out)]).exit_code == 0
    assert pd.read_csv(out)["patients"].sum() == 20


def test_cli_summary_unknown_measure(mini):
    result = runner.invoke(app, ["summary", str(mini), "--measure", "nope"])
    assert result.exit_code == 2 and "unknown measure" in result.output


def test_counts_by_two_fields(mini):
    table = counts(load(mini), ["disease", "target"])
    rows = {(r.disease, r.target): (r.studies, r.patients) for r in table.itertuples()}
    assert rows == {("sle", "CD19"): (1, 10), ("sle", "BCMA"): (1, 5), ("ssc", "CD19"): (1, 4), ("mg", "CD19"): (1, 1)}


def test_report_selection_falls_back_to_another_report_of_the_study(real_tables):
    """YTB323: the primary publication (a biomarker abstract) gives no CRS; the LSM 2024 abstract
    of the same trial does (4 of 6). One report per study either way."""
    both = analysis_rows(real_tables, "safety")
    primary = analysis_rows(real_tables, "safety", report_selection="primary")
    crs = both[(both["event"] == "crs") & (both["grade"] == "any") & (both["study_id"] == "ytb323-sle")]
    assert crs[["publication_id", "n_events", "n_evaluable"]].values.tolist() == [["ytb323-2024-lsm", 4, 6]]
    assert primary[(primary["study_id"] == "ytb323-sle") & (primary["event"] == "crs")].empty
    # Where the primary publication gives the number, it is the one used.
    erl = both[(both["study_id"] == "erlangen-cd19car") & (both["event"] == "crs") & (both["grade"] == "any")]
    assert set(erl["publication_id"]) == {"muller-2024-nejm"}
    # Never two reports of one study in one analysis.
    assert not both.duplicated(["study_id", "disease_id", "targets", "event", "grade"]).any()
    assert len(both) > len(primary)


def test_report_selection_unknown_value_is_refused(real_tables):
    with pytest.raises(ValueError, match="report_selection must be one of"):
        analysis_rows(real_tables, "safety", report_selection="newest")
