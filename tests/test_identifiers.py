"""Canonical links come from identifiers, most canonical first; the page read stays beside them."""

from __future__ import annotations

import pandas as pd

from carte_evidence import load
from carte_evidence.analysis.derived import arms_wide
from carte_evidence.package.identifiers import canonical_urls

REGISTRIES = pd.DataFrame({"registry": ["clinicaltrials.gov"], "id_pattern": [r"^NCT\d{8}$"], "url_template": ["https://clinicaltrials.gov/study/{id}"]})


def test_canonical_url_prefers_doi_then_pubmed_then_pmc_then_registry():
    pubs = pd.DataFrame({
        "doi": ["10.1/x", None, None, None, None], "pmid": ["123", "456", None, None, None],
        "pmcid": [None, "PMC1", "PMC2", None, None], "registry_ids": [None, None, None, "NCT00000001", None],
    })
    assert canonical_urls(pubs, REGISTRIES).tolist()[:4] == [
        "https://doi.org/10.1/x", "https://pubmed.ncbi.nlm.nih.gov/456/",
        "https://pmc.ncbi.nlm.nih.gov/articles/PMC2/", "https://clinicaltrials.gov/study/NCT00000001"]
    assert pd.isna(canonical_urls(pubs, REGISTRIES).iloc[4])


def test_arms_wide_carries_canonical_link_and_harmonised_crs():
    wide = arms_wide(load()).set_index("arm_id")
    erlangen = wide.loc["erlangen-cd19car.mixed-autoimmune"]
    assert erlangen["url"] and erlangen["canonical_url"].startswith("https://doi.org/10.1056/")
    # Müller 2024 reports CRS per grade (10 grade 1, 1 grade 2): any grade is derived as 11/15
    assert (erlangen["crs_any_events"], erlangen["crs_any_evaluable"]) == (11, 15)


def test_eudract_and_eu_ct_numbers_go_to_their_own_registry(real_tables):
    from carte_evidence.package.identifiers import registry_url

    registries = real_tables["registries"]
    # EudraCT numbers have a 0 after the year, EU CT numbers (CTIS) a 5; one pattern must not take both.
    assert "clinicaltrialsregister.eu" in registry_url("2022-001366-35", registries)
    assert "euclinicaltrials.eu" in registry_url("2024-519552-93", registries)
    assert "euclinicaltrials.eu" in registry_url("2024-519552-93-00", registries)
