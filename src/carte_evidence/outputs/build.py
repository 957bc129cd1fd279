"""`carte build`: validate, then write a release folder atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from carte_evidence.outputs.owned import owned_directory
from carte_evidence.package.load import write_csv, write_json
from carte_evidence.package.problems import ValidationError
from carte_evidence.package.schema import derived_resource

# What `build` writes into its folder; anything else there (exports, release zips) is kept.
BUILD_ENTRIES = frozenset({"datapackage.json", "data", "derived", "tables", "figures", ".carte-output", ".carte-cache"})


def _carte_artefact(name: str) -> bool:
    """Entries carte's own exports and releases put in dist/ (a folder without marker may hold them)."""
    return name.startswith("carte-evidence")


def derived_tables(tables, results=None) -> dict:
    """Every derived table of a release, by resource name (``results``: the plan's pooled
    analyses, when already computed)."""
    from carte_evidence.analysis.grading import grade
    from carte_evidence.analysis.derived import arms_wide

    return {"arms_wide": arms_wide(tables), **grade(tables=tables, results=results)}


def build(path: str | Path | None = None, out: str | Path = "dist", figures: bool = True, force: bool = False) -> Path:
    """Validate the package at ``path`` and write the release folder ``out``.

    The folder holds datapackage.json, the source CSVs (byte for byte) under ``data/``, the
    derived tables under ``derived/`` (declared as resources: arms_wide, study_grades,
    evidence_certainty), the standard summary tables under ``tables/`` (CSV and Markdown) and,
    with ``figures``, the forest plots, evidence map and trials timeline under ``figures/``, and the
    evidence site under ``site/`` (open ``site/index.html``). Raises
    :class:`~carte_evidence.package.problems.ValidationError` when the package is invalid; on any
    failure nothing is written and a previous ``out`` is left untouched. ``out`` must be new, a
    folder an earlier build wrote (its ``.carte-output`` marker) or hold only carte exports;
    otherwise :class:`~carte_evidence.outputs.owned.OutputRefused` is raised unless ``force``.
    What the build does not write (exports, release zips) is kept. The GLMM fits and figure fingerprints
    are cached in ``out/.carte-cache/`` for the next build (see :mod:`~carte_evidence.outputs.build_cache`).
    Returns the folder.
    """
    from carte_evidence.package.validate import validate

    report = validate(path)
    if not report.valid:
        raise ValidationError(report.problems)
    descriptor = dict(report.descriptor)
    source = report.package.parent
    out = Path(out)
    keep = lambda name: name not in BUILD_ENTRIES  # noqa: E731
    from carte_evidence.analysis import shared

    # Analysis rows, arm context, study facts and grades computed once for the whole build.
    with shared.over(report.tables), \
            owned_directory(out, "build", force=force, keep=keep, accept=_carte_artefact, protect=[source]) as tmp:
        (tmp / "data").mkdir()
        (tmp / "derived").mkdir()
        for res in descriptor["resources"]:
            (tmp / res["path"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / res["path"], tmp / res["path"])
        # Every pooled analysis is computed once and shared by grades, tables, figures and site.
        from carte_evidence.analysis.results import plan_results
        from carte_evidence.outputs.build_cache import read_figure_prints, seed_fits, write_figure_prints, write_fits

        seed_fits(out)  # the fits of the previous build in this folder, when still valid
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
            figure_prints = {}
            write_figures(report.tables, tmp / "figures", results=results, certainty=certainty,
                          reuse=earlier if (earlier / "figures.json").is_file() else None,
                          previous=read_figure_prints(out), manifest=figure_prints)
        # Last, so that its downloads page lists every file of the release.
        from carte_evidence.outputs.site import build_site

        build_site(report.tables, tmp / "site", package=report.package, release=tmp, headline=long, grades=derived["study_grades"])
        # After the site: the cache is not a file of the release (downloads page).
        write_fits(tmp)
        if figures:
            write_figure_prints(tmp, figure_prints)
    return out
