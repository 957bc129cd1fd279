"""carte-evidence: the clinical evidence on CAR-T cell therapy in autoimmune disease.

    >>> import carte_evidence
    >>> tables = carte_evidence.load()          # validated pandas DataFrames
    >>> tables["arms"].head()

Public API:

- ``load(path=None)``: the validated tables of a data package, as typed pandas DataFrames.
- ``validate(path=None)``: every problem of a data package (empty list when valid);
  ``validate(path, keep={table: columns})`` reads a very large package in row blocks and keeps
  only the columns checked across rows (the same problems, under 2x the CSV in memory).
- ``summarize(...)``: counts and pooled estimates, filtered by disease, target, event, ...
- ``grade(...)``: study grades and GRADE certainty of each body of evidence.
- ``build(path=None, out="dist")``: validated data, derived tables, grades, tables and figures.
- ``Problem``: one validation problem (file, line, column, value, rule, hint).
- ``ValidationError``: raised by ``load`` and ``build`` with every problem of an invalid package.

The code is layered (``package`` -> ``analysis`` -> ``outputs`` -> ``maintain`` -> ``cli``);
see docs/architecture.md. Heavy modules are imported on first use, so ``import carte_evidence``
stays light.
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
    """Import a public name on first use (keeps `import carte_evidence` and `carte --help` fast)."""
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'carte_evidence' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
