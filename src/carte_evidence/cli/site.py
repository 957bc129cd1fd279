"""`carte site`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, fail_with_problems


def site(
    path: Optional[Path] = PathArg,
    out: Path = typer.Option(Path("site"), "--out", "-o", help="Folder to write (replaced atomically)."),
) -> None:
    """Build the evidence site: static HTML pages for patients, clinicians and analysts (open index.html)."""
    from carte_evidence.outputs.site import site as run
    from carte_evidence.package.problems import ValidationError

    try:
        folder = run(path, out)
    except ValidationError as err:
        fail_with_problems(err.problems)
    typer.echo(f"wrote the site to {folder} (open {folder / 'index.html'})")
