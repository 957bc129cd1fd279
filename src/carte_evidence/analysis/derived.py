"""Derived, analysis-ready tables built from the normalized ones."""

from __future__ import annotations

import pandas as pd

from carte_evidence.analysis.plan import load_plan
from carte_evidence.package.schema import table_schema

# (event, grade) -> column prefix of the headline safety counts in arms_wide.
HEADLINE_SAFETY = {("crs", "any"): "crs_any", ("crs", ">=3"): "crs_ge3", ("icans", "any"): "icans_any", ("icans", ">=3"): "icans_ge3"}


REPORT_SELECTIONS = ("primary", "primary_then_latest")


def report_order(publications: pd.DataFrame) -> pd.Series:
    """Rank of each publication from earliest to latest (year, then release date, then data cut-off)."""
    order = publications[["publication_id", "year", "published_date", "data_cutoff"]].copy()
    order["year"] = order["year"].astype("Float64").fillna(0)
    for column in ("published_date", "data_cutoff"):
        order[column] = order[column].astype("string").fillna("")
    order = order.sort_values(["year", "published_date", "data_cutoff", "publication_id"], kind="stable")
    return pd.Series(range(len(order)), index=order["publication_id"].to_numpy())


def one_report(rows: pd.DataFrame, tables: dict[str, pd.DataFrame], keys: list[str], selection: str | None = None) -> pd.DataFrame:
    """Per study and key (measure, or event x grade): the rows of one report.

    The study's primary publication when it gives that key; otherwise (``selection`` =
    ``primary_then_latest``, the analysis plan's default) the latest other report of the study
    that does. So each study counts once per analysis (its patients are never added up across
    reports), and a number the primary publication does not give still counts.
    """
    selection = selection or load_plan()["report_selection"]
    if selection not in REPORT_SELECTIONS:
        raise ValueError(f"report_selection must be one of {', '.join(REPORT_SELECTIONS)}, not {selection!r}")
    if rows.empty:
        return rows
    arms = tables["arms"].set_index("arm_id")["study_id"]
    primary = tables["studies"].set_index("study_id")["primary_publication_id"]
    rank = report_order(tables["publications"])
    study = rows["arm_id"].map(arms)
    cand = pd.DataFrame({"study_id": study.to_numpy(), "publication_id": rows["publication_id"].to_numpy(),
                         **{k: rows[k].to_numpy() for k in keys}})
    cand["_primary"] = (cand["publication_id"] == cand["study_id"].map(primary)).fillna(False).astype(bool)
    cand["_rank"] = cand["publication_id"].map(rank).fillna(-1)
    group = ["study_id", *keys]
    best = cand[cand["_primary"]] if selection == "primary" else cand
    best = best.sort_values(["_primary", "_rank"], kind="stable").drop_duplicates(group, keep="last")
    chosen = cand.merge(best[[*group, "publication_id"]].assign(_keep=True), on=[*group, "publication_id"], how="left")
    return rows[chosen["_keep"].fillna(False).astype(bool).to_numpy()]


def latest(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The row with the latest timepoint per group (rows without a timepoint come last-resort)."""
    if "timepoint_months" not in rows:
        return rows.drop_duplicates(by, keep="last")
    ordered = rows.assign(_t=rows["timepoint_months"].fillna(-1)).sort_values(by + ["_t"], kind="stable")
    return ordered.drop_duplicates(by, keep="last").drop(columns="_t")


def headline_outcomes(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per arm: the best-ranked binary measure (one report per study and measure) at its latest timepoint."""
    measures = tables["measures"][["measure_id", "kind", "headline_rank"]]
    rows = one_report(tables["outcomes"], tables, ["measure"]).merge(measures, left_on="measure", right_on="measure_id")
    rows = rows[(rows["kind"] == "binary") & rows["headline_rank"].notna() & rows["n_evaluable"].notna()]
    best = rows.groupby("arm_id")["headline_rank"].transform("min")
    rows = latest(rows[rows["headline_rank"] == best], ["arm_id"])
    return rows.rename(columns={"measure": "headline_measure", "timepoint_months": "headline_timepoint_months", "n_events": "headline_n_events", "n_evaluable": "headline_n_evaluable"})[
        ["arm_id", "headline_measure", "headline_timepoint_months", "headline_n_events", "headline_n_evaluable"]
    ]


def headline_safety(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per arm: CRS and ICANS counts (any grade, grade >= 3), one report per study and grade, harmonised."""
    from carte_evidence.analysis.harmonise import harmonised_adverse_events

    # Harmonised: a report giving CRS per grade shows its any-grade and >= 3 counts here too.
    ae = one_report(harmonised_adverse_events(tables["adverse_events"]), tables, ["event", "grade"])
    out = pd.DataFrame({"arm_id": tables["arms"]["arm_id"]})
    for (event, grade), prefix in HEADLINE_SAFETY.items():
        sel = ae[(ae["event"] == event) & (ae["grade"] == grade)].drop_duplicates("arm_id", keep="last")
        sel = sel[["arm_id", "n_events", "n_evaluable"]].rename(columns={"n_events": f"{prefix}_events", "n_evaluable": f"{prefix}_evaluable"})
        out = out.merge(sel, on="arm_id", how="left")
    return out


def arms_wide(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per arm joining study, primary publication, product, disease and headline results."""
    studies = tables["studies"].rename(columns={"name": "study_name"})
    from carte_evidence.package.identifiers import canonical_urls

    pubs = tables["publications"].rename(columns={"publication_id": "primary_publication_id"}).drop(columns=["study_id"])
    pubs = pubs.assign(canonical_url=canonical_urls(pubs, tables["registries"]))
    products = tables["products"].rename(columns={"name": "product_name"})
    diseases = tables["diseases"].rename(columns={"name": "disease_name"})
    wide = (
        tables["arms"]
        .merge(studies, on="study_id", how="left", suffixes=("", "_study"))
        .merge(pubs, on="primary_publication_id", how="left", suffixes=("", "_pub"))
        .merge(products, on="product_id", how="left", suffixes=("", "_product"))
        .merge(diseases, on="disease_id", how="left", suffixes=("", "_disease"))
        .merge(headline_outcomes(tables), on="arm_id", how="left")
        .merge(headline_safety(tables), on="arm_id", how="left")
    )
    return conform(wide, "arms_wide")


def conform(frame: pd.DataFrame, resource: str) -> pd.DataFrame:
    """Select and type a derived table's columns as its Table Schema declares them."""
    from carte_evidence.package.schema import PANDAS_DTYPES

    fields = table_schema(resource)["fields"]
    out = pd.DataFrame(index=frame.index)
    for f in fields:
        col = frame[f["name"]] if f["name"] in frame else pd.Series(pd.NA, index=frame.index)
        out[f["name"]] = col.astype(PANDAS_DTYPES.get(f["type"], "string"))
    return out.sort_values(fields[0]["name"]).reset_index(drop=True)
