"""Write tests/fixtures/metafor/datasets.csv: the sets of study counts R's metafor is run on.

Two kinds of sets: hand-made fixtures covering the edge cases (k = 2, all zero, all 100 %, mixed
0/n and n/n, extreme heterogeneity, ...) and every pooled analysis with k >= 2 that the package
reports (the analysis plan, `carte_evidence.analysis.results.plan_results`). Then run
`Rscript scripts/metafor_reference.R` to refresh reference.csv. tests/test_metafor.py fails while
this file is stale (the data changed) or while the package disagrees with metafor.

Usage: python scripts/pooled_datasets.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
OUT = ROOT / "tests" / "fixtures" / "metafor" / "datasets.csv"

FIXTURES = {
    "mixed": ("5 3 8 1 0", "5 6 10 4 3"),
    "zeros": ("0 0 1 0 2 0", "8 15 12 5 20 3"),
    "all_events": ("6 4 10 12 3", "6 4 11 12 3"),
    "homogeneous": ("10 13 8 11", "20 24 18 22"),
    "two": ("7 2", "10 9"),
    "large": ("15 30 4 22 9 40 2", "20 60 15 25 30 50 12"),
    "k2_similar": ("3 4", "10 12"),
    "k2_zero_one": ("0 1", "5 8"),
    "all_zero": ("0 0 0", "4 6 2"),
    "all_zero_large": ("0 0 0 0 0", "12 15 9 20 7"),
    "all_hundred": ("3 5 2", "3 5 2"),
    "mixed_0_n": ("0 4 0 6", "5 4 3 6"),
    "extreme_heterogeneity": ("0 0 9 0 0 7 12 0 0", "1 3 11 12 14 8 12 3 2"),
    "one_event_many_zeros": ("1 0 0 0 0 0", "10 12 8 15 6 9"),
    "rare_events": ("1 0 2 0 1", "40 35 50 28 33"),
    "common_events": ("18 25 14 30", "20 28 15 33"),
    "moderate_heterogeneity": ("2 8 5 12 3", "10 12 15 20 9"),
    "single_cases": ("1 0 1 1 0", "1 1 1 1 1"),
    "unequal_sizes": ("1 40 3", "2 100 6"),
    "k3_half": ("5 6 4", "10 12 8"),
    "near_all": ("9 10 11 7", "10 10 12 8"),
    "small_vs_large": ("0 2 25", "3 4 60"),
}


def package_sets() -> pd.DataFrame:
    import carte_evidence
    from carte_evidence.analysis.results import plan_results

    results = plan_results(carte_evidence.load(ROOT / "datapackage"))
    results = results[results["k"] >= 2]
    out = pd.DataFrame({
        "dataset": "package:" + results["analysis_id"] + "|" + results["grouping"] + "|" + results["group"].astype(str),
        "events": results["events_list"], "total": results["totals_list"],
    })
    return out.drop_duplicates(["events", "total"]).sort_values("dataset")


def datasets() -> pd.DataFrame:
    fixtures = pd.DataFrame([{"dataset": name, "events": e, "total": n} for name, (e, n) in FIXTURES.items()])
    return pd.concat([fixtures, package_sets()], ignore_index=True)


if __name__ == "__main__":
    datasets().to_csv(OUT, index=False, lineterminator="\n")
    print(f"wrote {OUT.relative_to(ROOT)}; now run: Rscript scripts/metafor_reference.R")
