"""`carte build`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import ForceOption, PathArg, fail_with_problems, output_errors


def build(
    path: Optional[Path] = PathArg,
    out: Path = typer.Option(Path("dist"), "--out", "-o", help="Release folder to write (replaced atomically; exports and zips already in it are kept)."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw the figures (forest plots, evidence map, trials timeline)."),
    force: bool = ForceOption,
) -> None:
    """Validate, then write a release folder: datapackage.json, the CSVs and the derived tables."""
    from carte_evidence.outputs.build import build as run
    from carte_evidence.package.problems import ValidationError

    with output_errors():
        try:
            folder = run(path, out, figures=figures, force=force)
        except ValidationError as err:
            fail_with_problems(err.problems)
    typer.echo(f"built {folder}")
