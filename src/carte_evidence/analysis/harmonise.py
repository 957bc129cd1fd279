"""Harmonised adverse-event rows: from the rows as recorded to the rows analyses use.

The rules are data (``schemas/harmonisation.yaml``): 'any grade' is derived from per-grade rows
when they cover every grade once, '>=3' from grades 3, 4 and 5 (or 0 when 'any' is 0). Each
derived row says so (``value_source = derived``) and lists the ids of the rows it came from
(``derived_from``). Recorded rows always win; a derived value that disagrees with a recorded one
is returned by :func:`conflicts`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from carte_evidence.package.paths import schemas_dir
from carte_evidence.package.schema import read_yaml

REPORT = ["arm_id", "publication_id", "event"]


def load_rules(path: str | Path | None = None) -> dict[str, Any]:
    """The harmonisation rules (default: schemas/harmonisation.yaml; cached: do not mutate)."""
    return read_yaml(path or schemas_dir() / "harmonisation.yaml")


# Rows are plain dicts here: reports have a handful of rows, and pandas per group is slow.
Row = dict[str, Any]


def _last_per_grade(rows: list[Row], grades: set[str]) -> list[Row]:
    """The rows whose grade is in ``grades``, the last one of each grade."""
    return list({r["grade"]: r for r in rows if r["grade"] in grades}.values())


def _disjoint_union(parts: list[Row], sets: dict[str, list[int]]) -> list[int] | None:
    """The grades the parts cover, sorted, or None when two parts cover the same grade."""
    grades = [g for r in parts for g in sets[r["grade"]]]
    return sorted(grades) if len(grades) == len(set(grades)) else None


def _one_denominator(parts: list[Row]) -> bool:
    return len({r["n_evaluable"] for r in parts}) == 1


def _listing(usable: list[Row], sets: dict[str, list[int]]) -> list[Row] | None:
    """The report's per-grade rows when they list grades 1..m without gap or overlap, else None."""
    parts = _last_per_grade(usable, {g for g in sets if g != "any"})
    grades = _disjoint_union(parts, sets) if parts else None
    if not grades or grades != list(range(1, grades[-1] + 1)) or not _one_denominator(parts):
        return None
    return parts


def _row(parts: list[Row], events: int | None = None) -> dict:
    return {"n_events": int(sum(r["n_events"] for r in parts)) if events is None else events,
            "n_evaluable": parts[0]["n_evaluable"], "derived_from": " ".join(r["ae_id"] for r in parts)}


def _derive_one(group: list[Row], target: str, rule: dict, sets: dict[str, list[int]]) -> dict | None:
    """A derived row for one report and one target grade, or None when no rule holds."""
    usable = [r for r in group if not pd.isna(r["n_events"]) and not pd.isna(r["n_evaluable"])]
    if "from_grade" in rule:
        listing = _listing(usable, sets)
        return _row(listing) if listing is not None else None
    covers = sorted(rule["covers"])
    parts = _last_per_grade(usable, {g for g in sets if set(sets[g]) <= set(covers)})
    if parts and _disjoint_union(parts, sets) == covers and _one_denominator(parts):
        return _row(parts)
    if rule.get("zero_when_any_is_zero"):
        zero = [r for r in usable if r["grade"] == "any" and r["n_events"] == 0]
        if zero:
            return _row(zero[-1:], events=0)
    below = rule.get("zero_when_listing_stops_below")
    listing = _listing(usable, sets) if below else None
    if listing is not None and max(g for r in listing for g in sets[r["grade"]]) < below:
        return _row(listing, events=0)
    return None


def derived_rows(adverse_events: pd.DataFrame, rules: dict[str, Any] | None = None) -> pd.DataFrame:
    """Every derivable 'any' and '>=3' row (whether or not one was recorded), marked derived."""
    rules = rules or load_rules()
    sets = {str(k): v for k, v in rules["grade_sets"].items()}
    ae = adverse_events[adverse_events["event"].isin(rules["graded_events"])]
    ae = ae[["ae_id", *REPORT, "grade", "n_events", "n_evaluable"]].astype(object).where(ae[["ae_id", *REPORT, "grade", "n_events", "n_evaluable"]].notna(), None)
    reports: dict[tuple, list[Row]] = {}
    for r in ae.to_dict("records"):
        reports.setdefault(tuple(r[k] for k in REPORT), []).append(r)
    out = []
    for keys in sorted(reports):
        for target, rule in rules["derive"].items():
            row = _derive_one(reports[keys], target, rule, sets)
            if row is not None:
                out.append({**dict(zip(REPORT, keys)), "grade": target, **row})
    frame = pd.DataFrame(out, columns=[*REPORT, "grade", "n_events", "n_evaluable", "derived_from"])
    frame["ae_id"] = frame["arm_id"] + "." + frame["publication_id"] + "." + frame["event"] + "[" + frame["grade"] + "]"
    frame["value_source"] = "derived"
    return frame.astype({"n_events": "Int64", "n_evaluable": "Int64"})


def harmonised_adverse_events(adverse_events: pd.DataFrame, rules: dict[str, Any] | None = None) -> pd.DataFrame:
    """Recorded rows plus the derived rows where no row of that grade was recorded for the report."""
    derived = derived_rows(adverse_events, rules)
    recorded = adverse_events.assign(derived_from=pd.NA)
    have = recorded[[*REPORT, "grade"]].drop_duplicates().assign(_recorded=True)
    new = derived.merge(have, on=[*REPORT, "grade"], how="left")
    new = new[new["_recorded"].isna()].drop(columns="_recorded")
    return pd.concat([recorded, new], ignore_index=True)


def conflicts(adverse_events: pd.DataFrame, rules: dict[str, Any] | None = None) -> pd.DataFrame:
    """Recorded rows whose count disagrees with the value derived from the same report's other rows."""
    rules = rules or load_rules()
    # Only a report with a recorded target grade ('any', '>=3') and at least one other row can
    # disagree with itself; leaving the others out keeps this cheap on large packages.
    ae = adverse_events[adverse_events["event"].isin(rules["graded_events"])]
    keys = [ae[k] for k in REPORT]
    size = ae.groupby(keys, dropna=False)["grade"].transform("size")
    has_target = ae["grade"].isin(list(rules["derive"])).groupby(keys, dropna=False).transform("any")
    adverse_events = ae[((size > 1) & has_target).to_numpy()]
    derived = derived_rows(adverse_events, rules)
    both = adverse_events.merge(derived, on=[*REPORT, "grade"], suffixes=("", "_derived"))
    bad = both[(both["n_events"] != both["n_events_derived"]) | (both["n_evaluable"] != both["n_evaluable_derived"])]
    return bad[["ae_id", *REPORT, "grade", "n_events", "n_evaluable", "n_events_derived", "n_evaluable_derived", "derived_from"]].reset_index(drop=True)
