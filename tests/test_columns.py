"""The fast (pyarrow) typing of columns gives exactly what the exact (pandas) path gives on the
whole column: the same typed values and the same problems, in the same order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from carte_evidence.package.columns import _exact_column, type_columns

TRICKY = ["", "0", "-0", "+0", "-0.0", "-.0", "007", "+5", "-5", "12", "12.0", "1.5", ".5", "5.", "+.5", "1e1", "1E5", "1e400", "-1e400",
          "0.1e-400", "inf", "-inf", "nan", "NaN", "Infinity", "unknown", "n/a", "?", "-", "1,5", "12 patients", "0x10", "１２", "٣",
          " 5", "5 ", "\t5", "5\n", "a\nb", "a\x01b", "a\rb", "a\tb", "\u00a05", "5\u2003", "\uff1dx", "=x", "x\uff1d",
          "123456789012345", "1234567890123456", "12345678901234567", "999999999999999999", "9223372036854775807",
          "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "0009223372036854775807", "18446744073709551615",
          "12345678901234567891", "1234567890123456789012345", "0.1234567890123456789", "3.14159265358979323846", "-12.5",
          "true", "false", "True", "FALSE", "1", "yes", " true", "true ",
          "2023-02-28", "2023-02-29", "2024-02-29", "2023-02-31", "2023-13-01", "2023-00-10", "1899-12-31", "2100-01-01",
          "0000-01-01", "9999-12-31", "2023-1-01", "2023", "2023-02", "2023-02-01x", "x" * 30]
FIELDS = [{"name": "c", "type": "integer"}, {"name": "c", "type": "number"}, {"name": "c", "type": "boolean"}, {"name": "c", "type": "string"},
          {"name": "c", "type": "string", "constraints": {"pattern": r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"}}]


def _both(values: list[str], field: dict):
    lines = np.arange(2, len(values) + 2)
    exact, exact_problems = _exact_column(pd.Series(values, dtype="string"), field, lines, "t.csv")
    frame, fast_problems = type_columns(pa.table({"c": pa.array(values, pa.string())}), {"fields": [field]}, lines, "t.csv")
    return exact, exact_problems, frame["c"], fast_problems


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.sampled_from(TRICKY) | st.integers(-10**6, 10**6).map(str)
                       | st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr), min_size=0, max_size=12),
       field=st.sampled_from(FIELDS))
def test_fast_path_equals_exact_path(values, field):
    exact, exact_problems, fast, fast_problems = _both(values, field)
    assert fast_problems == exact_problems
    assert fast.dtype == exact.dtype
    assert [repr(v) for v in fast.tolist()] == [repr(v) for v in exact.tolist()]  # repr: -0.0 differs from 0.0


def test_negative_zero_follows_the_column_as_pandas_does():
    """'-0' is 0.0 beside integers and -0.0 beside decimals (pandas' to_numeric); kept so."""
    assert str(float(_both(["-0", "1"], FIELDS[1])[2].iloc[0])) == "0.0"
    assert str(float(_both(["-0", "1.5"], FIELDS[1])[2].iloc[0])) == "-0.0"


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=3000), common=st.integers(0, 255), share=st.floats(0, 1),
       bounds=st.tuples(st.integers(0, 3000), st.integers(0, 3000)),
       flagged=st.sampled_from(["unsafe", "digit", "numeric", "space", "dot", "all", "none", "random"]), seed=st.integers(0, 2**32 - 1))
def test_flagged_bytes_equal_a_lookup_of_every_byte(data, common, share, bounds, flagged, seed):
    """_flagged (comparisons against the runs of unflagged byte values, then a lookup of the
    candidates) finds exactly the bytes a lookup of every byte finds, for each table of the
    module and random ones, across slice boundaries."""
    from carte_evidence.package import columns

    rng = np.random.default_rng(seed)
    lut = {"unsafe": columns.UNSAFE_BYTES, "digit": columns.NOT_DIGIT, "numeric": columns.NOT_NUMERIC,
           "space": columns.SPACE_BYTES, "dot": columns._lut([ord(".")]), "all": columns._lut(range(256)),
           "none": columns._lut([]), "random": rng.random(256) < 0.1}[flagged]
    raw = np.frombuffer(data, dtype=np.uint8).copy()
    raw[rng.random(len(raw)) < share] = common
    start, stop = sorted(min(b, len(raw)) for b in bounds)
    old_slice, columns.SLICE = columns.SLICE, 7  # small slices: the boundaries are exercised
    try:
        got = columns._flagged(lut, raw, np.array([start, stop]))
    finally:
        columns.SLICE = old_slice
    assert np.array_equal(got, np.flatnonzero(lut[raw[start:stop]]) + start)
