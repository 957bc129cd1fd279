"""The evidence site without a browser: sentence wording, escaping, pages present, build hook, CLI."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from carte_evidence import load
from carte_evidence.cli.main import app
from carte_evidence.outputs.site import build_site
from carte_evidence.outputs.site.docs import render_markdown
from carte_evidence.outputs.site.sentences import SENTENCES, headline_sentences, load_sentences, proportion_words, unknown_sentences

from conftest import REAL, edit

runner = CliRunner()


@pytest.fixture(scope="module")
def tables():
    return load(REAL)


def row(**over) -> dict:
    """A headline row (the long format of analysis.headline) with made-up numbers."""
    base = {
        "disease_id": "sle", "disease": "lupus", "analysis": "efficacy", "label": "Remission", "measure_label": "DORIS remission",
        "timepoint": "6 months", "studies": 12, "patients": 168, "events": 118, "n": 168, "k": 12, "estimate": 0.7,
        "ci_low": 0.6, "ci_high": 0.8, "certainty": "low", "reasons": "most studies are small case series", "note": "",
    }
    return {**base, **over}


# ---- sentences ---------------------------------------------------------------------------------

def test_pooled_sentence_gives_the_estimate_and_its_certainty_in_words():
    text = " ".join(headline_sentences(row()))
    assert text == (
        "In 12 studies with 168 people with lupus, about 7 in 10 were in remission or responding (6 months), "
        "measured as DORIS remission. The certainty of this is low (further research is likely to change it), "
        "because most studies are small case series."
    )


def test_one_study_is_told_as_its_own_count():
    text = " ".join(headline_sentences(row(k=1, studies=1, patients=3, n=3, events=2, estimate=2 / 3, note="too few studies to pool")))
    assert text.startswith("In 1 study with 3 people with lupus, 2 of 3 (about 7 in 10) were in remission")
    assert "pooled" not in text


def test_one_person_is_singular():
    text = headline_sentences(row(k=1, studies=1, patients=1, n=1, events=1, estimate=1.0))[0]
    assert "with 1 person with lupus, 1 of 1 (all)" in text


def test_no_events_says_none_and_what_cannot_be_ruled_out():
    sentences = headline_sentences(row(analysis="crs_ge3", label="CRS, grade 3 or higher", k=3, patients=25, n=25, events=0, estimate=0.0, ci_low=0.0, ci_high=0.137))
    assert sentences[0] == "None of 25 people in 3 studies had severe cytokine release syndrome (CRS grade 3 or higher)."
    assert sentences[1] == "That does not mean it cannot happen: with this few people, a risk of up to 14 in 100 cannot be ruled out."
    assert sentences[2].startswith("The certainty of this is low")


def test_degenerate_pool_is_not_presented_as_precise():
    degenerate = row(k=5, studies=5, patients=40, n=40, events=39, estimate=0.999, ci_low=0.0, ci_high=1.0, note="degenerate fit")
    text = " ".join(headline_sentences(degenerate))
    assert "39 of 40" in text and "simple count, not a pooled estimate (degenerate fit)" in text
    assert "almost all" not in text and "about" not in text.split(".")[0]
    # the same row without the note is told as a pooled estimate
    assert "almost all were in remission" in headline_sentences({**degenerate, "note": ""})[0]


def test_no_data_has_no_number_and_no_certainty():
    assert headline_sentences(row(analysis="death", k=0, studies=0, patients=0, n=0, events=0, estimate=float("nan"), note="no data")) == [
        "No study of lupus has counted death from any cause with its number of patients yet."
    ]


@pytest.mark.parametrize("p, words", [(0, "none"), (1, "all"), (0.01, "fewer than 1 in 20"), (0.97, "almost all"), (0.06, "about 1 in 10"), (0.5, "about 5 in 10")])
def test_proportion_words(p, words):
    assert proportion_words(p) == words


def test_wording_comes_from_the_data_file(tmp_path):
    data = yaml.safe_load(SENTENCES.read_text(encoding="utf-8"))
    data["efficacy"]["pooled"] = "{studies}: {share} ({disease})."
    data["proportion"]["about_in_10"] = "roughly {tens}/10"
    custom = tmp_path / "sentences.yaml"
    custom.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert headline_sentences(row(), load_sentences(custom))[0] == "12 studies: roughly 7/10 (lupus)."


def test_what_is_not_known_yet():
    facts = {"disease": "lupus", "studies": 2, "patients": 9, "randomized": False, "followup_months": 24.0, "missing": ["death"], "trials_pending": 3}
    out = unknown_sentences(facts)
    assert any("randomized" in s for s in out)
    assert "The longest follow-up reported is 24 months; whether remissions last beyond that is not known." in out
    assert "No study has counted death from any cause with its number of patients." in out
    assert "3 registered trials in lupus are not linked to published results yet." in out
    assert any(s.startswith("All the numbers come from 9 people") for s in out)
    assert not any("randomized" in s for s in unknown_sentences({**facts, "randomized": True}))


# ---- Markdown documents ------------------------------------------------------------------------

def test_markdown_escapes_html_and_points_links_at_site_pages():
    html = render_markdown("# Rules\n\n<script>x()</script> See [the rules](CURATION.md), [grading](../schemas/grading.yaml) and [below](#Rules).\n", "docs/grading.md", "grading")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<h2 id="grading-rules">' in html
    assert 'href="methods.html#curation"' in html
    assert 'href="#grading-rules"' in html
    assert "grading.yaml" not in html and "<span>grading</span>" in html  # no page: plain text


# ---- the built site ----------------------------------------------------------------------------

def test_every_study_and_disease_has_a_page(site_dir, tables):
    assert {p.stem for p in (site_dir / "study").glob("*.html")} == set(tables["studies"]["study_id"])
    assert {p.stem for p in (site_dir / "disease").glob("*.html")} == set(tables["diseases"]["disease_id"])
    for name in ("index", "diseases", "products", "trials", "downloads", "contribute", "methods", "changelog", "search"):
        assert (site_dir / f"{name}.html").is_file(), name


def test_home_page_counts_version_and_headline(site_dir, tables):
    html = (site_dir / "index.html").read_text(encoding="utf-8")
    assert f'<span class="stat">{len(tables["publications"])}</span> publications' in html
    assert f'<span class="stat">{len(tables["trials"])}</span> registered trials' in html
    assert "Data version 0.1.0, 2026-11-25" in html
    assert 'href="disease/sle.html">Systemic lupus erythematosus</a>' in html


def test_home_page_under_500_kb(site_dir):
    html = (site_dir / "index.html").read_text(encoding="utf-8")
    assets = re.findall(r'(?:href|src)="((?:static/)[^"]+)"', html)
    assert assets, "the home page loads its stylesheet"
    total = (site_dir / "index.html").stat().st_size + sum((site_dir / a).stat().st_size for a in assets)
    assert total < 500_000


def test_nothing_is_loaded_from_elsewhere(site_dir):
    for page in site_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r'<(?:script|img|iframe)[^>]+src="(?:https?:)?//', html), page
        assert not re.search(r'<link[^>]+href="(?:https?:)?//', html), page
        assert "@import" not in html
    assert "url(" not in (site_dir / "static" / "site.css").read_text(encoding="utf-8")


def test_disease_page_has_sentences_figures_with_alt_text_and_tables(site_dir):
    html = (site_dir / "disease" / "sle.html").read_text(encoding="utf-8")
    assert "with Systemic lupus erythematosus" in html and "The certainty of this is" in html
    figures = re.findall(r"<figure.*?</figure>", html, re.S)
    assert figures
    for figure in figures:
        assert re.search(r'<svg[^>]+role="img" aria-labelledby="[^"]+"', figure) and "<desc" in figure and "<table" in figure
    assert 'id="unknown"' in html and "registered trial" in html


def test_study_page_has_reports_numbers_quotes_and_grade(site_dir, tables):
    html = (site_dir / "study" / "erlangen-cd19car.html").read_text(encoding="utf-8")
    pubs = tables["publications"][tables["publications"]["study_id"] == "erlangen-cd19car"]
    for pub in pubs.itertuples():
        assert f'id="pub-{pub.publication_id}"' in html
        if isinstance(pub.doi, str):
            assert f'href="https://doi.org/{pub.doi}"' in html
        if isinstance(pub.pmid, str):
            assert f'href="https://pubmed.ncbi.nlm.nih.gov/{pub.pmid}/"' in html
    arms = set(tables["arms"].loc[tables["arms"]["study_id"] == "erlangen-cd19car", "arm_id"])
    outcomes = tables["outcomes"][tables["outcomes"]["arm_id"].isin(arms)]
    assert len(outcomes) and all(f'id="outcome-{o}"' in html for o in outcomes["outcome_id"])
    assert html.count('class="quote"') >= len(outcomes)
    assert "carte grade --explain erlangen-cd19car" in html and "points" in html


def test_trials_page_is_a_full_table_without_javascript(site_dir, tables):
    html = (site_dir / "trials.html").read_text(encoding="utf-8")
    assert html.count('<tr id="trial-') == len(tables["trials"])
    assert '<form id="trial-filters" class="filters" hidden>' in html  # shown by the script only


def test_downloads_list_files_with_size_and_checksum(site_dir):
    html = (site_dir / "downloads.html").read_text(encoding="utf-8")
    arms = site_dir / "downloads" / "data" / "arms.csv"
    assert f'href="downloads/data/arms.csv"' in html
    assert hashlib.sha256(arms.read_bytes()).hexdigest() in html


def test_script_in_a_title_is_escaped(mini, tmp_path):
    edit(mini / "data" / "studies.csv", "study-one,Study one,", 'study-one,"<script>alert(1)</script> one",')
    edit(mini / "data" / "publications.csv", ",First report,", ',"<img src=x onerror=alert(2)>",')
    out = build_site(load(mini), tmp_path / "site", package=mini / "datapackage.json")
    page = (out / "study" / "study-one.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "<img src=x" not in page
    index = (out / "static" / "search-index.js").read_text(encoding="utf-8")
    assert "</script>" not in index and "<\\/script>" in index


def test_build_writes_the_site_with_the_release_files(mini, tmp_path):
    from carte_evidence.outputs.build import build

    dist = build(mini, tmp_path / "dist", figures=False)
    assert (dist / "site" / "index.html").is_file()
    html = (dist / "site" / "downloads.html").read_text(encoding="utf-8")
    assert 'href="../data/arms.csv"' in html and 'href="../derived/arms_wide.csv"' in html
    assert hashlib.sha256((dist / "data" / "arms.csv").read_bytes()).hexdigest() in html
    assert "site/index.html" not in html


def test_cli_site(mini, tmp_path):
    out = tmp_path / "web"
    result = runner.invoke(app, ["site", str(mini), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "study" / "study-one.html").is_file()
    edit(mini / "data" / "adverse_events.csv", "crs,ASTCT,any,7,10", "crs,ASTCT,any,11,10")
    result = runner.invoke(app, ["site", str(mini), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 1 and "Traceback" not in result.output and not (tmp_path / "bad").exists()


def test_sentence_counts_the_people_the_number_is_about():
    """168 people with lupus in the package, but the remission figure rests on 18 of them."""
    text = " ".join(headline_sentences(row(k=2, studies=25, patients=168, n=18, events=13, estimate=0.86, note="too few studies to pool")))
    assert "18 people" in text and "168" not in text
