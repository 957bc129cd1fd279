"""Canonical form of the source CSVs: schema column order, rows sorted by primary key, minimal
quoting, UTF-8 without BOM, LF line endings, no surrounding spaces. Small diffs, few conflicts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from carte_evidence.package.paths import resolve_package


def _sniff_delimiter(header_line: str) -> str:
    return max((",", ";", "\t"), key=header_line.count) if header_line.count(",") == 0 else ","


def canonical_text(text: str, schema: dict) -> str:
    """The canonical CSV text of one table (every value kept, surrounding spaces removed)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    first = text.split("\n", 1)[0]
    rows = list(csv.reader(io.StringIO(text), delimiter=_sniff_delimiter(first)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        rows = [[f["name"] for f in schema["fields"]]]
    header = [h.strip() for h in rows[0]]
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

    With ``check`` nothing is written. Each file is replaced atomically.
    """
    from carte_evidence.package.load import atomic_file

    package = resolve_package(path)
    descriptor = json.loads(package.read_text(encoding="utf-8"))
    changed = []
    for res in descriptor["resources"]:
        file = package.parent / res["path"]
        if not file.exists():
            continue
        raw = file.read_bytes()
        text = raw.decode("utf-8", errors="strict")
        canonical = canonical_text(text, res["schema"])
        if canonical.encode("utf-8") != raw:
            changed.append(file)
            if not check:
                with atomic_file(file) as handle:
                    handle.write(canonical)
    return changed
