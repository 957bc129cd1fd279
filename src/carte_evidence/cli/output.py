"""Print a DataFrame in the format a command was asked for (shared by the table commands)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


FormatOption = typer.Option(Format.table, "--format", "-f", help="table (terminal), csv, json or markdown.")
OutOption = typer.Option(None, "--out", "-o", help="Write to this file instead of the terminal (an existing file is kept unless --force).")
ForceOption = typer.Option(False, "--force", help="Replace the --out file if it exists.")


def frame_to_json(frame) -> str:
    """JSON records of a frame, missing values as null."""
    return frame.astype(object).where(frame.notna(), None).to_json(orient="records", indent=2, force_ascii=False)


def emit(frame, format: Format, out: Optional[Path] = None, title: str | None = None, compact=None, force: bool = False, command: str = "summary") -> None:
    """Render ``frame`` as asked and print it (or write it atomically to ``out``)."""
    from carte_evidence.outputs.render import to_markdown, to_rich

    if format is Format.json:
        text = frame_to_json(frame)
    elif format is Format.csv:
        text = frame.to_csv(index=False, lineterminator="\n")
    elif format is Format.markdown or out is not None:
        text = to_markdown(frame)
    else:
        from rich.console import Console

        Console().print(to_rich(compact(frame) if compact else frame, title=title))
        return
    if out is not None:
        from carte_evidence.outputs.owned import OutputRefused, check_file
        from carte_evidence.package.atomic import atomic_file

        try:
            # a text file carries no stamp of ours: an existing one is only replaced with --force
            check_file(out, command, force=force)
        except OutputRefused as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2)
        with atomic_file(out) as handle:
            handle.write(text)
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text, nl=not text.endswith("\n"))
