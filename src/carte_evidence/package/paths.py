"""Where the shipped data package and the schema files live.

An installed wheel carries them under ``carte_evidence/_data``; a source checkout (editable
install, tests) reads them from the repository root.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parents[1]  # the carte_evidence folder
_REPO_ROOT = _HERE.parents[1]


def _locate(name: str) -> Path:
    for candidate in (_HERE / "_data" / name, _REPO_ROOT / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"cannot find the shipped '{name}' folder of carte-evidence")


def schemas_dir() -> Path:
    """Folder holding fields.yaml, resources.yaml and grading.yaml."""
    return _locate("schemas")


def shipped_package() -> Path:
    """The datapackage.json shipped with the library."""
    return _locate("datapackage") / "datapackage.json"


def resolve_package(path: str | Path | None = None) -> Path:
    """Turn a CLI/library PATH into the path of a datapackage.json.

    ``None`` means ``datapackage/`` of the current directory when there is one, else the
    package shipped with the library. A folder means the datapackage.json inside it.
    """
    if path is None:
        local = Path.cwd() / "datapackage" / "datapackage.json"
        return local if local.exists() else shipped_package()
    p = Path(path)
    if p.is_dir():
        p = p / "datapackage.json"
    return p
