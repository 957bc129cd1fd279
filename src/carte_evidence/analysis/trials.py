"""The registered-trials landscape, linked to the studies that published results."""

from __future__ import annotations

import pandas as pd


def trials_with_links(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The trials table with the studies reporting each trial and a ``has_results`` flag.

    A trial has results when a study names it as its registry id, or a publication cites it
    in its registry ids.
    """
    trials = tables["trials"].copy()
    by_study = tables["studies"].dropna(subset=["registry_id"])[["registry_id", "study_id"]].rename(columns={"registry_id": "trial_id"})
    pubs = tables["publications"].dropna(subset=["registry_ids"])[["registry_ids", "study_id"]]
    by_pub = pubs.assign(trial_id=pubs["registry_ids"].str.split(" ")).explode("trial_id")[["trial_id", "study_id"]]
    links = pd.concat([by_study, by_pub]).drop_duplicates()
    linked = links.groupby("trial_id")["study_id"].agg(lambda s: " ".join(sorted(s)))
    trials["study_ids"] = trials["trial_id"].map(linked).astype("string")
    trials["has_results"] = trials["study_ids"].notna()
    return trials


TRIAL_FIELDS = ("disease", "target", "modality", "phase", "status", "country", "sponsor_type", "start_year", "cell_source", "registry")


def trial_counts(tables: dict[str, pd.DataFrame], by: str) -> pd.DataFrame:
    """Number of trials by a trial field (list fields such as disease_ids are split)."""
    column = {"disease": "disease_ids", "target": "targets", "country": "country", "start_year": "start_year"}.get(by, by)
    trials = tables["trials"].copy()
    trials["start_year"] = trials["start_date"].str.slice(0, 4)
    if column in ("disease_ids", "country"):  # list fields; a compound target ("CD19 BCMA") stays one category
        trials = trials.assign(**{column: trials[column].str.split(" ")}).explode(column)
    trials[column] = trials[column].astype("string").fillna("(unknown)")
    out = trials.groupby(column)["trial_id"].nunique().rename("trials").reset_index().rename(columns={column: by})
    return out.sort_values(["trials", by], ascending=[False, True], kind="stable").reset_index(drop=True)
