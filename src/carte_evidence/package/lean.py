"""A validation that keeps only the columns its checks across rows read (``validate(keep=...)``).

Each table is read in row blocks (:func:`parse.read_blocks`). The checks that read nothing but
their cell (the Table Schema's type, required, enum, pattern and range constraints, and the
formula rule) run on each block's other columns, which are then dropped; the kept columns of
the blocks are joined into one table. The problems are the same as a whole-table validation's;
the memory is a fraction: a table's text is never all in memory, and only the columns that
keys, cross-field rules and the quote rule read outlive their block.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from carte_evidence.package import integrity, provenance, rules
from carte_evidence.package.failures import pandera_problems
from carte_evidence.package.parse import ParsedTable, Unblockable, read_blocks, read_table
from carte_evidence.package.problems import ProblemTable
from carte_evidence.package.schema import anything_to_check, primary_key, row_verdicts, screened_specs
from carte_evidence.package.threads import release_memory


FREED_AFTER_MS = 5  # how long arrow keeps freed memory for reuse before handing it back


def return_freed_memory() -> None:
    """Have arrow hand memory back to the system soon after it is freed (jemalloc with a short
    decay; arrow's default allocator keeps it for reuse): for a process that validates a large
    package in low memory, where the blocks free as much as they take. A few milliseconds, not
    none: the next block reuses what the last one freed instead of asking the system for fresh
    pages, which costs more on some machines than the parsing (0 ms at 10^6 rows: 1.2x the time,
    3% less memory). Where arrow was built without jemalloc, nothing changes."""
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(FREED_AFTER_MS)
    except (NotImplementedError, pa.ArrowException):  # (no jemalloc in this build)
        pass


class _Block(NamedTuple):
    """What a block of rows leaves once checked."""

    kept: dict  # its kept columns, by name
    lines: np.ndarray
    found: ProblemTable  # its problems: of type, and of its dropped columns' cells
    readable: bool
    verdicts: list  # the kept columns' row checks (schema.row_verdicts)
    quotes: integrity.QuoteBlock | None  # what the quote rule finds in it


class _Unusable(Exception):
    """The schema of the dropped columns cannot be built: the whole-table validation reports it."""


def kept_columns(descriptor: dict, keep: dict | None = None) -> dict[str, set[str]] | None:
    """The columns each table keeps: its keys and unique columns, the foreign keys' columns, the
    columns the cross-field rules read, those that tell the arms of case reports (the quote
    rule's one look across tables), and ``keep`` (table -> columns the caller needs). None when
    the descriptor is too malformed to tell (every column is kept)."""
    keep = keep or {}
    ids = rules.encoded_columns(descriptor)
    out: dict[str, set[str]] = {}
    try:
        names = [res["name"] for res in descriptor["resources"]]
        if len(set(names)) != len(names):
            return None
        for res in descriptor["resources"]:
            name, schema = res["name"], res["schema"]
            key = primary_key(schema)
            unique = {f["name"] for f in schema["fields"] if (f.get("constraints") or {}).get("unique")}
            out[name] = {*ids.get(name, ()), *rules.COLUMNS_READ.get(name, ()), *provenance.CASE_REPORT_COLUMNS.get(name, ()),
                         *key, *unique, *keep.get(name, ())}
    except (KeyError, TypeError, AttributeError):  # a malformed descriptor: reported elsewhere
        return None
    return out


def split(res: dict, kept: set[str]) -> tuple[dict, dict] | None:
    """(the resource with only its kept fields, a resource of the others alone), or None when its
    fields cannot be told apart."""
    try:
        fields = res["schema"]["fields"]
        names = [f["name"] for f in fields]
    except (KeyError, TypeError):
        return None
    if len(set(names)) != len(names):
        return None
    kept_res = {**res, "schema": {**res["schema"], "fields": [f for f in fields if f["name"] in kept]}}
    rest_res = {"name": res["name"], "path": res.get("path"), "schema": {"fields": [f for f in fields if f["name"] not in kept]}}
    return kept_res, rest_res


def read_checked(res: dict, file: Path, display: str, parts: tuple[dict, dict], reviewed: set | None = None,
                 later: frozenset = frozenset()) -> tuple[ParsedTable, ProblemTable, list, list] | None:
    """One table read block by block, with the problems of its type and of its dropped columns'
    cells, and only its kept columns (see :func:`split`); and each block's verdicts on the kept
    columns' row checks (:func:`schema.row_verdicts`: the kept columns are screened block by
    block too, see :func:`schema.screened_blocks`); and what the quote rule finds in each block
    (:func:`integrity.quote_block`; ``reviewed``: the reviewed numbers). ``later``: kept
    columns whose checks are judged on the whole column instead (see :func:`schema.row_verdicts`).
    None when the dropped
    columns' checks cannot be built: the caller then validates the table whole, which reports
    that."""
    name, schema = res["name"], res["schema"]
    kept_res, rest_res = parts
    fields = {f["name"]: f for f in schema["fields"]}
    try:
        try:
            pieces = [_checked(block, kept_res, rest_res, fields, reviewed, later) for block in read_blocks(name, file, schema, display)]
        except Unblockable:  # (what was read of it is dropped)
            pieces = []
        if not pieces:
            pieces = [_checked(read_table(name, file, schema, display), kept_res, rest_res, fields, reviewed, later)]
    except _Unusable:
        return None
    verdicts, quotes = [piece.verdicts for piece in pieces], [piece.quotes for piece in pieces]
    table = _joined(name, display, pieces, [f["name"] for f in kept_res["schema"]["fields"]])
    return table, ProblemTable.concat([piece.found for piece in pieces]), verdicts, quotes


def _checked(block: ParsedTable, kept_res: dict, rest_res: dict, fields: dict, reviewed: set | None, later: frozenset) -> _Block:
    """One block checked: its dropped columns' cells, its kept columns' row checks, the quote rule."""
    release_memory()  # (the previous block's text, freed: memory for this one's)
    frame = block.frame
    rest = frame[[f["name"] for f in rest_res["schema"]["fields"]]]
    specs = screened_specs(rest_res["schema"], rest)
    own = rules.formula_checks(rest)
    found = ProblemTable.of(block.problems)  # (its type problems first, as a whole table has them)
    if own or anything_to_check(specs):
        schema, unusable = integrity.pandera_schema(rest_res, block.file, own, specs)
        if unusable is not None:
            raise _Unusable
        found = ProblemTable.concat([found, pandera_problems(schema, rest, block, fields)])
    kept = {c: frame[c] for c in frame.columns if c not in rest.columns}
    quotes = integrity.quote_block(block.name, frame, reviewed) if block.name in provenance.CHECKED and block.readable else None
    return _Block(kept, block.lines, found, block.readable, row_verdicts(kept_res["schema"], frame, later), quotes)


def _joined(name: str, display: str, pieces: list[_Block], columns: list[str]) -> ParsedTable:
    """The kept columns of the blocks as one table: a text column's blocks become the chunks of
    one arrow column (no copy), other columns are concatenated one at a time."""
    lines = np.concatenate([piece.lines for piece in pieces]) if pieces else np.array([], dtype=int)
    n = len(lines)
    joined = {}
    for column in columns:
        parts = [piece.kept.pop(column) for piece in pieces]
        joined[column] = _concat(parts)
        del parts
    frame = pd.DataFrame(joined, copy=False) if joined else pd.DataFrame(index=pd.RangeIndex(n))
    frame.index = pd.RangeIndex(n)
    return ParsedTable(name, display, frame, lines, [], readable=all(piece.readable for piece in pieces))


def _concat(parts: list[pd.Series]) -> pd.Series:
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    dtype = parts[0].dtype
    if isinstance(dtype, pd.StringDtype) and all(p.dtype == dtype for p in parts):
        import pyarrow as pa

        chunks = [chunk for p in parts for chunk in p.array._pa_array.chunks]
        return pd.Series(dtype.__from_arrow__(pa.chunked_array(chunks, type=chunks[0].type)), copy=False)
    return pd.concat(parts, ignore_index=True)
