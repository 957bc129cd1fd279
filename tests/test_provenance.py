"""Every count of the real package can be found in its verbatim quote, or was reviewed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from carte_evidence import load, validate
from carte_evidence.package.integrity import reviewed_quotes
from carte_evidence.package.provenance import stated, unquoted_values
from conftest import REAL, ROOT, edit

# The same hand-reviewed list `carte validate` reads.
REVIEWED = pd.read_csv(ROOT / "schemas" / "provenance_reviewed.csv")


@pytest.fixture(scope="module")
def unquoted():
    return unquoted_values(load(REAL))


def test_every_count_is_in_its_quote_or_reviewed(unquoted):
    found = set(zip(unquoted["table"], unquoted["id"], unquoted["column"]))
    reviewed = set(zip(REVIEWED["table"], REVIEWED["id"], REVIEWED["column"]))
    missing = sorted(found - reviewed)
    assert not missing, f"numbers not visible in their quote (add the quote, or review and list in provenance_reviewed.csv): {missing}"


def test_validate_reads_the_same_reviewed_list():
    assert reviewed_quotes() == set(zip(REVIEWED["table"], REVIEWED["id"], REVIEWED["column"]))


def test_validate_reports_a_count_missing_from_its_quote_at_its_cell(mini):
    edit(mini / "data" / "outcomes.csv", "8 of 10 in DORIS remission.", "Most were in DORIS remission.")
    found = {(p.file, p.line, p.column, p.rule) for p in validate(mini).problems}
    assert found == {("data/outcomes.csv", 3, "n_events", "quote"), ("data/outcomes.csv", 3, "n_evaluable", "quote")}


def test_validate_reports_an_empty_quote(mini):
    edit(mini / "data" / "adverse_events.csv", "CRS in 7 of 10.", "")
    assert [(p.line, p.column, p.rule) for p in validate(mini).problems] == [(2, "quote", "quote-missing")]


def test_a_derived_value_source_exempts_the_row(mini):
    edit(mini / "data" / "outcomes.csv", "reported,source_reread,8 of 10 in DORIS remission.", "derived_by_curator,source_reread,Most were in DORIS remission.")
    assert validate(mini).valid


def test_reviewed_list_has_no_stale_entries(unquoted):
    found = set(zip(unquoted["table"], unquoted["id"], unquoted["column"]))
    stale = sorted(set(zip(REVIEWED["table"], REVIEWED["id"], REVIEWED["column"])) - found)
    assert not stale, f"entries no longer needed in provenance_reviewed.csv: {stale}"


@pytest.mark.parametrize(
    "value, quote, role, total, expected",
    [
        (5, "5 out of 7 patients achieved DORIS", "n_events", 7, True),
        (12, "twelve patients were treated", "n_treated", None, True),
        (0, "No ICANS occurred.", "n_events", 12, True),
        (12, "CRS was reported in all patients", "n_events", 12, True),
        (6, "CRS was reported in all patients", "n_events", 12, False),
        (8, "5 out of 7 patients", "n_events", 7, False),
        (3, "the value was 13", "n_events", 20, False),
    ],
)
def test_stated(value, quote, role, total, expected):
    assert stated(value, quote, role, total) is expected
