"""Every analysis of the analysis plan, pooled once: the package's answers.

:func:`plan_results` runs the plan (``schemas/analysis_plan.yaml``): each safety analysis over all
autoimmune-indication studies and by each grouping, each disease's efficacy measures in each
timepoint window. One row per analysis x group, with the pooled numbers (``summary.pool``) and
the study rows it rests on (``study_ids``, ``events_list``, ``totals_list``), so tables, figures,
grading and the metafor check all use the same numbers, computed once.
"""

from __future__ import annotations

import pandas as pd

from carte_evidence.analysis.plan import load_plan
from carte_evidence.analysis.summary import GROUP_FIELDS, POOLED_COLUMNS, _with_group_columns, analysis_rows, pool

RESULT_COLUMNS = ["analysis_id", "question", "label", "grouping", "group", "event", "grade", "measure", "window",
                  "disease_id", *POOLED_COLUMNS, "study_ids", "events_list", "totals_list", "plan_version"]


def _row(base: dict, sub: pd.DataFrame) -> dict:
    sub = sub.sort_values("study_id")
    return {**base, **pool(sub), "study_ids": " ".join(sub["study_id"]),
            "events_list": " ".join(str(int(x)) for x in sub["n_events"]), "totals_list": " ".join(str(int(x)) for x in sub["n_evaluable"])}


def plan_results(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per analysis of the plan and group (see the module docstring)."""
    plan = load_plan()
    out = []
    safety = analysis_rows(tables, "ae")
    for grouping in plan["safety"]["groupings"]:
        columns = [GROUP_FIELDS[g] for g in grouping]
        rows = _with_group_columns(safety, tables, columns)
        for spec in plan["safety"]["analyses"]:
            sel = rows[(rows["event"] == spec["event"]) & (rows["grade"] == spec["grade"]) & (rows["n_evaluable"] > 0)]
            groups = [((), sel)] if not columns else sel.groupby(columns, dropna=False, sort=True)
            for values, sub in groups:
                values = values if isinstance(values, tuple) else (values,)
                label = " / ".join(str(v) for v in values) or "all autoimmune-indication studies"
                out.append(_row({"analysis_id": spec["id"], "question": plan["safety"]["question"], "label": spec["label"],
                                 "grouping": " x ".join(grouping) or "overall", "group": label, "event": spec["event"],
                                 "grade": spec["grade"], "disease_id": values[grouping.index("disease")] if "disease" in grouping else pd.NA}, sub))
    for window_id, window in plan["efficacy"]["windows"].items():
        rows = analysis_rows(tables, "outcome", timepoint=window.get("months"))
        rows = rows[rows["n_evaluable"] > 0]
        for (disease, measure), sub in rows.groupby(["disease_id", "measure"], sort=True):
            out.append(_row({"analysis_id": f"{measure}@{window_id}", "question": plan["efficacy"]["question"], "label": measure,
                             "grouping": "disease", "group": disease, "measure": measure, "window": window["label"],
                             "disease_id": disease}, sub))
    frame = pd.DataFrame(out)
    for column in RESULT_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    frame["plan_version"] = str(plan["version"])
    return frame[RESULT_COLUMNS]
