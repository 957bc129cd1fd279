"""Canonical links of reports and registered trials (DOI, PubMed, PMC, trial registries)."""

from __future__ import annotations

import pandas as pd

from carte_evidence.package.identifiers import clean_text, identifier_links, registry_url  # noqa: F401 (registry_url re-exported)


def publication_links(pub: dict, registries: pd.DataFrame) -> list[dict]:
    """[{label, href}] for one publication row: DOI, PubMed, PMC, its registry ids, the page read."""
    links = [{"label": label, "href": href} for label, href in identifier_links(pub, registries)]
    if url := clean_text(pub.get("url")):
        links.append({"label": "Page read", "href": url})
    return links


def is_external(href: str) -> bool:
    return href.startswith(("http://", "https://", "mailto:"))
