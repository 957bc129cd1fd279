"""Read the CSV files of a data package into typed pandas DataFrames, reporting every
structural or type problem with its line and column (vectorized: no per-row Python loops)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carte_evidence.package.columns import is_date_field, type_columns  # noqa: F401  (is_date_field: read by triage)
from carte_evidence.package.problems import Problem
from carte_evidence.package.schema import PANDAS_DTYPES

BOM = b"\xef\xbb\xbf"
BLOCK = 1 << 22  # bytes pyarrow parses at once
ROW_BLOCK = 16 << 20  # bytes of CSV :func:`read_blocks` types at once


@dataclass
class ParsedTable:
    """A typed table, with the CSV line of each row (``lines``, aligned with ``frame``)."""

    name: str
    file: str
    frame: pd.DataFrame
    lines: np.ndarray
    problems: list[Problem] = field(default_factory=list)
    readable: bool = True  # False when the file could not be read at all


def _read_header(raw: bytes) -> list[str]:
    end = raw.find(b"\n")
    first = raw[: end if end >= 0 else len(raw)].decode("utf-8", errors="replace").rstrip("\r")  # no copy of the rest
    try:
        return next(csv.reader([first]), [])
    except csv.Error:  # a stray carriage return: the header is then reported as not matching
        return first.split(",")


def _typed_empty(names: list[str], schema: dict[str, Any]) -> pd.DataFrame:
    types = {f["name"]: f.get("type", "string") for f in schema["fields"]}
    return pd.DataFrame({n: pd.Series(dtype=PANDAS_DTYPES.get(types.get(n), "string")) for n in names})


def _is_utf8(raw: bytes) -> bool:
    """Whether the bytes are valid UTF-8, checked by pyarrow without decoding them to a copy."""
    import pyarrow as pa

    offsets = pa.py_buffer(np.array([0, len(raw)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(raw)]).cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _physical_lines(raw: bytes) -> int:
    return raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)


def _record_lines(text: str, width: int) -> tuple[list[int], list[tuple[int, int, str]]]:
    """Start line of every data record that pyarrow keeps, and (line, fields, text) of the others.

    Only used when a quoted value spans lines (pyarrow's row numbers then count records, not lines).
    """
    kept, bad = [], []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for i, record in enumerate(reader):
        if i > 0:
            if len(record) in (0, width):
                kept.append(start)
            else:
                bad.append((start, len(record), ",".join(record)))
        start = reader.line_num + 1
    return kept, bad


def read_table(name: str, path: Path, schema: dict[str, Any], display: str) -> ParsedTable:
    """Read one resource's CSV and type its columns from the Table Schema."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from carte_evidence.package.atomic import UnsafeRead, read_bounded

    names = [f["name"] for f in schema["fields"]]
    problems: list[Problem] = []

    def unreadable() -> ParsedTable:  # built only when needed: typed empty frames cost ~20 ms a table
        return ParsedTable(name, display, _typed_empty(names, schema), np.array([], dtype=int), problems, readable=False)

    if not path.exists():
        problems.append(Problem(display, None, None, None, "file-missing", "the resource's CSV file does not exist", "create it with the header row of the schema"))
        return unreadable()
    try:
        raw = read_bounded(path)
    except UnsafeRead as exc:
        problems.append(Problem(display, None, None, None, "unsafe-file", str(exc).replace(str(path), "the file"), "point the resource at a CSV file of the package"))
        return unreadable()
    except OSError as exc:
        problems.append(Problem(display, None, None, None, "file-unreadable", f"the file cannot be read ({exc.strerror or exc})", "check the file's permissions"))
        return unreadable()
    if raw.startswith(BOM):
        problems.append(Problem(display, 1, None, None, "byte-order-mark", "the file starts with a UTF-8 byte-order mark (BOM), as Excel saves it", "save as 'CSV UTF-8' without BOM, or run `carte fmt`"))
        raw = raw[len(BOM):]
    try:
        if not _is_utf8(raw):
            raw.decode("utf-8")  # raises, with the position of the first bad byte
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        sample = raw[max(0, exc.start - 20): exc.end + 20].decode("utf-8", errors="replace")
        problems.append(Problem(display, line, None, sample, "encoding", "the file is not valid UTF-8 (probably saved as Windows-1252 / Latin-1)", "save the file as 'CSV UTF-8'"))
        return unreadable()
    if not raw or raw.isspace():  # (not raw.strip(): a copy of the file)
        problems.append(Problem(display, 1, None, None, "empty-file", "the file is empty: the header row is missing", "add the header row: " + ",".join(names)))
        return unreadable()

    header = _read_header(raw)
    if len(header) == 1 and len(names) > 1:
        for sep, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in header[0]:
                problems.append(Problem(display, 1, None, header[0][:60], "delimiter", f"the file is {label}-delimited (as Excel saves it in some languages); carte-evidence CSVs are comma-delimited", "save as 'CSV UTF-8 (comma delimited)', or run `carte fmt`"))
                return unreadable()
    missing = [n for n in names if n not in header]
    extra = [h for h in header if h not in names]
    required = {f["name"] for f in schema["fields"] if f.get("constraints", {}).get("required")}
    for n in missing:
        kind = "required column" if n in required else "column"
        problems.append(Problem(display, 1, n, None, "missing-column", f"the {kind} '{n}' is missing from the header", "add the column (it may stay empty unless required)"))
    for h in dict.fromkeys(extra):
        problems.append(Problem(display, 1, h, None, "unknown-column", f"'{h}' is not a field of the '{name}' table", "remove it, or add the field to schemas/fields.yaml and schemas/resources.yaml"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    for h in dupes:
        problems.append(Problem(display, 1, h, None, "duplicate-column", f"the column '{h}' appears more than once in the header", "keep one (check which copy holds the values first)"))
    if dupes:
        return unreadable()
    if not missing and not extra and header != names:
        problems.append(Problem(display, 1, None, None, "column-order", "the columns are not in the schema's order", "run `carte fmt` to reorder them"))

    bad_rows: list[tuple[int, int, str]] = []

    def on_invalid(row):  # called only for malformed rows
        bad_rows.append((row.number, row.actual_columns, row.text))
        return "skip"

    def parse(block_size: int):
        bad_rows.clear()
        return pacsv.read_csv(
            pa.BufferReader(raw),  # zero-copy: io.BytesIO would be copied into the reader
            # one thread: row numbers of the malformed rows
            read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=False, quoted_strings_can_be_null=False,
                check_utf8=False,  # checked above, once for the whole file
            ),
        )

    try:
        try:
            # Blocks of 4 MiB: 3-5x faster on large files than one block of the whole file
            # (same rows and row numbers).
            table = parse(BLOCK)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            if len(raw) < BLOCK:
                raise
            table = parse(max(BLOCK, len(raw) + 1))  # one block: a field of any size (the file is bounded)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        problems.append(Problem(display, None, None, None, "malformed-csv", f"the CSV cannot be parsed ({str(exc).splitlines()[0][:120]})", "check quotes and line breaks inside fields"))
        return unreadable()
    if list(table.column_names) != header:  # e.g. a stray carriage return splits the header row
        problems.append(Problem(display, 1, None, None, "malformed-csv", "the header row cannot be read as one line (a stray line break?)", "check the first line of the file"))
        return unreadable()
    n_rows = table.num_rows
    if _physical_lines(raw) == 1 + n_rows + len(bad_rows):
        # One record per line: the kept rows are lines 2.. minus the skipped ones.
        skipped = np.array(sorted(r[0] for r in bad_rows if r[0] is not None), dtype=int)
        candidate = np.arange(2, n_rows + len(skipped) + 2)
        lines = candidate[~np.isin(candidate, skipped)][:n_rows]
    else:  # a quoted value spans lines: count lines with the csv module
        try:
            kept, bad_rows = _record_lines(raw.decode("utf-8"), len(header))
        except csv.Error:  # e.g. a bare carriage return inside a field
            kept = []
        lines = np.array(kept[:n_rows], dtype=int)
        if len(lines) != n_rows:
            problems.append(Problem(display, None, None, None, "malformed-csv", "the rows cannot be told apart (an unbalanced quote?)", "check quotes and line breaks inside fields"))
            return unreadable()
    del raw  # the bytes are no longer needed: keep the peak memory down
    for number, actual, text in bad_rows:
        if not text.strip():
            problems.append(Problem(display, number, None, None, "blank-row", "the line is blank", "remove it (or run `carte fmt`)"))
        else:
            problems.append(Problem(display, number, None, text[:80], "malformed-row", f"the row has {actual} fields; the header has {len(header)}", "check for an unquoted comma or a missing field"))
    blank = _blank_rows(table)
    for i in np.flatnonzero(blank):
        problems.append(Problem(display, int(lines[i]), None, None, "blank-row", "the row is blank (no value in any column)", "remove it (or run `carte fmt`)"))
    if blank.any():
        table, lines = table.filter(pa.array(~blank)), lines[~blank]
    handed = [table]  # handed over: type_columns frees each column's text once typed
    del table
    typed, type_problems = type_columns(handed.pop(), schema, lines, display)
    problems.extend(type_problems)
    return ParsedTable(name, display, typed, lines, problems)


def _blank_rows(table) -> np.ndarray:
    """Rows whose every value is empty."""
    import pyarrow.compute as pc

    if not table.num_columns:
        return np.zeros(table.num_rows, dtype=bool)
    blank = None
    for column in table.columns:
        empty = pc.equal(column, "")
        blank = empty if blank is None else pc.and_(blank, empty)
    return np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)


class Unblockable(Exception):
    """The file needs :func:`read_table` (one pass over the whole file) to be reported right."""


def read_blocks(name: str, path: Path, schema: dict[str, Any], display: str, size: int | None = None):
    """The typed rows of one resource's CSV, as :func:`read_table` gives them, in blocks of about
    ``size`` bytes of CSV (default ``ROW_BLOCK``): a table's text is never all in memory at once.

    A generator of ParsedTables, one per block, each with its own rows' lines and problems. Only
    for the common case, a readable UTF-8 file with the schema's header and one record per line:
    anything else (a structural problem, a value spanning lines, a blank or malformed row)
    raises :class:`Unblockable`, possibly after some blocks, and the caller reads the file with
    :func:`read_table` instead, which reports it. A type problem of a value is found in its block.
    """
    import stat

    from carte_evidence.package.atomic import MAX_READ_BYTES

    size = size or ROW_BLOCK
    names = [f["name"] for f in schema["fields"]]
    try:  # (stat first: opening a FIFO would wait for a writer)
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_READ_BYTES:
            raise Unblockable
        handle = open(path, "rb")
    except OSError:
        raise Unblockable from None
    with handle:
        head = handle.read(size)
        end = head.find(b"\n")
        if end < 0 or head.startswith(BOM) or b'"' in head[:end]:
            raise Unblockable
        if _read_header(head) != names:  # a header problem: reported by read_table
            raise Unblockable
        # One buffer for the whole file, refilled in place: each block is parsed from a view of
        # it (no copy of the bytes, no fresh memory per block); only a cut line is moved.
        buf = bytearray(head[end + 1:])
        filled, line, total, eof = len(buf), 2, len(head), False
        del head
        while filled or not eof:
            if not eof and (filled < size or buf.rfind(b"\n", 0, filled) < 0):
                # Up to a block (a line longer than a block: a block more), and no more room than
                # the rest of the file needs (+1 byte, to see its end).
                want = min(size - filled if filled < size else size, max(info.st_size - total, 0) + 1)
                if len(buf) - filled < want:
                    buf.extend(bytes(filled + want - len(buf)))
                with memoryview(buf) as view:
                    read = handle.readinto(view[filled:filled + want])
                eof, filled, total = not read, filled + read, total + read
                if total > MAX_READ_BYTES:
                    raise Unblockable
                continue
            cut = filled if eof else buf.rfind(b"\n", 0, filled) + 1
            lines = buf.count(b"\n", 0, cut) + (buf[cut - 1] != 0x0A)
            with memoryview(buf) as view, view[:cut] as block:
                piece = _typed_block(name, block, schema, names, display, line, lines)
            buf[: filled - cut] = buf[cut:filled]  # (the start of the next block's first line)
            filled -= cut
            line += len(piece.lines)
            yield piece
            del piece  # (not held while the next block is read)


def _typed_block(name: str, block, schema: dict[str, Any], names: list[str], display: str, line: int, lines: int) -> ParsedTable:
    """One block of whole lines (``lines`` physical lines, starting at ``line``; ``block``: its
    bytes, or a view of them, which the typed rows do not keep) read and typed, or
    :class:`Unblockable`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not _is_utf8(block):
        raise Unblockable
    bad: list = []

    def on_invalid(row):
        bad.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(block),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=BLOCK, column_names=names),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in names}, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False, check_utf8=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise Unblockable from None
    n = table.num_rows
    # One record per line, none malformed or blank, and no value running to the block's end (a
    # quote left open there swallows the rest: its value would end in a line break).
    if bad or lines != n or not n or _ends_open(table) or _blank_rows(table).any():
        raise Unblockable
    lines = np.arange(line, line + n)
    typed, problems = type_columns(table, schema, lines, display)
    return ParsedTable(name, display, typed, lines, problems)


def _ends_open(table) -> bool:
    """Whether a value of the last row holds a line break (a quoted value that did not close)."""
    last = table.slice(table.num_rows - 1)
    return any(("\n" in (v or "")) or ("\r" in (v or "")) for v in last.to_pylist()[0].values())
