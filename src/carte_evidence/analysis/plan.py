"""The analysis plan (``schemas/analysis_plan.yaml``): which analyses are reported, how grouped."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from carte_evidence.package.paths import schemas_dir


@lru_cache(maxsize=4)
def _read(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_plan(path: str | Path | None = None) -> dict[str, Any]:
    """The analysis plan as a dict (cached; do not mutate)."""
    return _read(str(path or schemas_dir() / "analysis_plan.yaml"))


def plan_version() -> str:
    return str(load_plan()["version"])
