"""Options shared by several commands, defined once."""

from __future__ import annotations

from contextlib import contextmanager

import typer

PathArg = typer.Argument(
    None,
    help="A datapackage.json or the folder holding it. Default: ./datapackage/ if present, else the package shipped with carte-evidence.",
    show_default=False,
)

ForceOption = typer.Option(False, "--force", help="Replace the output even if it holds files carte did not write.")


# True when `carte` runs as its own process (the console command), False when the app is called
# in a process that goes on after the command (tests, notebooks): see ``threads.gc_paused``.
ENDS_PROCESS = False


def fail_with_problems(problems, fmt: str = "text") -> None:
    """Print validation problems and exit 1 (used by every command that validates first)."""
    from carte_evidence.outputs.problem_report import render_problems

    typer.echo(render_problems(problems, fmt), err=fmt == "text")
    raise typer.Exit(1)


def usage_error(message: str) -> None:
    """Print ``error: message`` and exit 2 (a problem with the command's options or paths)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def output_errors():
    """Turn a refused or busy output, or an unreadable/unwritable path, into a message and exit 2."""
    from carte_evidence.outputs.owned import OutputBusy, OutputRefused

    try:
        yield
    except (OutputRefused, OutputBusy) as err:
        usage_error(str(err))
    except OSError as err:
        usage_error(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))


def load_or_exit(path):
    """The validated tables of PATH, or print every problem and exit 1."""
    from carte_evidence.package.load import load
    from carte_evidence.package.problems import ValidationError

    try:
        return load(path)
    except ValidationError as err:
        fail_with_problems(err.problems)
