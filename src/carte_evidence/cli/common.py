"""Options shared by several commands, defined once."""

from __future__ import annotations

import typer

PathArg = typer.Argument(
    None,
    help="A datapackage.json or the folder holding it. Default: ./datapackage/ if present, else the package shipped with carte-evidence.",
    show_default=False,
)


def fail_with_problems(problems, fmt: str = "text") -> None:
    """Print validation problems and exit 1 (used by every command that validates first)."""
    from carte_evidence.outputs.problem_report import render_problems

    typer.echo(render_problems(problems, fmt), err=fmt == "text")
    raise typer.Exit(1)


def load_or_exit(path):
    """The validated tables of PATH, or print every problem and exit 1."""
    from carte_evidence.package.load import load
    from carte_evidence.package.problems import ValidationError

    try:
        return load(path)
    except ValidationError as err:
        fail_with_problems(err.problems)
