"""Canonical form of the source CSVs: schema column order, rows sorted by primary key, minimal
quoting, UTF-8 without BOM, LF line endings, no surrounding spaces. Small diffs, few conflicts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from carte_evidence.maintain.target import source_package


class FmtError(ValueError):
    """A file that `carte fmt` will not rewrite, because the canonical form would lose data."""


def _sniff_delimiter(header_line: str) -> str:
    return max((",", ";", "\t"), key=header_line.count) if header_line.count(",") == 0 else ","


def canonical_text(text: str, schema: dict, file: str = "the file") -> str:
    """The canonical CSV text of one table (every value kept, surrounding spaces removed).

    Raises :class:`FmtError` (naming the file and line) rather than drop a value: a row with more
    fields than the header, or a header with a duplicated column.
    """
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(first))
    rows, starts, start = [], [], 1
    # Reads are bounded (512 MB) before they get here; the csv module's own 128 kB field limit
    # would otherwise stop a long quote mid-file. Restored afterwards: other readers keep theirs.
    limit = csv.field_size_limit(len(text) + 1)
    try:
        for r in reader:
            if any(cell.strip() for cell in r):
                rows.append(r)
                starts.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FmtError(f"{file}:{reader.line_num}: the CSV cannot be read ({exc}); check the quotes on that line") from None
    finally:
        csv.field_size_limit(limit)
    if not rows:
        rows, starts = [[f["name"] for f in schema["fields"]]], [1]
    header = [h.strip() for h in rows[0]]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise FmtError(f"{file}:1: the header has the column(s) {', '.join(dupes)} more than once; keep one copy of each (fmt would lose the other's values)")
    long = [(line, len(r)) for r, line in zip(rows[1:], starts[1:]) if len(r) > len(header)]
    if long:
        where = ", ".join(f"line {line} has {n} fields" for line, n in long[:5]) + (" ..." if len(long) > 5 else "")
        raise FmtError(f"{file}: the header has {len(header)} fields but {where}; quote values that hold a comma (fmt would drop the extra fields)")
    names = [f["name"] for f in schema["fields"]]
    # Schema columns first, in schema order; unknown columns kept at the end (validation reports them).
    order = names + [h for h in header if h not in names]
    index = {h: i for i, h in enumerate(header)}
    body = []
    for r in rows[1:]:
        body.append([r[index[h]].strip() if h in index and index[h] < len(r) else "" for h in order])
    key = [order.index(k) for k in schema.get("primaryKey", []) if k in order]
    body.sort(key=lambda r: tuple(r[i] for i in key))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(order)
    writer.writerows(body)
    return out.getvalue()


def fmt(path: str | Path | None = None, check: bool = False) -> list[Path]:
    """Rewrite the package's CSVs in canonical form; return the files that were (or would be) changed.

    With ``check`` nothing is written. Every file is checked before any is written (a file that
    would lose data, or is not UTF-8, raises :class:`FmtError` naming it); each is then replaced
    atomically. Without ``path`` it works on ./datapackage/ only, never on the package installed
    with the library (:func:`~carte_evidence.maintain.target.source_package`).
    """
    from carte_evidence.package.atomic import UnsafeRead, atomic_file, read_bounded
    from carte_evidence.package.integrity import descriptor_shape, resource_path, usable_resources

    package = source_package(path, "fmt")
    try:
        descriptor = json.loads(read_bounded(package).decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FmtError(f"{package}: cannot read it ({exc})") from None
    shape = descriptor_shape(descriptor, str(package))
    if shape and not (isinstance(descriptor, dict) and usable_resources(descriptor)):
        raise FmtError(f"{package}: {shape[0].message}; {shape[0].hint}")
    planned = []
    for res in usable_resources(descriptor):
        file, unsafe = resource_path(res, package.parent)
        if unsafe is not None:
            raise FmtError(f"{package}: {unsafe.message}")
        if not file.exists():
            continue
        try:
            raw = read_bounded(file)
        except UnsafeRead as exc:
            raise FmtError(str(exc)) from None
        try:
            text = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise FmtError(f"{file}:{line}: the file is not UTF-8 (probably saved as Windows-1252 / Latin-1); save it as 'CSV UTF-8' and run `carte fmt` again") from None
        canonical = canonical_text(text, res["schema"], str(file))
        if canonical.encode("utf-8") != raw:
            planned.append((file, canonical))
    if not check:
        for file, canonical in planned:
            with atomic_file(file) as handle:
                handle.write(canonical)
    return [file for file, _ in planned]
