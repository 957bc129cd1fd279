"""`carte summary`"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import PathArg, fail_with_problems
from .output import ForceOption, Format, FormatOption, OutOption, emit


def summary(
    path: Optional[Path] = PathArg,
    by: Optional[List[str]] = typer.Option(None, "--by", help="Group by: disease, disease_area, target, product, modality, cell_source, design, country, year, indication, lymphodepletion (repeatable); with --trials also phase, status, sponsor_type, start_year."),
    measure: Optional[str] = typer.Option(None, "--measure", "-m", help="Pool an outcome measure (an id of the measures table, e.g. doris_remission)."),
    event: Optional[str] = typer.Option(None, "--event", "-e", help="Pool an adverse event (an id of the events table, e.g. crs)."),
    disease: Optional[str] = typer.Option(None, "--disease", help="Only this disease (and the diseases under it), e.g. sle."),
    disease_area: Optional[str] = typer.Option(None, "--disease-area", help="Only this disease area, e.g. neurologic."),
    target: Optional[str] = typer.Option(None, "--target", help="Only products with this target, e.g. CD19."),
    modality: Optional[str] = typer.Option(None, "--modality", help="Only this modality, e.g. CAR-T, CAR-NK, CAAR-T."),
    product: Optional[str] = typer.Option(None, "--product", help="Only this product id, e.g. kyv-101."),
    indication: Optional[str] = typer.Option(None, "--indication", help="autoimmune or oncologic."),
    lymphodepletion: Optional[str] = typer.Option(None, "--lymphodepletion", help="yes, no or unknown."),
    grade: Optional[str] = typer.Option(None, "--grade", help="With --event: any, >=3, 1, 2, ... (harmonised: any grade includes studies reporting per grade)."),
    timepoint: Optional[str] = typer.Option(None, "--timepoint", help="With --measure: months (closest within the analysis plan's window) or 'latest'."),
    trials: bool = typer.Option(False, "--trials", help="Count registered trials instead of published studies."),
    headline: bool = typer.Option(False, "--headline", help="The headline table: per disease and overall, efficacy and safety with certainty."),
    wide: bool = typer.Option(False, "--wide", help="All columns in the terminal (default: the columns that fit 80 characters)."),
    format: Format = FormatOption,
    out: Optional[Path] = OutOption,
    force: bool = ForceOption,
) -> None:
    """Counts (publications, studies, unique patients), trial counts, pooled proportions, or the headline table."""
    from carte_evidence.analysis.filters import UnknownValue
    from carte_evidence.analysis.summary import summarize
    from carte_evidence.outputs.render import compact_pooled
    from carte_evidence.package.problems import ValidationError

    try:
        if headline:
            from carte_evidence.analysis.headline import headline_wide
            from carte_evidence.package.load import load

            frame = headline_wide(load(path))
        else:
            frame = summarize(path, by=by, measure=measure, event=event, disease=disease, target=target, trials=trials,
                              disease_area=disease_area, modality=modality, product=product, indication=indication,
                              lymphodepletion=lymphodepletion, grade=grade, timepoint=timepoint)
    except ValidationError as err:
        fail_with_problems(err.problems)
    except UnknownValue as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    from carte_evidence.analysis.plan import plan_version

    title = "headline" if headline else measure or event or ("trials" if trials else "studies") + " by " + ", ".join(by or ["disease"])
    title += f" (analysis plan {plan_version()})"
    compact = None if wide else (compact_pooled if "level" in frame else None)
    emit(frame, format, out, title=title, compact=compact, force=force)
