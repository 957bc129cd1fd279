"""Reading a table in row blocks (parse.read_blocks, for `carte validate --low-memory`) gives what
reading it whole gives, or hands the file to the whole read."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from carte_evidence.package.parse import Unblockable, read_blocks, read_table

SCHEMA = {"fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "integer"},
                     {"name": "x", "type": "number"}, {"name": "text", "type": "string"}]}
CELL = st.one_of(st.sampled_from(["", "1", "-0", "2.5", " 3", "abc", "a,b", "1e3", "9999999999999999999", "true"]),
                 st.text(alphabet='ab1,"\n\r ', max_size=6))


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value


@st.composite
def csv_files(draw) -> bytes:
    rows = draw(st.lists(st.lists(CELL, min_size=4, max_size=4), max_size=30))
    raw = draw(st.booleans())  # unquoted: stray quotes, line breaks and commas break rows as they fall
    lines = [",".join(r if raw else [_quoted(v) for v in r]) for r in rows]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = "id,n,x,text" + end + end.join(lines) + draw(st.sampled_from([end, ""]))
    return text.encode()


@settings(max_examples=300, deadline=None)
@given(data=csv_files(), size=st.integers(1, 200))
def test_blocks_are_the_whole_read_or_hand_it_over(tmp_path_factory, data, size):
    path = tmp_path_factory.mktemp("blocks") / "t.csv"
    path.write_bytes(data)
    whole = read_table("t", path, SCHEMA, "t.csv")
    try:
        blocks = list(read_blocks("t", path, SCHEMA, "t.csv", size))
    except Unblockable:
        return  # the caller reads the file whole
    if not blocks:  # no row: the caller reads the file whole (for its typed empty table)
        assert len(whole.frame) == 0
        return
    frame = pd.concat([b.frame for b in blocks], ignore_index=True)
    assert whole.readable and not any(p.rule in ("malformed-row", "blank-row", "malformed-csv") for p in whole.problems)
    assert np.array_equal(np.concatenate([b.lines for b in blocks]), whole.lines)
    # The same problems, and those of one cell in the same order (a block lists its own cells
    # column by column; the report's order is triage's to set).
    by_cell = lambda problems: sorted(problems, key=lambda p: (p.line or 0, p.column or ""))  # noqa: E731  (a stable sort)
    assert by_cell(p for b in blocks for p in b.problems) == by_cell(whole.problems)
    pd.testing.assert_frame_equal(frame, whole.frame, check_exact=True)


def test_a_quoted_line_break_across_blocks_is_handed_over(tmp_path):
    """A block may end inside a quoted value: its value then runs to the block's end, which the
    blocks notice (the file goes to the whole read, which reports the line break)."""
    path = tmp_path / "t.csv"
    path.write_bytes(b'id,n,x,text\na,1,2,"one\ntwo"\nb,2,3,c\n')
    with_break = read_table("t", path, SCHEMA, "t.csv")
    assert [p.rule for p in with_break.problems] == ["line-break"]
    for size in range(1, 40):
        try:
            list(read_blocks("t", path, SCHEMA, "t.csv", size))
        except Unblockable:
            continue
        raise AssertionError(f"blocks of {size} bytes did not hand over a value spanning lines")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=60), st.integers(1, 7), st.booleans())
def test_distinct_values_counted_in_parts_are_all_counted(values, size, large):
    """A long text column's distinct values are counted in parts (less memory at once): the same
    count as over the whole column, for any values, empty ones and chunks."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from carte_evidence.package.schema import _distinct_in_parts

    whole = pa.array(values, pa.large_string() if large else pa.string())
    chunked = pa.chunked_array([whole.slice(i, size) for i in range(0, len(whole), size)] or [whole])
    expected = len(pc.unique(whole.drop_null()))
    assert _distinct_in_parts(whole) == expected
    assert _distinct_in_parts(chunked) == expected
