"""`carte new`"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import PathArg, usage_error


def new(
    path: Optional[Path] = PathArg,
    name: str = typer.Option(..., prompt="Study name (e.g. 'CD19 CAR-T in refractory SLE, Hospital X')", help="Study name."),
    design: str = typer.Option(..., prompt="Design (case report, case series, compassionate use, phase 1, phase 1/2, phase 2, ...)", help="Study design."),
    disease: str = typer.Option(..., prompt="Disease id (see datapackage/data/diseases.csv, e.g. sle)", help="Disease id."),
    product: str = typer.Option(..., prompt="Product id (see datapackage/data/products.csv, e.g. kyv-101)", help="Product id."),
    first_author: str = typer.Option(..., prompt="First author's family name", help="First author."),
    year: int = typer.Option(..., prompt="Year of publication", help="Year."),
    title: str = typer.Option(..., prompt="Title as published", help="Title."),
    publication_type: str = typer.Option(..., prompt="Publication type (full article, letter, case report, conference abstract, press release, ...)", help="Publication type."),
    peer_reviewed: bool = typer.Option(..., prompt="Peer reviewed?", help="Peer reviewed."),
    url: str = typer.Option(..., prompt="URL of the page you read", help="URL read."),
    journal: str = typer.Option("", help="Journal or congress."),
    doi: str = typer.Option("", help="DOI (without https://doi.org/)."),
    pmid: str = typer.Option("", help="PubMed id."),
    n_treated: Optional[int] = typer.Option(None, help="Patients treated (leave out if unknown)."),
    country: str = typer.Option("", help="ISO country codes, space-separated."),
    registry_id: str = typer.Option("", help="Trial registry id (must be in the trials table)."),
    indication: str = typer.Option("autoimmune", help="autoimmune, or oncologic (CAR-T given for a lymphoma/myeloma)."),
    locator: str = typer.Option("abstract", help="Where n_treated was read."),
    quote: str = typer.Option("", help="Verbatim sentence holding n_treated."),
    study_id: Optional[str] = typer.Option(None, help="Study id (default: a slug of the name)."),
) -> None:
    """Add a new study: its study, publication and arm rows with fresh ids, validated before writing."""
    from carte_evidence.outputs.problem_report import render_problems
    from carte_evidence.maintain.scaffold import StudyExists, new_study
    from carte_evidence.maintain.target import ShippedPackageError

    try:
        ids, problems = new_study(
            path, name=name, design=design, disease_id=disease, product_id=product, first_author=first_author, year=year,
            title=title, publication_type=publication_type, peer_reviewed=peer_reviewed, url=url, journal=journal, doi=doi,
            pmid=pmid, n_treated=n_treated, country=country, registry_id=registry_id, indication=indication,
            locator=locator, quote=quote, study_id=study_id,
        )
    except (ShippedPackageError, StudyExists) as err:
        usage_error(str(err))
    except OSError as err:
        usage_error(f"{err.strerror or err}: {err.filename}")
    if problems:
        typer.echo(render_problems(problems), err=True)
        typer.echo("nothing was written: fix the values above and run `carte new` again", err=True)
        raise typer.Exit(1)
    typer.echo(f"added study {ids['study_id']}, publication {ids['publication_id']}, arm {ids['arm_id']}")
    for file in ids["files"]:
        typer.echo(f"wrote {file}")
    typer.echo("next: add outcome and adverse-event rows citing the publication (see CONTRIBUTING.md), then `carte validate`")
