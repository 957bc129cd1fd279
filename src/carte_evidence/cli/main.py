"""Root of the `carte` app: it only composes the commands (each in its own module).

Heavy libraries (pandas, pandera, frictionless) are imported inside the commands, so that
`carte --help` answers fast.
"""

from __future__ import annotations

import typer

from .build import build
from .coverage import coverage
from .diff import diff
from .export import export
from .fmt import fmt
from .release import release
from .site import site
from .grade import grade
from .new import new
from .trials import trials
from .summary import summary
from .tables import tables
from .validate import validate

app = typer.Typer(
    name="carte",
    help="carte-evidence: the clinical evidence on CAR-T cell therapy in autoimmune disease.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# In the order `carte --help` lists them.
COMMANDS = [validate, build, summary, tables, grade, trials, coverage, site, new, fmt, diff, release, export]
for command in COMMANDS:
    app.command(command.__name__)(command)


def main() -> None:
    """The `carte` console command: the app, in a process that ends when the command does."""
    from . import common

    common.ENDS_PROCESS = True
    app()
