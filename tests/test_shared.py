"""A build computes each intermediate result once (analysis.shared) and a changed row still
changes what a rebuild writes (nothing shared or cached outlives the data it came from)."""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from pathlib import Path

import pytest

from carte_evidence import build, load
from carte_evidence.analysis import grading, shared, summary

from conftest import edit


@pytest.fixture
def rows_computed(monkeypatch):
    """Count the computations of analysis rows by their arguments (kind, timepoint, ...)."""
    calls = Counter()
    real = summary._analysis_rows

    def counted(tables, *args):
        calls[args] += 1
        return real(tables, *args)

    monkeypatch.setattr(summary, "_analysis_rows", counted)
    return calls


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_build_computes_each_set_of_analysis_rows_once(mini, tmp_path, rows_computed):
    build(mini, tmp_path / "dist")
    assert rows_computed, "the build reads analysis rows"
    assert ("ae", None, None, None) in rows_computed and ("outcome", None, None, None) in rows_computed
    assert any(args[0] == "outcome" and args[1] is not None for args in rows_computed), "a timepoint window"
    assert set(rows_computed.values()) == {1}, rows_computed


def test_without_sharing_the_same_rows_are_computed_again(mini, tmp_path, rows_computed, monkeypatch):
    """The test above can fail: with the sharing switched off, tables, figures, grades and site
    each compute their own rows (and write the same files)."""
    shared_build = build(mini, tmp_path / "shared")
    once = dict(rows_computed)
    rows_computed.clear()
    monkeypatch.setattr(shared, "over", lambda tables: contextlib.nullcontext())
    alone = build(mini, tmp_path / "alone")
    assert sum(rows_computed.values()) > sum(once.values())
    assert max(rows_computed.values()) > 1
    assert _files(alone) == _files(shared_build)


def test_shared_results_are_per_scope_and_per_tables(mini):
    tables = load(mini)
    with shared.over(tables):
        first = summary.analysis_rows(tables, "ae")
        first["n_events"] = -1  # a caller changing its copy does not change the next caller's
        again = summary.analysis_rows(tables, kind="ae")
        assert (again["n_events"] >= 0).all()
        assert summary.analysis_rows(tables, "outcome", timepoint="latest").equals(summary.analysis_rows(tables, "outcome"))
        assert set(shared.COMPUTED.values()) == {1}
        other = {**tables, "adverse_events": tables["adverse_events"].iloc[:0]}
        assert summary.analysis_rows(other, "ae").empty  # another tables dict: computed, not shared
    # After the scope nothing is kept: changed data give changed rows.
    changed = {**tables, "adverse_events": tables["adverse_events"].assign(n_events=0)}
    assert (summary.analysis_rows(changed, "ae")["n_events"] == 0).all()
    assert not shared.COMPUTED


def test_grades_are_shared_only_for_the_same_rubric(mini):
    tables = load(mini)
    rubric = grading.load_rubric()
    stricter = grading.load_rubric()
    for band in stricter["study"]["grades"]:
        band["min_points"] += 100 if band["min_points"] > 0 else 0
    with shared.over(tables):
        usual = grading.study_grades(tables, rubric)
        strict = grading.study_grades(tables, stricter)
        assert grading.study_grades(tables).equals(usual)  # the default rubric is the same rubric
    assert not strict["study_grade"].equals(usual["study_grade"])


def test_load_rubric_gives_each_caller_its_own_copy():
    first = grading.load_rubric()
    first["study"]["domains"].clear()
    assert grading.load_rubric()["study"]["domains"]


def test_a_changed_row_changes_the_rebuild(mini, tmp_path):
    """Rebuilding over an earlier build (its fit cache and figures) after a data row changed writes
    exactly what a first build of the changed package writes, and not what was there."""
    dist = build(mini, tmp_path / "dist")
    before = _files(dist)
    edit(mini / "data" / "outcomes.csv", "10,8,,,,reported,source_reread,8 of 10 in DORIS remission.",
         "10,9,,,,reported,source_reread,9 of 10 in DORIS remission.")
    edit(mini / "data" / "adverse_events.csv", "crs,ASTCT,any,7,10,reported,source_reread,CRS in 7 of 10.",
         "crs,ASTCT,any,6,10,reported,source_reread,CRS in 6 of 10.")
    rebuilt = _files(build(mini, dist))
    fresh = _files(build(mini, tmp_path / "fresh"))
    assert rebuilt == fresh
    changed = {name for name in fresh if before.get(name) != fresh[name]}
    assert {"data/outcomes.csv", "data/adverse_events.csv", "tables/pooled_safety.csv", "tables/pooled_efficacy.csv"} <= changed
    assert any(name.startswith("figures/forest-crs-any") and name.endswith(".png") for name in changed)
