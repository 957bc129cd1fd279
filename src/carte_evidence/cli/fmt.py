"""`carte fmt`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, usage_error


def fmt(
    path: Optional[Path] = PathArg,
    check: bool = typer.Option(False, "--check", help="Change nothing; exit 1 and name the files that are not in canonical form."),
) -> None:
    """Rewrite the CSVs in canonical form (column order, rows sorted by id, quoting, LF, no stray spaces)."""
    from carte_evidence.maintain.fmt import FmtError, fmt as run
    from carte_evidence.maintain.target import ShippedPackageError

    try:
        changed = run(path, check=check)
    except ShippedPackageError as err:
        usage_error(str(err))
    except FmtError as err:
        typer.echo(f"error: {err}", err=True)
        typer.echo("nothing was written", err=True)
        raise typer.Exit(1)
    except OSError as err:
        usage_error(f"{err.strerror or err}: {err.filename}")
    for file in changed:
        typer.echo(("would reformat " if check else "reformatted ") + str(file))
    if check and changed:
        typer.echo(f"{len(changed)} file(s) not in canonical form: run `carte fmt`", err=True)
        raise typer.Exit(1)
    if not changed:
        typer.echo("all files in canonical form")
