"""`carte release`: validate, bump the semantic version everywhere it is written, write the
changelog entry and the release zip, all in one step that a crash cannot leave half done."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from carte_evidence.package.problems import ValidationError

VERSION_LINE = re.compile(r"^(  version: )(\d+)\.(\d+)\.(\d+)\s*$", re.M)
# Every other place the version is written (one source: schemas/resources.yaml; the rest follow).
VERSION_FILES = {
    "CITATION.cff": re.compile(r"^(version: )([^\s]+)()[ \t]*$", re.M),
    "src/carte_evidence/__init__.py": re.compile(r'^(__version__ = ")([^"]+)(")[ \t]*$', re.M),
}
DATE_RELEASED = re.compile(r"^(date-released: )([^\s]+)[ \t]*$", re.M)
# Files of the repository root that go into the release zip beside the built package.
ZIP_EXTRAS = ("README.md", "LICENSE-DATA", "CITATION.cff", "CHANGELOG.md")
JOURNAL = ".carte-release.json"
CHANGELOG_HEAD = ("# Changelog\n\nAll notable changes to the carte-evidence data package. Versions follow semantic versioning: "
                  "major = schema change that breaks readers, minor = new records or fields, patch = corrections.\n\n")


def bump(version: str, part: str) -> str:
    """Next semantic version: major (breaking schema change), minor (new records or fields), patch (corrections)."""
    major, minor, patch = (int(x) for x in version.split("."))
    return {"major": f"{major + 1}.0.0", "minor": f"{major}.{minor + 1}.0", "patch": f"{major}.{minor}.{patch + 1}"}[part]


def current_version(root: Path) -> str:
    m = VERSION_LINE.search((Path(root) / "schemas" / "resources.yaml").read_text(encoding="utf-8"))
    if not m:
        raise ValueError("no package version line in schemas/resources.yaml")
    return ".".join(m.groups()[1:])


def versions(root: Path) -> dict[str, str]:
    """The version written in each place of a repository (they must all agree)."""
    root = Path(root)
    found = {"schemas/resources.yaml": current_version(root)}
    package = root / "datapackage" / "datapackage.json"
    if package.exists():
        found["datapackage/datapackage.json"] = str(json.loads(package.read_text(encoding="utf-8")).get("version"))
    for name, pattern in VERSION_FILES.items():
        file = root / name
        if file.exists():
            m = pattern.search(file.read_text(encoding="utf-8"))
            found[name] = m.group(2) if m else "(none)"
    return found


def _previous_release(root: Path, version: str) -> str | None:
    tag = f"v{version}"
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", tag], cwd=root, capture_output=True)
    return tag if found.returncode == 0 else None


def _set_version(text: str, pattern: re.Pattern, version: str) -> str:
    return pattern.sub(lambda m: m.group(1) + version + m.group(3), text, count=1)


def _commit(root: Path, moves: list[tuple[Path, Path]], version: str) -> None:
    """Put every staged file in place: a journal first, so that a run killed half-way is finished
    by the next one (:func:`recover`), then one rename per file."""
    journal = root / JOURNAL
    tmp = journal.with_name(journal.name + ".tmp")
    tmp.write_text(json.dumps({"version": version, "moves": [[str(a), str(b)] for a, b in moves]}), encoding="utf-8")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, journal)
    _replay(journal)


def _replay(journal: Path) -> str:
    data = json.loads(journal.read_text(encoding="utf-8"))
    for staged, target in data["moves"]:
        if Path(staged).exists():
            os.replace(staged, target)
    journal.unlink()
    return data["version"]


def recover(root: str | Path) -> str | None:
    """Finish a release that was killed while its files were being put in place; its version, or None."""
    journal = Path(root) / JOURNAL
    return _replay(journal) if journal.exists() else None


def _stage(target: Path, content: bytes | str) -> Path:
    """Write ``content`` beside ``target`` (same folder: one rename moves it in)."""
    from carte_evidence.package.atomic import temp_beside

    staged = temp_beside(target, directory=False)
    staged.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return staged


def release(root: str | Path = ".", part: str = "patch", since: str | None = None, today: dt.date | None = None,
            figures: bool = True) -> dict:
    """Make a release of the repository at ``root``.

    Validates the package; needs a base to compare with (``since``: a folder or git ref, else the
    git tag ``v<current version>``; without one it refuses). Bumps the version in
    schemas/resources.yaml, datapackage.json, CITATION.cff (and its date) and
    ``src/carte_evidence/__init__.py`` (pyproject.toml reads it), prepends a CHANGELOG.md entry
    written from `carte diff`, and writes ``dist/carte-evidence-<version>.zip`` holding the data,
    the derived tables, the tables and figures, README.md, LICENSE-DATA, CITATION.cff and
    CHANGELOG.md. Everything is prepared beside its target first and put in place in one step; a
    run killed then is completed by the next one (``{"recovered": True}``).
    Returns ``{"version", "previous", "zip", "changes"}``.
    """
    from carte_evidence.maintain.diff import diff, render_diff
    from carte_evidence.outputs.build import build
    from carte_evidence.outputs.owned import output_lock
    from carte_evidence.package.atomic import clean_stale
    from carte_evidence.package.schema import render_datapackage
    from carte_evidence.package.validate import validate

    root = Path(root).resolve()
    with output_lock(root / "CHANGELOG.md"):
        done = recover(root)
        if done is not None:
            return {"version": done, "previous": None, "zip": root / "dist" / f"carte-evidence-{done}.zip", "changes": None, "recovered": True}
        package = root / "datapackage" / "datapackage.json"
        report = validate(package)
        if not report.valid:
            raise ValidationError(report.problems)
        old = current_version(root)
        new = bump(old, part)
        base = since or _previous_release(root, old)
        if base is None:
            raise ValueError(f"no earlier release to compare with: tag it (git tag v{old}) or pass --since REF (a git ref or a package folder)")
        missing = [name for name in ZIP_EXTRAS if name != "CHANGELOG.md" and not (root / name).exists()]
        if missing:
            raise ValueError(f"the release zip needs {', '.join(missing)} at the repository root {root}")
        target_zip = root / "dist" / f"carte-evidence-{new}.zip"
        if target_zip.exists():
            raise ValueError(f"{target_zip} exists already; remove it or choose another --bump")
        date = (today or dt.date.today()).isoformat()
        changes = diff(base, str(package))

        # The new text of every file, in memory.
        texts: dict[Path, str] = {}
        resources = root / "schemas" / "resources.yaml"
        texts[resources] = VERSION_LINE.sub(lambda m: f"{m.group(1)}{new}", resources.read_text(encoding="utf-8"), count=1)
        entry = f"## [{new}] - {date}\n\nCompared with {since or base}.\n\n{render_diff(changes, 'markdown')}\n"
        changelog = root / "CHANGELOG.md"
        text = changelog.read_text(encoding="utf-8") if changelog.exists() else CHANGELOG_HEAD
        head, sep, rest = text.partition("\n## ")
        texts[changelog] = head.rstrip("\n") + "\n\n" + entry + (("## " + rest) if sep else "")
        for name, pattern in VERSION_FILES.items():
            file = root / name
            if file.exists():
                new_text = _set_version(file.read_text(encoding="utf-8"), pattern, new)
                if name == "CITATION.cff":
                    new_text = DATE_RELEASED.sub(lambda m: f"{m.group(1)}{date}", new_text, count=1)
                texts[file] = new_text

        for target in [*texts, package, target_zip]:
            clean_stale(target)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            shutil.copytree(root / "schemas", tmp / "schemas")
            (tmp / "schemas" / "resources.yaml").write_text(texts[resources], encoding="utf-8")
            texts[package] = render_datapackage(tmp / "schemas")
            stage = tmp / "datapackage"
            shutil.copytree(package.parent, stage)
            (stage / "datapackage.json").write_text(texts[package], encoding="utf-8")
            folder = build(stage, tmp / "out" / f"carte-evidence-{new}", figures=figures)
            for name in ZIP_EXTRAS:
                file = root / name
                content = texts.get(file)
                if content is not None:
                    (folder / name).write_text(content, encoding="utf-8")
                elif file.exists():
                    shutil.copyfile(file, folder / name)
            (folder / ".carte-output").unlink(missing_ok=True)
            shutil.rmtree(folder / ".carte-cache", ignore_errors=True)  # the build's fit cache: not data
            archive = Path(shutil.make_archive(str(tmp / f"carte-evidence-{new}"), "zip", root_dir=folder.parent, base_dir=folder.name))
            target_zip.parent.mkdir(parents=True, exist_ok=True)
            moves = [(_stage(target_zip, archive.read_bytes()), target_zip)]
        try:
            moves += [(_stage(file, content), file) for file, content in texts.items()]
        except BaseException:
            for staged, _ in moves:
                staged.unlink(missing_ok=True)
            raise
        _commit(root, moves, new)
    return {"version": new, "previous": old, "zip": target_zip, "changes": len(changes)}
