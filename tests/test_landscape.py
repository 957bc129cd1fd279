"""Trials landscape and review coverage on the hand-built mini package."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from carte_evidence import load
from carte_evidence.cli.main import app
from carte_evidence.analysis.coverage import coverage, review_summary
from carte_evidence.analysis.trials import trial_counts, trials_with_links
from carte_evidence.analysis.summary import summarize

runner = CliRunner()


def test_trials_linked_both_ways(mini):
    trials = trials_with_links(load(mini)).set_index("trial_id")
    # study-one names NCT00000001 as its registry id, and its publications cite it
    assert trials.loc["NCT00000001", "study_ids"] == "study-one"
    assert bool(trials.loc["NCT00000001", "has_results"])
    assert not trials.loc[["NCT00000002", "ChiCTR2300000001", "2023-512345-12-00"], "has_results"].any()


def test_trial_counts_by_hand(mini):
    tables = load(mini)
    assert trial_counts(tables, "disease").set_index("disease")["trials"].to_dict() == {"sle": 2, "ssc": 2, "lupus-nephritis": 1, "mg": 1}
    assert trial_counts(tables, "country").set_index("country")["trials"].to_dict() == {"DE": 2, "CN": 1, "FR": 1, "US": 1}
    assert trial_counts(tables, "start_year").set_index("start_year")["trials"].to_dict() == {"(unknown)": 1, "2022": 1, "2023": 1, "2024": 1}
    assert summarize(tables=tables, trials=True, by=["phase"]).set_index("phase")["trials"].to_dict() == {"phase 1": 2, "phase 1/2": 1, "phase 2": 1}


def test_coverage_matches_by_doi_and_pmid(mini):
    cov = coverage(load(mini)).set_index("include_id")
    assert cov.loc["rev-2024-a.i1", ["status", "matched_publication_id", "match_on"]].tolist() == ["present", "one-2023-a", "doi"]
    assert cov.loc["rev-2024-a.i2", ["status", "matched_publication_id", "match_on"]].tolist() == ["present", "three-2022-a", "pmid"]
    assert cov.loc["rev-2024-a.i3", "status"] == "missing"
    summary = review_summary(load(mini)).set_index("review_id")
    assert summary.loc["rev-2024-a", ["listed", "present", "missing"]].tolist() == [3, 2, 1]


def test_cli_coverage_lists_missing(mini):
    result = runner.invoke(app, ["coverage", str(mini), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [row["include_id"] for row in json.loads(result.output)] == ["rev-2024-a.i3"]


def test_cli_trials_published_and_unpublished(mini):
    published = json.loads(runner.invoke(app, ["trials", str(mini), "--results", "published", "--format", "json"]).output)
    unpublished = json.loads(runner.invoke(app, ["trials", str(mini), "--results", "unpublished", "--format", "json"]).output)
    assert [t["trial_id"] for t in published] == ["NCT00000001"]
    assert len(unpublished) == 3
    result = runner.invoke(app, ["summary", str(mini), "--trials", "--by", "status", "--format", "csv"])
    assert result.exit_code == 0 and "recruiting,2" in result.output
