"""`carte coverage`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, load_or_exit
from .output import ForceOption, FormatOption, OutOption, Format, emit


def coverage(
    path: Optional[Path] = PathArg,
    all_rows: bool = typer.Option(False, "--all", help="List every included study, not only the missing ones."),
    format: Format = FormatOption,
    out: Optional[Path] = OutOption,
    force: bool = ForceOption,
) -> None:
    """Per systematic review: the studies it includes that are missing here."""
    from carte_evidence.analysis.coverage import coverage as run, review_summary

    tables = load_or_exit(path)
    rows = run(tables)
    if not all_rows:
        rows = rows[rows["status"] == "missing"]
    if format is Format.table and out is None:
        summary = review_summary(tables)
        emit(summary, format, title="reviews: included studies listed / present here / missing")
        if summary["listed"].eq(0).any():
            typer.echo("Reviews with listed = 0 have no included-study list recorded (review_includes): coverage cannot be computed for them.")
    emit(rows.reset_index(drop=True), format, out, title="included studies missing here" if not all_rows else "included studies", force=force, command="coverage")
