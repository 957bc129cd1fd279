"""`carte tables`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import ForceOption, PathArg, load_or_exit, output_errors


def tables(
    path: Optional[Path] = PathArg,
    out: Path = typer.Option(Path("tables"), "--out", "-o", help="Folder to write (a new one, or one an earlier `carte tables` wrote; replaced atomically)."),
    figures: bool = typer.Option(False, "--figures", help="Also draw forest plots, the evidence map and the trials timeline (PNG and SVG)."),
    force: bool = ForceOption,
) -> None:
    """Write the standard tables (counts, pooled efficacy and safety, study characteristics, trials) as CSV and Markdown."""
    from carte_evidence.outputs.owned import owned_directory
    from carte_evidence.outputs.standard import write_figures, write_tables
    from carte_evidence.package.paths import resolve_package

    data = load_or_exit(path)
    with output_errors(), owned_directory(out, "tables", force=force, protect=[resolve_package(path).parent]) as tmp:
        files = write_tables(data, tmp)
        if figures:
            (tmp / "figures").mkdir()
            files += write_figures(data, tmp / "figures")
    typer.echo(f"wrote {len(files)} files to {out}")
