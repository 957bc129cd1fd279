"""Compare two versions of the data package, record by record and field by field."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pandas as pd

from carte_evidence.package.paths import resolve_package


def _read(package: Path) -> dict[str, tuple[list[str], dict[str, dict[str, str]]]]:
    """Each resource as (key columns, {key: row}) with raw string values."""
    descriptor = json.loads(package.read_text(encoding="utf-8"))
    out = {}
    for res in descriptor["resources"]:
        file = package.parent / res["path"]
        if not file.exists():
            continue
        rows = list(csv.DictReader(io.StringIO(file.read_text(encoding="utf-8-sig"))))
        keys = res["schema"].get("primaryKey") or [res["schema"]["fields"][0]["name"]]
        out[res["name"]] = (keys, {"|".join(r.get(k, "") for k in keys): r for r in rows})
    return out


def _materialize(spec: str, workdir: Path) -> Path:
    """A package path for ``spec``: an existing folder/file, else a git ref of this repository."""
    p = Path(spec)
    if p.exists():
        return resolve_package(p)
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        raise ValueError(f"{spec!r} is neither a folder nor a git ref (not in a git repository)")
    archive = subprocess.run(["git", "archive", "--format=tar", spec, "datapackage"], cwd=top.stdout.strip(), capture_output=True)
    if archive.returncode != 0:
        raise ValueError(f"{spec!r} is neither a folder nor a git ref holding datapackage/: {archive.stderr.decode().strip()}")
    target = workdir / spec.replace("/", "_")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / "datapackage" / "datapackage.json"


def diff(old: str | Path, new: str | Path) -> pd.DataFrame:
    """Records added, removed and changed per table between two package versions.

    ``old`` and ``new`` are package folders / datapackage.json files, or git refs of the current
    repository (e.g. ``v0.1.0``, ``HEAD~3``). One row per added or removed record, and one row per
    changed field of a changed record.
    """
    with tempfile.TemporaryDirectory() as tmp:
        a = _read(_materialize(str(old), Path(tmp)))
        b = _read(_materialize(str(new), Path(tmp)))
    rows = []
    for table in sorted(set(a) | set(b)):
        ka = a.get(table, ([], {}))[1]
        kb = b.get(table, ([], {}))[1]
        for key in sorted(set(kb) - set(ka)):
            rows.append({"table": table, "record": key, "change": "added", "field": None, "old": None, "new": None})
        for key in sorted(set(ka) - set(kb)):
            rows.append({"table": table, "record": key, "change": "removed", "field": None, "old": None, "new": None})
        for key in sorted(set(ka) & set(kb)):
            ra, rb = ka[key], kb[key]
            for field in list(dict.fromkeys([*ra, *rb])):
                va, vb = ra.get(field, ""), rb.get(field, "")
                if va != vb:
                    rows.append({"table": table, "record": key, "change": "changed", "field": field, "old": va, "new": vb})
    return pd.DataFrame(rows, columns=["table", "record", "change", "field", "old", "new"])


def render_diff(frame: pd.DataFrame, fmt: str = "text") -> str:
    """The diff as text, Markdown (a changelog section) or JSON."""
    if fmt == "json":
        return frame.astype(object).where(frame.notna(), None).to_json(orient="records", indent=2, force_ascii=False)
    if frame.empty:
        return "No changes.\n"
    lines = []
    for table, sub in frame.groupby("table", sort=True):
        added = sub[sub["change"] == "added"]["record"].tolist()
        removed = sub[sub["change"] == "removed"]["record"].tolist()
        changed = sub[sub["change"] == "changed"]
        if fmt == "markdown":
            lines.append(f"### {table}\n")
            lines += [f"- added `{r}`" for r in added]
            lines += [f"- removed `{r}`" for r in removed]
            for record, fields in changed.groupby("record", sort=True):
                parts = ", ".join(f"{f['field']}: `{f['old']}` -> `{f['new']}`" for _, f in fields.iterrows())
                lines.append(f"- changed `{record}`: {parts}")
            lines.append("")
        else:
            lines.append(f"{table}: {len(added)} added, {len(removed)} removed, {changed['record'].nunique()} changed")
            lines += [f"  + {r}" for r in added]
            lines += [f"  - {r}" for r in removed]
            for _, f in changed.iterrows():
                lines.append(f"  ~ {f['record']}.{f['field']}: {f['old']!r} -> {f['new']!r}")
    return "\n".join(lines) + "\n"
