"""The cache of a release folder: a rebuild reuses what the build before it computed.

`carte build` keeps, inside the folder it owns (never elsewhere), ``.carte-cache/fits.json``: the
GLMM fits it used, read back at the start of the next build into ``analysis.summary.FITS``; and
``.carte-cache/figures.json``: the fingerprints of the figures that figures/figures.json does not
list (evidence map, timeline), so that unchanged ones are copied instead of drawn. The fits file
carries the package version, a hash of the statistics code and a checksum of its entries: a cache
written by other code, edited or damaged is ignored (the fits are computed again), never trusted.
The cache is written after the site, so the downloads page does not list it, and a release zip
leaves it out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path

CACHE = Path(".carte-cache") / "fits.json"
FIGURES = Path(".carte-cache") / "figures.json"
FORMAT = 1


def _stamp() -> dict:
    """What the fits depend on besides the counts: the package version and the statistics code."""
    from carte_evidence import __version__
    from carte_evidence.analysis import stats

    code = hashlib.sha256(Path(stats.__file__).read_bytes()).hexdigest()[:16]
    return {"format": FORMAT, "version": __version__, "stats": code}


def _checksum(entries: list) -> str:
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()


def _pooled(data) -> object:
    """A Pooled from its dict; ValueError unless every field is there with its type."""
    from carte_evidence.analysis.stats import Pooled

    names = [f.name for f in fields(Pooled)]
    if not isinstance(data, dict) or sorted(data) != sorted(names):
        raise ValueError("not a fit")
    for f in fields(Pooled):
        value = data[f.name]
        ok = {"str": isinstance(value, str), "int": isinstance(value, int) and not isinstance(value, bool),
              "bool": isinstance(value, bool), "float": isinstance(value, float)}[f.type if isinstance(f.type, str) else f.type.__name__]
        if not ok:
            raise ValueError(f"bad {f.name}")
    return Pooled(**data)


def _counts(values) -> tuple:
    if not isinstance(values, list) or not all(isinstance(v, float) for v in values):
        raise ValueError("bad counts")
    return tuple(values)


def read_fits(folder: str | Path) -> dict:
    """The fits cached in ``folder`` by (events, totals); {} when absent, stale or corrupt."""
    file = Path(folder) / CACHE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("stamp") != _stamp():
            return {}
        entries = data["fits"]
        if not isinstance(entries, list) or data.get("sha256") != _checksum(entries):
            return {}
        out = {}
        for entry in entries:
            k, n = _counts(entry["k"]), _counts(entry["n"])
            if len(k) != len(n):
                return {}
            out[(k, n)] = (_pooled(entry["glmm"]), _pooled(entry["reml"]))
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def seed_fits(folder: str | Path) -> int:
    """Load the cache of ``folder`` into the analysis' fits and start recording which are used;
    returns how many fits were loaded."""
    from carte_evidence.analysis import summary

    cached = read_fits(folder)
    summary.FITS.update(cached)
    summary.FITS_USED.clear()
    return len(cached)


def write_fits(folder: str | Path) -> Path | None:
    """Write the fits used since :func:`seed_fits` into ``folder``'s cache (sorted: same fits, same
    file); returns the file, or None when a fit cannot be written."""
    from carte_evidence.analysis import summary

    entries = [{"k": list(k), "n": list(n), "glmm": glmm.to_dict(), "reml": reml.to_dict()}
               for (k, n), (glmm, reml) in sorted((key, summary.FITS[key]) for key in summary.FITS_USED if key in summary.FITS)]
    try:
        text = json.dumps({"stamp": _stamp(), "sha256": _checksum(entries), "fits": entries}, sort_keys=True) + "\n"
    except (TypeError, ValueError):  # a fit json cannot hold: no cache, the next build fits again
        return None
    file = Path(folder) / CACHE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="utf-8")
    return file


def read_figure_prints(folder: str | Path) -> dict[str, str]:
    """The figure fingerprints kept in ``folder`` ({} when absent or unreadable)."""
    try:
        data = json.loads((Path(folder) / FIGURES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        return {}
    return data


def write_figure_prints(folder: str | Path, prints: dict[str, str]) -> Path:
    file = Path(folder) / FIGURES
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return file
