"""Coverage of the dataset against the studies each systematic review lists as included."""

from __future__ import annotations

import pandas as pd


def coverage(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per included study of every review: matched to our publications or not.

    A match is the curator's ``publication_id`` if set, else the same DOI, else the same PMID.
    """
    includes = tables["review_includes"].copy()
    pubs = tables["publications"]
    includes["matched_publication_id"] = includes["publication_id"]
    includes["match_on"] = includes["publication_id"].notna().map({True: "publication_id", False: pd.NA}).astype("string")
    for key in ("doi", "pmid"):
        lookup = pubs.dropna(subset=[key]).drop_duplicates(key).set_index(pubs.dropna(subset=[key]).drop_duplicates(key)[key].str.lower())["publication_id"]
        hit = includes[key].str.lower().map(lookup)
        fill = includes["matched_publication_id"].isna() & hit.notna()
        includes.loc[fill, "matched_publication_id"] = hit[fill]
        includes.loc[fill, "match_on"] = key
    includes["status"] = includes["matched_publication_id"].notna().map({True: "present", False: "missing"})
    study_of = pubs.set_index("publication_id")["study_id"]
    includes["study_id"] = includes["matched_publication_id"].map(study_of)
    return includes[["review_id", "include_id", "first_author", "year", "description", "doi", "pmid", "status", "matched_publication_id", "study_id", "match_on"]]


def review_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per review: what it says it includes, how many included studies it lists here, how many we hold."""
    cov = coverage(tables)
    listed = cov.groupby("review_id").agg(listed=("include_id", "count"), present=("status", lambda s: int((s == "present").sum())))
    reviews = tables["reviews"][["review_id", "first_author", "year", "search_date", "n_studies", "n_patients", "scope"]]
    out = reviews.merge(listed, left_on="review_id", right_index=True, how="left")
    out[["listed", "present"]] = out[["listed", "present"]].fillna(0).astype(int)
    out["missing"] = out["listed"] - out["present"]
    return out
