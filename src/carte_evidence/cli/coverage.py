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
    targets: bool = typer.Option(False, "--targets", help="Instead: provenance and depth against the targets of schemas/audit_targets.yaml (ids, secondary sources, CRS/ICANS/efficacy depth, double counting), with what falls short."),
    format: Format = FormatOption,
    out: Optional[Path] = OutOption,
    force: bool = ForceOption,
) -> None:
    """Per systematic review: the studies it includes that are missing here (or, with --targets,
    how far the data meet the provenance and depth targets)."""
    from carte_evidence.analysis.coverage import coverage as run, review_summary

    tables = load_or_exit(path)
    if targets:
        from carte_evidence.analysis.audit import audit

        frame = audit(tables)
        if format is Format.table and out is None:
            import textwrap

            emit(frame.drop(columns=["label", "missing"]), format, title="provenance and depth targets (schemas/audit_targets.yaml)")
            for row in frame.itertuples():
                short = row.missing.split()
                typer.echo(f"\n{row.check}: {row.label}; listed ({len(short)}):" if short else f"\n{row.check}: {row.label}; none listed.")
                if short:
                    typer.echo(textwrap.fill(" ".join(short), width=100, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False))
            return
        emit(frame, format, out, title="provenance and depth targets", force=force, command="coverage")
        return
    rows = run(tables)
    if not all_rows:
        rows = rows[rows["status"] == "missing"]
    if format is Format.table and out is None:
        summary = review_summary(tables)
        emit(summary, format, title="reviews: included studies listed / present here / missing")
        if summary["listed"].eq(0).any():
            typer.echo("Reviews with listed = 0 have no included-study list recorded (review_includes): coverage cannot be computed for them.")
    emit(rows.reset_index(drop=True), format, out, title="included studies missing here" if not all_rows else "included studies", force=force, command="coverage")
