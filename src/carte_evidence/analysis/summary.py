"""Overlap-resolved counts and pooled proportions (what `carte summary` and `carte tables` show).

One row per study per analysis: each study contributes the numbers of its primary publication
(CURATION.md), at the latest timepoint it reports, so overlapping reports are never pooled
twice. Studies whose indication was oncologic are kept out of the pooled analyses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carte_evidence.analysis import filters as flt
from carte_evidence.analysis import shared
from carte_evidence.analysis.derived import latest, one_report
from carte_evidence.analysis.harmonise import harmonised_adverse_events
from carte_evidence.analysis.plan import load_plan
from carte_evidence.analysis.stats import clopper_pearson, glmm_logit, reml_logit

# Overlap statuses of studies whose patients are counted in other studies (CURATION.md 2 and 5).
NOT_COUNTED = ("pooled_report", "contained")

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
    "lymphodepletion": "lymphodepletion",
}


def has_item(values: pd.Series, item: str) -> pd.Series:
    """Whether each space-separated list (targets, disease_ids, ...) holds ``item``; vectorized."""
    return values.str.split(" ").explode().eq(item).groupby(level=0).any().reindex(values.index, fill_value=False).astype(bool)


@shared.once
def arm_context(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Arms with the study, product, disease and primary-publication fields used for grouping."""
    studies = tables["studies"][["study_id", "design", "country", "indication", "primary_publication_id", "overlap_status"]]
    products = tables["products"][["product_id", "modality", "targets", "cell_source"]]
    diseases = tables["diseases"][["disease_id", "disease_area"]]
    pubs = tables["publications"][["publication_id", "year"]].rename(columns={"publication_id": "primary_publication_id"})
    arms = tables["arms"][["arm_id", "study_id", "product_id", "disease_id", "arm_scope", "n_treated", "lymphodepletion"]].copy()
    # The regimen is free text; analyses group by whether one was given ('none ...' = no).
    regimen = arms["lymphodepletion"].astype("string").str.strip().str.lower()
    arms["lymphodepletion"] = regimen.str.startswith("none").map({True: "no", False: "yes"}).fillna("unknown").astype("string")
    return (
        arms
        .merge(studies, on="study_id", how="left")
        .merge(products, on="product_id", how="left")
        .merge(diseases, on="disease_id", how="left")
        .merge(pubs, on="primary_publication_id", how="left")
    )


def _explode(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if column == "country":  # multi-country studies count once in each country
        frame = frame.assign(country=frame["country"].astype("string").str.split(" ")).explode("country")
    return frame


@shared.once
def counts(tables: dict[str, pd.DataFrame], by: str | list[str] | tuple[str, ...] = "disease", filters: dict[str, str | None] | None = None) -> pd.DataFrame:
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
    if filters:
        arms = flt.apply(arms, tables, filters)
    if "indication" not in fields and not (filters or {}).get("indication"):  # oncologic-indication cohorts are kept apart (see --by indication)
        arms = arms[(arms["indication"] != "oncologic").fillna(True)]
    arms.loc[arms["overlap_status"].isin(NOT_COUNTED).fillna(False).to_numpy(), "n_treated"] = 0
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


def _within(rows: pd.DataFrame, months: float, plus_minus: float) -> pd.DataFrame:
    """The rows whose timepoint is within ``months`` +-``plus_minus``."""
    t = rows["timepoint_months"].astype("Float64")
    return rows[((t - months).abs() <= plus_minus).fillna(False).to_numpy()]


def _closest(rows: pd.DataFrame, by: list[str], months: float) -> pd.DataFrame:
    """Per group, the row closest to ``months`` (the later one on a tie)."""
    rows = rows.assign(_d=(rows["timepoint_months"].astype(float) - months).abs(), _t=-rows["timepoint_months"].astype(float))
    return rows.sort_values(by + ["_d", "_t"], kind="stable").drop_duplicates(by, keep="first").drop(columns=["_d", "_t"])


def analysis_rows(tables: dict[str, pd.DataFrame], kind: str = "outcome", timepoint: str | float | None = None,
                  mixed_disease_arms: bool | None = None, report_selection: str | None = None) -> pd.DataFrame:
    """One row per study x disease x target x (measure | event, grade): events / evaluable.

    Rows come from one report per study and measure (or event x grade): the primary publication,
    or where it gives none, the latest report that does. Arms of one study that share disease and
    target (dose levels) are added up. Oncologic-indication studies are left out. Outcomes are
    taken at the latest timepoint, or (``timepoint`` = months) at the one closest to it within the
    analysis plan's window; adverse events are harmonised first (derived any-grade and >= 3 rows,
    ``value_source = derived``). Whole-cohort arms of mixed diseases count for safety and not for
    efficacy unless ``mixed_disease_arms`` says otherwise. ``report_selection`` overrides the
    plan's choice of report (``primary`` or ``primary_then_latest``).
    """
    if kind != "outcome":
        timepoint = None  # adverse events have no timepoint window
    elif timepoint in (None, "latest"):
        timepoint = None
    else:
        try:
            timepoint = float(timepoint)
        except (TypeError, ValueError):
            pass  # the computation says what is wrong with it
    return _shared_rows(tables, kind, timepoint, mixed_disease_arms, report_selection)


@shared.once
def _shared_rows(tables, kind, timepoint, mixed_disease_arms, report_selection) -> pd.DataFrame:
    """:func:`analysis_rows`, once per arguments within a build (see :mod:`.shared`)."""
    return _analysis_rows(tables, kind, timepoint, mixed_disease_arms, report_selection)


def _analysis_rows(tables: dict[str, pd.DataFrame], kind: str, timepoint: float | None,
                   mixed_disease_arms: bool | None, report_selection: str | None) -> pd.DataFrame:
    plan = load_plan()
    if kind == "outcome":
        binary = tables["measures"].loc[tables["measures"]["kind"] == "binary", "measure_id"]
        rows = tables["outcomes"]
        rows = rows[rows["measure"].isin(binary) & rows["n_evaluable"].notna() & rows["n_events"].notna()]
        if timepoint in (None, "latest"):
            rows = latest(one_report(rows, tables, ["measure"], report_selection), ["arm_id", "measure"])
        else:
            window = plan["efficacy"]["windows"][plan["efficacy"]["main_window"]]
            months, plus_minus = float(timepoint), float(window["plus_minus"])
            # The report is chosen among the rows inside the window, then the closest timepoint.
            inside = _within(rows, months, plus_minus)
            rows = _closest(one_report(inside, tables, ["measure"], report_selection), ["arm_id", "measure"], months)
        keys = ["measure"]
        mixed = plan["efficacy"]["mixed_disease_arms"] if mixed_disease_arms is None else mixed_disease_arms
    else:
        rows = one_report(harmonised_adverse_events(tables["adverse_events"]), tables, ["event", "grade"], report_selection)
        rows = rows.drop_duplicates(["arm_id", "event", "grade"], keep="last")
        keys = ["event", "grade"]
        mixed = plan["safety"]["mixed_disease_arms"] if mixed_disease_arms is None else mixed_disease_arms
    ctx = arm_context(tables)
    rows = rows.merge(ctx, on="arm_id", how="left")
    rows = rows[(rows["indication"] != "oncologic") & ~rows["overlap_status"].isin(NOT_COUNTED).fillna(False)]
    rows = rows[(rows["arm_scope"] != "subgroup").fillna(True)]
    if not mixed:
        rows = rows[(rows["disease_id"] != "mixed-autoimmune").fillna(True)]
    # A whole-cohort ('pooled') arm stands in only where the study gives no per-arm numbers.
    per_arm = rows.loc[rows["arm_scope"].isna(), ["study_id", *keys]].drop_duplicates().assign(_has=True)
    rows = rows.merge(per_arm, on=["study_id", *keys], how="left")
    rows = rows[rows["arm_scope"].isna() | rows["_has"].isna()].drop(columns="_has")
    if "value_source" not in rows:
        rows["value_source"] = pd.NA
    rows["derived"] = rows["value_source"].eq("derived").fillna(False)
    group = ["study_id", "disease_id", "targets", *keys]
    agg = {"n_events": ("n_events", "sum"), "n_evaluable": ("n_evaluable", "sum"), "publication_id": ("publication_id", "first"),
           "derived": ("derived", "any"), "source_rows": ("ae_id" if kind != "outcome" else "outcome_id", " ".join)}
    if "derived_from" in rows:
        agg["derived_from"] = ("derived_from", lambda x: " ".join(v for v in x.dropna()))
    if "timepoint_months" in rows:
        agg["timepoint_months"] = ("timepoint_months", "max")
    out = rows.groupby(group, dropna=False).agg(**agg).reset_index()
    lower, upper = clopper_pearson(out["n_events"].to_numpy(float), out["n_evaluable"].to_numpy(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["proportion"] = out["n_events"].to_numpy(float) / out["n_evaluable"].to_numpy(float)
    out["ci_lower"], out["ci_upper"] = lower, upper
    return out


POOLED_COLUMNS = [
    "k", "n", "events", "method", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "pi_t_lower", "pi_t_upper",
    "tau2", "i2", "flag", "note", "timepoints",
    "glmm_estimate", "glmm_ci_lower", "glmm_ci_upper", "glmm_tau2",
    "reml_estimate", "reml_ci_lower", "reml_ci_upper", "reml_pi_lower", "reml_pi_upper", "reml_tau2", "reml_i2",
]
TOO_FEW = "too few studies to pool"


def _timepoints(rows: pd.DataFrame) -> str:
    if "timepoint_months" not in rows:
        return ""
    every = rows["timepoint_months"].to_numpy(dtype=float, na_value=np.nan)
    t = every[~np.isnan(every)]
    if not len(t):
        return ""
    return f"{t.min():g}" + (f"-{t.max():g}" if t.max() > t.min() else "") + " months" + (" (some at last follow-up)" if len(t) < len(every) else "")


# GLMM and REML fits by set of counts (events, totals): tables, figures and grading pool the same
# sets, and `carte build` seeds this from the fit cache of its release folder
# (outputs/build_cache.py), so a rebuild with unchanged data fits nothing. FITS_USED: the keys read.
FITS: dict[tuple[tuple, tuple], tuple] = {}
FITS_USED: set[tuple[tuple, tuple]] = set()
FITS_MAX = 8192


def _fits(k: tuple, n: tuple):
    """GLMM and REML fits of one set of counts (pure functions of the counts), cached in FITS."""
    key = (k, n)
    hit = FITS.get(key)
    if hit is None:
        if len(FITS) >= FITS_MAX:
            FITS.clear()
        hit = FITS[key] = (glmm_logit(np.array(k), np.array(n)), reml_logit(np.array(k), np.array(n)))
    FITS_USED.add(key)
    return hit


def pool(rows: pd.DataFrame) -> dict:
    """Pooled proportion of a set of study rows: GLMM, with REML and exact intervals as fallbacks.

    ``method`` says which numbers ``estimate`` / ``ci_*`` hold: ``GLMM`` (binomial-normal,
    as metafor ``rma.glmm``); when the GLMM fit is degenerate (tau^2 beyond the bound, no
    convergence) ``REML``, or ``exact (total)`` for rare events (under 10 % or over 90 % overall)
    in mostly 0 % / 100 % studies (REML's continuity correction would then dominate); ``exact (total)`` also when every study is 0 % or
    100 % (the estimate is at infinity: the total's Clopper-Pearson interval); ``exact (single
    study)`` for k = 1.
    ``flag`` is "too few studies to pool" below the analysis plan's minimum studies or patients.
    The raw GLMM numbers stay in ``glmm_*`` for those who want them.
    """
    plan = load_plan()
    usable = rows[rows["n_evaluable"] > 0]
    dropped = len(rows) - len(usable)
    notes = [f"{dropped} study row(s) with 0 evaluable excluded"] if dropped else []
    if usable.empty:
        return {"k": 0, "n": 0, "events": 0, "note": "; ".join(notes) or "no data", "flag": TOO_FEW}
    k, n = usable["n_events"].to_numpy(float), usable["n_evaluable"].to_numpy(float)
    out = {"k": len(usable), "n": int(n.sum()), "events": int(k.sum()), "timepoints": _timepoints(usable)}
    out["flag"] = TOO_FEW if len(usable) < plan["min_studies"] or n.sum() < plan["min_patients"] else ""
    for column, what in (("modality", "modalities"), ("lymphodepletion", "with and without lymphodepletion")):
        if column in usable and usable[column].dropna().nunique() > 1:
            kinds = ", ".join(sorted(usable[column].dropna().unique()))
            notes.append(f"mixes {what}: {kinds}" if column == "modality" else f"mixes studies {what} ({kinds})")
    if "derived" in usable and usable["derived"].any():
        notes.append(f"{int(usable['derived'].sum())} study row(s) derived from per-grade rows")
    total_lo, total_hi = clopper_pearson([k.sum()], [n.sum()])
    exact_total = {"estimate": k.sum() / n.sum(), "ci_lower": float(total_lo[0]), "ci_upper": float(total_hi[0])}
    if len(usable) == 1:
        notes.append("single study: its own proportion and exact 95% CI, no pooling")
        return {**out, "method": "exact (single study)", **exact_total,
                **{f"reml_{key}": v for key, v in exact_total.items()}, "note": "; ".join(notes)}
    glmm, reml = _fits(tuple(k), tuple(n))
    out.update({f"reml_{key}": getattr(reml, key) for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2")})
    out.update({"glmm_estimate": glmm.estimate, "glmm_ci_lower": glmm.ci_lower, "glmm_ci_upper": glmm.ci_upper, "glmm_tau2": glmm.tau2})
    if (k == 0).all() or (k == n).all():
        notes.append("every study 0% (or every study 100%): the GLMM estimate is at infinity; exact CI of the total shown")
        out.update({"method": "exact (total)", **exact_total, "i2": 0.0, "tau2": 0.0})
    elif glmm.degenerate:
        why = f"tau^2 = {glmm.tau2:.1f} beyond the bound of 10" if glmm.converged and np.isfinite(glmm.logit) else "no convergence"
        share = k.sum() / n.sum()
        if ((k == 0) | (k == n)).mean() > 0.5 and min(share, 1 - share) < 0.1:
            # Rare (or near-universal) events in mostly 0 % / 100 % studies: REML's 0.5 continuity
            # correction would dominate (3 events in 175 patients became 10 %), so the total's
            # exact interval is the honest fallback; elsewhere REML's wide interval says "no information".
            notes.append(f"GLMM fit degenerate ({why}); rare events in mostly 0%/100% studies, where REML's continuity correction is biased: exact CI of the total shown, heterogeneity not modelled")
            out.update({"method": "exact (total)", **exact_total, "tau2": np.nan, "i2": np.nan})
        else:
            notes.append(f"GLMM fit degenerate ({why}): its interval is not reported; REML shown")
            out.update({"method": "REML", **{key: getattr(reml, key) for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "pi_t_lower", "pi_t_upper", "tau2", "i2")}})
    else:
        out.update({"method": "GLMM", **{key: getattr(glmm, key) for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "pi_t_lower", "pi_t_upper", "tau2", "i2")}})
    if "timepoint_months" in usable and usable["timepoint_months"].notna().any():
        t = usable["timepoint_months"].dropna().astype(float)
        if t.max() - t.min() > 2 * plan["efficacy"]["windows"][plan["efficacy"]["main_window"]]["plus_minus"]:
            notes.append(f"timepoints differ: {out['timepoints']}")
    out["note"] = "; ".join(notes)
    return out


def id_names(tables: dict[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """Display name of each id, by the columns that hold disease, measure and event ids."""
    diseases = tables["diseases"].set_index("disease_id")["name"]
    return {"disease": diseases, "disease_id": diseases, "measure": tables["measures"].set_index("measure_id")["name"],
            "event": tables["events"].set_index("event_id")["name"]}


def study_labels(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """'Müller 2024 (New England Journal of Medicine)': each study by its primary publication.

    First author's surname, year and journal (without bracketed remarks, cut at 32 characters);
    where the report names no author (abstracts, releases), the journal or outlet leads.
    """
    pubs = tables["publications"].set_index("publication_id")
    prim = tables["studies"].set_index("study_id")["primary_publication_id"]
    author = prim.map(pubs["first_author"]).astype("string").str.split(" ").str[0]
    year = prim.map(pubs["year"]).astype("string").fillna("")
    journal = prim.map(pubs["journal"]).astype("string").str.replace(r"\s*[\[(].*$", "", regex=True).str.strip()
    journal = journal.where(journal.str.len() <= 32, journal.str.slice(0, 31) + "…")
    with_author = author + " " + year + journal.map(lambda j: f" ({j})" if isinstance(j, str) and j else "", na_action="ignore").fillna("")
    without = journal + " " + year
    label = with_author.fillna(without).fillna(pd.Series(prim.index, index=prim.index))
    return label.str.strip()


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
    disease_area: str | None = None,
    modality: str | None = None,
    product: str | None = None,
    indication: str | None = None,
    lymphodepletion: str | None = None,
    grade: str | None = None,
    timepoint: str | float | None = None,
) -> pd.DataFrame:
    """What `carte summary` shows, as a DataFrame.

    Without ``measure``/``event``: counts (publications, studies, unique patients) by the ``by``
    fields (default disease). With ``measure`` (an outcome measure id) or ``event`` (an
    adverse-event id): one row per study (``level = study``: events, evaluable, exact 95 % CI)
    followed by the pooled rows (``level = pooled``) by ``by`` (default disease and target).
    Every filter (``disease`` - with the diseases under it -, ``disease_area``, ``target``,
    ``modality``, ``product``, ``indication``, ``lymphodepletion``; ``grade`` for events,
    ``timepoint`` in months or "latest" for measures) narrows the studies; values are matched
    case-insensitively and an unknown one raises :class:`~carte_evidence.analysis.filters.UnknownValue`
    naming the valid values. With ``trials``: registered trials counted by the first ``by`` field.
    """
    from carte_evidence.package.load import load

    tables = tables if tables is not None else load(path)
    chosen = flt.check(tables, {"disease": disease, "disease_area": disease_area, "target": target, "modality": modality,
                                "product": product, "indication": indication, "lymphodepletion": lymphodepletion})
    if trials:
        from carte_evidence.analysis.trials import TRIAL_FIELDS, trial_counts

        field = (by or ["disease"])[0]
        if field not in TRIAL_FIELDS:
            raise flt.UnknownValue(f"trials cannot be counted by {field!r}; choose from {', '.join(TRIAL_FIELDS)}")
        unsupported = [name for name, value in chosen.items() if value and name not in flt.TRIAL_COLUMNS]
        if unsupported:
            raise flt.UnknownValue(f"trials cannot be filtered by {', '.join(unsupported)}; filters for trials: {', '.join(flt.TRIAL_COLUMNS)}")
        kept = flt.apply(tables["trials"], tables, {n: v for n, v in chosen.items() if n in flt.TRIAL_COLUMNS}, flt.TRIAL_COLUMNS)
        return trial_counts({**tables, "trials": kept}, field)
    for b in by or []:
        if b not in GROUP_FIELDS:
            raise flt.UnknownValue(f"cannot group by {b!r}; choose from {', '.join(GROUP_FIELDS)}")
    if measure is None and event is None:
        if grade is not None or timepoint is not None:
            raise flt.UnknownValue("--grade needs --event and --timepoint needs --measure")
        return counts(tables, list(by or ["disease"]), filters=chosen)
    if measure is not None and event is not None:
        raise flt.UnknownValue("give a measure or an event, not both")
    kind = "outcome" if measure else "ae"
    if measure:
        measure = flt.canonical(tables, "measure", measure)
        if grade is not None:
            raise flt.UnknownValue("--grade applies to adverse events (--event), not to measures")
    else:
        event = flt.canonical(tables, "event", event)
        if timepoint is not None:
            raise flt.UnknownValue("--timepoint applies to measures (--measure), not to adverse events")
        if grade is not None:
            from carte_evidence.analysis.harmonise import load_rules

            spelled = str(grade).strip().lower().replace("≥", ">=").replace(" ", "")
            spelled = ">=" + spelled[2:] if spelled.startswith("ge") else spelled  # ge3 -> >=3
            grade = flt.canonical(tables, "grade", spelled, known=list(map(str, load_rules()["grade_sets"])))
    if timepoint is not None and str(timepoint).lower() != "latest":
        try:
            timepoint = float(timepoint)
        except ValueError:
            raise flt.UnknownValue(f"timepoint {timepoint!r} is not a number of months nor 'latest'") from None
    by = tuple(by or ("disease", "target"))
    rows = analysis_rows(tables, kind, timepoint=timepoint)
    rows = rows[rows["measure"] == measure] if measure else rows[rows["event"] == event]
    if grade is not None:
        rows = rows[rows["grade"] == grade]
    keys = ["measure"] if measure else ["event", "grade"]
    group = [GROUP_FIELDS[b] for b in by] + keys
    rows = _with_group_columns(rows, tables, list(dict.fromkeys(group + [c for c, _ in flt.FILTER_COLUMNS.values()])))
    rows = flt.apply(rows, tables, chosen)
    parts = []  # each group: its study rows, then its pooled row
    for values, sub in _groups(rows, group):
        parts.append(sub.assign(level="study").sort_values("study_id"))
        parts.append(pd.DataFrame([{"level": "pooled", **values, **pool(sub)}]))
    if not parts:
        return pd.DataFrame(columns=["level", *[b for b in by], *keys, "study_id", "publication_id", "n_events", "n_evaluable", "proportion", *POOLED_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    out["study_label"] = study_labels(tables).reindex(out["study_id"]).to_numpy()
    # Names beside the ids (the ids stay: they are the keys a program joins on).
    for column, mapping in id_names(tables).items():
        if column in out:
            out[f"{column.removesuffix('_id')}_name"] = out[column].map(mapping).fillna(out[column])
    lead = ["level", *group, "study_id", "study_label", "publication_id", "n_events", "n_evaluable", "proportion", "timepoint_months"]
    context = [c for c, _ in flt.FILTER_COLUMNS.values() if c not in group]
    rest = [c for c in out.columns if c not in lead and c not in context]
    out = out[[c for c in lead if c in out] + rest]
    out = out.rename(columns={GROUP_FIELDS[b]: b for b in by})
    out.attrs["analysis_plan"] = load_plan()["version"]
    return out
