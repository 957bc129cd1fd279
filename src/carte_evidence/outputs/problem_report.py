"""Render validation problems as text, JSON or GitHub Actions annotations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from carte_evidence.package.problems import COLUMN, FILE, HINT, LINE, MESSAGE, VALUE, ProblemTable, column_part, tail_part, value_part


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_problems(problems, fmt: str = "text", base: Path | None = None) -> str:
    """The problems in one of the formats of `carte validate --format`.

    ``problems``: a list of Problems or a ProblemTable. ``base`` is prefixed to file paths in
    GitHub annotations so they point into the repository.
    """
    if fmt not in ("json", "github"):
        return render_text(problems).decode("utf-8")
    if isinstance(problems, ProblemTable):
        problems = problems.to_list()
    if fmt == "json":
        return json.dumps([p.to_dict() for p in problems], indent=2, ensure_ascii=False)
    lines = []
    for p in problems:  # github
        file = str(base / p.file) if base else p.file
        where = f"file={file}" + (f",line={p.line}" if p.line else "")
        title = f"{p.rule}" + (f" in {p.column}" if p.column else "")
        msg = p.message + (f" (value {p.value!r})" if p.value else "") + (f". Hint: {p.hint}" if p.hint else "")
        lines.append(f"::error {where},title={_gh_escape(title)}::{_gh_escape(msg)}")
    return "\n".join(lines)


def render_text(problems) -> bytes:
    """The text report, UTF-8: one line per problem (:func:`~carte_evidence.package.problems.text`),
    then the count; or the line that says the package is valid.

    Made a column at a time, as bytes (a report of every row of a large package is hundreds of
    thousands of lines): the column, value and message-and-hint parts are worded once per
    distinct value by the functions that word a single problem, and pyarrow joins the parts of
    each line and the lines (a test holds each line equal to ``str(problem)``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = problems if isinstance(problems, ProblemTable) else ProblemTable.of(problems)
    if not len(table):
        return b"valid: no problems found."

    def text(values) -> "pa.Array":
        return pa.array(values, type=pa.large_string())

    def worded(field: int, word) -> "pa.Array":
        codes, distinct = table.codes(field)
        return text([word(v) for v in distinct]).take(pa.array(codes))

    files = worded(FILE, str)
    lines = pa.array(table.columns[LINE], type=pa.int64(), from_pandas=True)
    where = pc.if_else(pc.is_null(lines), files, pc.binary_join_element_wise(files, lines.cast(pa.large_string()), text([":"])[0]))
    messages, hints = table.codes(MESSAGE), table.codes(HINT)
    pairs, pair_of = np.unique(messages[0] * len(hints[1]) + hints[0], return_inverse=True)
    tails = text([tail_part(messages[1][p // len(hints[1])], hints[1][p % len(hints[1])]) for p in pairs.tolist()]).take(pa.array(pair_of.ravel()))
    newline, nothing = text(["\n", ""])
    joined = pc.binary_join_element_wise(where, worded(COLUMN, column_part), worded(VALUE, value_part), tails, newline, nothing)
    _validity, offsets, data = joined.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[joined.offset : joined.offset + len(joined) + 1]
    return b"".join((memoryview(data)[ends[0] : ends[-1]], f"{len(table)} problem(s) found.".encode()))  # (one copy of the text)
