"""`carte grade`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import ForceOption, PathArg, load_or_exit, output_errors, usage_error
from .output import Format, FormatOption, emit


def grade(
    path: Optional[Path] = PathArg,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write study_grades.csv and evidence_certainty.csv into this folder (replaced atomically)."),
    explain: Optional[str] = typer.Option(None, "--explain", help="Explain the grade of one study in plain words."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", help="Another rubric file (default: schemas/grading.yaml)."),
    certainty: bool = typer.Option(False, "--certainty", help="Show the GRADE certainty table instead of the study grades."),
    format: Format = FormatOption,
    force: bool = ForceOption,
) -> None:
    """Grade every study with the rubric, and rate GRADE certainty per body of evidence."""
    from carte_evidence.analysis.grading import explain as explain_study, grade as run, load_rubric
    from carte_evidence.outputs.owned import owned_directory
    from carte_evidence.package.load import write_csv
    from carte_evidence.package.paths import resolve_package

    tables = load_or_exit(path)
    import yaml

    try:
        spec = load_rubric(rubric)
    except (OSError, ValueError, yaml.YAMLError) as err:
        usage_error(f"cannot read the rubric {rubric}: {getattr(err, 'strerror', None) or err}")
    if not isinstance(spec, dict):
        usage_error(f"the rubric {rubric} is not a YAML mapping like schemas/grading.yaml")
    if explain:
        try:
            typer.echo("\n".join(explain_study(tables, explain, spec)))
        except KeyError as err:
            typer.echo(f"error: {err.args[0]}", err=True)
            raise typer.Exit(2)
        return
    try:
        result = run(tables=tables, rubric=spec)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        if rubric is None:
            raise
        usage_error(f"the rubric {rubric} does not have the shape of schemas/grading.yaml ({type(err).__name__}: {err})")
    if out is not None:
        with output_errors(), owned_directory(out, "grade", force=force, protect=[resolve_package(path).parent]) as tmp:
            for name, frame in result.items():
                write_csv(frame, tmp / f"{name}.csv")
        typer.echo(f"wrote {out}/study_grades.csv and {out}/evidence_certainty.csv")
        return
    name = "evidence_certainty" if certainty else "study_grades"
    frame = result[name]
    if format is Format.table:
        frame = frame[["analysis_id", "k", "n", "estimate", "certainty"]] if certainty else frame[["study_id", "total_points", "study_grade", "flags"]]
    emit(frame, format, title=name)
