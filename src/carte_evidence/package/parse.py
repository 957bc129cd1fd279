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

from carte_evidence.package.problems import Problem
from carte_evidence.package.schema import FALSE_VALUES, PANDAS_DTYPES, TRUE_VALUES

BOM = b"\xef\xbb\xbf"


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
    first = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    return next(csv.reader([first]), [])


def read_table(name: str, path: Path, schema: dict[str, Any], display: str) -> ParsedTable:
    """Read one resource's CSV and type its columns from the Table Schema."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f["name"] for f in schema["fields"]]
    empty = ParsedTable(name, display, pd.DataFrame({n: pd.Series(dtype="string") for n in names}), np.array([], dtype=int), readable=False)
    problems: list[Problem] = empty.problems
    if not path.exists():
        problems.append(Problem(display, None, None, None, "file-missing", "the resource's CSV file does not exist", "create it with the header row of the schema"))
        return empty
    raw = path.read_bytes()
    if raw.startswith(BOM):
        problems.append(Problem(display, 1, None, None, "byte-order-mark", "the file starts with a UTF-8 byte-order mark (BOM)", "save as UTF-8 without BOM, or run `carte fmt`"))
        raw = raw[len(BOM):]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(Problem(display, line, None, None, "encoding", "the file is not valid UTF-8", "save the file as UTF-8"))
        return empty
    if not raw.strip():
        problems.append(Problem(display, 1, None, None, "empty-file", "the file is empty: the header row is missing", "add the header row: " + ",".join(names)))
        return empty

    header = _read_header(raw)
    if len(header) == 1 and len(names) > 1:
        for sep, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in header[0]:
                problems.append(Problem(display, 1, None, header[0][:60], "delimiter", f"the file is {label}-delimited; carte-evidence CSVs are comma-delimited", "save as CSV with commas (or run `carte fmt`)"))
                return empty
    missing = [n for n in names if n not in header]
    extra = [h for h in header if h not in names]
    required = {f["name"] for f in schema["fields"] if f.get("constraints", {}).get("required")}
    for n in missing:
        kind = "required column" if n in required else "column"
        problems.append(Problem(display, 1, n, None, "missing-column", f"the {kind} '{n}' is missing from the header", "add the column (it may stay empty unless required)"))
    for h in extra:
        problems.append(Problem(display, 1, h, None, "unknown-column", f"'{h}' is not a field of the '{name}' table", "remove it, or add the field to schemas/fields.yaml and schemas/resources.yaml"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    for h in dupes:
        problems.append(Problem(display, 1, h, None, "duplicate-column", f"the column '{h}' appears more than once in the header", "keep one"))
    if dupes:
        return empty
    if not missing and not extra and header != names:
        problems.append(Problem(display, 1, None, None, "column-order", "the columns are not in the schema's order", "run `carte fmt` to reorder them"))

    bad_rows: list[tuple[int, int, str]] = []

    def on_invalid(row):  # called only for malformed rows
        bad_rows.append((row.number, row.actual_columns, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(use_threads=False),  # row numbers need one thread
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        problems.append(Problem(display, None, None, None, "malformed-csv", f"the CSV cannot be parsed: {exc}", "check quotes and line breaks inside fields"))
        return empty
    for number, actual, text in bad_rows:
        problems.append(Problem(display, number, None, text[:80], "malformed-row", f"the row has {actual} fields; the header has {len(header)}", "check for an unquoted comma or a missing field"))

    frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype() if t == pa.string() else None)
    # Line of each kept row: lines 2.. minus the skipped ones (no quoted newlines allowed).
    skipped = np.array(sorted(r[0] for r in bad_rows if r[0] is not None), dtype=int)
    candidate = np.arange(2, len(frame) + len(skipped) + 2)
    lines = candidate[~np.isin(candidate, skipped)][: len(frame)]
    for n in missing:
        frame[n] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame = frame[names]
    typed, type_problems = _type_columns(frame, schema, lines, display)
    problems.extend(type_problems)
    return ParsedTable(name, display, typed, lines, problems)


def _type_columns(frame: pd.DataFrame, schema: dict[str, Any], lines: np.ndarray, display: str):
    problems: list[Problem] = []
    out = {}
    for f in schema["fields"]:
        name, ftype = f["name"], f["type"]
        text = frame[name].astype("string")
        stripped = text.str.strip()
        padded = (text != stripped).fillna(False).to_numpy()
        for i in np.flatnonzero(padded):
            problems.append(Problem(display, int(lines[i]), name, str(text.iloc[i]), "whitespace", "the value has leading or trailing spaces", "remove them (or run `carte fmt`)"))
        newline = stripped.str.contains("\n", regex=False).fillna(False).to_numpy()
        for i in np.flatnonzero(newline):
            problems.append(Problem(display, int(lines[i]), name, str(text.iloc[i])[:60], "line-break", "the value contains a line break", "put the value on one line"))
        values = stripped.mask(stripped == "")
        present = values.notna().to_numpy()
        if ftype == "integer":
            num = pd.to_numeric(values, errors="coerce")
            ok = num.notna().to_numpy() & (np.mod(num.fillna(0).to_numpy(dtype=float), 1) == 0)
            bad = present & ~ok
            col = num.where(ok).astype("Int64") if len(num) else pd.Series(dtype="Int64")
            rule, msg, hint = "type-integer", "is not a whole number", "write digits only, e.g. 12"
        elif ftype == "number":
            num = pd.to_numeric(values, errors="coerce")
            bad = present & num.isna().to_numpy()
            col = num.astype("Float64")
            rule, msg, hint = "type-number", "is not a number", "write a number with a dot for decimals, e.g. 4.5"
        elif ftype == "boolean":
            known = values.isin(TRUE_VALUES + FALSE_VALUES).fillna(False).to_numpy()
            bad = present & ~known
            col = values.isin(TRUE_VALUES).astype("boolean").mask(~known)
            rule, msg, hint = "type-boolean", "is not true or false", "write true or false"
        else:
            bad = np.zeros(len(values), dtype=bool)
            col = values.astype(PANDAS_DTYPES["string"])
            rule = msg = hint = ""
        for i in np.flatnonzero(bad):
            problems.append(Problem(display, int(lines[i]), name, str(values.iloc[i]), rule, f"the value {msg} ({ftype} expected)", hint))
        out[name] = col.reset_index(drop=True)
    return pd.DataFrame(out), problems
