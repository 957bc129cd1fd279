"""`carte tables`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, load_or_exit


def tables(
    path: Optional[Path] = PathArg,
    out: Path = typer.Option(Path("tables"), "--out", "-o", help="Folder to write (replaced atomically)."),
    figures: bool = typer.Option(False, "--figures", help="Also draw forest plots, the evidence map and the trials timeline (PNG and SVG)."),
) -> None:
    """Write the standard tables (counts, pooled efficacy and safety, study characteristics, trials) as CSV and Markdown."""
    from carte_evidence.package.load import atomic_directory
    from carte_evidence.outputs.standard import write_figures, write_tables

    data = load_or_exit(path)
    with atomic_directory(out) as tmp:
        files = write_tables(data, tmp)
        if figures:
            (tmp / "figures").mkdir()
            files += write_figures(data, tmp / "figures")
    typer.echo(f"wrote {len(files)} files to {out}")
