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
    "load": "carte_evidence.package",
    "validate": "carte_evidence.validation",
    "build": "carte_evidence.builder",
    "grade": "carte_evidence.grading",
    "summarize": "carte_evidence.summary",
    "Problem": "carte_evidence.problems",
    "ValidationError": "carte_evidence.problems",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'carte_evidence' has no attribute {name!r}")
