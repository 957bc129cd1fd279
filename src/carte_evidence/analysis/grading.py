"""Study grades from the rubric in schemas/grading.yaml, and GRADE certainty per body of evidence.

Code computes *facts* about each study (its design, size, follow-up, ...); the rubric, which is
data, turns facts into points and points into a grade. Nothing here knows a point value.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carte_evidence.package.paths import schemas_dir
from carte_evidence.package.schema import read_yaml
from carte_evidence.analysis import shared
from carte_evidence.analysis.derived import one_report


def load_rubric(path: str | Path | None = None) -> dict[str, Any]:
    """The grading rubric (default: schemas/grading.yaml)."""
    # A build asks for it several times; the file is read again when it changes. A copy, so a
    # caller that edits its rubric leaves the next caller's alone.
    return copy.deepcopy(read_yaml(path or schemas_dir() / "grading.yaml"))


# ---- facts ------------------------------------------------------------------------------------

def _publication_status(pubs: pd.DataFrame) -> pd.Series:
    kind = pubs["publication_type"]
    peer = pubs["peer_reviewed"].fillna(False).astype(bool)
    status = pd.Series("abstract or preprint", index=pubs.index, dtype="string")
    status[kind.isin(["press release", "news report"]).fillna(False)] = "press release or news"
    status[(kind == "full article").fillna(False) & peer] = "peer-reviewed article"
    status[kind.isin(["letter", "research letter", "case report"]).fillna(False) & peer] = "peer-reviewed letter or case report"
    status[kind.isna()] = pd.NA
    return status


@shared.once
def study_facts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per study: the facts the rubric scores (unknown facts are <NA>)."""
    studies = tables["studies"].set_index("study_id")
    arms = tables["arms"]
    disjoint = arms[arms["arm_scope"].isna()]
    facts = pd.DataFrame(index=studies.index)
    facts["design"] = studies["design"]
    facts["n_treated"] = disjoint.groupby("study_id")["n_treated"].sum(min_count=1).reindex(facts.index)
    follow = arms.groupby("study_id")["followup_months_median"].max().reindex(facts.index)
    outcomes = one_report(tables["outcomes"], tables, ["measure"]).merge(arms[["arm_id", "study_id"]], on="arm_id")
    last_timepoint = outcomes.groupby("study_id")["timepoint_months"].max().reindex(facts.index)
    facts["followup_months"] = follow.fillna(last_timepoint)
    validated = tables["measures"].set_index("measure_id")["validated"].fillna(False)
    has_valid = outcomes.assign(v=outcomes["measure"].map(validated).fillna(False).astype(bool)).groupby("study_id")["v"].any()
    facts["outcome_ascertainment"] = pd.Series("no outcome", index=facts.index, dtype="string")
    facts.loc[facts.index.isin(outcomes["study_id"]), "outcome_ascertainment"] = "other outcome"
    facts.loc[has_valid[has_valid].index, "outcome_ascertainment"] = "validated instrument"
    ae = one_report(tables["adverse_events"], tables, ["event", "grade"]).merge(arms[["arm_id", "study_id"]], on="arm_id")
    ae = ae[ae["n_evaluable"].notna()]
    graded = ae[ae["event"].isin(["crs", "icans"]) & ae["grading_system"].notna()].groupby("study_id")["event"].nunique()
    facts["safety_reporting"] = pd.Series("none", index=facts.index, dtype="string")
    facts.loc[facts.index.isin(ae["study_id"]), "safety_reporting"] = "counts with denominators"
    facts.loc[graded[graded == 2].index, "safety_reporting"] = "graded with denominators"
    pubs = tables["publications"].set_index("publication_id")
    status = _publication_status(pubs)
    facts["publication_status"] = studies["primary_publication_id"].map(status)
    facts["registration"] = studies["registry_id"].notna().map({True: "registered", False: "not registered"})
    # Unknown (empty) stays unknown: a grade must show which facts were missing, not weak.
    facts["consecutive_enrolment"] = studies["consecutive_enrolment"].map({True: "stated", False: "not stated"}).astype("string")
    return facts


def _points(fact: pd.Series, domain: dict[str, Any]) -> pd.Series:
    """Points of a domain, vectorized; unknown facts score 0."""
    if "map" in domain:
        return fact.map(domain["map"]).fillna(0).astype(int)
    values = pd.to_numeric(fact, errors="coerce").to_numpy(dtype=float)
    points = np.zeros(len(values), dtype=int)
    for rule in sorted(domain["thresholds"], key=lambda r: r["min"]):
        points = np.where(values >= rule["min"], rule["points"], points)  # NaN >= x is False
    return pd.Series(points, index=fact.index)


def _max_points(domain: dict[str, Any]) -> int:
    return max(domain["map"].values()) if "map" in domain else max(r["points"] for r in domain["thresholds"])


def _flags(tables: dict[str, pd.DataFrame]) -> pd.Series:
    studies = tables["studies"].set_index("study_id")
    flags = pd.Series("", index=studies.index, dtype="string")
    pooled = studies["overlap_status"] == "pooled_report"
    contained = studies["overlap_status"] == "contained"
    possible = studies["overlap_status"] == "possible"
    flags[pooled.fillna(False)] = "pooled re-report of other studies: not counted"
    flags[contained.fillna(False)] = "patients judged to be among those of: " + studies.loc[contained.fillna(False), "overlaps_with"].fillna("") + " (not counted)"
    flags[possible.fillna(False)] = "possible patient overlap with: " + studies.loc[possible.fillna(False), "overlaps_with"].fillna("")
    superseded = tables["publications"].dropna(subset=["supersedes"]).groupby("study_id")["supersedes"].count()
    extra = superseded.reindex(flags.index).fillna(0).astype(int)
    note = extra.map(lambda n: f"{n} earlier report(s) superseded" if n else "")
    secondary = pd.concat([tables["outcomes"], tables["adverse_events"]])
    secondary = secondary[secondary["value_source"] == "secondary_source"].merge(tables["arms"][["arm_id", "study_id"]], on="arm_id")
    sec = flags.index.isin(secondary["study_id"])
    parts = pd.DataFrame({"a": flags, "b": note, "c": pd.Series(np.where(sec, "some numbers only from secondary sources", ""), index=flags.index)})
    return parts.apply(lambda r: "; ".join(x for x in r if x), axis=1).astype("string")


def study_grades(tables: dict[str, pd.DataFrame], rubric: dict[str, Any] | None = None) -> pd.DataFrame:
    """Points per domain, total, grade and flags for every study."""
    return _study_grades(tables, rubric or load_rubric())


@shared.once
def _study_grades(tables: dict[str, pd.DataFrame], rubric: dict[str, Any]) -> pd.DataFrame:
    spec = rubric["study"]
    facts = study_facts(tables)
    out = pd.DataFrame(index=facts.index)
    out["rubric_version"] = str(rubric["version"])
    missing = pd.Series([[] for _ in range(len(facts))], index=facts.index)
    for name, domain in spec["domains"].items():
        fact = facts[domain["fact"]]
        out[f"points_{name}"] = _points(fact, domain)
        missing = missing + fact.isna().map(lambda m, n=domain["fact"]: [n] if m else [])
    point_cols = [c for c in out.columns if c.startswith("points_")]
    out["total_points"] = out[point_cols].sum(axis=1).astype(int)
    out["max_points"] = sum(_max_points(d) for d in spec["domains"].values())
    bands = sorted(spec["grades"], key=lambda g: g["min_points"])
    grade = pd.Series(bands[0]["grade"], index=out.index)
    for band in bands:
        grade[out["total_points"] >= band["min_points"]] = band["grade"]
    out["study_grade"] = grade
    out["missing_facts"] = missing.map(" ".join).replace("", pd.NA)
    out["unknown_facts"] = missing.map(len).astype(int)
    out["study_grade_display"] = out["study_grade"] + out["unknown_facts"].map(lambda m: f" ({m} of {len(spec['domains'])} facts unknown)" if m else "")
    out["flags"] = _flags(tables).reindex(out.index).replace("", pd.NA)
    return out.reset_index().rename(columns={"index": "study_id"})


def explain(tables: dict[str, pd.DataFrame], study_id: str, rubric: dict[str, Any] | None = None) -> list[str]:
    """The grade of one study in plain words: each fact, its points, and what was missing."""
    rubric = rubric or load_rubric()
    facts = study_facts(tables)
    if study_id not in facts.index:
        raise KeyError(f"no study {study_id!r}")
    grades = study_grades(tables, rubric).set_index("study_id").loc[study_id]
    lines = [f"{study_id}: grade {grades['study_grade']} ({grades['total_points']} of {grades['max_points']} points; rubric {rubric['version']})"]
    for name, domain in rubric["study"]["domains"].items():
        value = facts.loc[study_id, domain["fact"]]
        points, top = int(grades[f"points_{name}"]), _max_points(domain)
        shown = "unknown (missing in the data, scores 0)" if pd.isna(value) else f"{value:g}" if isinstance(value, float) else str(value)
        lines.append(f"  {name}: {domain['fact']} = {shown} -> {points} of {top} points  [{domain['framework']}]")
    if grades["unknown_facts"]:
        lines.append(f"  {grades['unknown_facts']} of {len(rubric['study']['domains'])} facts unknown (they score 0): the grade may reflect missing information, not weak evidence")
    if isinstance(grades["flags"], str):
        lines.append(f"  flags: {grades['flags']}")
    return lines


# ---- GRADE certainty of bodies of evidence -------------------------------------------------------

def _rate(level: int, reason: str) -> str:
    return {0: "not serious", -1: "serious", -2: "very serious", 1: "rated up"}[level] + (f": {reason}" if reason else "")


def _imprecision(pooled: dict, thresholds: list[float], n: int, rules: dict) -> tuple[int, str]:
    lo, hi = pooled.get("ci_lower", np.nan), pooled.get("ci_upper", np.nan)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return -2, f"{n} patients; no finite CI"
    crossed = [t for t in thresholds if lo < t < hi]
    level = -min(2, len(crossed))
    why = f"{n} patients; 95% CI {lo:.0%}-{hi:.0%}" + (f" crosses decision threshold(s) {', '.join(f'{t:.0%}' for t in crossed)}" if crossed else f" within one side of {', '.join(f'{t:.0%}' for t in thresholds)}")
    if n < rules["very_serious_min_patients"]:
        level, why = -2, why + f"; under {rules['very_serious_min_patients']} patients"
    elif n < rules["serious_min_patients"] and level == 0:
        level, why = -1, why + f"; under the optimal information size ({rules['serious_min_patients']} patients)"
    return level, why


@shared.once
def _by_id(tables: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Known (non-empty) values by id that every :func:`rate` reads: study designs and study
    columns by study id, publication types by publication id; the measures table by measure id."""
    studies = tables["studies"].set_index("study_id")
    known = lambda series: series.dropna().to_dict()  # noqa: E731
    return {"design": known(studies["design"]), "study": studies,
            "publication_type": known(tables["publications"].set_index("publication_id")["publication_type"]),
            "measures": tables["measures"].set_index("measure_id"), "columns": {}}


def _study_column(by_id: dict, column: str) -> dict:
    if column not in by_id["columns"]:
        by_id["columns"][column] = by_id["study"][column].dropna().to_dict()
    return by_id["columns"][column]


def _share(sizes: list, hit: list[bool], n: int) -> float:
    """Share of the patients (``sizes``) in the studies where ``hit`` holds."""
    return sum(size for size, h in zip(sizes, hit) if h) / n


def rate(result: dict, sub: pd.DataFrame, tables: dict[str, pd.DataFrame], rubric: dict[str, Any], grades: pd.Series,
         facts: pd.DataFrame | None = None) -> dict:
    """GRADE ratings of one analysis (a row of ``plan_results``) with their reasons, per domain."""
    rules = rubric["evidence"]
    levels = rules["levels"]
    question = rules["questions"][result["question"]]
    # Plain values of the (few) study rows: pandas operations on them cost more than the rating.
    by_id = _by_id(tables)
    ids, sizes = sub["study_id"].tolist(), sub["n_evaluable"].tolist()
    designs = [by_id["design"].get(s) for s in ids]
    randomized = "randomized" in designs
    start = question.get("randomized_start", question["start"]) if randomized else question["start"]
    n = int(sum(sizes))
    ratings = {}
    if result["question"] == "incidence":
        rule = rules["risk_of_bias"]["incidence"]
        prospective = _study_column(by_id, rule["prospective_field"])
        share_retro = _share(sizes, [not bool(prospective.get(s, False)) for s in ids], n)
        share_poor = _share(sizes, [d in rule["poor_designs"] for d in designs], n)
        rob = -2 if share_poor >= rule["serious_share"] else -1 if share_retro >= rule["serious_share"] else 0
        ratings["risk_of_bias"] = (rob, f"{share_retro:.0%} of patients from studies not enrolled prospectively ({share_poor:.0%} from single case reports)")
    else:
        known = grades.dropna().to_dict()
        g = [known.get(s) for s in ids]
        share_low = _share(sizes, [x in rules["risk_of_bias"]["low_grades"] for x in g], n)
        share_d = _share(sizes, [x is not None and x == rules["risk_of_bias"]["very_serious_grade"] for x in g], n)
        rob = -2 if share_d >= rules["risk_of_bias"]["serious_share"] else -1 if share_low >= rules["risk_of_bias"]["serious_share"] else 0
        ratings["risk_of_bias"] = (rob, f"{share_low:.0%} of patients from studies graded {'/'.join(rules['risk_of_bias']['low_grades'])} ({share_d:.0%} from grade {rules['risk_of_bias']['very_serious_grade']})")
    imp = rules["imprecision"]
    key = result["analysis_id"] if result["question"] == "incidence" else "default_effect"
    ratings["imprecision"] = _imprecision(result, imp["thresholds"].get(key, imp["thresholds"]["default_effect"]), n, imp)
    inc = rules["inconsistency"]
    i2 = result.get("i2", np.nan)
    disjoint = len(sub) > 1 and sub["ci_lower"].max() > sub["ci_upper"].min()
    if len(sub) < 2:
        ratings["inconsistency"] = (0, "one study: not assessable")
    elif pd.notna(i2) and i2 >= inc["very_serious_i2"]:
        ratings["inconsistency"] = (-2, f"I2 {i2:.0f}%")
    elif (pd.notna(i2) and i2 >= inc["serious_i2"]) or disjoint:
        ratings["inconsistency"] = (-1, f"I2 {i2:.0f}%" + ("; study CIs do not all overlap" if disjoint else ""))
    else:
        ratings["inconsistency"] = (0, f"I2 {i2:.0f}%" if pd.notna(i2) else "consistent")
    ind, reasons = rules["indirectness"], []
    if result["question"] == "effect" and result.get("measure") in ind["surrogate_measures"]:
        reasons.append("surrogate end point")
    # Mixed-disease arms are the intended population of a safety question (analysis plan), not indirect.
    if result["question"] == "effect" and any(isinstance(d, str) and d == "mixed-autoimmune" for d in sub["disease_id"].tolist()):
        reasons.append("mixed-disease population")
    if result["question"] == "effect" and question.get("no_control_indirectness") and not randomized:
        reasons.append("no control group: the effect is not compared with standard care")
    ratings["indirectness"] = (-1 if reasons else 0, "; ".join(reasons) or "direct")
    pb = rules["publication_bias"]
    small = all(size < pb["small_study_patients"] for size in sizes)
    weak = all(by_id["publication_type"].get(p) in pb["weak_publication_types"] for p in sub["publication_id"].tolist())
    why = [w for w, hit in ((f"all studies under {pb['small_study_patients']} patients", small), ("only abstracts, releases or news", weak)) if hit]
    ratings["publication_bias"] = (-1 if why else 0, "; ".join(why) or "undetected")
    measures = by_id["measures"]
    good = result["question"] == "effect" and result.get("measure") in measures.index and measures.loc[result["measure"], "higher_is_better"] is True
    big = good and rob == 0 and (result.get("ci_lower") or 0) >= rules["large_effect"]["min_ci_lower"]
    ratings["large_effect"] = (1 if big else 0, f"pooled lower bound {result.get('ci_lower'):.2f}" if big else "")
    score = levels.index(start) + sum(min(r[0], 0) for name, r in ratings.items() if name != "large_effect") + ratings["large_effect"][0]
    certainty = levels[int(np.clip(score, 0, len(levels) - 1))]
    return {"starting_level": start,
            **{name: (_rate(r[0], r[1]) if name != "large_effect" else ("rated up: " + r[1] if r[0] else "none")) for name, r in ratings.items()},
            "certainty": certainty}


def load_overrides(path: str | Path | None = None) -> pd.DataFrame:
    """Judgements the rules cannot make (schemas/certainty_overrides.csv), each with its reason."""
    return pd.read_csv(path or schemas_dir() / "certainty_overrides.csv", dtype="string")


def check_overrides(certainty: pd.DataFrame, overrides: pd.DataFrame, rubric: dict[str, Any]) -> list[str]:
    """Problems of the overrides file: unknown analysis, domain or level, or a missing reason."""
    problems = []
    domains = {"risk_of_bias", "imprecision", "inconsistency", "indirectness", "publication_bias", "large_effect", "certainty"}
    levels = set(rubric["evidence"]["levels"]) | {"not serious", "serious", "very serious", "rated up"}
    for line, row in enumerate(overrides.to_dict("records"), start=2):
        if row["analysis_id"] not in set(certainty["analysis_id"]):
            problems.append(f"certainty_overrides.csv line {line}: unknown analysis_id {row['analysis_id']!r}")
        if row["domain"] not in domains:
            problems.append(f"certainty_overrides.csv line {line}: unknown domain {row['domain']!r}; valid: {', '.join(sorted(domains))}")
        for column in ("from", "to"):
            if row[column] not in levels:
                problems.append(f"certainty_overrides.csv line {line}: {column} {row[column]!r} is not a GRADE level or rating")
        if pd.isna(row.get("reason")) or not str(row.get("reason")).strip():
            problems.append(f"certainty_overrides.csv line {line}: an override needs a reason")
    return problems


def evidence_certainty(tables: dict[str, pd.DataFrame], rubric: dict[str, Any] | None = None, grades: pd.DataFrame | None = None,
                       results: pd.DataFrame | None = None, overrides: pd.DataFrame | None = None) -> pd.DataFrame:
    """GRADE certainty of every analysis of the analysis plan, with the reason for each rating.

    Pooled numbers come from :func:`carte_evidence.analysis.results.plan_results` (computed once
    and shared with the tables and figures). Overrides are shown beside the computed rating
    (``override``, ``certainty_with_override``), never replacing it silently.
    """
    with shared.over(tables):
        return _evidence_certainty(tables, rubric, grades, results, overrides)


def _evidence_certainty(tables, rubric, grades, results, overrides) -> pd.DataFrame:
    from carte_evidence.analysis.results import plan_results
    from carte_evidence.analysis.summary import analysis_rows

    rubric = rubric or load_rubric()
    grades = (grades if grades is not None else study_grades(tables, rubric)).set_index("study_id")["study_grade"]
    results = results if results is not None else plan_results(tables)
    facts = study_facts(tables)
    # The study rows of each event x grade (safety) and disease x measure (efficacy, latest
    # timepoint), split once: the analyses of a question select their studies from these.
    rows = {"incidence": shared.split(analysis_rows(tables, "ae"), ["event", "grade"]),
            "effect": shared.split(analysis_rows(tables, "outcome"), ["measure", "disease_id"])}
    out = []
    for result in results[results["k"] > 0].to_dict("records"):
        studies = set(str(result["study_ids"]).split())
        if result["question"] == "incidence":
            sub = rows["incidence"](result["event"], result["grade"])
        else:
            sub = rows["effect"](result["measure"], result["disease_id"])
        sub = sub[sub["study_id"].isin(studies)].drop_duplicates("study_id")
        sub = sub[sub["n_evaluable"] > 0]
        if sub.empty:
            continue
        rated = rate(result, sub, tables, rubric, grades, facts)
        out.append({
            "analysis_id": f"{result['analysis_id']}|{result['grouping']}|{result['group']}",
            "disease_id": result.get("disease_id"), "target": result["group"] if result["grouping"] == "target" else pd.NA,
            "kind": "adverse_event" if result["question"] == "incidence" else "outcome", "question": result["question"],
            "grouping": result["grouping"], "group_label": result["group"], "window": result.get("window"),
            "measure": result.get("measure"), "event": result.get("event"), "grade": result.get("grade"),
            **{c: result.get(c) for c in ("k", "n", "events", "method", "estimate", "ci_lower", "ci_upper", "i2", "flag")},
            **rated, "rubric_version": str(rubric["version"]),
        })
    frame = pd.DataFrame(out)
    overrides = overrides if overrides is not None else load_overrides()
    frame["override"] = pd.NA
    frame["certainty_with_override"] = frame["certainty"]
    for row in overrides.to_dict("records"):
        hit = frame["analysis_id"] == row["analysis_id"]
        frame.loc[hit, "override"] = f"{row['domain']}: {row['from']} -> {row['to']} ({row['reason_code']}: {row['reason']}; {row['who']}, {row['date']})"
        if row["domain"] == "certainty":
            frame.loc[hit, "certainty_with_override"] = row["to"]
    return frame


def grade(path=None, tables: dict[str, pd.DataFrame] | None = None, rubric: str | Path | dict | None = None,
          results: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Study grades and GRADE certainty: ``{"study_grades": ..., "evidence_certainty": ...}``."""
    from carte_evidence.package.load import load

    tables = tables if tables is not None else load(path)
    rubric = rubric if isinstance(rubric, dict) else load_rubric(rubric)
    from carte_evidence.analysis.derived import conform

    with shared.over(tables):
        grades = study_grades(tables, rubric)
        return {
            "study_grades": conform(grades, "study_grades"),
            "evidence_certainty": conform(evidence_certainty(tables, rubric, grades, results=results), "evidence_certainty"),
        }
