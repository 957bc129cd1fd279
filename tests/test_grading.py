"""Study grades worked out by hand from the rubric; GRADE certainty; property tests."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from carte_evidence import load
from carte_evidence.cli.main import app
from carte_evidence.analysis.grading import _imprecision, check_overrides, evidence_certainty, explain, grade, load_overrides, load_rubric, study_grades

runner = CliRunner()
RUBRIC = load_rubric()


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    from conftest import make_package

    return load(make_package(tmp_path_factory.mktemp("g") / "mini"))


# Hand-worked from schemas/grading.yaml v1.0.0 (points: design, size, follow-up, outcome,
# safety, publication, registration, consecutive):
#   study-one:   phase 1 (2), 14 pts (1), 12 mo (2), DORIS (2), CRS+ICANS graded (2), article (3), NCT (1), consecutive (1) = 14 -> A
#   study-two:   case series (1), 5 pts (1), 6 mo from last timepoint (1), DORIS (2), ungraded CRS (1), letter (2), 0, 0 = 8 -> C
#   study-three: case report (0), 1 pt (0), 3 mo (0), MG-ADL (2), ungraded CRS (1), case report (2), 0, 0 = 5 -> D
HAND = {"study-one": (14, "A"), "study-two": (8, "C"), "study-three": (5, "D")}


def test_grades_by_hand(tables):
    grades = study_grades(tables, RUBRIC).set_index("study_id")
    assert {s: (int(r["total_points"]), r["study_grade"]) for s, r in grades.iterrows()} == HAND
    assert grades.loc["study-one", "points_publication_status"] == 3
    assert (grades["max_points"] == 19).all() and (grades["rubric_version"] == RUBRIC["version"]).all()
    assert "1 earlier report(s) superseded" in grades.loc["study-one", "flags"]


def test_explain_names_facts_points_and_missing(tables):
    text = "\n".join(explain(tables, "study-three", RUBRIC))
    assert "grade D (5 of 19 points" in text
    assert "design = case report -> 0 of 4 points" in text
    assert "registration = not registered -> 0 of 1" in text
    with pytest.raises(KeyError):
        explain(tables, "nope", RUBRIC)


def test_rubric_file_changes_grades_without_code(tables, tmp_path):
    changed = copy.deepcopy(RUBRIC)
    changed["version"] = "9.9.9"
    changed["study"]["domains"]["design"]["map"]["case report"] = 10
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(changed))
    grades = study_grades(tables, load_rubric(path)).set_index("study_id")
    assert grades.loc["study-three", "total_points"] == 15 and grades.loc["study-three", "study_grade"] == "A"
    assert (grades["rubric_version"] == "9.9.9").all()


def _with(tables, changes):
    t = {k: v.copy() for k, v in tables.items()}
    for (table, row_id, column), value in changes.items():
        key = t[table].columns[0]
        t[table].loc[t[table][key] == row_id, column] = value
    return t


@settings(max_examples=25, deadline=None)
@given(extra=st.integers(0, 500), months=st.floats(0, 120))
def test_more_patients_or_longer_followup_never_lower_a_grade(tables, extra, months):
    base = study_grades(tables, RUBRIC).set_index("study_id")["total_points"]
    arms = tables["arms"].copy()
    arms.loc[arms["arm_id"] == "study-two.sle", "n_treated"] += extra
    arms.loc[arms["arm_id"] == "study-two.sle", "followup_months_median"] = months
    more = study_grades({**tables, "arms": arms}, RUBRIC).set_index("study_id")["total_points"]
    # follow-up: the arm's median now takes precedence over the last timepoint (6 months)
    if months >= 6:
        assert more["study-two"] >= base["study-two"]
    arms2 = tables["arms"].copy()
    arms2.loc[arms2["arm_id"] == "study-two.sle", "n_treated"] += extra
    assert study_grades({**tables, "arms": arms2}, RUBRIC).set_index("study_id").loc["study-two", "total_points"] >= base["study-two"]


@settings(max_examples=30, deadline=None)
@given(column=st.sampled_from(["design", "registry_id", "consecutive_enrolment", "primary_publication_id"]), study=st.sampled_from(["study-one", "study-two", "study-three"]))
def test_a_missing_field_never_raises_a_grade(tables, column, study):
    base = study_grades(tables, RUBRIC).set_index("study_id")["total_points"]
    studies = tables["studies"].copy()
    studies.loc[studies["study_id"] == study, column] = pd.NA
    after = study_grades({**tables, "studies": studies}, RUBRIC).set_index("study_id")["total_points"]
    assert (after <= base).all()


def test_evidence_certainty_reasons(tables):
    cert = evidence_certainty(tables, RUBRIC).set_index("analysis_id")
    row = cert.loc["doris_remission@latest|disease|sle"]
    assert row["question"] == "effect" and row["starting_level"] == "low" and row["certainty"] == "very low"
    assert row["imprecision"].startswith("very serious: 15 patients") and "under 30 patients" in row["imprecision"]
    assert row["indirectness"].startswith("serious: no control group")
    assert row["publication_bias"].startswith("serious: all studies under 20 patients")
    crs = cert.loc["crs_any|target|BCMA"]
    assert crs["question"] == "incidence" and crs["starting_level"] == "high"
    assert crs["risk_of_bias"].startswith("serious: 100% of patients from studies not enrolled prospectively")


def test_incidence_risk_of_bias_follows_prospective_ascertainment(tables):
    """For 'how often', bias is in finding the events: a prospective protocol counts them all."""
    before = evidence_certainty(tables, RUBRIC).set_index("analysis_id").loc["crs_any|target|BCMA"]
    t = _with(tables, {("studies", "study-two", "prospective"): True})
    after = evidence_certainty(t, RUBRIC).set_index("analysis_id").loc["crs_any|target|BCMA"]
    assert after["risk_of_bias"].startswith("not serious")
    levels = RUBRIC["evidence"]["levels"]
    assert levels.index(after["certainty"]) >= levels.index(before["certainty"])


def test_incidence_and_effect_start_at_different_levels(tables):
    cert = evidence_certainty(tables, RUBRIC)
    starts = cert.groupby("question")["starting_level"].agg(set).to_dict()
    assert starts == {"incidence": {"high"}, "effect": {"low"}}


def test_override_is_shown_beside_the_computed_rating(tables):
    cert = evidence_certainty(tables, RUBRIC)
    target = cert["analysis_id"].iloc[0]
    overrides = pd.DataFrame([{"analysis_id": target, "domain": "certainty", "from": cert["certainty"].iloc[0], "to": "moderate",
                               "reason_code": "validated-surrogate", "reason": "well validated surrogate", "who": "tester", "date": "2026-11-30"}])
    with_override = evidence_certainty(tables, RUBRIC, overrides=overrides).set_index("analysis_id").loc[target]
    assert with_override["certainty"] == cert["certainty"].iloc[0]  # computed rating kept
    assert with_override["certainty_with_override"] == "moderate" and "well validated surrogate" in with_override["override"]
    assert check_overrides(cert, overrides, RUBRIC) == []
    bad = overrides.assign(analysis_id="nope", to="excellent", reason="")
    assert len(check_overrides(cert, bad, RUBRIC)) == 3


def test_shipped_overrides_file_is_valid():
    from carte_evidence import load

    real = load()
    cert = evidence_certainty(real, RUBRIC)
    assert check_overrides(cert, load_overrides(), RUBRIC) == []


@pytest.mark.parametrize("lo, hi, n, expected", [
    (0.07, 0.19, 135, 0),      # CRS >= 3 between 5 % and 20 %: same decision at both ends
    (0.15, 0.30, 117, -1),     # crosses 20 %
    (0.01, 0.40, 150, -2),     # crosses both thresholds
    (0.08, 0.15, 20, -2),      # under the minimum information size
    (0.08, 0.15, 60, -1),      # under the optimal information size
])
def test_imprecision_on_decision_thresholds(lo, hi, n, expected):
    level, why = _imprecision({"ci_lower": lo, "ci_upper": hi}, [0.05, 0.20], n, RUBRIC["evidence"]["imprecision"])
    assert level == expected and f"{n} patients" in why


def test_randomized_evidence_starts_high(tables):
    t = _with(tables, {("studies", "study-one", "design"): "randomized"})
    cert = evidence_certainty(t, RUBRIC).set_index("analysis_id")
    assert cert.loc["doris_remission@latest|disease|sle", "starting_level"] == "high"


def test_cli_grade(tables, tmp_path):
    from conftest import make_package

    pkg = make_package(tmp_path / "pkg")
    result = runner.invoke(app, ["grade", str(pkg), "--explain", "study-one"])
    assert result.exit_code == 0 and "grade A (14 of 19 points" in result.output
    out = tmp_path / "grades"
    assert runner.invoke(app, ["grade", str(pkg), "--out", str(out)]).exit_code == 0
    assert pd.read_csv(out / "study_grades.csv").set_index("study_id").loc["study-two", "study_grade"] == "C"
    assert (out / "evidence_certainty.csv").exists()
    assert runner.invoke(app, ["grade", str(pkg), "--explain", "nope"]).exit_code == 2


def test_library_grade_matches_cli_json(tmp_path):
    from conftest import make_package
    import json

    pkg = make_package(tmp_path / "pkg")
    data = json.loads(runner.invoke(app, ["grade", str(pkg), "--format", "json"]).output)
    assert [d["study_grade"] for d in data] == grade(pkg)["study_grades"]["study_grade"].tolist()


def test_cli_validate_checks_the_overrides_file(monkeypatch):
    import carte_evidence.analysis.grading as grading

    bad = pd.DataFrame([{"analysis_id": "no-such-analysis", "domain": "imprecision", "from": "serious", "to": "not serious",
                         "reason_code": "x", "reason": "", "who": "tester", "date": "2026-11-30"}])
    monkeypatch.setattr(grading, "load_overrides", lambda path=None: bad)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "unknown analysis_id 'no-such-analysis'" in result.output and "needs a reason" in result.output
