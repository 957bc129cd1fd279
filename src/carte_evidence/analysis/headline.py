"""STAND-IN for the headline table (crude proportions); the statistics rewrite replaces this module.

``headline(tables)`` returns the long table the site reads, one row per (disease, analysis):
disease_id ("all" = every autoimmune-indication study), disease, analysis, label, measure_label,
timepoint, studies, patients, events, n, k, estimate, ci_low, ci_high, certainty, reasons, note.

This stand-in does NOT pool: ``estimate`` is the crude proportion (events / n over the studies'
primary-publication rows from :func:`carte_evidence.analysis.summary.analysis_rows`), the interval
is the exact interval of that crude count, and certainty is "very low" throughout. The real module
keeps the same columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carte_evidence.analysis.stats import clopper_pearson
from carte_evidence.analysis.summary import analysis_rows

COLUMNS = [
    "disease_id", "disease", "analysis", "label", "measure_label", "timepoint", "studies", "patients",
    "events", "n", "k", "estimate", "ci_low", "ci_high", "certainty", "reasons", "note",
]

# analysis -> (label, event, grades counted)
SAFETY = {
    "crs_any": ("CRS, any grade", "crs", ("any",)),
    "crs_ge3": ("CRS, grade 3 or higher", "crs", (">=3",)),
    "icans_any": ("ICANS, any grade", "icans", ("any",)),
    "icans_ge3": ("ICANS, grade 3 or higher", "icans", (">=3",)),
    "severe_infection": ("Severe infection", "severe_infection", ("any", ">=3")),
    "death": ("Death", "death", ("any", "5")),
}


def _efficacy_rows(tables) -> pd.DataFrame:
    """Per study and disease: its best-ranked binary measure (measures.headline_rank)."""
    rows = analysis_rows(tables, "outcome")
    ranks = tables["measures"].set_index("measure_id")["headline_rank"]
    rows = rows.assign(rank=rows["measure"].map(ranks)).dropna(subset=["rank"])
    rows = rows[rows["n_evaluable"] > 0].sort_values(["study_id", "disease_id", "rank"], kind="stable")
    best = rows.groupby(["study_id", "disease_id"])["rank"].transform("min")
    return rows[rows["rank"] == best]


def _safety_rows(ae: pd.DataFrame, event: str, grades: tuple[str, ...]) -> pd.DataFrame:
    rows = ae[(ae["event"] == event) & ae["grade"].isin(grades) & (ae["n_evaluable"] > 0)]
    # One row per study x disease x target: the first listed grade wins (e.g. 'any' before '>=3').
    order = {g: i for i, g in enumerate(grades)}
    rows = rows.assign(_o=rows["grade"].map(order)).sort_values("_o", kind="stable")
    return rows.drop_duplicates(["study_id", "disease_id", "targets"]).drop(columns="_o")


def _row(disease_id: str, disease: str, analysis: str, label: str, sub: pd.DataFrame, measures: pd.Series) -> dict:
    # A study counts once (k); its rows of different targets are added up.
    k, n, events = sub["study_id"].nunique(), int(sub["n_evaluable"].sum()), int(sub["n_events"].sum())
    estimate = events / n if n else np.nan
    lo, hi = (clopper_pearson(np.array([events], float), np.array([n], float)) if n else ([np.nan], [np.nan]))
    measure_label = ""
    if analysis == "efficacy" and not sub.empty:
        measure_label = ", ".join(dict.fromkeys(sub.sort_values("rank")["measure"].map(measures).fillna(sub["measure"])))
    timepoint = ""
    if "timepoint_months" in sub and sub["timepoint_months"].notna().any():
        timepoint = f"latest reported, up to {int(sub['timepoint_months'].max())} months"
    note = "no data" if k == 0 else "too few studies to pool" if k < 2 else ""
    return {
        "disease_id": disease_id, "disease": disease, "analysis": analysis, "label": label,
        "measure_label": measure_label, "timepoint": timepoint, "studies": k, "patients": n,
        "events": events, "n": n, "k": k, "estimate": estimate, "ci_low": float(lo[0]), "ci_high": float(hi[0]),
        "certainty": "very low", "reasons": "stand-in: crude proportions, certainty not yet assessed", "note": note,
    }


def headline(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The headline table (long format); see the module docstring. STAND-IN: crude proportions."""
    measures = tables["measures"].set_index("measure_id")["name"]
    names = tables["diseases"].set_index("disease_id")["name"]
    ae = analysis_rows(tables, "ae")
    parts = {"efficacy": ("Remission or response (best-ranked measure per study)", _efficacy_rows(tables))}
    for analysis, (label, event, grades) in SAFETY.items():
        parts[analysis] = (label, _safety_rows(ae, event, grades))
    diseases = sorted(set().union(*(set(rows["disease_id"].dropna()) for _, rows in parts.values())))
    out = []
    for disease_id in ["all", *diseases]:
        for analysis, (label, rows) in parts.items():
            sub = rows if disease_id == "all" else rows[rows["disease_id"] == disease_id]
            name = "All autoimmune diseases" if disease_id == "all" else str(names.get(disease_id, disease_id))
            out.append(_row(disease_id, name, analysis, label, sub, measures))
    return pd.DataFrame(out, columns=COLUMNS)
