"""Intermediate results shared within one run over one set of tables, each computed once.

`carte build` reads the same analysis rows, arm context, study facts and grades in the grading,
the standard tables, the figures and the site. Inside ``with over(tables):`` each function
decorated with :func:`once` computes its result once per arguments for that tables dict and hands
the same result to every later caller (a frame as a shallow copy: with pandas' copy-on-write,
changing it never changes what the next caller gets). Outside a scope, or for another tables dict
(a filtered copy, say), the functions compute as always; nothing is kept after the scope, so an
edited table is never answered from a stale result. The tables must not be changed in place
inside a scope.
"""

from __future__ import annotations

import functools
from collections import Counter
from contextlib import contextmanager

import pandas as pd

_TABLES: object = None  # the tables dict of the open scope
_MEMO: dict = {}
# (function, arguments) -> times computed in the open scope: 1 each when the sharing works.
COMPUTED: Counter = Counter()


@contextmanager
def over(tables):
    """Share the results of :func:`once` functions over ``tables`` until the block ends
    (nested scopes over the same tables join the outer one)."""
    global _TABLES, _MEMO, COMPUTED
    if tables is _TABLES:
        yield
        return
    saved = _TABLES, _MEMO, COMPUTED
    _TABLES, _MEMO, COMPUTED = tables, {}, Counter()
    try:
        yield
    finally:
        _TABLES, _MEMO, COMPUTED = saved


def _frozen(value):
    """A hashable stand-in for an argument (dicts and lists, such as a rubric, by their content)."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _frozen(v)) for k, v in sorted(value.items(), key=lambda item: repr(item[0]))))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    return value


def _copy(value):
    return value.copy(deep=False) if isinstance(value, (pd.DataFrame, pd.Series)) else value


def once(fn):
    """Compute ``fn(tables, ...)`` once per arguments inside a scope over ``tables`` (see module)."""

    @functools.wraps(fn)
    def shared(tables, *args, **kwargs):
        if tables is not _TABLES or _TABLES is None:
            return fn(tables, *args, **kwargs)
        try:
            key = (fn.__qualname__, _frozen(args), _frozen(kwargs))
            hit = key in _MEMO
        except TypeError:  # unhashable arguments: not shared
            return fn(tables, *args, **kwargs)
        if not hit:
            _MEMO[key] = fn(tables, *args, **kwargs)
            COMPUTED[key] += 1
        return _copy(_MEMO[key])

    return shared


def split(rows: pd.DataFrame, keys: list[str]):
    """A function of the key values giving the rows that hold them (in their order), as
    ``rows[(rows[keys[0]] == a) & ...]`` would, from one grouping of the rows: for selecting the
    rows of each of many analyses."""
    groups = rows.groupby(keys, sort=False).indices
    empty = rows.iloc[:0]
    return lambda *values: rows.iloc[groups[values]] if values in groups else empty
