"""Canonical links of a publication, derived from its identifiers (DOI, PubMed, PMC, registry).

The ``url`` column keeps the page actually read (sometimes a mirror or a news relay); the
canonical link is what a reader should follow to the source of record: the DOI resolver, else
PubMed, else PubMed Central, else the trial registry.
"""

from __future__ import annotations

import re

import pandas as pd


def clean_text(value) -> str:
    """The value as stripped text; "" for a missing value."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def registry_url(trial_id: str, registries: pd.DataFrame) -> str:
    """The registry page of a trial id (matched on each registry's id pattern), or ""."""
    for pattern, template in zip(registries["id_pattern"], registries["url_template"]):
        if clean_text(pattern) and clean_text(template) and re.match(pattern, trial_id):
            return template.replace("{id}", trial_id)
    return ""


def identifier_links(pub: dict, registries: pd.DataFrame) -> list[tuple[str, str]]:
    """[(label, url)] of a publication's identifiers, most canonical first."""
    links = []
    if doi := clean_text(pub.get("doi")):
        links.append((f"DOI {doi}", f"https://doi.org/{doi}"))
    if pmid := clean_text(pub.get("pmid")):
        links.append((f"PubMed {pmid}", f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"))
    if pmcid := clean_text(pub.get("pmcid")):
        links.append((f"PMC {pmcid}", f"https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"))
    for trial_id in clean_text(pub.get("registry_ids")).split():
        links.append((f"Registry {trial_id}", registry_url(trial_id, registries)))
    return links


def canonical_urls(publications: pd.DataFrame, registries: pd.DataFrame) -> pd.Series:
    """Per publication (indexed like ``publications``): its canonical link, or <NA> without an id."""
    def first(pub: dict):
        hrefs = [href for _, href in identifier_links(pub, registries) if href]
        return hrefs[0] if hrefs else pd.NA

    return pd.Series([first(p) for p in publications.to_dict("records")], index=publications.index, dtype="string")
