"""`carte build`: validate, then write a release folder atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from carte_evidence.package.load import atomic_directory, write_csv, write_json
from carte_evidence.package.problems import ValidationError
from carte_evidence.package.schema import derived_resource


def derived_tables(tables) -> dict:
    """Every derived table of a release, by resource name."""
    from carte_evidence.analysis.grading import grade
    from carte_evidence.analysis.derived import arms_wide

    return {"arms_wide": arms_wide(tables), **grade(tables=tables)}


def build(path: str | Path | None = None, out: str | Path = "dist", figures: bool = True) -> Path:
    """Validate the package at ``path`` and write the release folder ``out``.

    The folder holds datapackage.json, the source CSVs (byte for byte) under ``data/``, the
    derived tables under ``derived/`` (declared as resources: arms_wide, study_grades,
    evidence_certainty), the standard summary tables under ``tables/`` (CSV and Markdown) and,
    with ``figures``, the forest plots, evidence map and trials timeline under ``figures/``, and the
    evidence site under ``site/`` (open ``site/index.html``). Raises
    :class:`~carte_evidence.package.problems.ValidationError` when the package is invalid; on any
    failure nothing is written and a previous ``out`` is left untouched. Returns the folder.
    """
    from carte_evidence.package.validate import validate

    report = validate(path)
    if not report.valid:
        raise ValidationError(report.problems)
    descriptor = dict(report.descriptor)
    source = report.package.parent
    out = Path(out)
    with atomic_directory(out) as tmp:
        (tmp / "data").mkdir()
        (tmp / "derived").mkdir()
        for res in descriptor["resources"]:
            shutil.copyfile(source / res["path"], tmp / res["path"])
        derived = derived_tables(report.tables)
        resources = list(descriptor["resources"])
        for name, frame in derived.items():
            res = derived_resource(name)
            write_csv(frame, tmp / res["path"])
            resources.append(res)
        descriptor["resources"] = resources
        write_json(descriptor, tmp / "datapackage.json")
        from carte_evidence.outputs.standard import write_figures, write_tables

        (tmp / "tables").mkdir()
        write_tables(report.tables, tmp / "tables")
        if figures:
            (tmp / "figures").mkdir()
            write_figures(report.tables, tmp / "figures")
        # Last, so that its downloads page lists every file of the release.
        from carte_evidence.outputs.site import build_site

        build_site(report.tables, tmp / "site", package=report.package, release=tmp)
    return out
