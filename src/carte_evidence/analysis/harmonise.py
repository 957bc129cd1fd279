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

import numpy as np
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


def _within(sets: dict[str, list[int]], covers: list[int]) -> frozenset:
    """The grade categories whose grades all lie in ``covers``."""
    return frozenset(g for g in sets if set(sets[g]) <= set(covers))


def _derive_one(group: list[Row], target: str, rule: dict, sets: dict[str, list[int]], within: frozenset | None) -> dict | None:
    """A derived row for one report and one target grade, or None when no rule holds
    (``within``: :func:`_within` of the rule's ``covers``, worked out once per rule)."""
    usable = [r for r in group if r["n_events"] is not None and r["n_evaluable"] is not None]
    if "from_grade" in rule:
        listing = _listing(usable, sets)
        return _row(listing) if listing is not None else None
    covers = sorted(rule["covers"])
    parts = _last_per_grade(usable, within)
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


_COLUMNS = ["ae_id", *REPORT, "grade", "n_events", "n_evaluable"]
COLUMNS_READ = frozenset(_COLUMNS)  # the adverse-event columns :func:`conflicts` reads


def _grade_sets(rules: dict[str, Any]) -> dict[str, list[int]]:
    return {str(k): v for k, v in rules["grade_sets"].items()}


def _graded(adverse_events: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """The rows of the events graded 1-5, with the columns the rules read."""
    return adverse_events.loc[_graded_rows(adverse_events, rules), _COLUMNS]


def _graded_rows(adverse_events: pd.DataFrame, rules: dict[str, Any]) -> np.ndarray:
    """Whether each row is of an event graded 1-5."""
    return adverse_events["event"].isin(rules["graded_events"]).to_numpy(dtype=bool, na_value=False)


def _reports(adverse_events: pd.DataFrame, rules: dict[str, Any]) -> dict[tuple, list[Row]]:
    """The rows of graded events as plain dicts (empty values None), grouped by report."""
    ae = _graded(adverse_events, rules)
    columns = [ae[c].to_numpy(dtype=object, na_value=None) for c in _COLUMNS]
    reports: dict[tuple, list[Row]] = {}
    for values in zip(*columns):
        row = dict(zip(_COLUMNS, values))
        reports.setdefault(values[1:4], []).append(row)
    return reports


def derived_rows(adverse_events: pd.DataFrame, rules: dict[str, Any] | None = None, recorded_only: bool = False) -> pd.DataFrame:
    """Every derivable 'any' and '>=3' row (whether or not one was recorded), marked derived.

    ``recorded_only``: derive a grade only for the reports that recorded a row of that grade
    (all :func:`conflicts` compares).
    """
    rules = rules or load_rules()
    sets = _grade_sets(rules)
    reports = _reports(adverse_events, rules)
    plan = [(target, rule, _within(sets, sorted(rule["covers"])) if "covers" in rule else None) for target, rule in rules["derive"].items()]
    out = []
    for keys in sorted(reports):
        group = reports[keys]
        grades = {r["grade"] for r in group} if recorded_only else None
        for target, rule, within in plan:
            if grades is not None and target not in grades:
                continue
            row = _derive_one(group, target, rule, sets, within)
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


def _report_codes(ae: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
    """A number per report (arm x publication x event; empty values are a value too), for the
    rows at ``rows`` (default: all)."""
    code, span = np.zeros(len(ae) if rows is None else len(rows), dtype=np.int64), 1
    for k in REPORT:
        codes, uniques = pd.factorize(ae[k], use_na_sentinel=False)
        if rows is not None:  # (numbered as if the rows alone were factorized)
            codes, uniques = pd.factorize(codes[rows])
        if span * (len(uniques) + 1) >= 1 << 62:  # renumbered when the combined number would overflow
            code, span = _dense(code)
        code, span = code * (len(uniques) + 1) + codes, span * (len(uniques) + 1)
    return _dense(code)[0]


def _dense(code: np.ndarray) -> tuple[np.ndarray, int]:
    values, inverse = np.unique(code, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), len(values)


def conflicts(adverse_events: pd.DataFrame, rules: dict[str, Any] | None = None) -> pd.DataFrame:
    """Recorded rows whose count disagrees with the value derived from the same report's other rows.

    The rules are worked out over whole columns (:mod:`.harmonise_columns`): the same answers as
    merging the recorded rows with :func:`derived_rows`, in the recorded rows' order.
    """
    from carte_evidence.analysis.harmonise_columns import Reports, rows_of

    rules = rules or load_rules()
    ae = adverse_events[_COLUMNS]
    graded = np.flatnonzero(_graded_rows(ae, rules))  # (read through their positions: no copy of the rows)
    reports = Reports(ae, _report_codes(ae, graded), _grade_sets(rules), graded)
    bad, derived_events, derived_evaluable, derived_from = [], [], [], []
    for target, rule in rules["derive"].items():
        derived = reports.derive(rule)
        rows = np.flatnonzero(reports.graded(target))
        rows = rows[derived.exists[reports.report[rows]]]
        of = reports.report[rows]
        events, evaluable = reports.n_events[rows], reports.n_evaluable[rows]
        with np.errstate(invalid="ignore"):  # an empty recorded count is not compared (pandas' NA)
            differs = (~np.isnan(events) & (events != derived.n_events[of])) | (~np.isnan(evaluable) & (evaluable != derived.n_evaluable[of]))
        bad.append(rows[differs])
        derived_events.append(derived.n_events[of[differs]])
        derived_evaluable.append(derived.n_evaluable[of[differs]])
        derived_from += reports.derived_from(of[differs], derived)
    rows = np.concatenate(bad) if bad else np.zeros(0, dtype=np.int64)
    order = np.argsort(rows, kind="stable")  # the recorded rows' order
    at = graded[rows[order]]
    out = pd.DataFrame({c: rows_of(ae[c], at) for c in ae.columns})
    out["n_events_derived"] = pd.array(np.concatenate(derived_events)[order].astype(np.int64) if bad else [], dtype="Int64")
    out["n_evaluable_derived"] = pd.array(np.concatenate(derived_evaluable)[order].astype(np.int64) if bad else [], dtype="Int64")
    out["derived_from"] = [derived_from[i] for i in order.tolist()]
    return out
