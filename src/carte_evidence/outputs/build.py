"""`carte build`: validate, then write a release folder atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from carte_evidence.package.load import atomic_directory, write_csv, write_json
from carte_evidence.package.problems import ValidationError
from carte_evidence.package.schema import derived_resource


def derived_tables(tables, results=None) -> dict:
    """Every derived table of a release, by resource name (``results``: the plan's pooled
    analyses, when already computed)."""
    from carte_evidence.analysis.grading import grade
    from carte_evidence.analysis.derived import arms_wide

    return {"arms_wide": arms_wide(tables), **grade(tables=tables, results=results)}


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
        # Every pooled analysis is computed once and shared by grades, tables, figures and site.
        from carte_evidence.analysis.results import plan_results

        results = plan_results(report.tables)
        derived = derived_tables(report.tables, results)
        resources = list(descriptor["resources"])
        for name, frame in derived.items():
            res = derived_resource(name)
            write_csv(frame, tmp / res["path"])
            resources.append(res)
        descriptor["resources"] = resources
        write_json(descriptor, tmp / "datapackage.json")
        from carte_evidence.outputs.standard import write_figures, write_tables

        (tmp / "tables").mkdir()
        certainty = derived["evidence_certainty"]
        from carte_evidence.analysis.headline import headline

        long = headline(report.tables, results=results, certainty=certainty)
        write_tables(report.tables, tmp / "tables", results=results, certainty=certainty, headline_long=long)
        if figures:
            (tmp / "figures").mkdir()
            earlier = out / "figures"  # the previous release's figures, reused where unchanged
            write_figures(report.tables, tmp / "figures", results=results, certainty=certainty,
                          reuse=earlier if (earlier / "figures.json").is_file() else None)
        # Last, so that its downloads page lists every file of the release.
        from carte_evidence.outputs.site import build_site

        build_site(report.tables, tmp / "site", package=report.package, release=tmp, headline=long)
    return out
