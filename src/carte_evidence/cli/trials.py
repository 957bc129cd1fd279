"""`carte trials`"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, load_or_exit
from .output import ForceOption, Format, FormatOption, OutOption, emit


class Results(str, Enum):
    all = "all"
    published = "published"
    unpublished = "unpublished"


def trials(
    path: Optional[Path] = PathArg,
    results: Results = typer.Option(Results.all, "--results", help="all, published (a study here reports it) or unpublished."),
    disease: Optional[str] = typer.Option(None, "--disease", help="Only trials of this disease id."),
    format: Format = FormatOption,
    out: Optional[Path] = OutOption,
    force: bool = ForceOption,
) -> None:
    """Registered trials, with the studies here that report their results."""
    from carte_evidence.analysis.trials import trials_with_links

    frame = trials_with_links(load_or_exit(path))
    if results is Results.published:
        frame = frame[frame["has_results"]]
    elif results is Results.unpublished:
        frame = frame[~frame["has_results"]]
    if disease:
        from carte_evidence.analysis.summary import has_item

        frame = frame[has_item(frame["disease_ids"], disease)]
    if format is Format.table and out is None:
        frame = frame[["trial_id", "phase", "status", "disease_ids", "targets", "product_id", "study_ids"]]
    emit(frame.reset_index(drop=True), format, out, title=f"trials ({results.value})", force=force, command="trials")
