"""Pooled proportions agree with R's metafor; exact intervals; edge cases never crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carte_evidence.analysis.stats import clopper_pearson, glmm_logit, reml_logit

REFERENCE = pd.read_csv(Path(__file__).parent / "fixtures" / "metafor" / "reference.csv")
COMPARED = ["logit", "logit_se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2"]


@pytest.mark.parametrize("row", REFERENCE.to_dict("records"), ids=lambda r: f"{r['dataset']}-{r['method']}")
def test_agrees_with_metafor(row):
    """Numbers from scripts/metafor_reference.R (metafor rma / rma.glmm, measure PLO)."""
    k = [int(x) for x in row["events"].split()]
    n = [int(x) for x in row["total"].split()]
    fit = glmm_logit(k, n) if row["method"] == "GLMM" else reml_logit(k, n)
    for column in COMPARED:
        assert getattr(fit, column) == pytest.approx(row[column], abs=1e-3), column
    assert fit.i2 / 100 == pytest.approx(row["i2"] / 100, abs=1e-3)


def test_clopper_pearson_known_values():
    lower, upper = clopper_pearson([0, 5, 3], [5, 5, 10])
    assert lower[0] == 0 and upper[1] == 1
    assert upper[0] == pytest.approx(1 - 0.025 ** (1 / 5))  # closed form for 0/n
    assert lower[1] == pytest.approx(0.025 ** (1 / 5))
    assert (lower[2], upper[2]) == (pytest.approx(0.06673951, abs=1e-6), pytest.approx(0.65245285, abs=1e-6))


def test_single_study():
    fit = glmm_logit([3], [10])
    assert fit.estimate == pytest.approx(0.3) and fit.tau2 == 0 and fit.k == 1
    assert reml_logit([3], [10]).estimate == pytest.approx(0.3)


def test_all_studies_without_events_gives_no_glmm_estimate_but_no_crash():
    fit = glmm_logit([0, 0, 0], [4, 6, 2])
    assert not fit.converged and np.isnan(fit.estimate)
    reml = reml_logit([0, 0, 0], [4, 6, 2])
    assert 0 < reml.estimate < 0.2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.floats(0, 1)), min_size=2, max_size=8))
def test_pooled_estimate_within_range_and_ci(studies):
    n = np.array([s[0] for s in studies])
    k = np.round(n * np.array([s[1] for s in studies])).astype(int)
    for fit in (reml_logit(k, n), glmm_logit(k, n)):
        if not fit.converged or np.isnan(fit.estimate):
            continue
        assert 0 <= fit.ci_lower <= fit.estimate <= fit.ci_upper <= 1
        assert fit.pi_lower <= fit.ci_lower + 1e-9 and fit.pi_upper >= fit.ci_upper - 1e-9
        assert fit.tau2 >= 0 and 0 <= fit.i2 <= 100
