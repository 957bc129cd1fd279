"""How far the data meet the provenance and depth targets (schemas/audit_targets.yaml)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from carte_evidence.analysis.summary import NOT_COUNTED, analysis_rows
from carte_evidence.package.paths import schemas_dir
from carte_evidence.package.schema import read_yaml

COLUMNS = ["check", "label", "count", "of", "share", "target", "met", "missing"]


def load_targets() -> dict[str, Any]:
    """The targets as a dict (cached; do not mutate)."""
    return read_yaml(schemas_dir() / "audit_targets.yaml")


def counted_studies(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The studies by id, their treated patients (disjoint arms) and whether they are counted
    (autoimmune indication, not a pooled re-report, not contained in another study)."""
    studies = tables["studies"].set_index("study_id")
    arms = tables["arms"]
    treated = arms[arms["arm_scope"].isna()].groupby("study_id")["n_treated"].sum(min_count=1).reindex(studies.index).fillna(0)
    counted = (studies["indication"] == "autoimmune") & ~studies["overlap_status"].isin(NOT_COUNTED).fillna(False)
    return studies, treated, counted


def depth_studies(tables: dict[str, pd.DataFrame], min_patients: int) -> pd.Index:
    """Counted autoimmune-indication studies with at least ``min_patients`` treated patients."""
    studies, treated, counted = counted_studies(tables)
    return studies.index[(counted & (treated >= min_patients)).to_numpy()]


def double_counted(tables: dict[str, pd.DataFrame]) -> tuple[int, int, list[str]]:
    """Patients possibly counted twice (upper bound), all counted patients, and the study pairs.

    For every pair of counted autoimmune studies that name each other in ``overlaps_with``, the
    smaller study's patients might all be in the larger one, unless a curator bounded the shared
    patients (``overlap_max_shared``): the bound adds up min(n_A, n_B, bound_A, bound_B).
    """
    studies, n, counted = counted_studies(tables)
    pairs, bound = [], 0
    for study, others in studies["overlaps_with"].dropna().items():
        for other in str(others).split():
            if study < other and other in studies.index and counted[study] and counted[other]:
                limits = [n[study], n[other], *studies.loc[[study, other], "overlap_max_shared"].dropna()]
                shared = int(min(limits))
                if shared:
                    pairs.append(f"{study}~{other}")
                    bound += shared
    return bound, int(n[counted].sum()), pairs


def _row(check: str, spec: dict, count: int, of: int, missing: list[str]) -> dict:
    share = count / of if of else float("nan")
    if "at_least" in spec:
        target, met = f">= {spec['at_least']:.0%}", bool(of) and share >= spec["at_least"]
    else:
        target, met = f"<= {spec['at_most']:.0%}", bool(of) and share <= spec["at_most"]
    return {"check": check, "label": spec["label"], "count": count, "of": of, "share": round(share, 4),
            "target": target, "met": met, "missing": " ".join(sorted(missing))}


def audit(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per target: how many records meet it, out of how many, and which do not."""
    spec = load_targets()
    targets = spec["targets"]
    rows = []
    pubs = tables["publications"]
    peer = pubs[pubs["peer_reviewed"].fillna(False).astype(bool)]
    has_id = peer["doi"].notna() | peer["pmid"].notna()
    rows.append(_row("identifiers", targets["identifiers"], int(has_id.sum()), len(peer), list(peer.loc[~has_id, "publication_id"])))
    other = pubs[~pubs["peer_reviewed"].fillna(False).astype(bool)]
    named = other[["congress", "abstract_number", "registry_ids", "published_date", "doi", "pmid"]].notna().any(axis=1)
    rows.append(_row("other_identifiers", targets["other_identifiers"], int(named.sum()), len(other), list(other.loc[~named, "publication_id"])))
    numbers = pd.concat([tables["outcomes"][["outcome_id", "value_source"]].rename(columns={"outcome_id": "id"}),
                         tables["adverse_events"][["ae_id", "value_source"]].rename(columns={"ae_id": "id"})])
    secondary = numbers["value_source"].eq("secondary_source").fillna(False)
    rows.append(_row("secondary_numbers", targets["secondary_numbers"], int(secondary.sum()), len(numbers), list(numbers.loc[secondary.to_numpy(), "id"])))
    scope = depth_studies(tables, int(spec["depth_min_patients"]))
    safety = analysis_rows(tables, "safety")
    for check, event in (("crs_usable", "crs"), ("icans_usable", "icans")):
        have = set(safety.loc[(safety["event"] == event) & (safety["grade"] == "any"), "study_id"])
        rows.append(_row(check, targets[check], sum(s in have for s in scope), len(scope), [s for s in scope if s not in have]))
    # Efficacy is counted per study whatever the arm: a whole-cohort arm of mixed diseases counts here.
    outcomes = analysis_rows(tables, "outcome", mixed_disease_arms=True)
    headline = set(tables["measures"].loc[tables["measures"]["headline_rank"].notna(), "measure_id"])
    have = set(outcomes.loc[outcomes["measure"].isin(headline), "study_id"])
    rows.append(_row("headline_efficacy", targets["headline_efficacy"], sum(s in have for s in scope), len(scope), [s for s in scope if s not in have]))
    bound, total, pairs = double_counted(tables)
    rows.append(_row("double_counted", targets["double_counted"], bound, total, pairs))
    return pd.DataFrame(rows, columns=COLUMNS)
