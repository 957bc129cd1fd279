"""The project's Markdown documents (curation rules, grading, changelog, ...) as HTML fragments."""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

import carte_evidence

# Repository documents that have a page on the site: path in the repository -> site address.
SITE_ADDRESSES = {
    "CURATION.md": "methods.html#curation",
    "docs/grading.md": "methods.html#grading",
    "docs/analysis-plan.md": "methods.html#analysis-plan",
    "CONTRIBUTING.md": "contribute.html",
    "CHANGELOG.md": "changelog.html",
}


def find_document(name: str, package: Path | None = None) -> Path | None:
    """A repository document: beside the data package's folder, else in the installed package, else
    in the source checkout. None when it is not shipped."""
    lib = Path(carte_evidence.__file__).resolve().parent
    roots = ([package.resolve().parent.parent] if package else []) + [lib / "_data" / "docs", lib.parents[1]]
    for root in roots:
        if (root / name).is_file():
            return root / name
    return None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _rewrite(href: str, source: str, prefix: str) -> str | None:
    """Where a link of a document points on the site; None to show it as plain text."""
    if href.startswith(("http://", "https://", "mailto:")):
        return href
    if href.startswith("#"):
        return f"#{prefix}-{slug(href[1:])}"
    path = href.split("#")[0]
    resolved = str(Path(source).parent / path) if not path.startswith("/") else path.lstrip("/")
    resolved = re.sub(r"(^|/)[^/]+/\.\./", r"\1", resolved).removeprefix("./")
    return SITE_ADDRESSES.get(resolved) or SITE_ADDRESSES.get(path)


def render_markdown(text: str, source: str, prefix: str, root: str = "") -> Markup:
    """Markdown to HTML: raw HTML in the text is escaped, headings move one level down (the page
    has its own h1) and get ids ``prefix-slug``, links to other documents point at their pages."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    seen: set[str] = set()
    for i, token in enumerate(tokens):
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
            if token.type == "heading_open":
                anchor = f"{prefix}-{slug(tokens[i + 1].content)}"
                while anchor in seen:
                    anchor += "-x"
                seen.add(anchor)
                token.attrSet("id", anchor)
        for child in token.children or []:
            if child.type == "link_open":
                target = _rewrite(child.attrGet("href") or "", source, prefix)
                if target is None:
                    child.tag, child.attrs = "span", {}
                else:
                    child.attrSet("href", target if target.startswith(("http", "#", "mailto:")) else root + target)
        # close tags of links turned into spans
        opened = []
        for child in token.children or []:
            if child.type == "link_open":
                opened.append(child.tag)
            elif child.type == "link_close":
                child.tag = opened.pop() if opened else "a"
    html = md.renderer.render(tokens, md.options, {})
    # Wide tables scroll inside a focusable region instead of widening a phone screen.
    html = html.replace("<table>", '<div class="scroll" tabindex="0" role="region" aria-label="table">\n<table>').replace("</table>", "</table>\n</div>")
    return Markup(html)
