"""Shared fixtures: a strict build of the real site, made once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("_build", "auto_examples", "gen_modules", "jupyter_execute", "sg_execution_times.rst")


@dataclass
class Build:
    """The result of one sphinx-build run."""

    returncode: int
    output: str
    html: Path
    src: Path


def sphinx_build(srcdir: Path, *extra: str, timeout: float = 900) -> Build:
    """Run a strict (-W --keep-going) HTML build of ``srcdir`` in a fresh process."""
    outdir = srcdir / "_build" / "html"
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "--no-color",
        "-b",
        "html",
        "-W",
        "--keep-going",
        "-d",
        str(srcdir / "_build" / "doctrees"),
        *extra,
        str(srcdir),
        str(outdir),
    ]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return Build(proc.returncode, proc.stdout + proc.stderr, outdir, srcdir)


def copy_site(dest: Path) -> Path:
    """Copy docs/ and gallery/ (not what a build generated) next to a link to src/."""
    ignore = shutil.ignore_patterns(*GENERATED)
    shutil.copytree(ROOT / "docs", dest / "docs", ignore=ignore)
    shutil.copytree(ROOT / "gallery", dest / "gallery")
    (dest / "src").symlink_to(ROOT / "src", target_is_directory=True)
    return dest / "docs"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    """The real site, built strictly into a temporary folder (executes every tutorial)."""
    docs = copy_site(tmp_path_factory.mktemp("site"))
    build = sphinx_build(docs)
    if build.returncode != 0:
        pytest.fail(f"strict site build failed (exit {build.returncode}):\n{build.output[-6000:]}")
    return build


# docs/_ext holds the Sphinx glue (gradbook_sphinx); its helpers are unit-tested too.
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
