"""`carte summary`"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .common import PathArg, fail_with_problems, print_json


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def summary(
    path: Optional[Path] = PathArg,
    by: Optional[List[str]] = typer.Option(None, "--by", help="Group by: disease, disease_area, target, product, modality, cell_source, design, country, year, indication (repeatable)."),
    measure: Optional[str] = typer.Option(None, "--measure", "-m", help="Pool an outcome measure (an id of the measures table, e.g. doris_remission)."),
    event: Optional[str] = typer.Option(None, "--event", "-e", help="Pool an adverse event (an id of the events table, e.g. crs)."),
    disease: Optional[str] = typer.Option(None, "--disease", help="Only this disease id."),
    target: Optional[str] = typer.Option(None, "--target", help="Only products with this target (e.g. CD19)."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table (terminal), csv, json or markdown."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of the terminal."),
) -> None:
    """Counts (publications, studies, unique patients) or pooled proportions with exact CIs, GLMM and REML."""
    from ..problems import ValidationError
    from ..render import to_markdown, to_rich
    from ..summary import GROUP_FIELDS, summarize

    if measure and event:
        raise typer.BadParameter("give --measure or --event, not both")
    for b in by or []:
        if b not in GROUP_FIELDS:
            raise typer.BadParameter(f"--by {b}: choose from {', '.join(GROUP_FIELDS)}")
    try:
        frame = summarize(path, by=by, measure=measure, event=event, disease=disease, target=target)
    except ValidationError as err:
        fail_with_problems(err.problems)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    if format is Format.json:
        text = frame.astype(object).where(frame.notna(), None).to_json(orient="records", indent=2, force_ascii=False)
    elif format is Format.csv:
        text = frame.to_csv(index=False, lineterminator="\n")
    elif format is Format.markdown:
        text = to_markdown(frame)
    else:
        text = None
    if out:
        from ..package import atomic_file

        with atomic_file(out) as handle:
            handle.write(text if text is not None else to_markdown(frame))
        typer.echo(f"wrote {out}")
    elif text is not None:
        typer.echo(text, nl=False)
    else:
        from rich.console import Console

        from ..render import compact_pooled

        title = measure or event or f"by {(by or ['disease'])[0]}"
        Console().print(to_rich(compact_pooled(frame) if "level" in frame else frame, title=title))
