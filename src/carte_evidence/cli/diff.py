"""`carte diff`"""

from __future__ import annotations

from enum import Enum

import typer


class DiffFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def diff(
    old: str = typer.Argument(..., help="Old version: a package folder or datapackage.json, or a git ref (tag, commit)."),
    new: str = typer.Argument("datapackage", help="New version (default: ./datapackage)."),
    format: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="text, markdown (for the changelog) or json."),
) -> None:
    """List, per table, the records added, removed and changed (field by field) between two versions."""
    from carte_evidence.maintain.diff import diff as run, render_diff

    try:
        frame = run(old, new)
    except (ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    typer.echo(render_diff(frame, format.value), nl=False)
