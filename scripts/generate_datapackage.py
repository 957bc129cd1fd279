"""Regenerate datapackage/datapackage.json from schemas/fields.yaml and schemas/resources.yaml.

Usage: python scripts/generate_datapackage.py [--check]
With --check, exit 1 (and say so) when the committed file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from carte_evidence.schema import render_datapackage  # noqa: E402

TARGET = ROOT / "datapackage" / "datapackage.json"


if __name__ == "__main__":
    text = render_datapackage(ROOT / "schemas")
    if "--check" in sys.argv:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run `python scripts/generate_datapackage.py`")
            sys.exit(1)
        print("datapackage.json is up to date")
    else:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
