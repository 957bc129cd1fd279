"""`carte export`"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import ForceOption, PathArg, fail_with_problems, output_errors


class ExportFormat(str, Enum):
    csv = "csv"
    xlsx = "xlsx"
    parquet = "parquet"
    sqlite = "sqlite"
    duckdb = "duckdb"


def export(
    path: Optional[Path] = PathArg,
    format: ExportFormat = typer.Option(ExportFormat.csv, "--format", "-f", help="csv (folder), xlsx, parquet (folder), sqlite or duckdb."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Target path (default: dist/carte-evidence.<format>); an existing one is replaced only if carte wrote it."),
    force: bool = ForceOption,
) -> None:
    """Export the tables and derived tables for analysis (spreadsheet formulas neutralised)."""
    from carte_evidence.outputs.export import export as run
    from carte_evidence.package.problems import ValidationError

    with output_errors():
        try:
            target = run(format.value, out, path, force=force)
        except ValidationError as err:
            fail_with_problems(err.problems)
        except RuntimeError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2)
    typer.echo(f"wrote {target}")
