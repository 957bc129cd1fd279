"""Load the data package as validated, typed pandas DataFrames, and write packages atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

from carte_evidence.package.problems import ValidationError


def load(path: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Return the validated tables of a data package, by resource name.

    ``path`` is a datapackage.json or its folder; ``None`` loads ``datapackage/`` of the current
    directory when there is one, else the package shipped with the library. Columns have pandas
    nullable dtypes (``string``, ``Int64``, ``Float64``, ``boolean``); unknown values are ``<NA>``.
    Raises :class:`~carte_evidence.package.problems.ValidationError` listing every problem if the package
    is not valid.
    """
    from carte_evidence.package.validate import validate

    report = validate(path)
    if not report.valid:
        raise ValidationError(report.problems)
    return report.tables


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a table in the canonical CSV form (UTF-8, LF, minimal quoting, empty = unknown)."""
    frame = frame.copy()
    for col in frame.columns:
        if str(frame[col].dtype) == "boolean":
            frame[col] = frame[col].map({True: "true", False: "false"}).astype("string")
    frame.to_csv(path, index=False, lineterminator="\n", na_rep="", encoding="utf-8")


def write_json(data, path: Path) -> None:
    """Write JSON in the canonical form (2-space indent, UTF-8, final newline)."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``target`` only if the block succeeds.

    On any error the temporary folder is removed and ``target`` is left as it was.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(target: str | Path, mode: str = "w") -> Iterator:
    """Open a temporary file beside ``target`` that replaces it only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
