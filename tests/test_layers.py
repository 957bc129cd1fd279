"""The package's layers only import downwards: cli -> maintain -> outputs -> analysis -> package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import carte_evidence

SRC = Path(carte_evidence.__file__).parent
LAYERS = ["package", "analysis", "outputs", "maintain", "cli"]


def _imports(path: Path, src: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every carte_evidence import in a file."""
    module = ("carte_evidence", *path.relative_to(src).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module[: len(module) - node.level])
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("carte_evidence.")]


def layer_violations(src: Path = SRC) -> list[str]:
    out = []
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).parts
        if len(parts) < 2 or parts[0] not in LAYERS:
            continue
        rank = LAYERS.index(parts[0])
        for line, name in _imports(path, src):
            target = name.split(".")[1]
            if target in LAYERS and LAYERS.index(target) > rank:
                out.append(f"{path.relative_to(src)}:{line} imports {name} (layer '{target}' is above '{parts[0]}')")
    return out


def test_every_module_lives_in_a_layer():
    loose = [p.name for p in SRC.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside the layers: {loose}"


def test_imports_only_go_down():
    violations = layer_violations()
    assert not violations, "\n".join(violations)


def test_check_catches_an_upward_import(tmp_path):
    (tmp_path / "package").mkdir()
    (tmp_path / "package" / "bad.py").write_text("from carte_evidence.outputs.build import build\n")
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "ok.py").write_text("from ..package.load import load\n")
    assert layer_violations(tmp_path) == [
        "package/bad.py:1 imports carte_evidence.outputs.build (layer 'outputs' is above 'package')"
    ]


@pytest.mark.parametrize("name", ["load", "validate", "summarize", "grade", "build", "Problem", "ValidationError"])
def test_public_api_is_listed_and_documented(name):
    assert name in dir(carte_evidence)
    assert f"``{name}" in carte_evidence.__doc__
    assert getattr(carte_evidence, name).__doc__
