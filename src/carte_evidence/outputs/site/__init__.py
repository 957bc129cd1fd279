"""The evidence site: static HTML pages (home, diseases, studies, products, trials, downloads,
methods, contribute, changelog, search) built from the data package by `carte site` and
`carte build` (``dist/site/``)."""

from carte_evidence.outputs.site.builder import build_site, site

__all__ = ["build_site", "site"]
