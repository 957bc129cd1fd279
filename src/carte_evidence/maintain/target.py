"""Which package a contributor's command (`carte new`, `carte fmt`) may change."""

from __future__ import annotations

from pathlib import Path

from carte_evidence.package.paths import resolve_package, shipped_package


class ShippedPackageError(ValueError):
    """A command was about to change the package installed with the library."""


def source_package(path: str | Path | None, command: str) -> Path:
    """The datapackage.json a command that edits data may write to.

    Without ``path`` that is ./datapackage/ of the current folder; when there is none, the
    package installed with the library would be used, and that is refused: changing it would
    silently edit site-packages (or the repository behind an editable install).
    """
    package = resolve_package(path)
    local = Path.cwd() / "datapackage" / "datapackage.json"
    if path is None and not local.exists() and package.resolve() == shipped_package().resolve():
        raise ShippedPackageError(
            f"there is no datapackage/ folder here, and `carte {command}` does not change the package installed with "
            f"carte-evidence ({package.parent}); run it in your clone of the repository, or give the package folder as PATH")
    return package
