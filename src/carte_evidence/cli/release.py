"""`carte release`"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .common import fail_with_problems


class Part(str, Enum):
    major = "major"
    minor = "minor"
    patch = "patch"


def release(
    bump: Part = typer.Option(Part.patch, "--bump", help="major: schema change that breaks readers; minor: new records or fields; patch: corrections."),
    since: Optional[str] = typer.Option(None, "--since", help="Compare with this folder or git ref (needed when the current version has no tag v<version>)."),
    root: Path = typer.Option(Path("."), "--root", help="Repository root (holding schemas/ and datapackage/)."),
) -> None:
    """Validate, bump the version, write the CHANGELOG entry and dist/carte-evidence-VERSION.zip."""
    from carte_evidence.package.problems import ValidationError
    from carte_evidence.maintain.release import release as run
    from carte_evidence.outputs.owned import OutputBusy

    try:
        result = run(root, bump.value, since)
    except ValidationError as err:
        fail_with_problems(err.problems)
    except (ValueError, OSError, OutputBusy) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    if result.get("recovered"):
        typer.echo(f"completed the interrupted release {result['version']}: {result['zip']}")
        typer.echo("run `carte release` again for a new release")
        return
    typer.echo(f"released {result['version']} (was {result['previous']}; {result['changes']} change rows): {result['zip']}")
    typer.echo(f"next: review CHANGELOG.md, commit, and tag v{result['version']}")
