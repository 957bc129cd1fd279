"""`carte validate`"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from . import common
from .common import PathArg


# From this much CSV on, `carte validate` reads in blocks unless told otherwise: the same report,
# about half the memory, and at 10^6 rows (340 MiB) as fast as reading each table whole; below
# it the whole read is up to a tenth faster (docs/performance.md).
LOW_MEMORY_FROM = 64 << 20


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def validate(
    path: Optional[Path] = PathArg,
    format: Format = typer.Option(Format.text, "--format", "-f", help="text, json (a list of problems), or github (Actions annotations)."),
    low_memory: Optional[bool] = typer.Option(
        None, "--low-memory/--no-low-memory",
        help="Read each table in blocks, keeping only the columns checked across rows: the same report in about half the memory "
             f"(the default for a package of more than {LOW_MEMORY_FROM >> 20} MiB of CSV). --no-low-memory reads each table whole "
             "(faster on a mid-sized package)."),
) -> None:
    """Check the data package; report ALL problems with file, line, column, value and a hint.

    Exit 0 if valid, 1 if not.
    """
    from carte_evidence.package.threads import gc_paused

    with gc_paused(freeze=common.ENDS_PROCESS):  # for the whole command: imports and warnings too
        _validate(path, format, low_memory)


def _validate(path: Optional[Path], format: Format, low_memory: Optional[bool] = None) -> None:
    from carte_evidence.outputs.problem_report import render_problems, render_text
    from carte_evidence.package.validate import csv_bytes, validate as run

    if low_memory is None:
        low_memory = csv_bytes(path) > LOW_MEMORY_FROM

    early: dict = {}

    def on_read(name, frame) -> None:
        # The harmonisation warning only reads adverse_events: worked out beside the checks,
        # and used only if the package turns out valid.
        if name == "adverse_events" and format is Format.text:
            from carte_evidence.analysis.harmonise import conflicts
            from carte_evidence.package.threads import in_background
            early["conflicts"] = in_background(_quietly(conflicts), frame, threads=None if len(frame) > 100_000 else 1)

    keep = None
    if low_memory:
        # Only the columns the checks across rows and the warning below read are kept (the same
        # problems), unless the overrides file holds overrides: their check reads every table whole.
        from carte_evidence.analysis.grading import load_overrides
        from carte_evidence.analysis.harmonise import COLUMNS_READ

        keep = {"adverse_events": set(COLUMNS_READ)} if load_overrides().empty else None
        if common.ENDS_PROCESS:  # (arrow's allocator is the process's: not changed under a caller that goes on)
            from carte_evidence.package.lean import return_freed_memory

            return_freed_memory()
    report = run(path, on_read=on_read, keep=keep)

    base = report.package.parent
    try:
        base = base.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    override_problems = _override_problems(report.tables) if report.valid else []
    if override_problems:
        # the overrides file is part of the grading rules: a broken one fails validation too
        typer.echo("\n".join(f"schemas/{p}" for p in override_problems), err=format is Format.text)
        raise typer.Exit(1)
    if format is Format.text:  # (bytes, as the report is made: no decoding and encoding of a long text)
        typer.echo(render_text(report.problem_table))
    else:
        typer.echo(render_problems(report.problem_table, format.value, base=base))
    if report.valid and format is Format.text:
        _warn_harmonisation(report.tables, early.get("conflicts"))
    raise typer.Exit(0 if report.valid else 1)


def _override_problems(tables) -> list[str]:
    """Problems of schemas/certainty_overrides.csv (checked only when it holds overrides: the
    check needs every analysis of the plan, which takes seconds)."""
    from carte_evidence.analysis.grading import check_overrides, evidence_certainty, load_overrides, load_rubric

    overrides = load_overrides()
    if overrides.empty:
        return []
    rubric = load_rubric()
    return check_overrides(evidence_certainty(tables, rubric, overrides=overrides.iloc[0:0]), overrides, rubric)


def _quietly(fn):
    """``fn``, returning its exception instead of raising it (it may run on a table that turns
    out invalid, where its result is not used)."""

    def run(*args):
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - handed back to the caller
            return exc

    return run


def _warn_harmonisation(tables, early=None) -> None:
    """Warnings, not problems: a recorded any-grade or >= 3 count that differs from the sum of the
    same report's per-grade rows (CURATION.md 6a). The recorded value is the one used.
    ``early``: waits for the result already being worked out (see :func:`_validate`)."""
    from carte_evidence.analysis.harmonise import conflicts

    found = early() if early is not None else None
    if found is None or isinstance(found, Exception):
        found = conflicts(tables["adverse_events"])  # (an exception then surfaces here, as before)
    # Worded column by column (zip of plain lists, not a dict per row): a large package can
    # carry tens of thousands of these.
    columns = [found[c].astype(object).tolist() for c in ("ae_id", "event", "grade", "n_events", "n_evaluable", "derived_from", "n_events_derived", "n_evaluable_derived")]
    lines = [
        f"warning: adverse_events {ae_id}: {event} grade {grade} is recorded as {events}/{evaluable}, but the report's per-grade rows "
        f"({parts}) add up to {derived_events}/{derived_evaluable}; the recorded value is used - check both against the source"
        for ae_id, event, grade, events, evaluable, parts, derived_events, derived_evaluable in zip(*columns)
    ]
    if lines:
        typer.echo("\n".join(lines), err=True)
