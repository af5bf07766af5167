"""The real site, built strictly: pages, outputs, figures, math, downloads, API pages."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from sitebuild import ROOT, THEORY, TUTORIALS, html_pages

pytestmark = pytest.mark.slow

API = sorted(p.stem for p in (ROOT / "docs" / "api").glob("*.rst") if p.stem != "index")


def read(build, page: str) -> str:
    path = build.html / page
    assert path.is_file(), f"{page} was not built"
    return path.read_text(encoding="utf-8")


def test_build_is_strict_and_warning_free(site):
    """The build ran with -W and printed no warning at all."""
    assert "build succeeded" in site.output
    # Sphinx prints "path:line: WARNING: ..." or "WARNING: ..."; the Jupyter kernel's
    # own log lines ("[IPKernelApp] WARNING | ...") are not build warnings.
    warnings = [
        line
        for line in site.output.splitlines()
        if "WARNING:" in line and "[IPKernelApp]" not in line
    ]
    assert not warnings


def test_every_tutorial_executed(site):
    """sphinx-gallery ran every numbered script, none from a cache."""
    match = re.search(r"executed (\d+) out of (\d+) file", site.output)
    assert match, site.output[-2000:]
    assert int(match.group(1)) == len(TUTORIALS) == int(match.group(2))


def figures(html: str, name: str) -> list[str]:
    """The gallery figures a tutorial page shows (Sphinx copies them to _images/)."""
    stem = name.split("/")[-1]  # "autograd/plot_01_x": pages sit one folder deeper
    return re.findall(rf'src="(?:\.\./)+_images/(sphx_glr_{stem}_\d{{3}}\.png)"', html)


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_page_shows_outputs_and_figures(site, name):
    """Each tutorial page holds its printed output, its figures as files, and its run time."""
    html = read(site, f"auto_examples/{name}.html")
    assert "sphx-glr-script-out" in html, "no printed output on the page"
    assert "Total running time of the script" in html
    images = figures(html, name)
    assert images, "no figure on the page"
    for image in images:
        assert (site.html / "_images" / image).is_file(), image


@pytest.mark.parametrize("name", TUTORIALS)
def test_no_empty_code_cells(site, name):
    """A cell whose code is all hidden checks would show an empty code box: none does."""
    html = read(site, f"auto_examples/{name}.html")
    empty = re.findall(r'<div class="highlight"><pre>(?:<span[^>]*>\s*</span>|\s)*</pre>', html)
    assert not empty, "a code cell holds only hidden lines: merge them into the cell before"


def test_first_tutorial_prints_the_notebook_numbers(site):
    """Tutorial 01 shows the gradients [4, 6] and [3, 48] and draws its figure."""
    html = read(site, "auto_examples/autograd/plot_01_autograd_basics.html")
    assert "dL/dx      = [4.0, 6.0]" in html
    assert "dL/dy      = [3.0, 48.0]" in html
    assert len(figures(html, "plot_01_autograd_basics")) >= 2  # the graph and the tangent


@pytest.mark.parametrize("name", TUTORIALS)
def test_downloads_exist_and_notebook_is_valid(site, name):
    """The .py and .ipynb downloads exist; the notebook is valid nbformat with a set-up cell."""
    downloads = site.html / "_downloads"
    stem = name.split("/")[-1]
    (py,) = downloads.rglob(f"{stem}.py")
    (ipynb,) = downloads.rglob(f"{stem}.ipynb")
    assert py.read_text().startswith('r"""') or "import" in py.read_text()
    nb = nbformat.read(ipynb, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0].source
    assert "pip install" in first and "%matplotlib inline" in first
    # hidden checks never leak into the notebook (the .py download is the source itself)
    assert "sphinx_gallery_start_ignore" not in "".join(c.source for c in nb.cells)


def test_download_all_zips_exist(site):
    """The gallery offers every script and every notebook as one zip each."""
    zips = {p.name for p in (site.html / "_downloads").rglob("*.zip")}
    assert {"auto_examples_python.zip", "auto_examples_jupyter.zip"} <= zips


def test_math_is_typeset_from_the_bundled_mathjax(site):
    """Pages with math load MathJax from _static, never from a CDN, with our macros."""
    html = read(site, "auto_examples/autograd/plot_01_autograd_basics.html")
    assert 'class="math' in html
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert any(s.endswith("_static/mathjax/tex-chtml.js") for s in scripts), scripts
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    assert (site.html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert "\\\\mathbf{x}" in html or '"vx"' in html  # the notation macros


@pytest.mark.parametrize("name", THEORY)
def test_theory_pages_are_executed(site, name):
    """Each MyST theory page ran its cells: their outputs are on the page."""
    html = read(site, f"theory/{name}.html")
    assert "cell_output" in html, "no executed output on the page"
    assert 'class="math' in html


@pytest.mark.parametrize("name", API)
def test_api_pages_document_the_public_names(site, name):
    """Every name in a module's __all__ has an entry on its API page."""
    from gradbook_sphinx import module_file, public_names

    html = read(site, f"api/{name}.html")
    for public in public_names(module_file(ROOT / "src" / "gradbook", f"gradbook.{name}")):
        assert f'id="gradbook.{name}.{public}"' in html, f"{public} is not documented"


def test_api_pages_link_the_examples_that_use_them(site):
    """Every documented name a tutorial uses shows "Examples using ..." on its API page."""
    from gradbook_sphinx import module_file, public_names

    used = json.loads((site.src / "gen_modules/backreferences/backreferences_all.json").read_text())
    checked = 0
    for module in API:
        html = read(site, f"api/{module}.html")
        for name in public_names(module_file(ROOT / "src" / "gradbook", f"gradbook.{module}")):
            if f"gradbook.{module}.{name}" in used:
                heading = (
                    'Examples using <code class="docutils literal notranslate">'
                    f'<span class="pre">gradbook.{module}.{name}</span>'
                )
                assert heading in html, f"no mini-gallery for gradbook.{module}.{name}"
                checked += 1
    # the tutorials use the models, the training loop, the optimizers, the checker...
    assert checked >= 15


def test_no_generated_sources_are_read_twice(site):
    """sphinx-gallery's .ipynb/.py copies are excluded: no duplicate-document warnings."""
    assert "multiple files found" not in site.output
    assert not list(site.html.rglob("auto_examples/**/*.ipynb.html"))


def test_timing_report_has_every_tutorial_and_no_cdn(site):
    """The execution-time page lists each tutorial and loads nothing from a CDN."""
    html = read(site, "auto_examples/execution_times.html")
    for name in TUTORIALS:
        assert f"{name.split('/')[-1]}.py" in html
    assert "cdn." not in html and "code.jquery.com" not in html
    assert not list(site.html.rglob("sg_execution_times.html"))


def test_built_pages_reference_no_remote_script_or_style(site):
    """No page loads a script, stylesheet, font or image from another host."""
    pattern = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"')
    offenders = {}
    for page in site.html.rglob("*.html"):
        remote = pattern.findall(page.read_text(encoding="utf-8"))
        if remote:
            offenders[str(page.relative_to(site.html))] = remote
    assert not offenders


class Anchors(HTMLParser):
    """The ids a page defines and the URLs it points at (links, images, scripts...)."""

    LINKING = {"a", "link", "img", "script", "source", "iframe", "video", "audio"}

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("name"):
            self.ids.add(attributes["name"])
        if tag in self.LINKING:
            self.urls += [attributes[k] for k in ("href", "src") if attributes.get(k) is not None]


def built_pages(build) -> dict[Path, Anchors]:
    """Every HTML page of the site, parsed."""
    pages = {}
    for path in html_pages(build.html):
        parsed = Anchors()
        parsed.feed(path.read_text(encoding="utf-8"))
        pages[path.resolve()] = parsed
    return pages


def test_every_internal_link_points_at_an_existing_file_and_anchor(site):
    """No broken internal link: each relative URL names a built file, each #anchor an id in it."""
    pages = built_pages(site)
    broken, checked, anchors = [], 0, 0
    for path, parsed in pages.items():
        for url in parsed.urls:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue  # links to other sites are checked by no test: nothing is fetched
            checked += 1
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site.html.resolve())}: {url}"
            if not target.is_file():
                broken.append(where)
            elif parts.fragment and target.suffix == ".html":
                anchors += 1
                if unquote(parts.fragment) not in pages[target].ids:
                    broken.append(where + " (no such anchor)")
    assert not broken, "\n".join(broken[:50])
    # the site is cross-linked: navigation, API entries, tutorial cards, back-references
    assert len(pages) >= 30 and checked > 2000 and anchors > 500, (len(pages), checked, anchors)


ERROR_PHRASES = [  # issue 14's list: a reader pastes one of these into the search box
    "Trying to backward through the graph a second time",
    "grad can be implicitly created only for scalar outputs",
    "element 0 of tensors does not require grad and does not have a grad_fn",
    "a leaf Variable that requires grad is being used in an in-place operation",
    "one of the variables needed for gradient computation has been modified by an inplace",
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed",
    "Can't call numpy() on Tensor that requires grad",
    "Inference tensors cannot be saved for backward",
    "mat1 and mat2 shapes cannot be multiplied",
    "mat1 and mat2 must have the same dtype",
    "0D or 1D target tensor expected, multi-target not supported",
]


@pytest.mark.parametrize("phrase", ERROR_PHRASES, ids=lambda p: p[:30])
def test_site_search_finds_the_errors_page_for_every_message(site, phrase):
    """Every word of each message (as Sphinx's English search stems it) is indexed for
    the errors page, so searching the message lists that page."""
    from sphinx.search.en import SearchEnglish

    text = (site.html / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    page = index["docnames"].index("auto_examples/autograd/plot_11_autograd_errors")
    english = SearchEnglish({})

    def pages(term: str) -> set[int]:
        found = set()
        for table in (index["terms"], index["titleterms"]):
            hits = table.get(term, [])
            found |= set(hits if isinstance(hits, list) else [hits])
        return found

    words = [w.lower() for w in re.findall(r"\w+", phrase)]
    terms = [english.stem(w) for w in words if len(w) > 2 and w not in english.stopwords]
    assert terms and all(page in pages(t) for t in terms), [
        t for t in terms if page not in pages(t)
    ]
