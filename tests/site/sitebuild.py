"""Helpers of the site tests: paths, strict sphinx-build runs and copies of the site."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# "<part>/plot_NN_topic", in reading order (the parts' folder names sort in that order)
TUTORIALS = sorted(
    p.relative_to(ROOT / "gallery").with_suffix("").as_posix()
    for p in (ROOT / "gallery").glob("*/plot_[0-9][0-9]_*.py")
)
THEORY = sorted(p.stem for p in (ROOT / "docs" / "theory").glob("*.md") if p.stem != "index")
GENERATED = ("_build", "auto_examples", "gen_modules", "jupyter_execute", "sg_execution_times.rst")


@dataclass
class Build:
    """The result of one sphinx-build run."""

    returncode: int
    output: str
    html: Path
    src: Path


def _command(srcdir: Path, extra: tuple[str, ...]) -> tuple[list[str], Path]:
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
    return cmd, outdir


def sphinx_build(srcdir: Path, *extra: str, timeout: float = 900) -> Build:
    """Run a strict (-W --keep-going) HTML build of ``srcdir`` in a fresh process."""
    cmd, outdir = _command(srcdir, extra)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            output += f"\n(killed after {timeout} s)"
    return Build(proc.returncode, output, outdir, srcdir)


def copy_site(dest: Path) -> Path:
    """Copy docs/ and gallery/ (not what a build generated) next to a link to src/."""
    ignore = shutil.ignore_patterns(*GENERATED)
    shutil.copytree(ROOT / "docs", dest / "docs", ignore=ignore)
    shutil.copytree(ROOT / "gallery", dest / "gallery")
    (dest / "src").symlink_to(ROOT / "src", target_is_directory=True)
    return dest / "docs"


def html_pages(html: Path) -> list[Path]:
    """Every HTML page of a build (the theme's Jinja macros in _static are not pages)."""
    return sorted(p for p in html.rglob("*.html") if p.relative_to(html).parts[0] != "_static")


def as_printed(text: str) -> str:
    """Printed text as a page shows it: dedented, trailing blanks and blank ends dropped
    (sphinx-gallery dedents a block's output, and pads it with blank lines)."""
    return "\n".join(line.rstrip() for line in textwrap.dedent(text).strip("\n").splitlines())


class _Outputs(HTMLParser):
    """The text a page prints: sphinx-gallery's script output and myst-nb's cell outputs."""

    CONTAINERS = ("sphx-glr-script-out", "cell_output", "sphx-glr-script-out-html")

    def __init__(self):
        super().__init__()
        self.depth = 0  # open elements inside the current output block (0: outside)
        self.blocks: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self.depth:
            self.depth += tag not in ("br", "img", "input", "meta", "link", "hr")
        elif any(c in classes for c in self.CONTAINERS):
            self.depth = 1
            self.blocks.append("")

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.blocks[-1] += data


def printed_blocks(page: Path) -> list[str]:
    """The text of each output block of an HTML page, in order, :func:`as_printed`."""
    parser = _Outputs()
    parser.feed(page.read_text(encoding="utf-8"))
    return [as_printed(block) for block in parser.blocks]
