"""The provenance and depth targets (`carte coverage --targets`): each count follows the data."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from carte_evidence import load
from carte_evidence.analysis.audit import audit, double_counted
from carte_evidence.cli.main import app
from conftest import edit

runner = CliRunner()


def by_check(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("check")


def test_every_target_is_reported_with_its_share(real_tables):
    frame = by_check(audit(real_tables))
    assert list(frame.index) == ["identifiers", "other_identifiers", "secondary_numbers", "crs_usable", "icans_usable", "headline_efficacy", "double_counted"]
    assert (frame["share"] - (frame["count"] / frame["of"])).abs().max() < 1e-4
    # What is listed is what falls short: for "at least" targets the records lacking it.
    ids = frame.loc["identifiers"]
    assert len(ids["missing"].split()) == ids["of"] - ids["count"]
    assert len(frame.loc["secondary_numbers", "missing"].split()) == frame.loc["secondary_numbers", "count"]


def test_identifier_and_secondary_counts_follow_the_data(mini):
    before = by_check(audit(load(mini)))
    # three-2022-a (case report) has a PMID; removing it makes one peer-reviewed paper short.
    edit(mini / "data" / "publications.csv", ",,10000003,", ",,,")
    after = by_check(audit(load(mini)))
    assert after.loc["identifiers", "count"] == before.loc["identifiers", "count"] - 1
    assert "three-2022-a" in after.loc["identifiers", "missing"].split()


def test_other_publications_need_a_congress_number_or_date(mini):
    before = by_check(audit(load(mini))).loc["other_identifiers"]
    assert "one-2023-a" not in before["missing"].split()  # an abstract with a DOI
    edit(mini / "data" / "publications.csv", "one-2023-a,study-one,,10.1000/one.a,10000001,,NCT00000001,", "one-2023-a,study-one,,,,,,")
    after = by_check(audit(load(mini))).loc["other_identifiers"]
    assert after["count"] == before["count"] - 1 and "one-2023-a" in after["missing"].split()


def test_secondary_share_counts_secondary_rows(mini):
    before = by_check(audit(load(mini))).loc["secondary_numbers", "count"]
    text = (mini / "data" / "outcomes.csv").read_text(encoding="utf-8")
    assert ",reported," in text
    edit(mini / "data" / "outcomes.csv", ",reported,", ",secondary_source,")
    assert by_check(audit(load(mini))).loc["secondary_numbers", "count"] == before + 1


def test_depth_checks_list_the_studies_without_the_number(real_tables):
    frame = by_check(audit(real_tables))
    # YTB323 has CRS only in a report other than its primary publication: it counts (fallback).
    assert "ytb323-sle" not in frame.loc["crs_usable", "missing"].split()
    # Contained and pooled re-reports are not in the denominator.
    for row in ("crs_usable", "icans_usable", "headline_efficacy"):
        assert "acr2023-ssc-cd19car-3pts" not in frame.loc[row, "missing"].split()


def test_double_counting_bound_uses_the_curators_limits(real_tables):
    bound, total, pairs = double_counted(real_tables)
    assert total == 385
    unbounded = {**real_tables, "studies": real_tables["studies"].assign(overlap_max_shared=pd.NA)}
    loose, _, loose_pairs = double_counted(unbounded)
    # Without the curators' bounds each pair counts the smaller study whole.
    assert loose > bound
    assert len(loose_pairs) >= len(pairs)


def test_cli_targets_json_equals_library(real_tables):
    result = runner.invoke(app, ["coverage", "--targets", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(audit(real_tables).to_json(orient="records"))


def test_cli_targets_table_lists_what_falls_short():
    result = runner.invoke(app, ["coverage", "--targets"])
    assert result.exit_code == 0, result.output
    assert "identifiers: Peer-reviewed publications with a DOI or PMID; listed" in result.output
    assert "double_counted" in result.output
