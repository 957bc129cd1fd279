"""Type the text columns of a table from its Table Schema, reporting every value problem.

Two paths with one result. The fast path works on whole pyarrow columns: a few vectorised
tests mark the values that *might* have a problem (padding, line break, control character, a
value that is not plainly of its type, an implausible date, a very long field); every other value
is typed by a pyarrow cast. The marked values, usually none, go through the exact path (pandas,
the rules of the Table Schema as written below) which reports their problems. So each problem is
found and worded by one piece of code, and the fast path only has to be conservative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from carte_evidence.package.problems import Problem
from carte_evidence.package.schema import FALSE_VALUES, PANDAS_DTYPES, TRUE_VALUES

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


def _picked(values: pd.Series, mask: np.ndarray):
    """(position, value) of the flagged rows, read in one take (not one ``iloc`` per row)."""
    where = np.flatnonzero(mask)
    return zip(where.tolist(), values.iloc[where].tolist()) if len(where) else ()


def _exact_column(text: pd.Series, f: dict[str, Any], lines: np.ndarray, display: str):
    """Typed column and problems of one column of text, value by value as the Table Schema says."""
    problems: list[Problem] = []
    name, ftype = f["name"], f["type"]
    text = text.astype("string")
    too_long = (text.str.len() > MAX_FIELD_CHARS).fillna(False).to_numpy()
    for i, v in _picked(text, too_long):
        problems.append(Problem(display, int(lines[i]), name, str(v)[:60] + "...", "field-too-long", f"the value has {len(v):,} characters (at most {MAX_FIELD_CHARS:,})", "keep the verbatim sentence only"))
    text = text.mask(pd.Series(too_long, index=text.index))
    stripped = text.str.strip()
    padded = (text != stripped).fillna(False).to_numpy()
    for i, v in _picked(text, padded):
        problems.append(Problem(display, int(lines[i]), name, str(v), "whitespace", "the value has leading or trailing spaces", "remove them (or run `carte fmt`)"))
    newline = stripped.str.contains("\n", regex=False).fillna(False).to_numpy()
    for i, v in _picked(text, newline):
        problems.append(Problem(display, int(lines[i]), name, str(v)[:60], "line-break", "the value contains a line break", "put the value on one line"))
    control = stripped.str.contains(CONTROL, regex=True).fillna(False).to_numpy()
    for i, v in _picked(text, control):
        problems.append(Problem(display, int(lines[i]), name, repr(str(v)[:60]), "control-character", "the value contains an invisible control character", "retype the value (it was probably pasted from another program)"))
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
        for i, v in _picked(values, fullwidth):
            problems.append(Problem(display, int(lines[i]), name, str(v), "formula-prefix", "text starts with a full-width =, +, - or @ and would run as a spreadsheet formula", "rephrase, or put the text in words"))
        if is_date_field(f):
            full = values.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fillna(False)
            real = pd.to_datetime(values.where(full), format="%Y-%m-%d", errors="coerce").notna()
            for i, v in _picked(values, (full & ~real).to_numpy()):
                problems.append(Problem(display, int(lines[i]), name, str(v), "date", "the value is not a real calendar date", DATE_HINT))
    for i, v in _picked(values, bad):
        value = str(v)
        if overflow[i]:
            problems.append(Problem(display, int(lines[i]), name, value, f"type-{ftype}", "the value is too large for an integer (at most 9223372036854775807)", "check the number"))
        else:
            problems.append(Problem(display, int(lines[i]), name, value, f"type-{ftype}", f"the value {msg} ({ftype} expected)", _type_hint(value, ftype, f)))
    return col.reset_index(drop=True), problems


# --- the fast path -------------------------------------------------------------------------------
# A value outside these forms is checked by the exact path. Each form is stricter than the exact
# rule it stands for, so a value it accepts has no problem and the same typed value either way.
UNSAFE_CHARS = r"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f]"  # CONTROL plus the line feed
PLAIN_INTEGER = r"^[+-]?[0-9]{1,18}$"  # fits in int64 whatever the digits
# At most 15 digits and no exponent: parsed exactly (correctly rounded) by pyarrow and pandas alike;
# negative zero is left to the exact path (pandas makes it 0.0 or -0.0 depending on the column).
PLAIN_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
PLAIN_NUMBER_BYTES = 16
NEGATIVE_ZERO = r"^-[0.]*$"
DATE_LIKE = r"^[0-9]{4}-"
PLAIN_DATE = r"^(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])$"  # day <= 28: always real
ARROW_TYPES = {"integer": "int64", "number": "float64", "boolean": "bool_"}


def _pandas_dtype(arrow_type):
    import pyarrow as pa

    return {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype()}.get(arrow_type)


def _lut(codes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(codes)] = True
    return table


UNSAFE_BYTES = _lut([*range(0x00, 0x09), 0x0a, 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])  # UNSAFE_CHARS, byte by byte
SPACE_BYTES = _lut([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20])  # ASCII whitespace of utf8_trim_whitespace
NOT_DIGIT = ~_lut(range(0x30, 0x3a))
NOT_NUMERIC = ~_lut([*range(0x30, 0x3a), ord(".")])
SIGN = _lut([ord("+"), ord("-")])
SLICE = 1 << 22  # bytes scanned at once: bounds the temporary arrays


def string_layout(text) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (n + 1; int32 for arrow's ``string``, int64 for ``large_string``) and bytes of a
    string array, without copying them."""
    import pyarrow as pa

    buffers = text.buffers()
    wide = pa.types.is_large_string(text.type) or pa.types.is_large_binary(text.type)
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32, count=text.offset + len(text) + 1)[text.offset:]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


_CLEAR_RUNS: dict[bytes, list[tuple[np.uint8, np.uint8]]] = {}


def _clear_runs(lut: np.ndarray) -> list[tuple[np.uint8, np.uint8]]:
    """The two longest runs of byte values ``lut`` does not flag, as (first, length - 1)."""
    key = lut.tobytes()
    if key not in _CLEAR_RUNS:
        runs, start = [], None
        for b in range(257):
            if b < 256 and not lut[b]:
                start = b if start is None else start
            elif start is not None:
                runs.append((b - start, start))
                start = None
        _CLEAR_RUNS[key] = [(np.uint8(first), np.uint8(size - 1)) for size, first in sorted(runs, reverse=True)[:2]]
    return _CLEAR_RUNS[key]


def _flagged(lut: np.ndarray, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Positions of the bytes flagged in ``lut`` (expected to be rare).

    A byte outside the two longest runs of unflagged values is a candidate (a few vectorised
    comparisons per byte, where a table lookup per byte is about 7 times slower); only the
    candidates are looked up in ``lut``.
    """
    start, stop = int(offsets[0]), int(offsets[-1])
    runs = _clear_runs(lut)
    found = []
    for i in range(start, stop, SLICE):
        part = data[i:min(i + SLICE, stop)]
        candidate = None
        for first, width in runs:
            outside = (part - first) > width  # uint8 arithmetic wraps: one comparison per run
            candidate = outside if candidate is None else candidate & outside
        hits = np.flatnonzero(candidate) if candidate is not None else np.arange(len(part))
        if len(hits):
            found.append(hits[lut[part[hits]]] + i)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _row_of(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return np.searchsorted(offsets, positions, side="right") - 1


def _suspects(text, f: dict[str, Any], ftype: str) -> tuple[np.ndarray, np.ndarray]:
    """The values the exact path must see (a conservative test read from the arrow buffers), and
    the values that are not empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(text)
    offsets, data = string_layout(text)
    length = np.diff(offsets)
    present = length > 0
    suspect = length > MAX_FIELD_CHARS  # bytes >= characters
    suspect[_row_of(_flagged(UNSAFE_BYTES, data, offsets), offsets)] = True
    first = np.where(present, data[np.minimum(offsets[:-1], max(len(data) - 1, 0))] if len(data) else 0, 0x41)
    last = np.where(present, data[np.maximum(offsets[1:] - 1, 0)] if len(data) else 0, 0x41)
    ends = np.flatnonzero((first <= 0x20) | (last <= 0x20))  # (every whitespace byte is <= 0x20)
    suspect[ends] |= SPACE_BYTES[first[ends]] | SPACE_BYTES[last[ends]]
    wide = np.flatnonzero(present & ((first | last) >= 0x80) & ~suspect)  # a non-ASCII first or last character
    if len(wide):
        some = text.take(pa.array(wide))
        suspect[wide] = np.asarray(pc.not_equal(pc.utf8_trim_whitespace(some), some).to_numpy(zero_copy_only=False), dtype=bool)
    if ftype == "integer":
        odd = present & (length - SIGN[first] > 18) | (present & SIGN[first] & (length == 1))
        bad = _flagged(NOT_DIGIT, data, offsets)
        bad = bad[~(np.isin(bad, offsets[:-1]) & SIGN[data[bad]])]  # a sign in first place is fine
        odd[_row_of(bad, offsets)] = True
    elif ftype == "number":
        sign = SIGN[first] & present
        odd = present & (length > PLAIN_NUMBER_BYTES)
        bad = _flagged(NOT_NUMERIC, data, offsets)
        bad_sign = np.isin(bad, offsets[:-1]) & SIGN[data[bad]]
        odd[_row_of(bad[~bad_sign], offsets)] = True
        dots = np.bincount(_row_of(_flagged(_lut([ord(".")]), data, offsets), offsets), minlength=n)
        odd |= (dots > 1) | (present & (length - sign - dots < 1))
        negative = np.flatnonzero(present & (first == ord("-")) & ~odd)
        if len(negative):
            odd[negative] = np.asarray(pc.match_substring_regex(text.take(pa.array(negative)), NEGATIVE_ZERO).to_numpy(zero_copy_only=False), dtype=bool)
    elif ftype == "boolean":
        odd = ~np.asarray(pc.is_in(text, value_set=_bool_words()).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        odd = np.zeros(n, dtype=bool)
        maybe = np.flatnonzero(present & (first == 0xEF))  # the full-width signs start with byte EF
        if len(maybe):
            odd[maybe] = np.asarray(pc.match_substring_regex(text.take(pa.array(maybe)), FULLWIDTH_FORMULA).to_numpy(zero_copy_only=False), dtype=bool)
        if is_date_field(f):
            date_like = pc.and_(pc.match_substring_regex(text, DATE_LIKE), pc.invert(pc.match_substring_regex(text, PLAIN_DATE)))
            odd |= np.asarray(pc.fill_null(date_like, False).to_numpy(zero_copy_only=False), dtype=bool)
    return suspect | (present & odd), present


def _bool_words():
    import pyarrow as pa

    return pa.array(TRUE_VALUES + FALSE_VALUES, pa.string())


def _with_nulls(text, valid: np.ndarray):
    """The string array with nulls where not ``valid``, sharing its offsets and bytes (no copy)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if valid.all() and not text.null_count:
        return text
    if text.offset or text.null_count:
        return pc.if_else(pa.array(valid), text, pa.scalar(None, text.type))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(text.type, len(text), [bitmap, *text.buffers()[1:]], null_count=int(len(valid) - valid.sum()))


def _fast_typed(text, ftype: str, usable: np.ndarray):
    """The typed values of the usable (unsuspected, non-empty) values; null elsewhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = _with_nulls(text, usable)
    if ftype == "integer":
        if pc.any(pc.starts_with(values, "+")).as_py():
            values = pc.replace_substring_regex(values, r"^\+", "")
        return pc.cast(values, pa.int64())
    if ftype == "number":
        return pc.cast(values, pa.float64())
    if ftype == "boolean":
        return pc.if_else(pa.array(usable), pc.is_in(values, value_set=pa.array(TRUE_VALUES, pa.string())), pa.scalar(None, pa.bool_()))
    return values


def _number_context(text, suspect: np.ndarray) -> list:
    """Values to add beside the suspects of a number column so that pandas' ``to_numeric`` sees
    the same kinds of value as in the whole column (its result for some values, e.g. '-0', depends
    on whether the column also holds decimals, negative integers or gaps): one unsuspected
    value of each kind present, and a gap. They are typed and dropped; they have no problem."""
    import re

    import pyarrow.compute as pc

    out: list = []
    form = pc.fill_null(pc.match_substring_regex(text, NUMBER), False)
    if not pc.all(form).as_py():
        out.append(None)
    clean = np.flatnonzero(~suspect & np.asarray(form.to_numpy(zero_copy_only=False), dtype=bool))
    kinds: dict[str, str] = {}
    for value in text.take(clean).to_pylist():  # stops at the first value of each of the 3 kinds
        kind = "int-neg" if re.fullmatch(r"-[0-9]+", value) else "int" if re.fullmatch(r"\+?[0-9]+", value) else "decimal"
        kinds.setdefault(kind, value)
        if len(kinds) == 3:
            break
    return out + list(kinds.values())


def type_columns(table, schema: dict[str, Any], lines: np.ndarray, display: str):
    """Typed DataFrame (columns in the schema's order; absent ones all empty) and the problems."""
    import pyarrow as pa
    import pyarrow.compute as pc

    problems: list[Problem] = []
    arrays, names = [], []
    n = table.num_rows
    text = None
    field_names = [f["name"] for f in schema["fields"]]
    for f in schema["fields"]:
        name, ftype = f["name"], f["type"]
        target = getattr(pa, ARROW_TYPES.get(ftype, "string"))()
        names.append(name)
        if name not in table.column_names:
            arrays.append(pa.nulls(n, target))
            continue
        text = table.column(name).combine_chunks()
        # The column's text is held by ``text`` now: let the table drop it (when the caller handed the
        # table over, its chunks are freed as each column is typed, not all at the end).
        if field_names.count(name) == 1:
            table = table.drop_columns([name])
        suspect, present = _suspects(text, f, ftype)
        usable = ~suspect & present
        typed = _fast_typed(text, ftype, usable)
        rows = np.flatnonzero(suspect)
        if len(rows):
            values = text.take(pa.array(rows)).to_pylist()
            extra = _number_context(text, suspect) if ftype == "number" else []
            sub = pd.Series(values + extra, dtype=pd.StringDtype())
            col, found = _exact_column(sub, f, np.concatenate([lines[rows], np.zeros(len(extra), dtype=int)]), display)
            problems.extend(found)
            replacement = pa.array(col.iloc[: len(rows)], from_pandas=True).cast(target)
            typed = pc.replace_with_mask(typed, pa.array(suspect), replacement)
        arrays.append(typed)
    del table, text  # the last references to the text
    frame = _to_pandas(arrays, names, n)
    return frame, problems


def _to_pandas(arrays: list, names: list[str], n: int) -> pd.DataFrame:
    """The typed arrow columns as a DataFrame of pandas' nullable dtypes, converted one column at a
    time and each arrow column released once converted (as ``Table.to_pandas`` with
    ``_pandas_dtype`` gives them, without holding both copies of the whole table)."""
    if not names:
        return pd.DataFrame(index=pd.RangeIndex(n))
    columns = {}
    for i, name in enumerate(names):
        array, arrays[i] = arrays[i], None
        columns[name] = pd.Series(_pandas_dtype(array.type).__from_arrow__(array), index=pd.RangeIndex(n), name=name, copy=False)
        del array
    frame = pd.DataFrame(columns, copy=False)
    frame.index = pd.RangeIndex(n)
    return frame
