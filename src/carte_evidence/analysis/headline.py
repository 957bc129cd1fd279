"""The headline table: what a reader of a review looks for first, per disease and overall.

Per disease (and for all autoimmune-indication studies): studies, unique patients, the disease's
headline efficacy measure at the main timepoint window of the analysis plan, CRS and ICANS (any,
>= 3), severe infection and deaths, each as events/n over k studies with the pooled estimate and
its GRADE certainty. :func:`headline` is long (one row per disease x analysis), :func:`headline_wide`
one row per disease.
"""

from __future__ import annotations

import pandas as pd

from carte_evidence.analysis.plan import load_plan
from carte_evidence.analysis.summary import counts

SAFETY = ["crs_any", "crs_ge3", "icans_any", "icans_ge3", "severe_infection", "death"]
COLUMNS = ["disease_id", "disease", "analysis", "label", "measure_label", "timepoint", "studies", "patients", "events", "n", "k",
           "estimate", "ci_low", "ci_high", "method", "certainty", "reasons", "note"]


def _headline_measure(disease: str, results: pd.DataFrame, measures: pd.DataFrame, plan: dict, have=None) -> str | None:
    chosen = plan["efficacy"]["headline_measures"].get(disease)
    if have is None:
        have = results[(results["question"] == "effect") & (results["disease_id"] == disease)]["measure"].dropna().unique()
    if chosen in have:
        return chosen
    ranked = measures[measures["measure_id"].isin(have) & measures["headline_rank"].notna()].sort_values("headline_rank")
    return ranked["measure_id"].iloc[0] if len(ranked) else None


def headline(tables: dict[str, pd.DataFrame], results: pd.DataFrame | None = None, certainty: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per disease x headline analysis (long format; see the module docstring)."""
    from carte_evidence.analysis.grading import evidence_certainty
    from carte_evidence.analysis.results import plan_results

    plan = load_plan()
    results = results if results is not None else plan_results(tables)
    certainty = certainty if certainty is not None else evidence_certainty(tables, results=results)
    cert = certainty.set_index("analysis_id")
    names = tables["diseases"].set_index("disease_id")["name"]
    measures = tables["measures"]
    measure_names = measures.set_index("measure_id")["name"]
    by_disease = counts(tables, "disease").set_index("disease")
    overall = counts(tables, "indication").set_index("indication").loc["autoimmune"]
    labels = {a["id"]: a["label"] for a in plan["safety"]["analyses"]}
    diseases = [d for d in by_disease.index if d in names.index and d != "mixed-autoimmune"]
    # The results looked up below, indexed once: (analysis, grouping, group) -> first row, and
    # the measures with an efficacy result per disease.
    groups = results["group"].astype(str).tolist()
    first: dict[tuple, int] = {}
    for i, key in enumerate(zip(results["analysis_id"].tolist(), results["grouping"].tolist(), groups)):
        first.setdefault(key, i)
    analysed = {(a, g) for a, g in zip(results["analysis_id"].tolist(), groups)}
    effect = results[(results["question"] == "effect").fillna(False).to_numpy()]
    measures_of = {d: sub["measure"].dropna().unique() for d, sub in effect.groupby("disease_id", sort=False)}
    out = []
    for disease in ["all", *diseases]:
        base = {"disease_id": disease, "disease": "All autoimmune diseases" if disease == "all" else names[disease],
                "studies": int((overall if disease == "all" else by_disease.loc[disease])["studies"]),
                "patients": int((overall if disease == "all" else by_disease.loc[disease])["patients"])}
        wanted = []
        if disease != "all":
            measure = _headline_measure(disease, results, measures, plan, have=measures_of.get(disease, []))
            if measure:
                # the main window when a study reports it there, else the latest timepoint (labelled)
                window = plan["efficacy"]["main_window"]
                if (f"{measure}@{window}", disease) not in analysed:
                    window = "latest"
                wanted.append(("efficacy", f"{measure}@{window}", "disease", disease, measure))
        grouping, group = ("overall", "all autoimmune-indication studies") if disease == "all" else ("disease", disease)
        wanted += [(a, a, grouping, group, None) for a in SAFETY]
        for analysis, analysis_id, grouping, group, measure in wanted:
            hit = first.get((analysis_id, grouping, group))
            row = {**base, "analysis": analysis, "label": measure_names.get(measure, measure) if measure else labels[analysis],
                   "measure_label": measure_names.get(measure) if measure else pd.NA,
                   "timepoint": plan["efficacy"]["windows"][analysis_id.split("@")[1]]["label"] if measure else pd.NA}
            if hit is not None:
                r = results.iloc[hit]
                key = f"{analysis_id}|{grouping}|{group}"
                rated = cert.loc[key] if key in cert.index else None
                reasons = _reasons(rated)
                row.update({"events": r["events"], "n": r["n"], "k": r["k"], "estimate": r["estimate"], "ci_low": r["ci_lower"],
                            "ci_high": r["ci_upper"], "method": r["method"], "certainty": rated["certainty"] if rated is not None else pd.NA,
                            "reasons": reasons, "note": _imprecise(r)})
            else:
                row.update({"k": 0, "note": "no study reports it"})
            out.append(row)
    frame = pd.DataFrame(out)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    return frame[COLUMNS]


DOMAIN_WORDS = {"risk_of_bias": "risk of bias", "imprecision": "imprecision", "inconsistency": "inconsistency",
                "indirectness": "indirectness", "publication_bias": "publication bias"}


def _reasons(rated) -> str:
    """The domains rated down, in words: 'imprecision is very serious (18 patients; ...)'."""
    if rated is None:
        return ""
    out = []
    for domain, words in DOMAIN_WORDS.items():
        level, _, why = str(rated[domain]).partition(": ")
        if level in ("serious", "very serious"):
            out.append(f"{words} is {level} ({why})" if why else f"{words} is {level}")
    return "; ".join(out)


def _imprecise(result) -> str:
    """Why a pooled number must not be read as precise ('' when it can): the plan's flag, or the
    fallback from a degenerate GLMM. Informational notes (derived rows) stay in the results."""
    why = [result["flag"]] if isinstance(result["flag"], str) and result["flag"] else []
    if result["method"] == "REML":
        why.append("the random-effects model could not be fitted reliably (degenerate GLMM); REML shown")
    elif result["method"] == "exact (total)":
        why.append("a simple total of the studies' counts with its exact interval: the random-effects model cannot be fitted to these counts")
    return "; ".join(why)


def _cell(r) -> str:
    if not r["k"] or pd.isna(r["n"]):
        return "not reported"
    text = f"{int(r['events'])}/{int(r['n'])} (k={int(r['k'])})"
    if pd.notna(r["estimate"]):
        text += f"; {r['estimate']:.0%} ({r['ci_low']:.0%}-{r['ci_high']:.0%})"
    if isinstance(r["note"], str) and "too few" in r["note"]:
        text += "; too few studies to pool"
    if isinstance(r["certainty"], str):
        text += f"; certainty {r['certainty']}"
    return text


def headline_wide(tables: dict[str, pd.DataFrame], long: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per disease, one readable column per headline analysis."""
    long = long if long is not None else headline(tables)
    rows = []
    for (disease_id, disease), sub in long.groupby(["disease_id", "disease"], sort=False):
        row = {"disease": disease, "studies": sub["studies"].iloc[0], "patients": sub["patients"].iloc[0]}
        records = sub.to_dict("records")  # plain rows: a pandas row per cell costs more than the text
        eff = [r for r in records if r["analysis"] == "efficacy"]
        row["efficacy (main timepoint)"] = f"{eff[0]['label']} at {eff[0]['timepoint']}: {_cell(eff[0])}" if eff else ""
        for r in records:
            if r["analysis"] != "efficacy":
                row[r["label"]] = _cell(r)
        rows.append(row)
    return pd.DataFrame(rows)
