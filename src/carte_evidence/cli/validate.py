"""`carte validate`"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import PathArg


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def validate(
    path: Optional[Path] = PathArg,
    format: Format = typer.Option(Format.text, "--format", "-f", help="text, json (a list of problems), or github (Actions annotations)."),
) -> None:
    """Check the data package; report ALL problems with file, line, column, value and a hint.

    Exit 0 if valid, 1 if not.
    """
    import gc

    gc.disable()  # for the whole command, imports and warnings too (see package.validate.gc_paused)
    try:
        _validate(path, format)
    finally:
        gc.enable()


def _validate(path: Optional[Path], format: Format) -> None:
    from carte_evidence.outputs.problem_report import render_problems
    from carte_evidence.package.validate import validate as run

    report = run(path)

    base = report.package.parent
    try:
        base = base.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    override_problems = _override_problems(report.tables) if report.valid else []
    if override_problems:
        # the overrides file is part of the grading rules: a broken one fails validation too
        typer.echo("\n".join(f"schemas/{p}" for p in override_problems), err=format is Format.text)
        raise typer.Exit(1)
    typer.echo(render_problems(report.problems, format.value, base=base))
    if report.valid and format is Format.text:
        _warn_harmonisation(report.tables)
    raise typer.Exit(0 if report.valid else 1)


def _override_problems(tables) -> list[str]:
    """Problems of schemas/certainty_overrides.csv (checked only when it holds overrides: the
    check needs every analysis of the plan, which takes seconds)."""
    from carte_evidence.analysis.grading import check_overrides, evidence_certainty, load_overrides, load_rubric

    overrides = load_overrides()
    if overrides.empty:
        return []
    rubric = load_rubric()
    return check_overrides(evidence_certainty(tables, rubric, overrides=overrides.iloc[0:0]), overrides, rubric)


def _warn_harmonisation(tables) -> None:
    """Warnings, not problems: a recorded any-grade or >= 3 count that differs from the sum of the
    same report's per-grade rows (CURATION.md 6a). The recorded value is the one used."""
    from carte_evidence.analysis.harmonise import conflicts

    lines = [
        f"warning: adverse_events {row['ae_id']}: {row['event']} grade {row['grade']} is recorded as "
        f"{row['n_events']}/{row['n_evaluable']}, but the report's per-grade rows ({row['derived_from']}) add up to "
        f"{row['n_events_derived']}/{row['n_evaluable_derived']}; the recorded value is used - check both against the source"
        for row in conflicts(tables["adverse_events"]).to_dict("records")
    ]
    if lines:
        typer.echo("\n".join(lines), err=True)
