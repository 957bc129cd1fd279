"""Regenerate datapackage/datapackage.json and docs/data-dictionary.md from schemas/fields.yaml
and schemas/resources.yaml.

Usage: python scripts/generate_datapackage.py [--check]
With --check, exit 1 (and say so) when a committed file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from carte_evidence.package.schema import render_data_dictionary, render_datapackage  # noqa: E402

TARGETS = {
    ROOT / "datapackage" / "datapackage.json": lambda: render_datapackage(ROOT / "schemas"),
    ROOT / "docs" / "data-dictionary.md": lambda: render_data_dictionary(ROOT / "schemas"),
}

if __name__ == "__main__":
    stale = []
    for target, render in TARGETS.items():
        text = render()
        if "--check" in sys.argv:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        for target in stale:
            print(f"{target} is out of date: run `python scripts/generate_datapackage.py`")
        sys.exit(1)
    if "--check" in sys.argv:
        print("generated files are up to date")
