"""Shared fixtures: the real package, and a small hand-built package to break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "datapackage"
MINI = Path(__file__).parent / "fixtures" / "mini"
VOCABULARIES = ("diseases", "measures", "events", "registries")


def make_package(dest: Path, tables: Path = MINI) -> Path:
    """A package in ``dest``: the real descriptor and vocabularies, plus the given tables."""
    (dest / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(REAL / "datapackage.json", dest / "datapackage.json")
    for name in VOCABULARIES:
        shutil.copy(REAL / "data" / f"{name}.csv", dest / "data")
    for csv in tables.glob("*.csv"):
        shutil.copy(csv, dest / "data")
    return dest


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A valid hand-built package (tests/fixtures/mini) in a temporary folder."""
    return make_package(tmp_path / "mini")


def edit(path: Path, old: str, new: str) -> None:
    """Replace one occurrence of ``old`` in a file (it must be there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    """The evidence site of the real package, built once per test session (tests/test_site*.py)."""
    from carte_evidence import load
    from carte_evidence.outputs.site import build_site

    return build_site(load(REAL), tmp_path_factory.mktemp("site") / "site", package=REAL / "datapackage.json")


@pytest.fixture(scope="session")
def real_tables() -> dict:
    """The shipped package's tables, loaded once per test session (read them, never modify)."""
    from carte_evidence import load

    return load(REAL)
