"""`carte summary`"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import PathArg, fail_with_problems
from .output import Format, FormatOption, OutOption, emit


def summary(
    path: Optional[Path] = PathArg,
    by: Optional[List[str]] = typer.Option(None, "--by", help="Group by: disease, disease_area, target, product, modality, cell_source, design, country, year, indication (repeatable); with --trials also phase, status, sponsor_type, start_year."),
    measure: Optional[str] = typer.Option(None, "--measure", "-m", help="Pool an outcome measure (an id of the measures table, e.g. doris_remission)."),
    event: Optional[str] = typer.Option(None, "--event", "-e", help="Pool an adverse event (an id of the events table, e.g. crs)."),
    disease: Optional[str] = typer.Option(None, "--disease", help="Only this disease id."),
    target: Optional[str] = typer.Option(None, "--target", help="Only products with this target (e.g. CD19)."),
    trials: bool = typer.Option(False, "--trials", help="Count registered trials instead of published studies."),
    format: Format = FormatOption,
    out: Optional[Path] = OutOption,
) -> None:
    """Counts (publications, studies, unique patients), trial counts, or pooled proportions (exact CIs, GLMM and REML)."""
    from carte_evidence.package.problems import ValidationError
    from carte_evidence.outputs.render import compact_pooled
    from carte_evidence.analysis.summary import summarize

    if measure and event:
        raise typer.BadParameter("give --measure or --event, not both")
    try:
        frame = summarize(path, by=by, measure=measure, event=event, disease=disease, target=target, trials=trials)
    except ValidationError as err:
        fail_with_problems(err.problems)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    title = measure or event or ("trials" if trials else "studies") + " by " + ", ".join(by or ["disease"])
    emit(frame, format, out, title=title, compact=compact_pooled if "level" in frame else None)
