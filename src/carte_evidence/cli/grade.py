"""`carte grade`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, load_or_exit
from .output import Format, FormatOption, emit


def grade(
    path: Optional[Path] = PathArg,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write study_grades.csv and evidence_certainty.csv into this folder (replaced atomically)."),
    explain: Optional[str] = typer.Option(None, "--explain", help="Explain the grade of one study in plain words."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", help="Another rubric file (default: schemas/grading.yaml)."),
    certainty: bool = typer.Option(False, "--certainty", help="Show the GRADE certainty table instead of the study grades."),
    format: Format = FormatOption,
) -> None:
    """Grade every study with the rubric, and rate GRADE certainty per body of evidence."""
    from carte_evidence.analysis.grading import explain as explain_study, grade as run, load_rubric
    from carte_evidence.package.load import atomic_directory, write_csv

    tables = load_or_exit(path)
    spec = load_rubric(rubric)
    if explain:
        try:
            typer.echo("\n".join(explain_study(tables, explain, spec)))
        except KeyError as err:
            typer.echo(f"error: {err.args[0]}", err=True)
            raise typer.Exit(2)
        return
    result = run(tables=tables, rubric=spec)
    if out is not None:
        with atomic_directory(out) as tmp:
            for name, frame in result.items():
                write_csv(frame, tmp / f"{name}.csv")
        typer.echo(f"wrote {out}/study_grades.csv and {out}/evidence_certainty.csv")
        return
    name = "evidence_certainty" if certainty else "study_grades"
    frame = result[name]
    if format is Format.table:
        frame = frame[["analysis_id", "k", "n", "estimate", "certainty"]] if certainty else frame[["study_id", "total_points", "study_grade", "flags"]]
    emit(frame, format, title=name)
