"""Canonical links of reports and registered trials (DOI, PubMed, PMC, trial registries)."""

from __future__ import annotations

import re

import pandas as pd


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def registry_url(trial_id: str, registries: pd.DataFrame) -> str:
    """The registry page of a trial id (matched on each registry's id pattern), or ""."""
    for pattern, template in zip(registries["id_pattern"], registries["url_template"]):
        if _text(pattern) and _text(template) and re.match(pattern, trial_id):
            return template.replace("{id}", trial_id)
    return ""


def publication_links(pub: dict, registries: pd.DataFrame) -> list[dict]:
    """[{label, href}] for one publication row: DOI, PubMed, PMC, its registry ids, the page read."""
    links = []
    if doi := _text(pub.get("doi")):
        links.append({"label": f"DOI {doi}", "href": f"https://doi.org/{doi}"})
    if pmid := _text(pub.get("pmid")):
        links.append({"label": f"PubMed {pmid}", "href": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"})
    if pmcid := _text(pub.get("pmcid")):
        links.append({"label": f"PMC {pmcid}", "href": f"https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"})
    for trial_id in _text(pub.get("registry_ids")).split():
        href = registry_url(trial_id, registries)
        links.append({"label": f"Registry {trial_id}", "href": href})
    if url := _text(pub.get("url")):
        links.append({"label": "Page read", "href": url})
    return links


def is_external(href: str) -> bool:
    return href.startswith(("http://", "https://", "mailto:"))
