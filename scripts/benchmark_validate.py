"""Benchmark `carte validate` against `frictionless validate` on a large synthetic package.

Usage: python scripts/benchmark_validate.py [--rows 1000000] [--skip-frictionless] [--keep DIR]

Builds a package with the real descriptor and vocabularies and ``rows`` outcome rows (and as
many adverse-event rows; arms, studies and publications in proportion), valid by construction,
then times both validators on it. Speed is measured here, not in the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def make_package(dest: Path, rows: int) -> Path:
    from carte_evidence.package.load import write_csv

    shutil.copytree(ROOT / "datapackage", dest, ignore=shutil.ignore_patterns("*.csv"))
    for name in ("diseases", "measures", "events", "registries", "products", "trials", "reviews"):
        shutil.copy(ROOT / "datapackage" / "data" / f"{name}.csv", dest / "data")
    rng = np.random.default_rng(0)
    n_studies = max(rows // 100, 1)
    n_arms = max(rows // 10, 1)
    sid = np.array([f"s{i}" for i in range(n_studies)])
    pid = np.array([f"p{i}" for i in range(n_studies)])
    studies = pd.DataFrame({"study_id": sid, "name": "synthetic", "design": "phase 1", "indication": "autoimmune", "primary_publication_id": pid})
    pubs = pd.DataFrame({"publication_id": pid, "study_id": sid, "first_author": "Synthetic", "year": 2024, "title": "Synthetic report",
                         "publication_type": "full article", "peer_reviewed": "true", "url": "https://example.org/x"})
    arm_study = rng.integers(0, n_studies, n_arms)
    arms = pd.DataFrame({"arm_id": [f"a{i}" for i in range(n_arms)], "study_id": sid[arm_study], "product_id": "kyv-101", "disease_id": "sle",
                         "n_treated": 50, "publication_id": pid[arm_study], "locator": "abstract"})
    arm_of = rng.integers(0, n_arms, rows)
    evaluable = rng.integers(1, 50, rows)
    outcomes = pd.DataFrame({"outcome_id": [f"o{i}" for i in range(rows)], "arm_id": arms["arm_id"].to_numpy()[arm_of],
                             "publication_id": arms["publication_id"].to_numpy()[arm_of], "locator": "abstract", "measure": "doris_remission",
                             "timepoint_months": 6, "n_evaluable": evaluable, "n_events": rng.integers(0, evaluable + 1), "value_source": "reported",
                             "quote": "synthetic"})
    ae = pd.DataFrame({"ae_id": [f"e{i}" for i in range(rows)], "arm_id": outcomes["arm_id"], "publication_id": outcomes["publication_id"],
                       "locator": "abstract", "event": "crs", "grade": "any", "n_events": outcomes["n_events"], "n_evaluable": evaluable,
                       "value_source": "reported"})
    import json

    descriptor = json.loads((dest / "datapackage.json").read_text())
    fields = {r["name"]: [f["name"] for f in r["schema"]["fields"]] for r in descriptor["resources"]}
    for name, frame in (("review_includes", pd.DataFrame()), ("studies", studies), ("publications", pubs), ("arms", arms), ("outcomes", outcomes), ("adverse_events", ae)):
        write_csv(frame.reindex(columns=fields[name]), dest / "data" / f"{name}.csv")
    return dest / "datapackage.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-frictionless", action="store_true")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp())
    package = make_package(work / "pkg", args.rows)
    print(f"synthetic package: {args.rows:,} outcome rows + {args.rows:,} adverse-event rows in {package.parent}")
    from carte_evidence.package.validate import validate

    start = time.perf_counter()
    report = validate(package)
    carte = time.perf_counter() - start
    print(f"carte validate:       {carte:8.1f} s  ({len(report.problems)} problems)")
    if not args.skip_frictionless:
        start = time.perf_counter()
        done = subprocess.run([str(Path(sys.executable).parent / "frictionless"), "validate", str(package)], capture_output=True, text=True)
        print(f"frictionless validate: {time.perf_counter() - start:8.1f} s  (exit {done.returncode})")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
