"""The built site in a real browser (headless Chromium): offline, typeset, complete.

Serves the strict build from the ``site`` fixture on 127.0.0.1 and visits pages with
Playwright driving Debian's chromium. Set GRADBOOK_SCREENSHOTS=<folder> to keep a
full-page screenshot of every visited page.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TUTORIALS = sorted(p.stem for p in (ROOT / "gallery").glob("plot_[0-9][0-9]_*.py"))
THEORY = sorted(p.stem for p in (ROOT / "docs" / "theory").glob("*.md") if p.stem != "index")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(site):
    """The built HTML, served on 127.0.0.1 only, on a free port."""
    handler = functools.partial(QuietHandler, directory=str(site.html))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser_context():
    """A persistent Chromium context in a fresh profile folder."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (Debian package 'chromium'; `make test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="gradbook-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def visit(server, browser_context):
    """Open a page; return it with the hosts it requested and the console errors."""
    opened = []

    def _visit(path: str):
        page = browser_context.new_page()
        hosts, errors, failed = set(), [], []
        page.on("request", lambda r: hosts.add(urlparse(r.url).hostname or r.url.split(":")[0]))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(f"{server}/{path}", wait_until="networkidle")
        opened.append(page)
        shots = os.environ.get("GRADBOOK_SCREENSHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(Path(shots) / (path.replace("/", "_") + ".png")), full_page=True
            )
        return page, hosts, errors, failed

    yield _visit
    for page in opened:
        page.close()


def wait_for_math(page) -> int:
    """Wait until MathJax has typeset the page; return the number of formulas."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    return page.locator("mjx-container").count()


def assert_offline_and_clean(hosts, errors, failed):
    assert hosts <= {"127.0.0.1", "data", "blob"}, f"requests left the machine: {hosts}"
    assert not failed, f"failed requests: {failed}"
    assert not errors, f"console errors: {errors}"


def test_landing_page_leads_into_the_tutorials(visit):
    """The landing page loads offline and links the tutorials, theory and API."""
    page, hosts, errors, failed = visit("index.html")
    assert_offline_and_clean(hosts, errors, failed)
    assert "gradbook" in page.title()
    for target in ("auto_examples/index.html", "theory/index.html", "api/index.html"):
        assert page.locator(f'a[href="{target}"]').count() >= 1, target


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_renders_math_and_figures_offline(visit, name):
    """Each tutorial typesets its math with the bundled MathJax and shows its figures."""
    page, hosts, errors, failed = visit(f"auto_examples/{name}.html")
    assert wait_for_math(page) > 0
    images = page.locator("img.sphx-glr-single-img, img.sphx-glr-multi-img")
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    # MathJax reports unknown macros and bad TeX as merror nodes
    assert page.locator("mjx-merror").count() == 0
    assert page.locator("button.copybtn").count() > 0
    assert_offline_and_clean(hosts, errors, failed)


@pytest.mark.parametrize("name", THEORY)
def test_theory_page_typesets(visit, name):
    """Theory pages typeset their math with no errors and no network."""
    page, hosts, errors, failed = visit(f"theory/{name}.html")
    assert wait_for_math(page) > 0
    assert page.locator("mjx-merror").count() == 0
    assert_offline_and_clean(hosts, errors, failed)


def test_gallery_index_shows_a_thumbnail_per_tutorial(visit):
    """The gallery index has one card with a loaded thumbnail for every tutorial."""
    page, hosts, errors, failed = visit("auto_examples/index.html")
    thumbs = page.locator(".sphx-glr-thumbcontainer img")
    assert thumbs.count() == len(TUTORIALS)
    for i in range(thumbs.count()):
        assert thumbs.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert_offline_and_clean(hosts, errors, failed)


def test_search_works_offline(visit, server):
    """The search page finds the first tutorial from its bundled index."""
    page, hosts, errors, failed = visit("search.html?q=requires_grad")
    page.wait_for_selector("#search-results li", timeout=15000)
    assert page.locator("#search-results li").count() >= 1
    assert_offline_and_clean(hosts, errors, failed)
