"""`carte build`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, fail_with_problems


def build(
    path: Optional[Path] = PathArg,
    out: Path = typer.Option(Path("dist"), "--out", "-o", help="Release folder to write (replaced atomically)."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw the figures (forest plots, evidence map, trials timeline)."),
) -> None:
    """Validate, then write a release folder: datapackage.json, the CSVs and the derived tables."""
    from carte_evidence.outputs.build import build as run
    from carte_evidence.package.problems import ValidationError

    try:
        folder = run(path, out, figures=figures)
    except ValidationError as err:
        fail_with_problems(err.problems)
    typer.echo(f"built {folder}")
