"""Every downloadable notebook runs top to bottom with only gradbook installed.

sphinx-gallery turns each tutorial into a ``.ipynb`` that readers download and run
on their own machine, far from the Sphinx build that seeded and set up the script.
Each notebook from the strict site build is executed here with nbclient, in a
fresh empty folder, by a kernel from a separate virtual environment that holds
gradbook (installed from the current source, not editable) and its runtime
dependencies plus ipykernel and nbclient: no Sphinx, no sphinx-gallery, no pytest.
The run must raise no error, show the page's printed output and figures, and
leave no file behind.

The environment is cached in build/notebook-env, keyed by pyproject.toml,
constraints.txt and the interpreter; gradbook alone is reinstalled whenever a file
under src/gradbook changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sitebuild import ROOT, TUTORIALS

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
    cmd = [python, "-m", "pip", "install", "-q", "--no-input", *args]
    run(cmd, "pip install " + " ".join(map(str, args)), env=env)


def package_copy(dest: Path) -> Path:
    """The files setuptools builds gradbook from, copied so the build writes nothing here.

    (A build in the repository would leave build/lib and an .egg-info behind, and a stale
    build/lib can put deleted modules back into the wheel.)
    """
    for name in ("pyproject.toml", "README.md", "setup.py", "setup.cfg", "MANIFEST.in"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    return dest


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
def notebook_python(tmp_path_factory) -> Path:
    """The interpreter of an environment with only gradbook and a notebook runner in it."""
    base = getattr(sys, "_base_executable", sys.executable)
    key = env_key(base)
    python = ENV / "bin" / "python"
    stamp = read_stamp()
    if stamp.get("env") != key or not python.exists():
        create_env(key, package_copy(tmp_path_factory.mktemp("gradbook-package")))
    elif stamp.get("source") != digest_files(SOURCE):
        # gradbook is not installed editable: bring it up to date with src/.
        write_stamp(ENV, {"env": key, "source": None})
        package = package_copy(tmp_path_factory.mktemp("gradbook-package"))
        pip_install(python, "--no-deps", "--force-reinstall", package)
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
    (notebook,) = (site.html / "_downloads").glob(f"*/{name}.ipynb")
    return notebook


def page_shows(site, name: str) -> tuple[int, int]:
    """How many printed-output blocks and figures (animations included) the page shows."""
    html = (site.html / "auto_examples" / f"{name}.html").read_text(encoding="utf-8")
    printed = html.count('<div class="sphx-glr-script-out')
    figures = set(re.findall(rf'src="\.\./_images/(sphx_glr_{name}_\d{{3}}\.png)"', html))
    # An animation is a JavaScript player on the page, one still figure in the notebook.
    return printed, len(figures) + html.count('class="sphx-glr-animation')


def untracked() -> set[str]:
    """The untracked paths in the repository, ignored ones included (e.g. a stray *.pt)."""
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        return set()
    cmd = ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return {line[3:] for line in proc.stdout.splitlines() if line[:2] in ("??", "!!")}


def outputs(cell: dict, kind: str) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o["output_type"] == kind]


def execute(python: Path, notebook: Path, tmp_path: Path) -> tuple[dict, Path]:
    """Run ``notebook`` in an empty folder; return the executed notebook and the folder."""
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
    )
    (home / "tmp").mkdir(parents=True)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    executed = tmp_path / "executed.ipynb"
    cmd = [python, driver, notebook, executed, run_dir, CELL_TIMEOUT, PROBE]
    run(cmd, f"executing {notebook.name}", timeout=1800, env=env, cwd=home)
    return json.loads(executed.read_text(encoding="utf-8")), run_dir


@pytest.mark.parametrize("name", TUTORIALS)
def test_notebook_runs_with_only_gradbook_installed(site, notebook_python, tmp_path, name):
    """The downloaded notebook runs cleanly in a bare folder, shows output, leaves nothing."""
    notebook = site_notebook(site, name)
    before = notebook.read_bytes()
    present = untracked()

    nb, run_dir = execute(notebook_python, notebook, tmp_path)

    *cells, probe = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in [*cells, probe]:
        for error in outputs(cell, "error"):
            traceback = ANSI.sub("", "\n".join(error["traceback"]))
            pytest.fail(f"cell failed:\n{''.join(cell['source'])}\n\n{traceback}", pytrace=False)
    skipped = [c for c in cells if "".join(c["source"]).strip() and not c["execution_count"]]
    assert not skipped, f"{len(skipped)} cells did not run"

    ran = json.loads("".join(outputs(probe, "stream")[0]["text"]))
    assert Path(ran["prefix"]).resolve() == ENV.resolve(), ran  # the env's own kernel
    assert Path(ran["executable"]).parent.resolve() == notebook_python.parent.resolve(), ran
    assert Path(ran["cwd"]).resolve() == run_dir.resolve(), ran

    left = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))
    assert not left, f"the notebook left files in its folder: {left}"
    assert notebook.read_bytes() == before, "the notebook file was modified"
    new = untracked() - present
    assert not new, f"the notebook wrote into the repository: {sorted(new)}"

    printed, figures = page_shows(site, name)
    printing = [c for c in cells if any(o["name"] == "stdout" for o in outputs(c, "stream"))]
    images = [
        o
        for c in cells
        for o in outputs(c, "display_data") + outputs(c, "execute_result")
        if "image/png" in o.get("data", {})
    ]
    assert printing and images, "the notebook printed nothing or drew no figure"
    assert len(printing) == printed, "not as many cells print as the page shows outputs"
    assert len(images) == figures, "not as many figures as on the page"
