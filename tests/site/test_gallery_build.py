"""The gallery pipeline on a throwaway project: failures fail, package edits re-run examples.

The throwaway project uses the real ``docs/conf.py`` (loaded, then pointed at a tiny
package and gallery in a temporary folder), so these tests check the real set-up at
a fraction of the cost of building the real site.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

import pytest
from sitebuild import ROOT, sphinx_build

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
sphinx_gallery_conf = {{**sphinx_gallery_conf, "doc_module": ("minipkg",),
                       "reset_modules": ("matplotlib",), "reference_url": {{}}}}
exclude_patterns = exclude_patterns + ["theory", "api"]
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


@pytest.fixture
def project(tmp_path) -> Path:
    """A docs folder, a gallery of three examples and a three-module package."""
    write(tmp_path / "docs" / "conf.py", CONF)
    write(tmp_path / "docs" / "index.rst", INDEX)
    write(tmp_path / "gallery" / "GALLERY_HEADER.rst", "Gallery\n=======\n")
    write(tmp_path / "src" / "minipkg" / "__init__.py", "")
    write(tmp_path / "src" / "minipkg" / "a.py", "A = 1\n")
    write(tmp_path / "src" / "minipkg" / "b.py", "B = 10\n")
    write(tmp_path / "src" / "minipkg" / "c.py", "from .b import B\n\nC = B + 100\n")
    write(tmp_path / "gallery" / "plot_01_a.py", example("minipkg.a", "A"))
    write(tmp_path / "gallery" / "plot_02_b.py", example("minipkg.b", "B"))
    write(tmp_path / "gallery" / "plot_03_c.py", example("minipkg.c", "C"))
    return tmp_path / "docs"


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


def test_package_edits_rerun_exactly_the_examples_that_use_them(project):
    """Nothing re-runs without a change; an edited module re-runs its users, transitively."""
    src = project.parent / "src" / "minipkg"
    first = sphinx_build(project)
    assert first.returncode == 0, first.output[-3000:]
    assert executed(first) == 3
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


def test_editing_one_tutorial_reruns_only_that_tutorial(project):
    """sphinx-gallery's own check: an edited example re-runs alone."""
    assert sphinx_build(project).returncode == 0
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
