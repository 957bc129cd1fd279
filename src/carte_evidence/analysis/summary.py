"""Overlap-resolved counts and pooled proportions (what `carte summary` and `carte tables` show).

One row per study per analysis: each study contributes the numbers of its primary publication
(CURATION.md), at the latest timepoint it reports, so overlapping reports are never pooled
twice. Studies whose indication was oncologic are kept out of the pooled analyses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carte_evidence.analysis.stats import clopper_pearson, glmm_logit, reml_logit
from carte_evidence.analysis.derived import latest, primary_rows

# Fields a count or an analysis can be grouped by -> (table it comes from, column).
GROUP_FIELDS = {
    "disease": "disease_id",
    "disease_area": "disease_area",
    "target": "targets",
    "product": "product_id",
    "modality": "modality",
    "cell_source": "cell_source",
    "design": "design",
    "country": "country",
    "year": "year",
    "indication": "indication",
}


def has_item(values: pd.Series, item: str) -> pd.Series:
    """Whether each space-separated list (targets, disease_ids, ...) holds ``item``; vectorized."""
    return values.str.split(" ").explode().eq(item).groupby(level=0).any().reindex(values.index, fill_value=False).astype(bool)


def arm_context(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Arms with the study, product, disease and primary-publication fields used for grouping."""
    studies = tables["studies"][["study_id", "design", "country", "indication", "primary_publication_id", "overlap_status"]]
    products = tables["products"][["product_id", "modality", "targets", "cell_source"]]
    diseases = tables["diseases"][["disease_id", "disease_area"]]
    pubs = tables["publications"][["publication_id", "year"]].rename(columns={"publication_id": "primary_publication_id"})
    return (
        tables["arms"][["arm_id", "study_id", "product_id", "disease_id", "arm_scope", "n_treated"]]
        .merge(studies, on="study_id", how="left")
        .merge(products, on="product_id", how="left")
        .merge(diseases, on="disease_id", how="left")
        .merge(pubs, on="primary_publication_id", how="left")
    )


def _explode(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if column == "country":  # multi-country studies count once in each country
        frame = frame.assign(country=frame["country"].astype("string").str.split(" ")).explode("country")
    return frame


def counts(tables: dict[str, pd.DataFrame], by: str | list[str] | tuple[str, ...] = "disease") -> pd.DataFrame:
    """Publications, studies and unique patients per value of ``by`` (overlap-resolved).

    ``by`` is one field or several (e.g. ``["disease", "target"]``). Patients are the sum of the
    arms' n_treated, read from each study's primary publication; a study with arms in two
    diseases counts its patients once in each disease. Only disjoint arms count (not 'pooled'
    or 'subgroup' arms), a study that is a pooled re-report of other studies adds publications
    but no patients, and oncologic-indication cohorts are left out unless grouping by indication.
    """
    fields = [by] if isinstance(by, str) else list(by)
    columns = [GROUP_FIELDS[b] for b in fields]
    arms = arm_context(tables)
    arms = arms[arms["arm_scope"].isna()]
    if "indication" not in fields:  # oncologic-indication cohorts are kept apart (see --by indication)
        arms = arms[(arms["indication"] != "oncologic").fillna(True)]
    arms.loc[arms["overlap_status"] == "pooled_report", "n_treated"] = 0
    for column in columns:
        arms = _explode(arms, column)
        arms[column] = arms[column].astype("string").fillna("(unknown)")
    pubs = tables["publications"][["publication_id", "study_id"]]
    pubs = pubs[pubs["study_id"].isin(arms["study_id"])]
    study_groups = arms[["study_id", *columns]].drop_duplicates()
    pub_counts = study_groups.merge(pubs, on="study_id").groupby(columns)["publication_id"].nunique()
    out = arms.groupby(columns).agg(studies=("study_id", "nunique"), arms=("arm_id", "nunique"), patients=("n_treated", "sum"))
    out.insert(0, "publications", pub_counts.reindex(out.index).fillna(0).astype(int))
    out = out.reset_index().rename(columns=dict(zip(columns, fields)))
    return out.sort_values(["patients", *fields], ascending=[False] + [True] * len(fields), kind="stable").reset_index(drop=True)


def timeline(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Publications per year, with how many were peer reviewed."""
    pubs = tables["publications"]
    out = pubs.groupby("year").agg(publications=("publication_id", "count"), peer_reviewed=("peer_reviewed", "sum"))
    return out.reset_index().astype({"year": "Int64"})


def analysis_rows(tables: dict[str, pd.DataFrame], kind: str = "outcome") -> pd.DataFrame:
    """One row per study x disease x target x (measure | event, grade): events / evaluable.

    Rows come from the study's primary publication, latest timepoint; arms of one study that
    share disease and target (dose levels) are added up. Oncologic-indication studies are left out.
    """
    if kind == "outcome":
        binary = tables["measures"].loc[tables["measures"]["kind"] == "binary", "measure_id"]
        rows = primary_rows(tables["outcomes"], tables)
        rows = rows[rows["measure"].isin(binary) & rows["n_evaluable"].notna() & rows["n_events"].notna()]
        rows = latest(rows, ["arm_id", "measure"])
        keys = ["measure"]
    else:
        rows = primary_rows(tables["adverse_events"], tables)
        rows = rows.drop_duplicates(["arm_id", "event", "grade"], keep="last")
        keys = ["event", "grade"]
    ctx = arm_context(tables)
    rows = rows.merge(ctx, on="arm_id", how="left")
    rows = rows[(rows["indication"] != "oncologic") & (rows["overlap_status"] != "pooled_report").fillna(True)]
    rows = rows[(rows["arm_scope"] != "subgroup").fillna(True)]
    # A whole-cohort ('pooled') arm stands in only where the study gives no per-arm numbers.
    per_arm = rows.loc[rows["arm_scope"].isna(), ["study_id", *keys]].drop_duplicates().assign(_has=True)
    rows = rows.merge(per_arm, on=["study_id", *keys], how="left")
    rows = rows[rows["arm_scope"].isna() | rows["_has"].isna()].drop(columns="_has")
    group = ["study_id", "disease_id", "targets", *keys]
    agg = {"n_events": ("n_events", "sum"), "n_evaluable": ("n_evaluable", "sum"), "publication_id": ("publication_id", "first")}
    if "timepoint_months" in rows:
        agg["timepoint_months"] = ("timepoint_months", "max")
    out = rows.groupby(group, dropna=False).agg(**agg).reset_index()
    lower, upper = clopper_pearson(out["n_events"].to_numpy(float), out["n_evaluable"].to_numpy(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["proportion"] = out["n_events"].to_numpy(float) / out["n_evaluable"].to_numpy(float)
    out["ci_lower"], out["ci_upper"] = lower, upper
    return out


POOLED_COLUMNS = [
    "k", "n", "events", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2",
    "reml_estimate", "reml_ci_lower", "reml_ci_upper", "reml_pi_lower", "reml_pi_upper", "reml_tau2", "reml_i2", "note",
]


def pool(rows: pd.DataFrame) -> dict:
    """Pooled proportion of a set of study rows: GLMM (main) and REML (beside it)."""
    usable = rows[rows["n_evaluable"] > 0]
    dropped = len(rows) - len(usable)
    note = f"{dropped} study row(s) with 0 evaluable excluded" if dropped else ""
    if usable.empty:
        return {"k": 0, "n": 0, "events": 0, "note": note or "no data"}
    k, n = usable["n_events"].to_numpy(float), usable["n_evaluable"].to_numpy(float)
    if len(usable) == 1:
        # Nothing to pool: the study's own proportion with its exact interval.
        lower, upper = clopper_pearson(k, n)
        own = {"estimate": k[0] / n[0], "ci_lower": lower[0], "ci_upper": upper[0]}
        return {"k": 1, "n": int(n[0]), "events": int(k[0]), **own, **{f"reml_{key}": v for key, v in own.items()},
                "note": "; ".join(filter(None, [note, "single study: its own proportion and exact 95% CI, no pooling"]))}
    glmm, reml = glmm_logit(k, n), reml_logit(k, n)
    out = {key: getattr(glmm, key) for key in ("k", "n", "events", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2")}
    out.update({f"reml_{key}": getattr(reml, key) for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2")})
    if not glmm.converged:
        note = "; ".join(filter(None, [note, "GLMM estimate not finite (all studies 0% or 100%); see REML"]))
    out["note"] = note
    return out


def _with_group_columns(rows: pd.DataFrame, tables: dict[str, pd.DataFrame], group: list[str]) -> pd.DataFrame:
    """Add the study-level grouping columns (design, modality, ...) that analysis rows lack."""
    missing = [g for g in group if g not in rows]
    if not missing:
        return rows
    ctx = arm_context(tables).drop_duplicates("study_id")
    return rows.merge(ctx[["study_id", *missing]], on="study_id", how="left")


def _groups(rows: pd.DataFrame, group: list[str]):
    """(grouping values as a dict, the group's study rows) for every group, sorted."""
    for values, sub in rows.groupby(group, dropna=False, sort=True):
        yield dict(zip(group, values if isinstance(values, tuple) else (values,))), sub


def pooled(tables: dict[str, pd.DataFrame], kind: str = "outcome", by: tuple[str, ...] = ("disease", "target")) -> pd.DataFrame:
    """Pooled proportions for every measure (or event x grade) with data, by the given fields."""
    keys = ["measure"] if kind == "outcome" else ["event", "grade"]
    group = [GROUP_FIELDS[b] for b in by] + keys
    rows = _with_group_columns(analysis_rows(tables, kind), tables, group)
    frame = pd.DataFrame([{**values, **pool(sub)} for values, sub in _groups(rows, group)], columns=[*group, *POOLED_COLUMNS])
    return frame.rename(columns={GROUP_FIELDS[b]: b for b in by})


def summarize(
    path=None,
    by: tuple[str, ...] | list[str] | None = None,
    measure: str | None = None,
    event: str | None = None,
    disease: str | None = None,
    target: str | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    trials: bool = False,
) -> pd.DataFrame:
    """What `carte summary` shows, as a DataFrame.

    Without ``measure``/``event``: counts (publications, studies, unique patients) by the first
    ``by`` field (default disease). With ``measure`` (an outcome measure id) or ``event`` (an
    adverse-event id): one row per study (``level = study``: events, evaluable, exact 95 % CI)
    followed by the pooled rows (``level = pooled``) by ``by`` (default disease and target).
    ``disease`` and ``target`` filter the studies. With ``trials``: registered trials counted
    by the first ``by`` field (also phase, status, sponsor_type, start_year).
    """
    from carte_evidence.package.load import load

    tables = tables if tables is not None else load(path)
    if trials:
        from carte_evidence.analysis.trials import TRIAL_FIELDS, trial_counts

        field = (by or ["disease"])[0]
        if field not in TRIAL_FIELDS:
            raise ValueError(f"trials cannot be counted by {field!r}; choose from {', '.join(TRIAL_FIELDS)}")
        return trial_counts(tables, field)
    for b in by or []:
        if b not in GROUP_FIELDS:
            raise ValueError(f"cannot group by {b!r}; choose from {', '.join(GROUP_FIELDS)}")
    if measure is None and event is None:
        result = counts(tables, list(by or ["disease"]))
        if disease and "disease" in result:
            result = result[result["disease"] == disease]
        if target and "target" in result:
            result = result[has_item(result["target"], target)]
        return result.reset_index(drop=True)
    kind = "outcome" if measure else "ae"
    vocabulary, key, wanted = (tables["measures"], "measure_id", measure) if measure else (tables["events"], "event_id", event)
    if wanted not in set(vocabulary[key].dropna()):
        raise ValueError(f"unknown {'measure' if measure else 'event'} {wanted!r}; known: {', '.join(sorted(vocabulary[key].dropna()))}")
    by = tuple(by or ("disease", "target"))
    rows = analysis_rows(tables, kind)
    rows = rows[rows["measure"] == measure] if measure else rows[rows["event"] == event]
    if disease:
        rows = rows[rows["disease_id"] == disease]
    if target:
        rows = rows[has_item(rows["targets"], target)]
    keys = ["measure"] if measure else ["event", "grade"]
    group = [GROUP_FIELDS[b] for b in by] + keys
    rows = _with_group_columns(rows, tables, group)
    parts = []  # each group: its study rows, then its pooled row
    for values, sub in _groups(rows, group):
        parts.append(sub.assign(level="study").sort_values("study_id"))
        parts.append(pd.DataFrame([{"level": "pooled", **values, **pool(sub)}]))
    if not parts:
        return pd.DataFrame(columns=["level", *group, "study_id", "publication_id", "n_events", "n_evaluable", "proportion", *POOLED_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    lead = ["level", *group, "study_id", "publication_id", "n_events", "n_evaluable", "proportion"]
    rest = [c for c in out.columns if c not in lead]
    out = out[[c for c in lead if c in out] + rest]
    return out.rename(columns={GROUP_FIELDS[b]: b for b in by})
