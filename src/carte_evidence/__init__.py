"""carte-evidence: the clinical evidence on CAR-T cell therapy in autoimmune disease.

    >>> import carte_evidence
    >>> tables = carte_evidence.load()          # validated pandas DataFrames
    >>> tables["arms"].head()

Heavy modules are imported on first use, so `import carte_evidence` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": "carte_evidence.package.load",
    "validate": "carte_evidence.package.validate",
    "build": "carte_evidence.outputs.build",
    "grade": "carte_evidence.analysis.grading",
    "summarize": "carte_evidence.analysis.summary",
    "Problem": "carte_evidence.package.problems",
    "ValidationError": "carte_evidence.package.problems",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'carte_evidence' has no attribute {name!r}")
