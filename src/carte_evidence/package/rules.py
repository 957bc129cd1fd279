"""Cross-field and cross-table rules, as pandera checks.

Single-field rules (types, required, enums, patterns, ranges, uniqueness) are derived from
the Table Schema in :mod:`carte_evidence.schema`; only the rules that relate several fields
or tables are written here. Each check is attached to the column whose value is reported,
and is built over the other tables with closures, so that it stays vectorized.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import numpy as np
import pandas as pd

# rule name -> (message, hint). The name is the pandera check name.
RULES: dict[str, tuple[str, str]] = {
    "foreign-key": ("no {ref} has this value", "use an existing {ref}, or add that row first"),
    "supersedes-same-study": ("supersedes a publication of another study", "a later report can only supersede an earlier report of the same cohort"),
    "supersedes-cycle": ("the supersedes chain loops back on itself", "each report points to an earlier one; break the cycle"),
    "supersedes-self": ("a publication cannot supersede itself", "point to the earlier report"),
    "not-in-future": ("is in the future", "check the date"),
    "primary-publication-of-study": ("the primary publication belongs to another study", "choose a publication whose study_id is this study"),
    "publication-of-study": ("the publication does not report this arm's study", "cite a publication whose study_id is the arm's study"),
    "events-le-evaluable": ("n_events is larger than n_evaluable", "the numerator cannot exceed the denominator"),
    "evaluable-le-treated": ("n_evaluable is larger than the arm's n_treated", "check the denominator, or the arm's n_treated from the primary publication"),
    "binary-needs-counts": ("a binary measure needs n_events and n_evaluable", "fill both counts, or use a continuous measure"),
    "continuous-needs-value": ("a continuous measure needs a value", "fill value (and unit, statistic)"),
    "age-range": ("age_min is larger than age_max", "check the range"),
    "formula-prefix": ("text starts with =, +, - or @ and would run as a spreadsheet formula", "rephrase, or put the text in words"),
    "citable": ("the publication has no DOI, PMID, PMCID, registry id or URL", "give at least one identifier of the source read"),
    "registry-format": ("the identifier does not have the form of its registry ({ref})", "write the id exactly as the registry does"),
    "list-foreign-key": ("an item of the list is not a {ref}", "use ids of that table, separated by single spaces"),
    "mixed-arm-scope": ("a mixed-disease arm beside per-disease arms of the same study must be arm_scope 'pooled'", "set arm_scope = pooled, or split the arm by disease"),
    "female-le-treated": ("n_female is larger than n_treated", "check the counts"),
}


def _check(name: str, fn: Callable[[pd.Series], Any], ref: str = ""):
    """A pandera check named '<rule>' or '<rule>:<ref>' (see :func:`describe_rule`)."""
    import pandera.pandas as pa

    return pa.Check(fn, name=f"{name}:{ref}" if ref else name)


def describe_rule(check_name: str) -> tuple[str, str, str] | None:
    """(rule, message, hint) of one of our check names, or None for pandera's own checks."""
    rule, _, ref = check_name.partition(":")
    if rule not in RULES:
        return None
    message, hint = RULES[rule]
    return rule, message.format(ref=ref), hint.format(ref=ref)


def _ids(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].dropna()


def _lookup(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    sub = frame[[key, value]].dropna(subset=[key]).drop_duplicates(subset=[key])
    return pd.Series(sub[value].to_numpy(), index=sub[key].to_numpy())


def _cycle_members(parent: pd.Series) -> set:
    """Ids on a cycle of the id -> parent mapping, by pointer doubling (log n vectorized steps)."""
    mapping = parent.dropna()
    if mapping.empty:
        return set()
    mapping = mapping[~mapping.index.duplicated()]
    jump = pd.Series(mapping.to_numpy(), index=mapping.index.to_numpy())
    steps = 1
    while steps <= len(mapping) and not jump.empty:
        jump = jump.map(jump).dropna()  # ancestor after 2 x steps steps
        steps *= 2
    # Whatever still has an ancestor after more steps than there are nodes is on or behind a cycle.
    return set(jump.index)


def rule_checks(tables: dict[str, pd.DataFrame], descriptor: dict[str, Any], today: dt.date | None = None, unreadable: frozenset = frozenset()) -> dict[str, dict[str, list]]:
    """Checks per table and column for the cross-field and cross-table rules.

    Tables in ``unreadable`` could not be read; no key is checked against them, so that one
    broken file does not bury the report under consequential errors.
    """
    today = today or dt.date.today()
    out: dict[str, dict[str, list]] = {name: {} for name in tables}

    def add(table: str, column: str, check) -> None:
        if table in tables and column in tables[table].columns:
            out[table].setdefault(column, []).append(check)

    # Foreign keys, generated from the descriptor.
    for res in descriptor["resources"]:
        for fk in res.get("schema", {}).get("foreignKeys", []):
            ref = fk["reference"]
            parent = ref["resource"] or res["name"]
            if parent not in tables or parent in unreadable or res["name"] not in tables:
                continue
            allowed = _ids(tables[parent], ref["fields"])
            add(res["name"], fk["fields"], _check("foreign-key", lambda s, a=allowed: s.isin(a), ref=f"{parent}.{ref['fields']}"))

    # Every string field: no spreadsheet formulas.
    for name, frame in tables.items():
        for column in frame.columns:
            if str(frame[column].dtype).startswith("string"):
                add(name, column, _check("formula-prefix", lambda s: ~s.str.match(r"^[=+\-@]")))

    pubs = tables.get("publications")
    if pubs is not None:
        study_of = _lookup(pubs, "publication_id", "study_id")
        frame = pubs
        add("publications", "supersedes", _check("supersedes-self", lambda s, f=frame: s != f.loc[s.index, "publication_id"]))
        add("publications", "supersedes", _check("supersedes-same-study", lambda s, f=frame, so=study_of: (s.map(so) == f.loc[s.index, "study_id"]).fillna(True)))
        cyclic = _cycle_members(pd.Series(frame["supersedes"].to_numpy(), index=frame["publication_id"].to_numpy()))
        add("publications", "supersedes", _check("supersedes-cycle", lambda s, f=frame, c=cyclic: ~f.loc[s.index, "publication_id"].isin(c)))
        ids = frame[["doi", "pmid", "pmcid", "registry_ids", "url"]].notna().any(axis=1)
        add("publications", "publication_id", _check("citable", lambda s, ok=ids: ok.loc[s.index]))
        add("publications", "year", _check("not-in-future", lambda s, y=today.year: s <= y))
        add("publications", "data_cutoff", _check("not-in-future", lambda s, t=today.isoformat(): s.str.slice(0, 10) <= t[: 10]))
        studies = tables.get("studies")
        if studies is not None:
            add("studies", "primary_publication_id", _check("primary-publication-of-study", lambda s, f=studies, so=study_of: (s.map(so) == f.loc[s.index, "study_id"]).fillna(True)))
        for table in ("arms",):
            t = tables.get(table)
            if t is not None:
                add(table, "publication_id", _check("publication-of-study", lambda s, f=t, so=study_of: (s.map(so) == f.loc[s.index, "study_id"]).fillna(True)))

    arms = tables.get("arms")
    if arms is not None:
        disjoint = arms["arm_scope"].isna()
        mixed = (arms["disease_id"] == "mixed-autoimmune").fillna(False) & disjoint
        others = arms.loc[disjoint & ~mixed, "study_id"]
        double = mixed & arms["study_id"].isin(others)
        add("arms", "disease_id", _check("mixed-arm-scope", lambda s, d=double: ~d.loc[s.index]))
        add("arms", "n_female", _check("female-le-treated", lambda s, f=arms: ~(s > f.loc[s.index, "n_treated"]).fillna(False)))
        add("arms", "age_min", _check("age-range", lambda s, f=arms: ~(s > f.loc[s.index, "age_max"]).fillna(False)))
        treated = _lookup(arms, "arm_id", "n_treated")
        arm_study = _lookup(arms, "arm_id", "study_id")
        for table in ("outcomes", "adverse_events"):
            t = tables.get(table)
            if t is None:
                continue
            add(table, "n_events", _check("events-le-evaluable", lambda s, f=t: ~(s > f.loc[s.index, "n_evaluable"]).fillna(False)))
            add(table, "n_evaluable", _check("evaluable-le-treated", lambda s, f=t, tr=treated: ~(s > f.loc[s.index, "arm_id"].map(tr).astype("Float64")).fillna(False)))
            if pubs is not None:
                add(table, "publication_id", _check("publication-of-study", lambda s, f=t, so=study_of, ast=arm_study: (s.map(so) == f.loc[s.index, "arm_id"].map(ast)).fillna(True)))

    trials, registries = tables.get("trials"), tables.get("registries")
    if trials is not None and registries is not None and "registries" not in unreadable:
        pattern = _lookup(registries, "registry", "id_pattern")
        ok = pd.Series(True, index=trials.index)
        for registry, rx in pattern.items():  # one vectorized match per registry
            mask = (trials["registry"] == registry).fillna(False)
            ok[mask] = trials.loc[mask, "trial_id"].str.fullmatch(rx).fillna(False)
        add("trials", "trial_id", _check("registry-format", lambda s, o=ok: o.loc[s.index], ref="registries.id_pattern"))
    diseases = tables.get("diseases")
    if trials is not None and diseases is not None and "diseases" not in unreadable:
        known = set(diseases["disease_id"].dropna())
        add("trials", "disease_ids", _check("list-foreign-key", lambda s, k=known: s.str.split(" ").explode().isin(k).groupby(level=0).all(), ref="diseases.disease_id"))

    outcomes, measures = tables.get("outcomes"), tables.get("measures")
    if outcomes is not None and measures is not None and "measures" not in unreadable:
        kind = _lookup(measures, "measure_id", "kind")
        k = outcomes["measure"].map(kind)
        binary_missing = (k == "binary") & (outcomes["n_events"].isna() | outcomes["n_evaluable"].isna())
        cont_missing = (k == "continuous") & outcomes["value"].isna()
        add("outcomes", "measure", _check("binary-needs-counts", lambda s, m=binary_missing: ~m.loc[s.index].fillna(False)))
        add("outcomes", "measure", _check("continuous-needs-value", lambda s, m=cont_missing: ~m.loc[s.index].fillna(False)))
    return out


def rule_schemas(tables: dict[str, pd.DataFrame], descriptor: dict[str, Any], today: dt.date | None = None, unreadable: frozenset = frozenset()):
    """One pandera DataFrameSchema per table holding only the cross-field/cross-table checks."""
    import pandera.pandas as pa

    return {
        name: pa.DataFrameSchema({col: pa.Column(checks=checks, nullable=True, required=False) for col, checks in cols.items()})
        for name, cols in rule_checks(tables, descriptor, today, unreadable).items()
    }
