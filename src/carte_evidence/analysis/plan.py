"""The analysis plan (``schemas/analysis_plan.yaml``): which analyses are reported, how grouped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carte_evidence.package.paths import schemas_dir
from carte_evidence.package.schema import read_yaml


def load_plan(path: str | Path | None = None) -> dict[str, Any]:
    """The analysis plan as a dict (cached; do not mutate)."""
    return read_yaml(path or schemas_dir() / "analysis_plan.yaml")


def plan_version() -> str:
    return str(load_plan()["version"])
