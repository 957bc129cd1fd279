"""Harmonised adverse-event rows: from the rows as recorded to the rows analyses use.

The rules are data (``schemas/harmonisation.yaml``): 'any grade' is derived from per-grade rows
when they cover every grade once, '>=3' from grades 3, 4 and 5 (or 0 when 'any' is 0). Each
derived row says so (``value_source = derived``) and lists the ids of the rows it came from
(``derived_from``). Recorded rows always win; a derived value that disagrees with a recorded one
is returned by :func:`conflicts`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from carte_evidence.package.paths import schemas_dir

REPORT = ["arm_id", "publication_id", "event"]


@lru_cache(maxsize=4)
def _rules(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_rules(path: str | Path | None = None) -> dict[str, Any]:
    """The harmonisation rules (default: schemas/harmonisation.yaml)."""
    return _rules(str(path or schemas_dir() / "harmonisation.yaml"))


def _disjoint_union(parts: pd.DataFrame, sets: dict[str, list[int]]) -> list[int] | None:
    """The grades the parts cover, sorted, or None when two parts cover the same grade."""
    grades = [g for category in parts["grade"] for g in sets[category]]
    return sorted(grades) if len(grades) == len(set(grades)) else None


def _listing(usable: pd.DataFrame, sets: dict[str, list[int]]) -> pd.DataFrame | None:
    """The report's per-grade rows when they list grades 1..m without gap or overlap, else None."""
    parts = usable[usable["grade"].isin([g for g in sets if g != "any"])].drop_duplicates("grade", keep="last")
    grades = _disjoint_union(parts, sets) if len(parts) else None
    if not grades or grades != list(range(1, grades[-1] + 1)) or parts["n_evaluable"].nunique() != 1:
        return None
    return parts


def _row(parts: pd.DataFrame, events: int | None = None) -> dict:
    return {"n_events": int(parts["n_events"].sum()) if events is None else events,
            "n_evaluable": parts["n_evaluable"].iloc[0], "derived_from": " ".join(parts["ae_id"])}


def _derive_one(group: pd.DataFrame, target: str, rule: dict, sets: dict[str, list[int]]) -> dict | None:
    """A derived row for one report and one target grade, or None when no rule holds."""
    usable = group[group["n_events"].notna() & group["n_evaluable"].notna()]
    if "from_grade" in rule:
        listing = _listing(usable, sets)
        return _row(listing) if listing is not None else None
    covers = sorted(rule["covers"])
    parts = usable[usable["grade"].isin([g for g in sets if set(sets[g]) <= set(covers)])].drop_duplicates("grade", keep="last")
    if len(parts) and _disjoint_union(parts, sets) == covers and parts["n_evaluable"].nunique() == 1:
        return _row(parts)
    if rule.get("zero_when_any_is_zero"):
        zero = usable[(usable["grade"] == "any") & (usable["n_events"] == 0)]
        if len(zero):
            return _row(zero.iloc[[-1]], events=0)
    below = rule.get("zero_when_listing_stops_below")
    listing = _listing(usable, sets) if below else None
    if listing is not None and max(g for c in listing["grade"] for g in sets[c]) < below:
        return _row(listing, events=0)
    return None


def derived_rows(adverse_events: pd.DataFrame, rules: dict[str, Any] | None = None) -> pd.DataFrame:
    """Every derivable 'any' and '>=3' row (whether or not one was recorded), marked derived."""
    rules = rules or load_rules()
    sets = {str(k): v for k, v in rules["grade_sets"].items()}
    ae = adverse_events[adverse_events["event"].isin(rules["graded_events"])]
    out = []
    for keys, group in ae.groupby(REPORT, sort=True):
        for target, rule in rules["derive"].items():
            row = _derive_one(group, target, rule, sets)
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
    derived = derived_rows(adverse_events, rules)
    both = adverse_events.merge(derived, on=[*REPORT, "grade"], suffixes=("", "_derived"))
    bad = both[(both["n_events"] != both["n_events_derived"]) | (both["n_evaluable"] != both["n_evaluable_derived"])]
    return bad[["ae_id", *REPORT, "grade", "n_events", "n_evaluable", "n_events_derived", "n_evaluable_derived", "derived_from"]].reset_index(drop=True)
