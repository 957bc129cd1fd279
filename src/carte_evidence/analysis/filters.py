"""Filters of `summarize` and `carte summary`: checked against the vocabularies, case-insensitive.

Every filter narrows the rows it is given (analysis rows, arms, trials) by a column of the arm
context; an unknown value is an error that lists the valid ones and suggests the nearest.
"""

from __future__ import annotations

import difflib

import pandas as pd

# filter name -> (column of the arm context it narrows, whether the column holds a space-separated list)
FILTER_COLUMNS = {
    "disease": ("disease_id", False),
    "disease_area": ("disease_area", False),
    "target": ("targets", True),
    "modality": ("modality", False),
    "product": ("product_id", False),
    "indication": ("indication", False),
    "lymphodepletion": ("lymphodepletion", False),
}
# the same filters on the trials table
TRIAL_COLUMNS = {"disease": ("disease_ids", True), "target": ("targets", True), "modality": ("modality", False), "product": ("product_id", False)}


class UnknownValue(ValueError):
    """A filter or option value that is not in its vocabulary (the CLI exits 2 with this message)."""


def _known(tables: dict[str, pd.DataFrame], name: str) -> list[str]:
    products, diseases = tables["products"], tables["diseases"]
    if name == "disease":
        return sorted(diseases["disease_id"].dropna())
    if name == "disease_area":
        return sorted(set(diseases["disease_area"].dropna()))
    if name == "target":
        return sorted(set(products["targets"].dropna().str.split(" ").explode()))
    if name == "modality":
        return sorted(set(products["modality"].dropna()))
    if name == "product":
        return sorted(products["product_id"].dropna())
    if name == "indication":
        return ["autoimmune", "oncologic"]
    if name == "lymphodepletion":
        return ["yes", "no", "unknown"]
    if name == "measure":
        return sorted(tables["measures"]["measure_id"].dropna())
    if name == "event":
        return sorted(tables["events"]["event_id"].dropna())
    raise KeyError(name)


def canonical(tables: dict[str, pd.DataFrame], name: str, value: str, known: list[str] | None = None) -> str:
    """The vocabulary's spelling of ``value`` (matched case-insensitively), or UnknownValue."""
    known = known if known is not None else _known(tables, name)
    by_lower = {k.lower(): k for k in known}
    hit = by_lower.get(str(value).strip().lower())
    if hit is not None:
        return hit
    near = difflib.get_close_matches(str(value).lower(), list(by_lower), n=1, cutoff=0.5)
    hint = f" (did you mean {by_lower[near[0]]}?)" if near else ""
    raise UnknownValue(f"unknown {name} {value!r}{hint}; valid values: {', '.join(known)}")


def descendants(tables: dict[str, pd.DataFrame], disease: str) -> set[str]:
    """A disease and the diseases under it (lupus nephritis is SLE)."""
    parents = tables["diseases"].set_index("disease_id")["parent_disease_id"]
    out, frontier = {disease}, {disease}
    while frontier:
        frontier = set(parents[parents.isin(frontier)].index) - out
        out |= frontier
    return out


def apply(frame: pd.DataFrame, tables: dict[str, pd.DataFrame], filters: dict[str, str | None], columns: dict = FILTER_COLUMNS) -> pd.DataFrame:
    """Rows of ``frame`` matching every given filter (values already checked by :func:`canonical`)."""
    for name, value in filters.items():
        if value is None:
            continue
        column, is_list = columns[name]
        if column not in frame:
            continue
        wanted = descendants(tables, value) if name == "disease" else {value}
        lowered = {w.lower() for w in wanted}
        values = frame[column].astype("string").str.lower()
        if is_list:
            hit = values.str.split(" ").explode().isin(lowered).groupby(level=0).any().reindex(frame.index, fill_value=False)
        else:
            hit = values.isin(lowered).fillna(False)
        frame = frame[hit.astype(bool).to_numpy()]
    return frame


def check(tables: dict[str, pd.DataFrame], filters: dict[str, str | None]) -> dict[str, str | None]:
    """The filters with each value spelled as its vocabulary does; UnknownValue for the first bad one."""
    return {name: (canonical(tables, name, value) if value is not None else None) for name, value in filters.items()}
