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
