"""Load the data package as validated, typed pandas DataFrames, and write tables in canonical form."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from carte_evidence.package.atomic import atomic_directory, atomic_file  # noqa: F401  (kept importable from here)
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
