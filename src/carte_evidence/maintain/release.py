"""`carte release`: validate, bump the semantic version, write the changelog entry, zip the build."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from carte_evidence.package.problems import ValidationError

VERSION_LINE = re.compile(r"^(  version: )(\d+)\.(\d+)\.(\d+)\s*$", re.M)


def bump(version: str, part: str) -> str:
    """Next semantic version: major (breaking schema change), minor (new records or fields), patch (corrections)."""
    major, minor, patch = (int(x) for x in version.split("."))
    return {"major": f"{major + 1}.0.0", "minor": f"{major}.{minor + 1}.0", "patch": f"{major}.{minor}.{patch + 1}"}[part]


def current_version(root: Path) -> str:
    m = VERSION_LINE.search((root / "schemas" / "resources.yaml").read_text(encoding="utf-8"))
    if not m:
        raise ValueError("no package version line in schemas/resources.yaml")
    return ".".join(m.groups()[1:])


def _previous_release(root: Path, version: str) -> str | None:
    tag = f"v{version}"
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", tag], cwd=root, capture_output=True)
    return tag if found.returncode == 0 else None


def release(root: str | Path = ".", part: str = "patch", since: str | None = None, today: dt.date | None = None) -> dict:
    """Make a release of the repository at ``root``.

    Validates the package, bumps ``package.version`` in schemas/resources.yaml, regenerates
    datapackage.json, prepends a CHANGELOG.md entry written from `carte diff` against the last
    release (``since``, else the git tag ``v<old version>``, else everything is new), and writes
    ``dist/carte-evidence-<version>.zip``. On any failure the files are restored.
    Returns ``{"version", "previous", "zip", "changes"}``.
    """
    from carte_evidence.outputs.build import build
    from carte_evidence.maintain.diff import diff, render_diff
    from carte_evidence.package.schema import render_datapackage
    from carte_evidence.package.validate import validate

    root = Path(root).resolve()
    package = root / "datapackage" / "datapackage.json"
    report = validate(package)
    if not report.valid:
        raise ValidationError(report.problems)
    old = current_version(root)
    new = bump(old, part)
    touched = [root / "schemas" / "resources.yaml", package, root / "CHANGELOG.md"]
    backup = {p: p.read_bytes() if p.exists() else None for p in touched}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = since or _previous_release(root, old)
            if base is None:  # first release: compare with an empty package of the same shape
                empty = Path(tmp) / "empty"
                (empty / "data").mkdir(parents=True)
                shutil.copy(package, empty / "datapackage.json")
                base = str(empty)
            changes = diff(base, str(package))
        resources = root / "schemas" / "resources.yaml"
        resources.write_text(VERSION_LINE.sub(lambda m: f"{m.group(1)}{new}", resources.read_text(encoding="utf-8"), count=1), encoding="utf-8")
        package.write_text(render_datapackage(root / "schemas"), encoding="utf-8")
        date = (today or dt.date.today()).isoformat()
        entry = f"## [{new}] - {date}\n\n{'Compared with ' + since if since else 'Compared with the previous release'}.\n\n{render_diff(changes, 'markdown')}\n"
        changelog = root / "CHANGELOG.md"
        text = changelog.read_text(encoding="utf-8") if changelog.exists() else "# Changelog\n\nAll notable changes to the carte-evidence data package. Versions follow semantic versioning: major = schema change that breaks readers, minor = new records or fields, patch = corrections.\n\n"
        head, sep, rest = text.partition("\n## ")
        changelog.write_text(head.rstrip("\n") + "\n\n" + entry + (("## " + rest) if sep else ""), encoding="utf-8")
        dist = root / "dist"
        dist.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dist) as tmp:
            folder = build(package, Path(tmp) / f"carte-evidence-{new}", figures=False)
            archive = shutil.make_archive(str(Path(tmp) / f"carte-evidence-{new}"), "zip", root_dir=folder.parent, base_dir=folder.name)
            target = dist / f"carte-evidence-{new}.zip"
            shutil.move(archive, target)
    except BaseException:
        for p, content in backup.items():
            if content is None:
                p.unlink(missing_ok=True)
            else:
                p.write_bytes(content)
        raise
    return {"version": new, "previous": old, "zip": target, "changes": len(changes)}
