"""Write the static evidence site: Jinja2 templates (autoescaped) over the data of pages.py.

Every address is relative, so the site works opened from a folder, on any web server and on
GitHub Pages; it loads nothing from elsewhere (styles and scripts are in ``static/``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from carte_evidence.outputs.site.docs import find_document, render_markdown
from carte_evidence.outputs.site.pages import SiteData, page_name

HERE = Path(__file__).parent
# Methods page sections: (anchor, heading, repository document); absent documents are skipped.
METHODS = [
    ("curation", "Curation rules", "CURATION.md"),
    ("grading", "Grading rubric", "docs/grading.md"),
    ("analysis-plan", "Analysis plan", "docs/analysis-plan.md"),
]


def environment() -> Environment:
    """The Jinja2 environment: autoescaping on for every template, undefined names are errors."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "" if v in ("", None) else f"{float(v):.0%}"
    env.filters["page"] = page_name
    return env


def release_info(package: Path | None) -> dict:
    """Version of the data (datapackage.json) and its date (its CHANGELOG entry), when known."""
    version, date = "", ""
    if package and package.is_file():
        version = str(json.loads(package.read_text(encoding="utf-8")).get("version", ""))
    changelog = find_document("CHANGELOG.md", package)
    if version and changelog:
        hit = re.search(rf"^## \[{re.escape(version)}\] - (\S+)", changelog.read_text(encoding="utf-8"), re.M)
        date = hit.group(1) if hit else ""
    return {"version": version, "date": date}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_files(release: Path, site: Path, exclude: Path | None = None) -> list[dict]:
    """Every file of the release folder (but those under ``exclude``): address from the site, size, sha256."""
    out = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        if exclude is not None and exclude in path.parents:
            continue
        size = path.stat().st_size
        out.append({
            "name": path.relative_to(release).as_posix(), "href": Path(os.path.relpath(path, site)).as_posix(),
            "size": size, "size_text": f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB" if size >= 1e3 else f"{size} bytes",
            "sha256": _sha256(path),
        })
    return out


def build_site(tables: dict[str, pd.DataFrame], out: str | Path, package: str | Path | None = None,
               release: str | Path | None = None, headline: pd.DataFrame | None = None,
               grades: pd.DataFrame | None = None) -> Path:
    """Write the site into the folder ``out`` (created; existing files are overwritten).

    ``package`` is the datapackage.json the tables come from (version, documents); ``release`` the
    release folder whose files the downloads page lists (default: a copy of the data package in
    ``out/downloads``); ``headline`` the headline table and ``grades`` the study grades (default:
    computed). Returns ``out``.
    """
    from carte_evidence.analysis import shared

    with shared.over(tables):
        return _build_site(tables, Path(out), package, release, headline, grades)


def _build_site(tables, out: Path, package, release, headline, grades) -> Path:
    from carte_evidence.analysis.headline import headline as compute_headline

    package = Path(package) if package else None
    out.mkdir(parents=True, exist_ok=True)
    (out / "disease").mkdir(exist_ok=True)
    (out / "study").mkdir(exist_ok=True)
    shutil.copytree(HERE / "static", out / "static", dirs_exist_ok=True)
    data = SiteData(tables, compute_headline(tables) if headline is None else headline, grades)
    env = environment()
    meta = release_info(package)
    nav = [("index.html", "Home"), ("diseases.html", "Diseases"), ("trials.html", "Trials"), ("products.html", "Products"),
           ("methods.html", "Methods"), ("downloads.html", "Downloads"), ("contribute.html", "Contribute"), ("changelog.html", "Changelog")]

    def render(template: str, address: str, **context) -> None:
        root = "../" * address.count("/")
        html = env.get_template(template).render(root=root, address=address, nav=nav, meta=meta, **context)
        (out / address).write_text(html, encoding="utf-8")

    diseases = data.disease_list()
    render("home.html", "index.html", counts=data.evidence_counts(), headline=data.headline_table(), diseases=diseases[:8])
    render("diseases.html", "diseases.html", diseases=diseases)
    for did in data.diseases.index:
        render("disease.html", f"disease/{page_name(did)}", d=data.disease_page(did))
    for sid in data.studies.index:
        render("study.html", f"study/{page_name(sid)}", s=data.study_page(sid))
    render("products.html", "products.html", products=data.product_list())
    trials = data.trial_list()
    filters = {
        "disease": sorted({(d["id"], d["name"]) for t in trials for d in t["diseases"]}, key=lambda x: x[1].lower()),
        "target": sorted({t["targets"] for t in trials if t["targets"]}),
        "phase": sorted({t["phase"] for t in trials if t["phase"]}),
        "status": sorted({t["status"] for t in trials if t["status"]}),
        "country": sorted({c for t in trials for c in t["country"].split()}),
    }
    render("trials.html", "trials.html", trials=trials, filters=filters)
    if release is None:  # no release folder: the site carries a copy of the data package
        release = out / "downloads"
        release.mkdir(exist_ok=True)
        if package:
            shutil.copy(package, release / "datapackage.json")
            shutil.copytree(package.parent / "data", release / "data", dirs_exist_ok=True)
        files = download_files(release, out, exclude=None)
    else:
        files = download_files(Path(release), out, exclude=out)
    render("downloads.html", "downloads.html", files=files)
    for template_address, title, documents, intro in (
        ("methods.html", "Methods", METHODS, "How the data were gathered, graded and analysed."),
        ("contribute.html", "How to contribute", [("contributing", "", "CONTRIBUTING.md")], ""),
        ("changelog.html", "Changelog", [("changes", "", "CHANGELOG.md")], ""),
    ):
        sections = []
        for anchor, heading, name in documents:
            path = find_document(name, package)
            if path is not None:
                sections.append({"id": anchor, "heading": heading, "html": render_markdown(path.read_text(encoding="utf-8"), name, anchor, "")})
        extra = {"reviews": _reviews(tables, data)} if template_address == "methods.html" else {}
        render("document.html", template_address, title=title, intro=intro, sections=sections, **extra)
    index = data.search_index()
    (out / "static" / "search-index.js").write_text("window.CARTE_SEARCH = " + json.dumps(index, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/") + ";\n", encoding="utf-8")
    render("search.html", "search.html")
    return out


def _reviews(tables: dict[str, pd.DataFrame], data: SiteData) -> list[dict]:
    """Validation against published reviews: what each says it includes and what we hold of it."""
    from carte_evidence.analysis.coverage import review_summary
    from carte_evidence.outputs.site.pages import records

    if "reviews" not in tables or "review_includes" not in tables:
        return []
    return records(review_summary(tables))


def site(path: str | Path | None = None, out: str | Path = "site") -> Path:
    """Validate the package at ``path`` and write its site into ``out`` (replaced atomically).

    Raises :class:`~carte_evidence.package.problems.ValidationError` when the package is invalid.
    """
    from carte_evidence.package.load import atomic_directory, load
    from carte_evidence.package.paths import resolve_package

    tables = load(path)
    with atomic_directory(Path(out)) as tmp:
        build_site(tables, tmp, package=resolve_package(path))
    return Path(out)
