"""The harmonisation rules of :mod:`carte_evidence.analysis.harmonise` worked out over whole
columns (numpy), for :func:`~carte_evidence.analysis.harmonise.conflicts`.

`carte validate` compares every recorded 'any' / '>=3' row with the value derived from its
report's other rows. Row by row in Python that took seconds on a million rows; here each rule
is a handful of vector operations over the reports. The row-level functions of ``harmonise``
stay the definition (the analyses use them); a property test holds both to the same answers.

A grade category is a bit mask of the grades it covers (grade g -> bit g-1), so that the
"disjoint union of the parts" of a rule is: the sum of the masks equals their bitwise or.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd


def _mask(grades) -> int:
    return sum(1 << (int(g) - 1) for g in set(grades))


@dataclass
class Parts:
    """The usable rows of each report, the last one of each grade category (``_last_per_grade``)."""

    report: np.ndarray  # per part: the report's number
    category: np.ndarray  # per part: index into the categories
    last: np.ndarray  # per part: the row used (the last usable row of that category)
    first: np.ndarray  # per part: the first usable row of that category (the parts' order)


@dataclass
class Derived:
    """One target grade's derived value per report (``exists`` False: no rule holds)."""

    exists: np.ndarray
    n_events: np.ndarray
    n_evaluable: np.ndarray
    how: np.ndarray  # 0: the parts in ``selection``; 1: the row ``row``; 2: the listing's parts, 0 events
    selection: np.ndarray  # per category: whether its part is summed (how 0)
    row: np.ndarray  # the 'any' row with 0 events (how 1)


def rows_of(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """``column.iloc[rows]`` with a fresh index; an arrow text column of several chunks (a table
    read in blocks) is taken from chunk by chunk: pyarrow's take would first join the chunks,
    a copy of the whole column for a handful of rows."""
    arrow = getattr(column.array, "_pa_array", None)
    if arrow is None or not isinstance(column.dtype, pd.StringDtype) or arrow.num_chunks < 2:
        return column.iloc[rows].reset_index(drop=True)
    import pyarrow as pa

    rows = np.asarray(rows, dtype=np.int64)
    rows = np.where(rows < 0, rows + len(column), rows)  # (as iloc reads a negative position)
    starts = np.cumsum([0] + [len(c) for c in arrow.chunks])
    chunk = np.searchsorted(starts, rows, side="right") - 1
    order = np.argsort(chunk, kind="stable")
    parts = [arrow.chunk(k).take(pa.array(rows[order][chunk[order] == k] - starts[k])) for k in np.unique(chunk).tolist()]
    taken = pa.concat_arrays(parts) if parts else arrow.chunk(0).slice(0, 0)
    back = np.empty(len(rows), dtype=np.int64)
    back[order] = np.arange(len(rows))
    return pd.Series(column.dtype.__from_arrow__(taken.take(pa.array(back))), name=column.name)


def _positions(column: pd.Series, values: list[str]) -> np.ndarray:
    """The position of each row's value among ``values`` (-1: none of them); looked up by arrow
    for an arrow-backed column (several times faster than pandas' get_indexer on a million
    rows)."""
    arrow = getattr(column.array, "_pa_array", None)
    if arrow is None:
        return pd.Index(values).get_indexer(column).astype(np.int64)
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.fill_null(pc.index_in(arrow, value_set=pa.array(values, type=arrow.type)), -1)
    chunks = found.chunks if isinstance(found, pa.ChunkedArray) else [found]
    return np.concatenate([c.to_numpy() for c in chunks]).astype(np.int64) if chunks else np.zeros(0, dtype=np.int64)


class Reports:
    """The rows of graded events grouped by report, as arrays.

    ``rows``: the positions in ``ae`` of the rows (default: all of them; a subset is read
    through its positions, not copied)."""

    def __init__(self, ae: pd.DataFrame, report: np.ndarray, sets: dict[str, list[int]], rows: np.ndarray | None = None):
        self.n = int(report.max()) + 1 if len(report) else 0
        self.report = report
        self.rows = rows
        self.categories = list(sets)
        self.bits = np.array([_mask(sets[c]) for c in self.categories], dtype=np.int64)
        self.grades = ae["grade"]
        self.category = self._of_rows(_positions(self.grades, self.categories))  # -1: none of them
        self.n_events = self._of_rows(ae["n_events"].to_numpy(dtype=float, na_value=np.nan))
        self.n_evaluable = self._of_rows(ae["n_evaluable"].to_numpy(dtype=float, na_value=np.nan))
        self.usable = ~np.isnan(self.n_events) & ~np.isnan(self.n_evaluable)
        self.id_column = ae["ae_id"]  # read only for the rows a warning names
        self.parts = self._parts()
        self.starts = np.searchsorted(self.parts.report, np.arange(self.n + 1))  # the parts are sorted by report
        self.per_grade = np.array([c != "any" for c in self.categories])  # what a listing sums

    def _of_rows(self, values: np.ndarray) -> np.ndarray:
        return values if self.rows is None else values[self.rows]

    def _parts(self) -> Parts:
        rows = np.flatnonzero(self.usable & (self.category >= 0))
        key = self.report[rows] * len(self.categories) + self.category[rows]
        order = np.argsort(key, kind="stable")  # rows stay in file order within a key
        key, rows = key[order], rows[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
        ends = np.r_[starts[1:], len(key)].astype(np.int64) - 1 if len(key) else starts
        return Parts(key[starts] // len(self.categories), key[starts] % len(self.categories), rows[ends], rows[starts])

    def combine(self, selection: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per report, over its parts in the selected categories: whether they are disjoint and
        share one denominator, the or of their masks, the sum of their events, the denominator."""
        p = self.parts
        keep = selection[p.category]
        report, bits, last = p.report[keep], self.bits[p.category[keep]], p.last[keep]
        union = np.zeros(self.n, dtype=np.int64)
        np.bitwise_or.at(union, report, bits)
        total = np.bincount(report, weights=bits, minlength=self.n).astype(np.int64)
        count = np.bincount(report, minlength=self.n)
        events = np.bincount(report, weights=self.n_events[last], minlength=self.n)
        low, high = np.full(self.n, np.inf), np.full(self.n, -np.inf)
        np.minimum.at(low, report, self.n_evaluable[last])
        np.maximum.at(high, report, self.n_evaluable[last])
        return (count > 0) & (total == union) & (low == high), union, events, low

    @cached_property
    def listing(self) -> tuple[np.ndarray, ...]:
        """``_listing``: per-grade parts covering grades 1..m exactly once, one denominator
        (worked out once: each rule reads it)."""
        ok, union, events, denominator = self.combine(self.per_grade)
        return ok & ((union & 1) == 1) & (((union + 1) & union) == 0), union, events, denominator

    def derive(self, rule: dict[str, Any]) -> Derived:
        """One rule of ``derive`` (as ``_derive_one``), for every report at once."""
        listed, listed_union, listed_events, listed_denominator = self.listing
        if "from_grade" in rule:
            return Derived(listed, listed_events, listed_denominator, np.zeros(self.n, dtype=np.int8), self.per_grade, np.full(self.n, -1))
        covers = _mask(rule["covers"])
        selection = (self.bits & ~covers) == 0
        ok, union, events, denominator = self.combine(selection)
        ok &= union == covers
        out = Derived(ok, np.where(ok, events, 0), np.where(ok, denominator, 0), np.zeros(self.n, dtype=np.int8), selection, np.full(self.n, -1))
        if rule.get("zero_when_any_is_zero"):
            zero = np.flatnonzero(self.usable & self.graded("any") & (self.n_events == 0))
            last = np.full(self.n, -1)
            np.maximum.at(last, self.report[zero], zero)
            use = ~out.exists & (last >= 0)
            out.exists = out.exists | use
            out.n_events[use], out.n_evaluable[use], out.how[use], out.row[use] = 0, self.n_evaluable[last[use]], 1, last[use]
        below = rule.get("zero_when_listing_stops_below")
        if below:
            use = ~out.exists & listed & (listed_union < (1 << (int(below) - 1)))
            out.exists = out.exists | use
            out.n_events[use], out.n_evaluable[use], out.how[use] = 0, listed_denominator[use], 2
        return out

    def graded(self, grade: str) -> np.ndarray:
        """Rows whose grade is ``grade``."""
        if grade in self.categories:
            return self.category == self.categories.index(grade)
        return self._of_rows((self.grades == grade).to_numpy(dtype=bool, na_value=False))

    def ids(self, rows: np.ndarray) -> np.ndarray:
        """The ae_id of ``rows``."""
        return rows_of(self.id_column, rows if self.rows is None else self.rows[rows]).to_numpy(dtype=object, na_value=None)

    def derived_from(self, reports: np.ndarray, derived: Derived) -> list[str]:
        """For each of ``reports``, the ids of the rows its derived value came from, in the order
        ``_last_per_grade`` gives (the order in which each category first appears among the
        report's usable rows), joined by spaces."""
        out = np.empty(len(reports), dtype=object)
        how = derived.how[reports]
        one = how == 1
        out[one] = [str(i) for i in self.ids(derived.row[reports[one]])]
        p = self.parts
        for kind, selection in ((0, derived.selection), (2, self.per_grade)):
            mine = how == kind
            if not mine.any():
                continue
            wanted = np.zeros(self.n, dtype=bool)
            wanted[reports[mine]] = True
            keep = np.flatnonzero(wanted[p.report] & selection[p.category])
            keep = keep[np.lexsort((p.first[keep], p.report[keep]))]
            ids, of = self.ids(p.last[keep]), p.report[keep]
            bounds = np.flatnonzero(np.r_[True, of[1:] != of[:-1], True]) if len(of) else np.zeros(1, dtype=np.int64)
            text = {int(of[a]): " ".join(map(str, ids[a:b])) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())}
            out[mine] = [text.get(int(r), "") for r in reports[mine].tolist()]
        return out.tolist()
