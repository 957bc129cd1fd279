"""The metafor reference covers every pooled analysis the package reports (not only fixtures)."""

from __future__ import annotations

import importlib.util

import pandas as pd

from conftest import ROOT

spec = importlib.util.spec_from_file_location("pooled_datasets", ROOT / "scripts" / "pooled_datasets.py")
pooled_datasets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pooled_datasets)


def test_datasets_file_is_up_to_date():
    stored = pd.read_csv(ROOT / "tests" / "fixtures" / "metafor" / "datasets.csv", dtype=str)
    current = pooled_datasets.datasets().astype(str)
    stale = set(map(tuple, current.to_numpy())) ^ set(map(tuple, stored.to_numpy()))
    assert not stale, (
        f"{len(stale)} pooled analyses changed: run `python scripts/pooled_datasets.py && Rscript scripts/metafor_reference.R`: {sorted(stale)[:5]}"
    )


def test_every_dataset_has_a_reference_fit():
    stored = pd.read_csv(ROOT / "tests" / "fixtures" / "metafor" / "datasets.csv", dtype=str)
    reference = pd.read_csv(ROOT / "tests" / "fixtures" / "metafor" / "reference.csv", dtype=str)
    assert set(stored["dataset"]) == set(reference.loc[reference["method"] == "REML", "dataset"])
