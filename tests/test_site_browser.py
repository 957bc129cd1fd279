"""The evidence site in a real browser: headless Chromium (Debian `chromium`, `chromium-driver`)
driven by Selenium with the system chromedriver, nothing downloaded at run time.

Without Chromium these tests are skipped with the reason; in CI (``CI=true``) they fail instead.
Screenshots at desktop and phone width are kept in tests/artifacts/ (not committed).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not any(shutil.which(b) for b in BROWSERS):
        return "Chromium is not installed (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return ""


@pytest.fixture(scope="module")
def driver():
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


def url(site: Path, address: str) -> str:
    return (site / address).resolve().as_uri()


PAGE_FACTS = """
return {
  title: document.title,
  h1: document.querySelectorAll('h1').length,
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
};
"""


def test_every_page_loads_and_every_internal_link_resolves(driver, site_dir):
    """Crawl from the home page, following every link inside the site: every page is reached,
    every link target exists and every #anchor is an element of the target page."""
    root = site_dir.resolve()
    start = url(site_dir, "index.html")
    queue, facts, links = [start], {}, []
    while queue:
        page = queue.pop()
        if page in facts:
            continue
        driver.get(page)
        found = driver.execute_script(PAGE_FACTS)
        assert found["title"] and found["h1"] == 1, f"{page}: title {found['title']!r}, {found['h1']} h1"
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{page}: {errors}"
        facts[page] = set(found["ids"])
        for href in found["links"]:
            parts = urlsplit(href)
            if parts.scheme != "file":
                continue
            target = Path(unquote(parts.path))
            assert root in target.parents, f"{page} links outside the site: {href}"
            assert target.is_file(), f"{page} links to a missing file: {href}"
            links.append((page, target, parts.fragment))
            if target.suffix == ".html" and target.as_uri() not in facts:
                queue.append(target.as_uri())
    pages = {p.resolve().as_uri() for p in site_dir.rglob("*.html")}
    assert pages <= set(facts), f"pages no link leads to: {sorted(pages - set(facts))}"
    missing = [(page, target.name, anchor) for page, target, anchor in links if anchor and anchor not in facts.get(target.as_uri(), set())]
    assert not missing, f"missing anchors: {missing[:10]}"


def test_trials_filter_and_sort(driver, site_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.get(url(site_dir, "trials.html"))
    form = driver.find_element(By.ID, "trial-filters")
    assert form.is_displayed()  # the script shows the filters
    rows = driver.find_elements(By.CSS_SELECTOR, "#trials-table tbody tr")
    Select(driver.find_element(By.CSS_SELECTOR, "select[data-filter=disease]")).select_by_value("sle")
    visible = [r for r in rows if r.is_displayed()]
    assert 0 < len(visible) < len(rows)
    assert all("sle" in r.get_attribute("data-disease").split() for r in visible)
    assert driver.find_element(By.ID, "trial-count").text == f"{len(visible)} of {len(rows)} trials shown."
    Select(driver.find_element(By.CSS_SELECTOR, "select[data-filter=phase]")).select_by_value("phase 1")
    both = [r for r in rows if r.is_displayed()]
    assert len(both) < len(visible) and all(r.get_attribute("data-phase") == "phase 1" for r in both)
    driver.find_element(By.CSS_SELECTOR, "#trial-filters button[type=reset]").click()
    # the reset handler runs after the form's own reset: wait for it rather than race it
    WebDriverWait(driver, 10).until(lambda d: len([r for r in rows if r.is_displayed()]) == len(rows))
    # sort by start year, then reverse it
    header = driver.find_element(By.XPATH, "//th[button[normalize-space()='Start']]")
    header.find_element(By.TAG_NAME, "button").click()
    years = [y for y in driver.execute_script("return Array.from(document.querySelectorAll('#trials-table tbody tr')).map(r => r.cells[7].textContent.trim())") if y]
    assert years == sorted(years) and years[0] != years[-1]
    assert header.get_attribute("aria-sort") == "ascending"
    header.find_element(By.TAG_NAME, "button").click()
    years = [y for y in driver.execute_script("return Array.from(document.querySelectorAll('#trials-table tbody tr')).map(r => r.cells[7].textContent.trim())") if y]
    assert years == sorted(years, reverse=True)


def test_search_box(driver, site_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url(site_dir, "index.html"))
    box = driver.find_element(By.ID, "site-search")
    box.send_keys("lupus erythematosus", Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: urlsplit(d.current_url).path.endswith("/search.html"))
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results a"))
    results = driver.find_elements(By.CSS_SELECTOR, "#search-results a")
    assert results and results[0].text == "Systemic lupus erythematosus"
    assert "result" in driver.find_element(By.ID, "search-status").text
    field = driver.find_element(By.ID, "search-page-q")
    field.clear()
    field.send_keys("NCT")
    WebDriverWait(driver, 10).until(lambda d: "NCT" in (d.find_elements(By.CSS_SELECTOR, "#search-results a") or [d.find_element(By.TAG_NAME, "body")])[0].text)
    trials = driver.find_elements(By.CSS_SELECTOR, "#search-results a")
    assert trials and all("NCT" in a.text for a in trials[:5])
    field.clear()
    field.send_keys("zzzz-no-such-thing")
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "search-status").text.startswith("0 results"))
    assert not driver.find_elements(By.CSS_SELECTOR, "#search-results a")
    assert driver.find_element(By.ID, "search-status").text.startswith("0 results")
    field.clear()
    field.send_keys("Systemic lupus")
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results a"))
    driver.find_element(By.CSS_SELECTOR, "#search-results a").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("CAR-T in"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "CAR-T in Systemic lupus erythematosus"


SCREENS = ["index.html", "disease/sle.html", "study/erlangen-cd19car.html", "trials.html", "products.html", "methods.html"]


@pytest.mark.parametrize("width", [1280, 375])
def test_screenshots_and_no_sideways_scrolling(driver, site_dir, width):
    ARTIFACTS.mkdir(exist_ok=True)
    for address in SCREENS:
        driver.set_window_size(width, 900)
        driver.get(url(site_dir, address))
        inner, scroll = driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert scroll <= inner, f"{address} at {width} px is {scroll} px wide"
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(height + 140, 6000))
        path = ARTIFACTS / f"{address.replace('/', '_').removesuffix('.html')}-{width}.png"
        assert driver.save_screenshot(str(path)) and path.stat().st_size > 1000
    driver.set_window_size(1280, 900)


# One page of each template.
AXE_PAGES = ["index.html", "diseases.html", "disease/sle.html", "disease/aav.html", "study/erlangen-cd19car.html", "products.html",
             "trials.html", "downloads.html", "methods.html", "contribute.html", "changelog.html", "search.html"]


def test_accessibility_axe(driver, site_dir):
    """axe-core (vendored, MPL-2.0) finds no serious or critical violation of WCAG A/AA."""
    source = AXE.read_text(encoding="utf-8")
    driver.set_script_timeout(60)
    problems = {}
    for address in AXE_PAGES:
        driver.get(url(site_dir, address))
        driver.execute_script(source)
        result = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', nodes: [String(e)]}]));"
        )
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        if bad:
            problems[address] = bad
    assert not problems, problems


def test_keyboard_reaches_the_content(driver, site_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url(site_dir, "index.html"))
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = driver.switch_to.active_element
    assert skip.text == "Skip to content" and skip.is_displayed()
    skip.send_keys(Keys.ENTER)
    assert driver.execute_script("return document.activeElement.id") == "main"


def test_script_in_a_title_is_inert(driver, mini, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    from carte_evidence import load
    from carte_evidence.outputs.site import build_site

    from conftest import edit

    edit(mini / "data" / "studies.csv", "study-one,Study one,", 'study-one,"<script>alert(1)</script> one",')
    out = build_site(load(mini), tmp_path / "site", package=mini / "datapackage.json")
    driver.get(url(out, "study/study-one.html"))
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text
    assert driver.find_element(By.TAG_NAME, "h1").text == "<script>alert(1)</script> one"
