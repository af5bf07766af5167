"""Every download runs as downloaded: the notebooks, their zip, the scripts, the wheel.

sphinx-gallery turns each tutorial into a ``.ipynb`` that readers download and run
on their own machine, far from the Sphinx build that seeded and set up the script.
Each notebook from the strict site build is executed here with nbclient, in a
fresh empty folder, by a kernel from a separate virtual environment that holds
gradbook (installed from the current source, not editable) and its runtime
dependencies plus ipykernel and nbclient: no Sphinx, no sphinx-gallery, no pytest.
The notebooks run two at a time (tutorial 20, which times processes of its own,
alone). Each run must raise no error, draw the page's figures, print the page's text
block for block (the notebook's first cell seeds as the build does: this second run
of every tutorial is what shows the site reproducible), and leave no file behind. The
theory pages' code runs again the same way, from the notebooks myst-nb executed.

The environment is cached in build/notebook-env, keyed by pyproject.toml,
constraints.txt and the interpreter; gradbook alone is reinstalled whenever a file
under src/gradbook changes.

The notebooks read as Jupyter shows them: Markdown with no reST left, the site's TeX
macros defined in the notebook itself, links that reach the site's pages. And a
reader's whole path is followed once: the built site served on 127.0.0.1, a fresh
environment with pip and ipykernel only, a notebook downloaded from the tutorial's
page whose own first cell installs gradbook's wheel from the site (torch and the rest
from the registry, under constraints.txt), then run to the end; a notebook from the
zip of all notebooks, run the same way; and a downloaded script, run with ``python``
in an empty folder that it leaves empty.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.metadata
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from gradbook_sphinx.notebooks import (
    LOCAL_SITE,
    LUA_FILTER,
    SITE_VARIABLE,
    site_url,
    wheel_name,
)
from sitebuild import ROOT, THEORY, TUTORIALS, as_printed, printed_blocks

pytestmark = pytest.mark.slow


ENV = ROOT / "build" / "notebook-env"
STAMP = ENV / "gradbook-stamp.json"
SOURCE = ROOT / "src" / "gradbook"
# What the environment must not hold: the docs and test tooling.
FORBIDDEN = ("sphinx", "sphinx_gallery", "myst_nb", "pytest", "hypothesis", "playwright")
CELL_TIMEOUT = 300  # seconds per cell; a tutorial takes a few seconds in all
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Appended to each notebook: which interpreter ran the kernel, and where.
PROBE = (
    "import json, os, sys\n"
    'print(json.dumps({"executable": sys.executable, "prefix": sys.prefix, "cwd": os.getcwd()}))'
)

# Runs with the environment's own interpreter, so nbclient starts that environment's
# python3 kernel. Errors stay in the written notebook, for the test to report.
DRIVER = """\
import json, sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

source, target, run_dir, timeout, probe = sys.argv[1:]
nb = nbformat.read(source, as_version=4)
nb.cells.append(nbformat.from_dict(
    {"cell_type": "code", "metadata": {}, "source": probe, "outputs": [], "execution_count": None}
))
# "immediate": kill the kernel when done instead of waiting ~2 s for it to exit.
client = NotebookClient(
    nb,
    timeout=int(timeout),
    kernel_name="python3",
    shutdown_kernel="immediate",
    resources={"metadata": {"path": run_dir}},
)
try:
    client.execute()
except CellExecutionError:
    pass
with open(target, "w", encoding="utf-8") as f:
    json.dump(nb, f)
"""

# Runs in the environment: what it holds, and where gradbook comes from.
INSPECT = """\
import importlib.util, json, sys, sysconfig

import gradbook

print(json.dumps({
    "prefix": sys.prefix,
    "purelib": sysconfig.get_paths()["purelib"],
    "gradbook": gradbook.__file__,
    "present": [name for name in sys.argv[1:] if importlib.util.find_spec(name)],
}))
"""


def clean_environ(**extra: str) -> dict[str, str]:
    """os.environ without anything that points Python or Jupyter somewhere else."""
    prefixes = ("PYTHON", "JUPYTER", "IPYTHON", "MPL", "VIRTUAL_ENV", "CONDA")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


def digest_files(folder: Path, pattern: str = "*") -> str:
    """A hash of the names and contents of the files under ``folder`` (no bytecode)."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob(pattern)):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(path.relative_to(folder).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def env_key(base: str) -> str:
    """What the environment is made from: the requirements, the pins, the interpreter."""
    h = hashlib.sha256()
    for part in ((ROOT / "pyproject.toml").read_bytes(), (ROOT / "constraints.txt").read_bytes()):
        h.update(part + b"\0")
    h.update(f"{base}\0{sys.version}".encode())
    return h.hexdigest()


def read_stamp() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def write_stamp(folder: Path, stamp: dict) -> None:
    tmp = folder / (STAMP.name + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=1))
    os.replace(tmp, folder / STAMP.name)


def run(cmd: list, what: str, timeout: float = 1800, **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure, fail the test with the tail of its output."""
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-6000:]}"
        )
    return proc


def pip_install(python: Path, *args) -> None:
    env = clean_environ(PIP_DISABLE_PIP_VERSION_CHECK="1")
    # --no-compile: byte-compiling torch's files takes two thirds of its install (20 of
    # 29 s here); Python compiles what a kernel imports when it imports it
    cmd = [python, "-m", "pip", "install", "-q", "--no-input", "--no-compile", *args]
    run(cmd, "pip install " + " ".join(map(str, args)), env=env)


def create_env(key: str, package: Path) -> None:
    """Make the environment in a sibling folder and move it into place once complete."""
    ENV.parent.mkdir(parents=True, exist_ok=True)
    for stale in ENV.parent.glob(ENV.name + ".*.partial"):
        if time.time() - stale.stat().st_mtime > 3600:  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    partial = Path(tempfile.mkdtemp(prefix=ENV.name + ".", suffix=".partial", dir=ENV.parent))
    try:
        run([base, "-m", "venv", "--clear", partial], "python -m venv", env=clean_environ())
        pip_install(
            partial / "bin" / "python",
            "-c",
            ROOT / "constraints.txt",
            package,
            "ipykernel",
            "nbclient",
        )
        write_stamp(partial, {"env": key, "source": digest_files(SOURCE)})
        if read_stamp().get("env") == key:  # another session finished one meanwhile
            return
        if ENV.exists():
            shutil.rmtree(ENV)
        # Only bin/python is used (as ``python -m ...``): console scripts in bin/ keep
        # the partial folder's path in their #! line.
        partial.rename(ENV)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


@pytest.fixture(scope="session")
def notebook_python(site, tmp_path_factory) -> Path:
    """The interpreter of an environment with only gradbook (the site's wheel, as readers
    get it) and a notebook runner in it."""
    base = getattr(sys, "_base_executable", sys.executable)
    key = env_key(base)
    python = ENV / "bin" / "python"
    stamp = read_stamp()
    wheel = site.html / "_downloads" / WHEEL  # built from src/ by this run's site build
    if stamp.get("env") != key or not python.exists():
        create_env(key, wheel)
    elif stamp.get("source") != digest_files(SOURCE):
        # gradbook is not installed editable: bring it up to date with src/.
        write_stamp(ENV, {"env": key, "source": None})
        pip_install(python, "--no-deps", "--force-reinstall", wheel)
        write_stamp(ENV, {"env": key, "source": digest_files(SOURCE)})

    proc = run(
        [python, "-c", INSPECT, *FORBIDDEN],
        "inspecting the notebook env",
        timeout=300,
        env=clean_environ(),
        cwd=tmp_path_factory.mktemp("inspect"),
    )
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(found["prefix"]).resolve() == ENV.resolve()
    assert not found["present"], f"the notebook env holds docs/test tools: {found['present']}"
    installed = Path(found["gradbook"]).parent
    assert installed.is_relative_to(Path(found["purelib"])), installed  # not the repo's src/
    assert digest_files(installed, "*.py") == digest_files(SOURCE, "*.py"), "gradbook is stale"
    return python


def site_notebook(site, name: str) -> Path:
    """The notebook of tutorial ``name`` ("<part>/plot_NN_topic") among the site's downloads."""
    (notebook,) = (site.html / "_downloads").glob(f"*/{name.split('/')[-1]}.ipynb")
    return notebook


def page_figures(site, name: str) -> int:
    """How many figures (animations included) the page of tutorial ``name`` shows."""
    html = (site.html / "auto_examples" / f"{name}.html").read_text(encoding="utf-8")
    stem = name.split("/")[-1]
    figures = set(re.findall(rf'src="(?:\.\./)+_images/(sphx_glr_{stem}_\d{{3}}\.png)"', html))
    # An animation is a JavaScript player on the page, one still figure in the notebook.
    return len(figures) + html.count('class="sphx-glr-animation')


def untracked() -> set[str]:
    """The untracked paths in the repository, ignored ones included (e.g. a stray *.pt)."""
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        return set()
    cmd = ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return {line[3:] for line in proc.stdout.splitlines() if line[:2] in ("??", "!!")}


def outputs(cell: dict, kind: str) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o["output_type"] == kind]


def ran_cleanly(nb: dict) -> tuple[list[dict], dict]:
    """Fail on any error or skipped cell; return the code cells and what the probe printed."""
    *cells, probe = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in [*cells, probe]:
        for error in outputs(cell, "error"):
            traceback = ANSI.sub("", "\n".join(error["traceback"]))
            pytest.fail(f"cell failed:\n{''.join(cell['source'])}\n\n{traceback}", pytrace=False)
    skipped = [c for c in cells if "".join(c["source"]).strip() and not c["execution_count"]]
    assert not skipped, f"{len(skipped)} cells did not run"
    return cells, json.loads("".join(outputs(probe, "stream")[0]["text"]).splitlines()[-1])


def execute(
    python: Path,
    notebook: Path,
    tmp_path: Path,
    kernel: Path | None = None,
    probe: str = PROBE,
    **environ: str,
) -> tuple[dict, Path]:
    """Run ``notebook`` in an empty folder; return the executed notebook and the folder.

    nbclient runs in ``python`` and starts the kernel of ``python``'s environment, or
    ``kernel``'s when given. ``environ`` is added to the kernel's environment.
    """
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    home = tmp_path / "home"
    env = clean_environ(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(home / "ipython"),
        MPLCONFIGDIR=str(home / "matplotlib"),
        TMPDIR=str(home / "tmp"),  # torch puts a torchinductor_<user> folder there
        OMP_NUM_THREADS="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        **environ,
    )
    (home / "tmp").mkdir(parents=True)
    if kernel is not None:  # JUPYTER_PATH comes first: before the driver's own "python3"
        env["JUPYTER_PATH"] = str(home / "jupyter-path")
        spec = home / "jupyter-path" / "kernels" / "python3"
        spec.mkdir(parents=True)
        argv = [str(kernel), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec.joinpath("kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": "reader", "language": "python"})
        )
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    executed = tmp_path / "executed.ipynb"
    cmd = [python, driver, notebook, executed, run_dir, CELL_TIMEOUT, probe]
    run(cmd, f"executing {notebook.name}", timeout=1800, env=env, cwd=home)
    return json.loads(executed.read_text(encoding="utf-8")), run_dir


# Two kernels at a time on 2 cores. Tutorial 20 starts processes of its own and times
# them: it runs alone, first (as in the gallery build).
NOTEBOOKS_AT_ONCE = 2
ALONE = ("training/plot_20_several_processes",)


@dataclass
class NotebookRun:
    """One tutorial's notebook, executed: what it showed, or the failure to report."""

    nb: dict | None = None
    run_dir: Path | None = None
    unchanged: bool = False  # the downloaded notebook's file is as it was
    failure: BaseException | None = None


@pytest.fixture(scope="session")
def notebook_runs(site, notebook_python, tmp_path_factory) -> tuple[dict, set[str]]:
    """Every tutorial's notebook and every theory page's, run by :func:`execute`, two at
    a time: a NotebookRun per page ("theory/<name>" for a theory page), and the untracked
    paths that appeared in the repository meanwhile."""
    present = untracked()

    def one(name: str) -> NotebookRun:
        if name.startswith("theory/"):  # the page as myst-nb executed it in the build
            notebook = site.html.parent / "jupyter_execute" / f"{name}.ipynb"
        else:
            notebook = site_notebook(site, name)
        before = notebook.read_bytes()
        try:
            nb, run_dir = execute(notebook_python, notebook, tmp_path_factory.mktemp("nb"))
        except BaseException as failure:  # pytest.fail inside run(): the test reports it
            return NotebookRun(failure=failure)
        return NotebookRun(nb, run_dir, notebook.read_bytes() == before)

    runs = {name: one(name) for name in TUTORIALS if name in ALONE}
    rest = [name for name in TUTORIALS if name not in ALONE] + [f"theory/{n}" for n in THEORY]
    with ThreadPoolExecutor(NOTEBOOKS_AT_ONCE) as pool:
        runs |= dict(zip(rest, pool.map(one, rest), strict=True))
    return runs, untracked() - present


@pytest.mark.parametrize("name", TUTORIALS)
def test_notebook_runs_with_only_gradbook_installed(site, notebook_python, notebook_runs, name):
    """The downloaded notebook runs cleanly in a bare folder, leaves nothing, draws the
    page's figures and prints the page's text (it seeds as the build does)."""
    runs, new = notebook_runs
    run = runs[name]
    if run.failure is not None:
        raise run.failure
    nb, run_dir = run.nb, run.run_dir

    cells, ran = ran_cleanly(nb)
    assert Path(ran["prefix"]).resolve() == ENV.resolve(), ran  # the env's own kernel
    assert Path(ran["executable"]).parent.resolve() == notebook_python.parent.resolve(), ran
    assert Path(ran["cwd"]).resolve() == run_dir.resolve(), ran

    left = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))
    assert not left, f"the notebook left files in its folder: {left}"
    assert run.unchanged, "the notebook file was modified"
    assert not new, f"the notebooks wrote into the repository: {sorted(new)}"

    figures = page_figures(site, name)
    images = [
        o
        for c in cells
        for o in outputs(c, "display_data") + outputs(c, "execute_result")
        if "image/png" in o.get("data", {})
    ]
    assert images, "the notebook drew no figure"
    assert len(images) == figures, "not as many figures as on the page"
    assert_prints_the_page(cells, site.html / "auto_examples" / f"{name}.html")


def assert_prints_the_page(cells: list[dict], page: Path) -> None:
    """The cells print, one block per printing cell, the text the page shows."""
    printed = [
        as_printed(
            "".join("".join(o["text"]) for o in outputs(c, "stream") if o["name"] == "stdout")
        )
        for c in cells
        if any(o["name"] == "stdout" for o in outputs(c, "stream"))
    ]
    shown = printed_blocks(page)
    assert printed, "the notebook printed nothing"
    assert len(printed) == len(shown), "not as many cells print as the page shows outputs"
    for number, (ours, theirs) in enumerate(zip(printed, shown, strict=True), 1):
        assert ours == theirs, f"output {number} differs from the page's (seeding?)"


@pytest.mark.parametrize("name", THEORY)
def test_a_theory_page_run_again_prints_what_the_page_shows(site, notebook_runs, name):
    """Seeding works on the theory pages: their code, run again by a fresh kernel in an
    empty folder, prints the page's text, and leaves no file behind."""
    run = notebook_runs[0][f"theory/{name}"]
    if run.failure is not None:
        raise run.failure
    cells, _ = ran_cleanly(run.nb)
    assert not list(run.run_dir.iterdir()), "the page's code left files in its folder"
    assert_prints_the_page(cells, site.html / "theory" / f"{name}.html")


# -- the notebooks read as Markdown ----------------------------------------------------
RELEASE = importlib.metadata.version("gradbook")  # what conf.py names the wheel after
WHEEL = wheel_name(RELEASE)
MACROS = runpy.run_path(str(ROOT / "docs" / "conf.py"))["mathjax3_config"]["tex"]["macros"]
CODE = re.compile(r"^```.*?^```|`[^`\n]+`", flags=re.M | re.S)  # fences, then code spans
RAW_REST = {  # what the whole cell must not hold (a role is code in reST's own syntax)
    "a Sphinx role": re.compile(r":[a-z]+(:[a-z]+)?:`"),
    "a role pandoc kept": re.compile(r"\{\.interpreted-text|role=\""),
    "a label's name": re.compile(r"sphx_glr_"),
    "a GitHub alert": re.compile(r"\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]"),
    "a span of a reST role": re.compile(r"<span class="),
}
RAW_PROSE = {  # and what its prose, outside code, must not
    "a reST literal": re.compile(r"``"),
    "a directive": re.compile(r"^\s*\.\. [\w:-]+::", flags=re.M),
    "a label": re.compile(r"^\s*\.\. _[^:]+:", flags=re.M),
    "a reST link": re.compile(r">`_"),
}


def markdown_cells(site, name: str) -> list[str]:
    nb = json.loads(site_notebook(site, name).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("name", TUTORIALS)
def test_notebook_markdown_holds_no_rest(site, name):
    """No Markdown cell shows a Sphinx role, a reST literal, directive, label or link raw."""
    found = []
    for cell in markdown_cells(site, name):
        for text, patterns in ((cell, RAW_REST), (CODE.sub("", cell), RAW_PROSE)):
            found += [f"{what}: {m[0]!r}" for what, r in patterns.items() for m in r.finditer(text)]
    assert not found, found


@pytest.mark.parametrize("name", TUTORIALS)
def test_notebook_headings_keep_the_page_levels(site, name):
    """The title is the notebook's one level-1 heading; each cell's heading is one below."""
    cells = markdown_cells(site, name)
    headings = [re.findall(r"^(#+) ", CODE.sub("", cell), flags=re.M) for cell in cells]
    assert headings[0][:1] == ["#"], cells[0][:200]
    later = [level for cell in headings for level in cell][1:]
    assert later and "#" not in later, later
    firsts = [cell_headings[0] for cell_headings in headings[1:] if cell_headings]
    assert set(firsts) == {"##"}, firsts


@pytest.mark.parametrize("name", TUTORIALS)
def test_notebook_defines_every_macro_it_uses(site, name):
    """Each site macro a formula uses is defined by the first Markdown cell, as MathJax reads it."""
    cells = markdown_cells(site, name)
    defined = set(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", cells[0]))
    assert defined == set(MACROS), sorted(set(MACROS) ^ defined)
    assert re.search(r"^\$(\\newcommand[^$]+)\$$", cells[0], flags=re.M), "not one $...$ line"
    used = {m for cell in cells[1:] for m in re.findall(r"\\([A-Za-z]+)", CODE.sub("", cell))}
    assert used & set(MACROS) <= defined


@pytest.mark.parametrize("name", TUTORIALS)
def test_notebook_links_reach_pages_of_the_site(site, name):
    """Each link a role became points at a built page of the site, and at an anchor it has."""
    links = re.findall(r"\]\(([^)\s]+)\)", "\n".join(markdown_cells(site, name)))
    ours = [url for url in links if url.startswith(LOCAL_SITE)]
    for url in ours:
        parsed = urlparse(url[len(LOCAL_SITE) :])
        page = site.html / parsed.path
        assert page.is_file(), url
        if parsed.fragment:
            assert f'id="{parsed.fragment}"' in page.read_text(encoding="utf-8"), url
    assert all(url.startswith(("http://", "https://")) for url in links), links


FILTER_TABLE = {
    "labels": {"sphx_glr_x_plot_01_a.py": ["First", "https://s/x/plot_01_a.html"]},
    "docs": {"theory/t": ["The ``t`` page", "https://s/theory/t.html"]},
    "titles": ["A title"],
    "marked_titles": [],
    "macros": r"\newcommand{\R}{\mathbb{R}}",
}
FILTER_CASES = [  # (a text block of a tutorial, the Markdown the notebook must get)
    ("A title\n=======\n\nText.", "# A title\n\n$\\newcommand{\\R}{\\mathbb{R}}$\n\nText.\n"),
    ("Cell\n----\n\nText.", "## Cell\n\nText.\n"),
    (
        ":class:`gradbook.models.MLP` and :class:`~gradbook.models.MLP`",
        "`gradbook.models.MLP` and `MLP`\n",
    ),
    (
        ":func:`torch.autograd.grad`, :meth:`step <gradbook.optim.SGD.step>`",
        "`torch.autograd.grad()`, `step`\n",
    ),
    (":ref:`sphx_glr_x_plot_01_a.py`", "[First](https://s/x/plot_01_a.html)\n"),
    (":ref:`that one <sphx_glr_x_plot_01_a.py>`", "[that one](https://s/x/plot_01_a.html)\n"),
    (":doc:`/theory/t`", "[The `t` page](https://s/theory/t.html)\n"),
    (":math:`\\R^n` and ``code``", "$\\R^n$ and `code`\n"),
    (".. note::\n\n   Look.", "> **Note**\n>\n> Look.\n"),
    ("`cited`", "*cited*\n"),
]


@pytest.mark.parametrize(("rst", "markdown"), FILTER_CASES)
def test_the_filter_turns_sphinx_markup_into_markdown(tmp_path, rst, markdown):
    """Each Sphinx construct becomes the Markdown Jupyter shows: code, links, math, levels."""
    pypandoc = pytest.importorskip("pypandoc")
    lua = tmp_path / "filter.lua"
    lua.write_text(LUA_FILTER.replace("@DATA@", json.dumps(FILTER_TABLE)), encoding="utf-8")
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))["sphinx_gallery_conf"]["pypandoc"]
    out = pypandoc.convert_text(rst, to="md", format="rst", filters=[str(lua)], **conf)
    assert out == markdown


def test_the_filter_fails_on_a_label_it_cannot_resolve(tmp_path):
    """A reference the notebook could not link stops the build instead of showing raw."""
    pypandoc = pytest.importorskip("pypandoc")
    lua = tmp_path / "filter.lua"
    lua.write_text(LUA_FILTER.replace("@DATA@", json.dumps(FILTER_TABLE)), encoding="utf-8")
    with pytest.raises(RuntimeError, match="cannot resolve :ref:`nowhere`"):
        pypandoc.convert_text(":ref:`nowhere`", to="md", format="rst", filters=[str(lua)])


def test_site_url_comes_from_the_build_environment():
    """GRADBOOK_SITE_URL wins, then Read the Docs' canonical URL, then GitHub Pages'."""
    rtd = "https://gradbook.readthedocs.io/en/latest/"
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "Some-Owner/gradbook"}
    assert site_url({}) == ""
    assert site_url({SITE_VARIABLE: "http://127.0.0.1:9/x", "READTHEDOCS_CANONICAL_URL": rtd})
    assert site_url({SITE_VARIABLE: "http://127.0.0.1:9/x"}) == "http://127.0.0.1:9/x/"
    assert site_url({"READTHEDOCS_CANONICAL_URL": rtd, **actions}) == rtd
    assert site_url(actions) == "https://some-owner.github.io/gradbook/"
    pages = {**actions, "GITHUB_REPOSITORY": "Some-Owner/some-owner.github.io"}
    assert site_url(pages) == "https://some-owner.github.io/"
    assert site_url({"GITHUB_REPOSITORY": "a/b"}) == ""  # not in an Actions run


# -- the wheel ------------------------------------------------------------------------
def test_the_site_offers_gradbook_as_a_wheel_built_from_src(site):
    """_downloads holds gradbook's wheel at the installed version, with src/gradbook's modules
    and its data (the exercises' catalogue)."""
    wheel = site.html / "_downloads" / WHEEL
    assert wheel.is_file(), sorted(p.name for p in (site.html / "_downloads").iterdir())
    with zipfile.ZipFile(wheel) as archive:
        modules = {n: archive.read(n) for n in archive.namelist() if n.endswith((".py", ".json"))}
        metadata = archive.read(f"gradbook-{RELEASE}.dist-info/METADATA").decode()
    source = {
        f"gradbook/{p.relative_to(SOURCE).as_posix()}": p.read_bytes()
        for p in SOURCE.rglob("*")
        if p.suffix in (".py", ".json") and "__pycache__" not in p.parts
    }
    assert modules == source
    assert f"\nVersion: {RELEASE}\n" in metadata and "\nRequires-Dist: torch" in metadata


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_download_box_links_the_wheel(site, name):
    """The download box of the page links the wheel, and the link resolves to the file."""
    html = (site.html / "auto_examples" / f"{name}.html").read_text(encoding="utf-8")
    box = html[html.index('class="sphx-glr-footer') :]
    (href,) = re.findall(r'sphx-glr-download-wheel[^>]*>\s*<p><a [^>]*href="([^"]+)"', box)
    target = (site.html / "auto_examples" / name).parent / href
    assert target.resolve() == (site.html / "_downloads" / WHEEL).resolve(), href


# -- a reader's path: the served site, a fresh environment -----------------------------
READER_NOTEBOOK = "autograd/plot_01_autograd_basics"  # prints and draws, in seconds
ZIP_NOTEBOOK = "networks/plot_12_linear_layers"
SCRIPT = "training/plot_21_saving_loading"  # writes files (into a temporary folder)
READER_PROBE = (
    "import importlib.metadata, json, os, sys, sysconfig\n"
    "import gradbook\n"
    'print(json.dumps({"prefix": sys.prefix, "cwd": os.getcwd(), "gradbook": gradbook.__file__,'
    ' "version": importlib.metadata.version("gradbook"),'
    ' "purelib": sysconfig.get_paths()["purelib"]}))'
)


class _Site(http.server.SimpleHTTPRequestHandler):
    """Serves the built site; keeps the path of each request, prints nothing."""

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def served_site(site):
    """The built site, served on 127.0.0.1 (any free port): its root URL, with a slash."""
    handler = lambda *a, **k: _Site(*a, directory=str(site.html), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def download(url: str, dest: Path) -> Path:
    with urllib.request.urlopen(url, timeout=60) as response:
        dest.write_bytes(response.read())
    return dest


def download_link(root: str, page: str, suffix: str) -> str:
    """The absolute URL of the link ending in ``suffix`` in a page's download box."""
    with urllib.request.urlopen(root + page, timeout=60) as response:
        html = response.read().decode("utf-8")
    hrefs = re.findall(r'<a [^>]*href="([^"]+)"', html[html.index('class="sphx-glr-footer') :])
    (href,) = [h for h in hrefs if h.endswith(suffix)]
    return urljoin(root + page, href)


@pytest.fixture(scope="session")
def reader_python(tmp_path_factory) -> Path:
    """A fresh virtual environment with pip and ipykernel only, as a reader starts from."""
    base = getattr(sys, "_base_executable", sys.executable)
    prefix = tmp_path_factory.mktemp("reader") / "env"
    run([base, "-m", "venv", prefix], "python -m venv", env=clean_environ())
    python = prefix / "bin" / "python"
    pip_install(python, "-c", ROOT / "constraints.txt", "ipykernel")
    for name in ("gradbook", "torch"):
        absent = subprocess.run(
            [python, "-c", f"import {name}"], capture_output=True, env=clean_environ()
        )
        assert absent.returncode != 0, f"the fresh environment already has {name}"
    return python


def reader_environ(root: str) -> dict[str, str]:
    """What the kernel of a reader's run sees: the served site, and pip's usual sources."""
    cache = os.environ.get("PIP_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip"
    )
    return {
        SITE_VARIABLE: root,  # the first cell's own override, for a test server
        "PIP_CONSTRAINT": str(ROOT / "constraints.txt"),  # torch==2.13.0, the CPU wheel
        "PIP_CACHE_DIR": cache,  # HOME is a fresh folder: keep the usual download cache
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # pip reads the variable of a --no-* option inverted: "0" means --no-compile
        # (byte-compiling torch's thousands of files would double the install's time)
        "PIP_NO_COMPILE": "0",
    }


@pytest.fixture(scope="session")
def reader_run(served_site, reader_python, tmp_path_factory):
    """A notebook downloaded from its page on the served site, run in the fresh environment."""
    server, root = served_site
    tmp = tmp_path_factory.mktemp("reader-run")
    url = download_link(root, f"auto_examples/{READER_NOTEBOOK}.html", ".ipynb")
    notebook = download(url, tmp / Path(urlparse(url).path).name)
    start = len(server.requests)
    nb, run_dir = execute(
        sys.executable, notebook, tmp, reader_python, READER_PROBE, **reader_environ(root)
    )
    return nb, run_dir, server.requests[start:]


def test_a_served_notebook_installs_gradbook_by_its_first_cell_and_runs(reader_run, reader_python):
    """The first cell fetches the wheel from the site; every cell then runs in the fresh env."""
    nb, run_dir, requests = reader_run
    cells, ran = ran_cleanly(nb)
    assert f"/_downloads/{WHEEL}" in requests, requests
    installed = "".join(o["text"] for o in outputs(cells[0], "stream"))
    assert f"gradbook-{RELEASE}" in installed and "Successfully installed" in installed, installed
    prefix = reader_python.parent.parent
    assert Path(ran["prefix"]).resolve() == prefix.resolve(), ran
    assert Path(ran["gradbook"]).is_relative_to(Path(ran["purelib"])), ran
    assert ran["version"] == RELEASE
    assert Path(ran["cwd"]).resolve() == run_dir.resolve(), ran
    images = [o for c in cells for o in outputs(c, "display_data") if "image/png" in o["data"]]
    assert images and any(outputs(c, "stream") for c in cells[1:])
    assert not list(run_dir.iterdir()), "the notebook left files in its folder"


def test_the_zip_of_notebooks_holds_every_one_and_they_run_the_same_way(
    served_site, reader_run, reader_python, tmp_path
):
    """The gallery's zip of notebooks has every tutorial; one from it runs like the others."""
    _, root = served_site
    url = download_link(root, "auto_examples/index.html", "_jupyter.zip")
    archive = download(url, tmp_path / "notebooks.zip")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == sorted(f"{name}.ipynb" for name in TUTORIALS)
        notebook = tmp_path / "from-zip.ipynb"
        notebook.write_bytes(z.read(f"{ZIP_NOTEBOOK}.ipynb"))
    run_in = tmp_path / "kernel"
    run_in.mkdir()
    nb, run_dir = execute(
        sys.executable, notebook, run_in, reader_python, READER_PROBE, **reader_environ(root)
    )
    cells, ran = ran_cleanly(nb)
    assert Path(ran["prefix"]).resolve() == reader_python.parent.parent.resolve(), ran
    assert any(outputs(c, "stream") for c in cells[1:])
    assert not list(run_dir.iterdir()), "the notebook left files in its folder"


def test_a_downloaded_script_runs_with_python_in_an_empty_folder(
    served_site, reader_run, reader_python, tmp_path
):
    """``python plot_NN_....py`` in an empty folder, once the wheel is in: exit 0, no file left."""
    _, root = served_site
    folder = tmp_path / "empty"
    folder.mkdir()
    url = download_link(root, f"auto_examples/{SCRIPT}.html", ".py")
    script = download(url, folder / Path(urlparse(url).path).name)
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = clean_environ(HOME=str(home), TMPDIR=str(home / "tmp"), OMP_NUM_THREADS="1")
    proc = run([reader_python, script.name], f"python {script.name}", env=env, cwd=folder)
    assert proc.stdout.strip(), "the script printed nothing"
    assert sorted(p.name for p in folder.iterdir()) == [script.name]
