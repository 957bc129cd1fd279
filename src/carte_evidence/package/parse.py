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
    try:
        return next(csv.reader([first]), [])
    except csv.Error:  # a stray carriage return: the header is then reported as not matching
        return first.split(",")


# Table Schema types, exactly: an integer has no decimal point or exponent; a number is finite.
INTEGER = r"^[+-]?[0-9]+$"  # ASCII digits only (\d would accept full-width digits)
NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
INT64_MAX = 2**63 - 1
# Words a clinician writes for "not known"; the package's convention is an empty cell.
UNKNOWN_WORDS = ("unknown", "unk", "na", "n/a", "n.a.", "nr", "n.r.", "not reported", "not available", "nd", "?", "-", "--", "none", "missing")
DATE_HINT = "write dates as YYYY-MM-DD, e.g. 2024-03-12 (YYYY-MM or YYYY when the source gives no day)"
MAX_FIELD_CHARS = 1_000_000
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
FULLWIDTH_FORMULA = "^[\uff1d\uff0b\uff0d\uff20]"


def is_date_field(field_def: dict[str, Any]) -> bool:
    """A string field holding dates (its pattern is the YYYY[-MM[-DD]] pattern of fields.yaml)."""
    return str(field_def.get("constraints", {}).get("pattern", "")).startswith(r"^\d{4}(-(0[1-9]|1[0-2])")


def _typed_empty(names: list[str], schema: dict[str, Any]) -> pd.DataFrame:
    types = {f["name"]: f.get("type", "string") for f in schema["fields"]}
    return pd.DataFrame({n: pd.Series(dtype=PANDAS_DTYPES.get(types.get(n), "string")) for n in names})


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
    empty = ParsedTable(name, display, _typed_empty(names, schema), np.array([], dtype=int), readable=False)
    problems: list[Problem] = empty.problems
    if not path.exists():
        problems.append(Problem(display, None, None, None, "file-missing", "the resource's CSV file does not exist", "create it with the header row of the schema"))
        return empty
    try:
        raw = read_bounded(path)
    except UnsafeRead as exc:
        problems.append(Problem(display, None, None, None, "unsafe-file", str(exc).replace(str(path), "the file"), "point the resource at a CSV file of the package"))
        return empty
    except OSError as exc:
        problems.append(Problem(display, None, None, None, "file-unreadable", f"the file cannot be read ({exc.strerror or exc})", "check the file's permissions"))
        return empty
    if raw.startswith(BOM):
        problems.append(Problem(display, 1, None, None, "byte-order-mark", "the file starts with a UTF-8 byte-order mark (BOM), as Excel saves it", "save as 'CSV UTF-8' without BOM, or run `carte fmt`"))
        raw = raw[len(BOM):]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        sample = raw[max(0, exc.start - 20): exc.end + 20].decode("utf-8", errors="replace")
        problems.append(Problem(display, line, None, sample, "encoding", "the file is not valid UTF-8 (probably saved as Windows-1252 / Latin-1)", "save the file as 'CSV UTF-8'"))
        return empty
    if not raw.strip():
        problems.append(Problem(display, 1, None, None, "empty-file", "the file is empty: the header row is missing", "add the header row: " + ",".join(names)))
        return empty

    header = _read_header(raw)
    if len(header) == 1 and len(names) > 1:
        for sep, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in header[0]:
                problems.append(Problem(display, 1, None, header[0][:60], "delimiter", f"the file is {label}-delimited (as Excel saves it in some languages); carte-evidence CSVs are comma-delimited", "save as 'CSV UTF-8 (comma delimited)', or run `carte fmt`"))
                return empty
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
            # one thread: row numbers; one block: a field of any size (the file is bounded) parses
            read_options=pacsv.ReadOptions(use_threads=False, block_size=max(1 << 20, len(raw) + 1)),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        problems.append(Problem(display, None, None, None, "malformed-csv", f"the CSV cannot be parsed ({str(exc).splitlines()[0][:120]})", "check quotes and line breaks inside fields"))
        return empty
    if list(table.column_names) != header:  # e.g. a stray carriage return splits the header row
        problems.append(Problem(display, 1, None, None, "malformed-csv", "the header row cannot be read as one line (a stray line break?)", "check the first line of the file"))
        return empty
    frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype() if t == pa.string() else None)
    if _physical_lines(raw) == 1 + len(frame) + len(bad_rows):
        # One record per line: the kept rows are lines 2.. minus the skipped ones.
        skipped = np.array(sorted(r[0] for r in bad_rows if r[0] is not None), dtype=int)
        candidate = np.arange(2, len(frame) + len(skipped) + 2)
        lines = candidate[~np.isin(candidate, skipped)][: len(frame)]
    else:  # a quoted value spans lines: count lines with the csv module
        try:
            kept, bad_rows = _record_lines(raw.decode("utf-8"), len(header))
        except csv.Error:  # e.g. a bare carriage return inside a field
            kept = []
        lines = np.array(kept[: len(frame)], dtype=int)
        if len(lines) != len(frame):
            problems.append(Problem(display, None, None, None, "malformed-csv", "the rows cannot be told apart (an unbalanced quote?)", "check quotes and line breaks inside fields"))
            return empty
    for number, actual, text in bad_rows:
        if not text.strip():
            problems.append(Problem(display, number, None, None, "blank-row", "the line is blank", "remove it (or run `carte fmt`)"))
        else:
            problems.append(Problem(display, number, None, text[:80], "malformed-row", f"the row has {actual} fields; the header has {len(header)}", "check for an unquoted comma or a missing field"))
    blank = (frame == "").all(axis=1).to_numpy() if len(frame.columns) else np.zeros(len(frame), dtype=bool)
    for i in np.flatnonzero(blank):
        problems.append(Problem(display, int(lines[i]), None, None, "blank-row", "the row is blank (no value in any column)", "remove it (or run `carte fmt`)"))
    frame, lines = frame[~blank].reset_index(drop=True), lines[~blank]
    for n in missing:
        frame[n] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame = frame[names]
    typed, type_problems = _type_columns(frame, schema, lines, display)
    problems.extend(type_problems)
    return ParsedTable(name, display, typed, lines, problems)


def _integers(values: pd.Series, present: np.ndarray):
    """Integer column, invalid mask and overflow mask (Table Schema integer: digits with a sign)."""
    form = values.str.fullmatch(INTEGER).fillna(False).to_numpy()
    digits = values.str.lstrip("+-").str.lstrip("0").str.len().fillna(0).to_numpy()
    overflow = form & (digits >= 19)
    for i in np.flatnonzero(overflow):  # rare: exact check in Python
        overflow[i] = not (-INT64_MAX - 1 <= int(values.iloc[i]) <= INT64_MAX)
    ok = form & ~overflow
    col = values.where(pd.Series(ok, index=values.index)).str.replace(r"^\+", "", regex=True).astype("Int64")
    return col, present & ~ok, overflow


def _numbers(values: pd.Series, present: np.ndarray):
    """Float column and invalid mask (Table Schema number; no inf/nan; overflow to inf refused)."""
    form = values.str.fullmatch(NUMBER).fillna(False).to_numpy()
    num = pd.to_numeric(values.where(pd.Series(form, index=values.index)), errors="coerce").astype("Float64")
    finite = np.isfinite(num.fillna(0).to_numpy(dtype=float))
    ok = form & finite
    return num.where(pd.Series(ok, index=values.index)), present & ~ok


def _type_hint(value: str, ftype: str, field_def: dict[str, Any]) -> str:
    if value.strip().lower() in UNKNOWN_WORDS:
        if field_def.get("constraints", {}).get("required"):
            return "write the number the source gives; this field is required, so a row whose source does not give it cannot be kept"
        return "leave it empty when unknown"
    if ftype == "integer":
        return "write a whole number with digits only, e.g. 12 (no decimal point, no exponent)"
    if ftype == "number":
        return "write a number with a dot for decimals, e.g. 4.5"
    return "write true or false"


def _type_columns(frame: pd.DataFrame, schema: dict[str, Any], lines: np.ndarray, display: str):
    problems: list[Problem] = []
    out = {}
    for f in schema["fields"]:
        name, ftype = f["name"], f["type"]
        text = frame[name].astype("string")
        too_long = (text.str.len() > MAX_FIELD_CHARS).fillna(False).to_numpy()
        for i in np.flatnonzero(too_long):
            problems.append(Problem(display, int(lines[i]), name, str(text.iloc[i])[:60] + "...", "field-too-long", f"the value has {len(text.iloc[i]):,} characters (at most {MAX_FIELD_CHARS:,})", "keep the verbatim sentence only"))
        text = text.mask(pd.Series(too_long, index=text.index))
        stripped = text.str.strip()
        padded = (text != stripped).fillna(False).to_numpy()
        for i in np.flatnonzero(padded):
            problems.append(Problem(display, int(lines[i]), name, str(text.iloc[i]), "whitespace", "the value has leading or trailing spaces", "remove them (or run `carte fmt`)"))
        newline = stripped.str.contains("\n", regex=False).fillna(False).to_numpy()
        for i in np.flatnonzero(newline):
            problems.append(Problem(display, int(lines[i]), name, str(text.iloc[i])[:60], "line-break", "the value contains a line break", "put the value on one line"))
        control = stripped.str.contains(CONTROL, regex=True).fillna(False).to_numpy()
        for i in np.flatnonzero(control):
            problems.append(Problem(display, int(lines[i]), name, repr(str(text.iloc[i])[:60]), "control-character", "the value contains an invisible control character", "retype the value (it was probably pasted from another program)"))
        values = stripped.mask(stripped == "")
        present = values.notna().to_numpy()
        overflow = np.zeros(len(values), dtype=bool)
        if ftype == "integer":
            col, bad, overflow = _integers(values, present)
            msg = "is not a whole number"
        elif ftype == "number":
            col, bad = _numbers(values, present)
            msg = "is not a finite number"
        elif ftype == "boolean":
            known = values.isin(TRUE_VALUES + FALSE_VALUES).fillna(False).to_numpy()
            bad = present & ~known
            col = values.isin(TRUE_VALUES).astype("boolean").mask(~known)
            msg = "is not true or false"
        else:
            bad = np.zeros(len(values), dtype=bool)
            col = values.astype(PANDAS_DTYPES["string"])
            msg = ""
            fullwidth = values.str.contains(FULLWIDTH_FORMULA, regex=True).fillna(False).to_numpy()
            for i in np.flatnonzero(fullwidth):
                problems.append(Problem(display, int(lines[i]), name, str(values.iloc[i]), "formula-prefix", "text starts with a full-width =, +, - or @ and would run as a spreadsheet formula", "rephrase, or put the text in words"))
            if is_date_field(f):
                full = values.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fillna(False)
                real = pd.to_datetime(values.where(full), format="%Y-%m-%d", errors="coerce").notna()
                for i in np.flatnonzero((full & ~real).to_numpy()):
                    problems.append(Problem(display, int(lines[i]), name, str(values.iloc[i]), "date", "the value is not a real calendar date", DATE_HINT))
        for i in np.flatnonzero(bad):
            value = str(values.iloc[i])
            if overflow[i]:
                problems.append(Problem(display, int(lines[i]), name, value, f"type-{ftype}", "the value is too large for an integer (at most 9223372036854775807)", "check the number"))
            else:
                problems.append(Problem(display, int(lines[i]), name, value, f"type-{ftype}", f"the value {msg} ({ftype} expected)", _type_hint(value, ftype, f)))
        out[name] = col.reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame))), problems
