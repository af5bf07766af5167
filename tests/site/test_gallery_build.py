"""The gallery pipeline on a throwaway project: failures fail, package edits re-run what uses them.

The throwaway project uses the real ``docs/conf.py`` (loaded, then pointed at a tiny
package and gallery in a temporary folder), so these tests check the real set-up at
a fraction of the cost of building the real site.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from sitebuild import ROOT, Build, sphinx_build

pytestmark = pytest.mark.slow

CONF = f"""
import runpy, sys
from pathlib import Path

_real = runpy.run_path({str(ROOT / "docs" / "conf.py")!r})
globals().update({{k: v for k, v in _real.items()
                  if not k.startswith("_") and not isinstance(v, type(sys))}})
sys.path.insert(0, str(Path(__file__).parent.parent / "src"))
gradbook_package_dir = "../src/minipkg"
gradbook_package = "minipkg"
# one example at a time: starting two workers for five one-line examples costs more than
# it saves (the file's builds took 88 s with them, 69 s without); the real site's build
# runs its tutorials two at a time
sphinx_gallery_conf = {{**sphinx_gallery_conf, "doc_module": ("minipkg",),
                       "reset_modules": ("matplotlib",), "reference_url": {{}}, "parallel": 1}}
exclude_patterns = exclude_patterns + ["api"]
html_static_path = []
html_favicon = None
html_css_files = []
"""

INDEX = """
Mini
====

.. toctree::

   auto_examples/index
"""


def example(module: str, attribute: str) -> str:
    title = f"Uses {module}"
    return textwrap.dedent(f'''\
        """
        {title}
        {"=" * len(title)}

        Prints a value from the package.
        """

        from {module} import {attribute}

        print("value is", {attribute})
        ''')


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def plain_example() -> str:
    return textwrap.dedent('''\
        """
        Uses nothing
        ============

        Prints a value of its own.
        """

        print("plain value")
        ''')


def make_project(tmp_path: Path) -> Path:
    """A docs folder, a package and a gallery of five examples.

    ``minipkg`` holds a, b, c (imports b) and the subpackage ``sub`` (``sub/__init__.py``
    re-exports ``S`` from ``sub/leaf.py``); ``minipkg/__init__.py`` imports ``sub``. One
    example uses each of a, b, c and ``minipkg.sub``, and one uses no minipkg at all.
    """
    write(tmp_path / "docs" / "conf.py", CONF)
    write(tmp_path / "docs" / "index.rst", INDEX)
    write(tmp_path / "gallery" / "GALLERY_HEADER.rst", "Gallery\n=======\n")
    pkg = tmp_path / "src" / "minipkg"
    write(pkg / "__init__.py", "from minipkg.sub import S\n")
    write(pkg / "a.py", "A = 1\n")
    write(pkg / "b.py", "B = 10\n")
    write(pkg / "c.py", "from .b import B\n\nC = B + 100\n")
    write(pkg / "sub" / "__init__.py", "from .leaf import S\n")
    write(pkg / "sub" / "leaf.py", 'S = "leaf"\n')
    write(tmp_path / "gallery" / "plot_01_a.py", example("minipkg.a", "A"))
    write(tmp_path / "gallery" / "plot_02_b.py", example("minipkg.b", "B"))
    write(tmp_path / "gallery" / "plot_03_c.py", example("minipkg.c", "C"))
    write(tmp_path / "gallery" / "plot_04_sub.py", example("minipkg.sub", "S"))
    write(tmp_path / "gallery" / "plot_05_plain.py", plain_example())
    return tmp_path / "docs"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, Build]:
    """The project after its first build: its folder, an untouched copy, and that build.

    Every test starts from this state instead of building the project again: the first
    build is the same for all of them (alone, the file took 69 s with one per test, 47 s
    with this one).
    """
    folder = tmp_path_factory.mktemp("gallery-project")
    first = sphinx_build(make_project(folder))
    assert first.returncode == 0, first.output[-3000:]
    copy = tmp_path_factory.mktemp("gallery-pristine") / "project"
    shutil.copytree(folder, copy, symlinks=True)  # copy2 keeps the times Sphinx compares
    return folder, copy, first


@pytest.fixture
def project(built) -> Path:
    """The docs folder of the built project, as its first build left it.

    It is put back at the same path for each test: Sphinx's environment records it.
    """
    folder, copy, _ = built
    shutil.rmtree(folder)
    shutil.copytree(copy, folder, symlinks=True)
    return folder / "docs"


def executed(build) -> int:
    match = re.search(r"executed (\d+) out of", build.output)
    assert match, build.output[-3000:]
    return int(match.group(1))


def page(build, name: str) -> str:
    return (build.html / "auto_examples" / f"{name}.html").read_text(encoding="utf-8")


def edit(path: Path, text: str) -> None:
    """Rewrite a file so that its content (what the stamps hash) really changes."""
    time.sleep(0.01)
    path.write_text(text, encoding="utf-8")


def test_package_edits_rerun_exactly_the_examples_that_use_them(built, project):
    """The first build runs every example; nothing re-runs without a change; an edited
    module re-runs its users, transitively."""
    src = project.parent / "src" / "minipkg"
    first = built[2]
    assert executed(first) == 5
    assert "value is 1" in page(first, "plot_01_a")

    unchanged = sphinx_build(project)
    assert unchanged.returncode == 0, unchanged.output[-3000:]
    assert executed(unchanged) == 0

    edit(src / "a.py", "A = 2\n")
    after_a = sphinx_build(project)
    assert after_a.returncode == 0, after_a.output[-3000:]
    assert executed(after_a) == 1
    assert "value is 2" in page(after_a, "plot_01_a")

    # c imports b, so editing b re-runs the examples of both b and c
    edit(src / "b.py", "B = 20\n")
    after_b = sphinx_build(project)
    assert executed(after_b) == 2
    assert "value is 20" in page(after_b, "plot_02_b")
    assert "value is 120" in page(after_b, "plot_03_c")


USERS = "plot_01_a.py, plot_02_b.py, plot_03_c.py, plot_04_sub.py"


def test_editing_the_package_init_reruns_every_example_that_uses_the_package(project):
    """Every import of minipkg runs its ``__init__.py``: an edit there re-runs all four users."""
    init = project.parent / "src" / "minipkg" / "__init__.py"
    edit(init, init.read_text(encoding="utf-8") + 'print("minipkg imported")\n')
    build = sphinx_build(project)
    assert build.returncode == 0, build.output[-3000:]
    assert f"[gradbook] package changed (minipkg): re-running {USERS}\n" in build.output
    assert executed(build) == 4  # plot_05_plain imports no minipkg: not re-run
    # examples share one process, so the first one to import minipkg prints the marker
    assert "minipkg imported" in page(build, "plot_01_a")


def test_editing_a_module_the_init_imports_reruns_every_user(project):
    """minipkg/__init__.py imports sub, so an edit to sub/leaf.py reaches all four users."""
    leaf = project.parent / "src" / "minipkg" / "sub" / "leaf.py"
    edit(leaf, 'S = "new leaf"\n')
    build = sphinx_build(project)
    assert build.returncode == 0, build.output[-3000:]
    assert f"[gradbook] package changed (minipkg.sub.leaf): re-running {USERS}\n" in build.output
    assert executed(build) == 4
    assert "value is new leaf" in page(build, "plot_04_sub")


THEORY_PAGE = """\
---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
orphan: true
---

# Theory

```{{code-cell}} python
import sys

sys.path.insert(0, {src!r})
from minipkg.a import A

print("the page sees", A)
```
"""


def test_editing_the_package_init_reexecutes_the_theory_pages_that_use_it(project):
    """A theory page re-executes after an edit to ``__init__.py``, and not without a change."""
    src = project.parent / "src"
    write(project / "theory" / "page.md", THEORY_PAGE.format(src=str(src)))
    first = sphinx_build(project)
    assert first.returncode == 0, first.output[-3000:]
    html = (first.html / "theory" / "page.html").read_text(encoding="utf-8")
    assert "the page sees 1" in html

    unchanged = sphinx_build(project)
    assert unchanged.returncode == 0, unchanged.output[-3000:]
    assert "Executing notebook" not in unchanged.output  # myst-nb's line when it runs a page

    init = src / "minipkg" / "__init__.py"
    edit(init, init.read_text(encoding="utf-8") + 'print("minipkg imported")\n')
    after = sphinx_build(project)
    assert after.returncode == 0, after.output[-3000:]
    assert "[gradbook] package changed: re-executing theory/page" in after.output
    assert "Executing notebook" in after.output
    html = (after.html / "theory" / "page.html").read_text(encoding="utf-8")
    assert "minipkg imported" in html


def test_editing_one_tutorial_reruns_only_that_tutorial(project):
    """sphinx-gallery's own check: an edited example re-runs alone."""
    edit(
        project.parent / "gallery" / "plot_02_b.py", example("minipkg.b", "B") + 'print("edited")\n'
    )
    build = sphinx_build(project)
    assert executed(build) == 1
    assert "edited" in page(build, "plot_02_b")


def test_an_example_that_raises_fails_the_build(project):
    """An exception in a tutorial fails the build and names the file and the error."""
    write(
        project.parent / "gallery" / "plot_04_broken.py",
        '"""\nBroken\n======\n\nRaises.\n"""\n\nraise ValueError("deliberately broken")\n',
    )
    build = sphinx_build(project)
    assert build.returncode != 0
    assert "plot_04_broken.py" in build.output
    assert "ValueError: deliberately broken" in build.output


def test_only_numbered_plot_scripts_execute(project):
    """A helper module in the gallery folder is not executed as an example."""
    write(project.parent / "gallery" / "_helpers.py", 'raise RuntimeError("never run")\n')
    build = sphinx_build(project)
    assert build.returncode == 0, build.output[-3000:]
    assert "never run" not in build.output


def test_a_broken_cross_reference_fails_the_build(project):
    """nitpicky: a reference to a missing object or label fails; other projects' names pass."""
    index = project / "index.rst"
    index.write_text(INDEX + "   refs\n", encoding="utf-8")
    write(
        project / "refs.rst",
        "Refs\n====\n\nTensors: :class:`torch.Tensor`, :func:`torch.no_grad`.\n",
    )
    build = sphinx_build(project)
    assert build.returncode == 0, build.output[-3000:]

    with (project / "refs.rst").open("a", encoding="utf-8") as refs:
        refs.write("\nMissing: :class:`minipkg.a.NoSuchThing` and :ref:`no-such-label`.\n")
    build = sphinx_build(project)
    assert build.returncode != 0
    assert "py:class reference target not found: minipkg.a.NoSuchThing" in build.output
    assert "undefined label: 'no-such-label'" in build.output
