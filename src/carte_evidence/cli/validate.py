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
    from carte_evidence.outputs.problem_report import render_problems
    from carte_evidence.package.validate import validate as run

    report = run(path)
    base = report.package.parent
    try:
        base = base.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    typer.echo(render_problems(report.problems, format.value, base=base))
    raise typer.Exit(0 if report.valid else 1)
