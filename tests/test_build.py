"""The derived tables of a release, checked by hand on the mini package."""

from __future__ import annotations

import pandas as pd

from carte_evidence import load
from carte_evidence.analysis.derived import arms_wide


def test_arms_wide_by_hand(mini):
    wide = arms_wide(load(mini)).set_index("arm_id")
    row = wide.loc["study-one.sle"]
    # primary publication one-2024-b: DORIS 8/10 at month 12 (not the 5/5 of the superseded abstract)
    assert row["primary_publication_id"] == "one-2024-b"
    assert (row["headline_measure"], row["headline_timepoint_months"], row["headline_n_events"], row["headline_n_evaluable"]) == ("doris_remission", 12, 8, 10)
    assert (row["crs_any_events"], row["crs_any_evaluable"], row["crs_ge3_events"], row["icans_any_events"]) == (7, 10, 0, 1)
    assert pd.isna(row["icans_ge3_events"])
    assert pd.isna(wide.loc["study-one.ssc", "headline_measure"])
    assert wide.loc["study-three.mg", "crs_any_events"] == 0
    assert len(wide) == 4
