"""`carte build` caches its GLMM fits (and figure fingerprints) in the release folder and uses
them on the next build; a corrupt, edited or stale cache is ignored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from carte_evidence import build
from carte_evidence.analysis import summary
from carte_evidence.outputs import build_cache
from carte_evidence.outputs.build_cache import CACHE, read_fits

from conftest import make_package


@pytest.fixture
def fits_computed(monkeypatch):
    """Count the GLMM fits actually computed (the in-process cache is emptied first)."""
    monkeypatch.setattr(summary, "FITS", {})
    calls = []
    real = summary.glmm_logit

    def counted(k, n):
        calls.append((tuple(k), tuple(n)))
        return real(k, n)

    monkeypatch.setattr(summary, "glmm_logit", counted)
    return calls


@pytest.fixture(scope="module")
def first_build(tmp_path_factory):
    """The mini package and its first build (from an empty fit cache), with the fits it computed."""
    root = tmp_path_factory.mktemp("fits")
    package = make_package(root / "mini")
    saved = dict(summary.FITS)
    summary.FITS.clear()
    dist = build(package, root / "dist", figures=False)
    computed = len(summary.FITS)
    summary.FITS.update(saved)
    return package, dist, computed


@pytest.fixture
def dist(first_build, tmp_path):
    """A copy of the first build, to rebuild over."""
    return shutil.copytree(first_build[1], tmp_path / "dist")


def _tables(dist: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((dist / "tables").glob("*.csv"))}


def _cache(dist: Path) -> dict:
    return json.loads((dist / CACHE).read_text(encoding="utf-8"))


def _write_cache(dist: Path, data: dict, fix_checksum: bool = True) -> None:
    if fix_checksum:
        data["sha256"] = build_cache._checksum(data["fits"])
    (dist / CACHE).write_text(json.dumps(data), encoding="utf-8")


def test_rebuild_uses_the_cached_fits(first_build, dist, fits_computed):
    package, _, computed = first_build
    assert computed, "the mini package pools at least one set of 2 studies"
    assert len(read_fits(dist)) == computed == len(_cache(dist)["fits"])
    tables = _tables(dist)
    build(package, dist, figures=False)  # a fresh in-process cache: only the disk cache can spare the fits
    assert fits_computed == []
    assert _tables(dist) == tables
    assert len(read_fits(dist)) == computed  # the rebuild keeps the cache for the next one


def test_the_cached_numbers_are_the_ones_reported(first_build, dist, fits_computed):
    """A cache whose checksum matches is trusted: its numbers reach the tables (so it is read)."""
    data = _cache(dist)
    data["fits"][0]["reml"]["estimate"] = 0.123456789
    _write_cache(dist, data)
    build(first_build[0], dist, figures=False)
    assert any(b"0.123456789" in content for content in _tables(dist).values())


@pytest.mark.parametrize("damage", ["not json", "truncated", "edited", "stale version", "other statistics code", "wrong types"])
def test_a_corrupt_or_stale_cache_is_ignored(first_build, dist, fits_computed, damage):
    package, _, computed = first_build
    tables = _tables(dist)
    data = _cache(dist)
    file = dist / CACHE
    if damage == "not json":
        file.write_bytes(b"\x00\xffgarbage")
    elif damage == "truncated":
        file.write_text(file.read_text(encoding="utf-8")[:200], encoding="utf-8")
    elif damage == "edited":  # a number changed by hand: the checksum no longer matches
        data["fits"][0]["reml"]["estimate"] = 0.123456789
        _write_cache(dist, data, fix_checksum=False)
    elif damage == "stale version":
        data["stamp"]["version"] = "0.0.0-old"
        _write_cache(dist, data)
    elif damage == "other statistics code":
        data["stamp"]["stats"] = "0" * 16
        _write_cache(dist, data)
    elif damage == "wrong types":
        data["fits"][0]["glmm"]["k"] = "two"
        _write_cache(dist, data)
    assert read_fits(dist) == {}
    build(package, dist, figures=False)
    assert len(fits_computed) == computed  # every fit computed again
    assert _tables(dist) == tables
    assert len(read_fits(dist)) == computed  # and a sound cache written in its place


def test_the_cache_is_not_a_release_file(dist):
    """It lives in the folder the build owns, and the downloads page does not list it."""
    assert (dist / CACHE).is_file()
    downloads = (dist / "site" / "downloads.html").read_text(encoding="utf-8")
    assert "fits.json" not in downloads and "datapackage.json" in downloads


def test_unchanged_evidence_map_is_copied_changed_one_redrawn(mini, tmp_path):
    from conftest import edit

    dist = build(mini, tmp_path / "dist")
    drawn = (dist / "figures" / "evidence-map.png").read_bytes()
    (dist / "figures" / "evidence-map.png").write_bytes(b"the earlier build's file")
    build(mini, dist)  # same inputs: the earlier file is copied, not drawn again
    assert (dist / "figures" / "evidence-map.png").read_bytes() == b"the earlier build's file"
    (dist / "figures" / "evidence-map.png").write_bytes(b"the earlier build's file")
    (dist / build_cache.FIGURES).write_text("{not json", encoding="utf-8")
    build(mini, dist)  # no usable fingerprints: drawn
    assert (dist / "figures" / "evidence-map.png").read_bytes() == drawn
    edit(mini / "data" / "arms.csv", ",10,1 x 10^6 cells/kg,Flu/Cy,30,20,45,8,,12,24,one-2024-b,abstract,Ten patients", ",11,1 x 10^6 cells/kg,Flu/Cy,30,20,45,8,,12,24,one-2024-b,abstract,Eleven (11) patients")
    build(mini, dist)  # other patients treated: drawn again
    assert (dist / "figures" / "evidence-map.png").read_bytes() != drawn
