"""Unit tests of the Sphinx glue in docs/_ext/gradbook_sphinx/ (no build)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradbook_sphinx.api_pages import (
    defining_file,
    definition_kinds,
    module_file,
    public_names,
    read_definitions,
    viewcode_defining_module,
    viewcode_source,
)
from gradbook_sphinx.dependencies import (
    affected_modules,
    import_graph,
    imported_modules,
    module_name,
    uses_affected,
    with_parents,
)
from gradbook_sphinx.html_patches import name_sidebar_toggles
from gradbook_sphinx.minigallery import add_minigallery
from gradbook_sphinx.rerun import changed_modules, package_hashes
from gradbook_sphinx.timings import timing_page

ROOT = Path(__file__).resolve().parents[1]


def make_package(root: Path, files: dict[str, str]) -> Path:
    """Write the package ``root/pkg`` from ``files`` (path inside it -> source); return it."""
    pkg = root / "pkg"
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return pkg


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import gradbook", {"gradbook"}),
        ("import gradbook.train as t", {"gradbook.train"}),
        ("from gradbook.models import MLP", {"gradbook.models", "gradbook.models.MLP"}),
        ("from gradbook import fit", {"gradbook", "gradbook.fit"}),
        ("import torch\nfrom numpy import pi", set()),
    ],
)
def test_imported_modules(source, expected):
    """Imports of the package are found in every spelling; others are ignored."""
    assert imported_modules(source, "gradbook") == expected


@pytest.mark.parametrize(
    ("source", "current", "expected"),
    [
        ("from .utils import seed", "gradbook.train", "gradbook.utils"),
        ("from ._report import R", "gradbook.gradcheck.__init__", "gradbook.gradcheck._report"),
        ("from . import _report", "gradbook.gradcheck.__init__", "gradbook.gradcheck._report"),
        ("from ..utils import seed", "gradbook.gradcheck._api", "gradbook.utils"),
    ],
)
def test_relative_imports_resolve_inside_the_package(source, current, expected):
    """A relative import means the module it names, from a module or a package ``__init__``."""
    assert expected in imported_modules(source, "gradbook", current)


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("gradbook/train.py", "gradbook.train"),
        ("gradbook/__init__.py", "gradbook"),
        ("gradbook/gradcheck/__init__.py", "gradbook.gradcheck"),
        ("gradbook/gradcheck/_api.py", "gradbook.gradcheck._api"),
    ],
)
def test_module_name(tmp_path, rel, expected):
    """A file's module name; an ``__init__.py`` names its package."""
    assert module_name(tmp_path / rel, tmp_path / "gradbook") == expected


def test_with_parents_adds_every_enclosing_package():
    """``a.b.c`` brings ``a.b`` and ``a``; top-level names stay as they are."""
    assert with_parents({"a.b.c", "x"}) == {"a", "a.b", "a.b.c", "x"}


def test_import_graph_holds_parents_and_imports(tmp_path):
    """Importing a module runs its parent packages and what it imports, relative or not."""
    pkg = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "A = 1\n",
            "sub/__init__.py": "from .x import X\n",
            "sub/x.py": "from pkg.a import A\nX = A\n",
        },
    )
    assert import_graph(pkg) == {
        "pkg": set(),
        "pkg.a": {"pkg"},
        "pkg.sub": {"pkg", "pkg.sub.x", "pkg.sub.x.X"},
        "pkg.sub.x": {"pkg", "pkg.sub", "pkg.a", "pkg.a.A"},
    }


@pytest.fixture
def pkg(tmp_path) -> Path:
    """A package whose ``__init__`` imports nothing, with b used by c, and c by d."""
    return make_package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "A = 1\n",
            "b.py": "B = 1\n",
            "c.py": "from .b import B\n",
            "d.py": "from pkg.c import B\n",
        },
    )


def test_affected_modules_follow_imports_transitively(pkg):
    """A change to b affects c (imports b) and d (imports c), not a."""
    assert affected_modules(pkg, {"pkg.b"}) == {"pkg.b", "pkg.c", "pkg.d"}
    assert affected_modules(pkg, {"pkg.a"}) == {"pkg.a"}


def test_a_changed_init_affects_every_module_below_it(pkg):
    """Importing any module of a package runs its ``__init__`` first."""
    assert affected_modules(pkg, {"pkg"}) == {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"}


def test_a_changed_subpackage_init_affects_its_modules_and_their_users(tmp_path):
    """``sub/__init__.py`` runs before ``sub.x``: users of ``sub.x`` are affected, ``a`` is not."""
    pkg = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "A = 1\n",
            "sub/__init__.py": "",
            "sub/x.py": "X = 1\n",
            "user.py": "from pkg.sub.x import X\n",
        },
    )
    assert affected_modules(pkg, {"pkg.sub"}) == {"pkg.sub", "pkg.sub.x", "pkg.user"}


def test_a_module_the_init_imports_affects_the_whole_package(tmp_path):
    """When ``__init__`` imports a, a change to a reaches every module, through the ``__init__``."""
    pkg = make_package(
        tmp_path,
        {"__init__.py": "from .a import A\n", "a.py": "A = 1\n", "b.py": "B = 2\n"},
    )
    assert affected_modules(pkg, {"pkg.a"}) == {"pkg", "pkg.a", "pkg.b"}


def test_uses_affected_counts_the_package_init_the_import_runs():
    """Code depends on the modules it imports and on the package ``__init__`` run on the way."""
    imports_models = "from gradbook.models import MLP"
    assert uses_affected(imports_models, "gradbook", {"gradbook.models"})
    assert uses_affected(imports_models, "gradbook", {"gradbook"})
    assert uses_affected("import gradbook.gradcheck._api", "gradbook", {"gradbook.gradcheck"})
    assert not uses_affected(imports_models, "gradbook", {"gradbook.optim"})
    assert not uses_affected("import torch", "gradbook", {"gradbook"})


def test_code_that_does_not_parse_is_always_rerun():
    """An unparsable example or page counts as using every module: it is never skipped."""
    assert uses_affected("def f(:\n", "gradbook", {"gradbook.optim"})


def test_package_hashes_cover_every_file_of_subpackages(tmp_path):
    """Every ``.py`` file is hashed under its module name, ``__init__.py`` files included."""
    pkg = make_package(tmp_path, {"__init__.py": "", "sub/__init__.py": "", "sub/x.py": "X = 1\n"})
    assert set(package_hashes(pkg)) == {"pkg", "pkg.sub", "pkg.sub.x"}


def test_a_data_file_counts_as_part_of_its_package(tmp_path):
    """Editing a data file of a subpackage (the exercises' catalogue) changes the hash of
    that subpackage's ``__init__`` alone, so everything importing it re-runs."""
    files = {"__init__.py": "", "sub/__init__.py": "", "sub/x.py": "", "sub/data.json": "{}"}
    pkg = make_package(tmp_path, files)
    before = package_hashes(pkg)
    (pkg / "sub" / "data.json").write_text('{"a": 1}')
    assert set(before) == {"pkg", "pkg.sub", "pkg.sub.x"}
    assert changed_modules(before, package_hashes(pkg)) == {"pkg.sub"}


def test_changed_modules_are_added_removed_or_edited_ones():
    """Edited, new and deleted modules count as changed; with no record, all of them do."""
    previous = {"p": "1", "p.a": "2", "p.gone": "3"}
    current = {"p": "1", "p.a": "9", "p.new": "4"}
    assert changed_modules(previous, current) == {"p.a", "p.gone", "p.new"}
    assert changed_modules(current, current) == set()
    assert changed_modules(None, current) == set(current)


def test_public_names_reads_all_without_importing(tmp_path):
    """__all__ is read with ast; a module without one is an error."""
    assert "seed_everything" in public_names(ROOT / "src" / "gradbook" / "utils.py")
    bare = Path(tmp_path / "bare.py")
    bare.write_text("X = 1\n")
    with pytest.raises(ValueError, match="no __all__"):
        public_names(bare)


def test_module_file_finds_a_file_or_a_package(tmp_path):
    """A module is its ``.py`` file or its package's ``__init__.py``; a missing one is an error."""
    pkg = make_package(tmp_path, {"__init__.py": "", "a.py": "", "sub/__init__.py": ""})
    assert module_file(pkg, "pkg.a") == pkg / "a.py"
    assert module_file(pkg, "pkg.sub") == pkg / "sub" / "__init__.py"
    assert module_file(pkg, "pkg") == pkg / "__init__.py"
    with pytest.raises(ValueError, match="no file for module 'pkg.nope'"):
        module_file(pkg, "pkg.nope")


def test_definition_kinds_pick_the_autodoc_directive(tmp_path):
    """Functions, classes, exceptions and constants each get their own directive."""
    module = tmp_path / "m.py"
    module.write_text(
        "from x import Thing, helper\n"
        "STYLE = {}\n"
        "def f():\n    pass\n"
        "class C:\n    pass\n"
        "class BadError(ValueError):\n    pass\n"
    )
    kinds = definition_kinds(module)
    assert kinds == {
        "Thing": "autoclass",
        "helper": "autofunction",
        "f": "autofunction",
        "C": "autoclass",
        "BadError": "autoexception",
    }
    assert "STYLE" not in kinds  # documented with autodata by the directive


@pytest.fixture
def reexporting_package(tmp_path) -> Path:
    """A subpackage whose ``__init__`` only re-exports names from its private modules."""
    return make_package(
        tmp_path,
        {
            "__init__.py": "from pkg.check import run\n",
            "check/__init__.py": """\
                from ._report import Report, make_report as build
                from ._api import run, CheckError, LIMIT
                from pkg.check._api import lowercase_class
                from ._errors import CheckError as Failure
                __all__ = ["Report", "build", "run", "CheckError", "LIMIT", "lowercase_class"]
                """,
            "check/_report.py": """\
                class Report:
                    pass
                def make_report():
                    pass
                """,
            "check/_api.py": """\
                from ..check._errors import *
                LIMIT = 3
                def run():
                    pass
                class lowercase_class:
                    pass
                """,
            "check/_errors.py": "class CheckError(AssertionError):\n    pass\n",
        },
    )


def test_definition_kinds_follow_reexports_to_the_defining_file(reexporting_package):
    """Re-exported names get the kind of their definition, however imported; constants get none."""
    init = module_file(reexporting_package, "pkg.check")
    assert definition_kinds(init) == {
        "Report": "autoclass",
        "build": "autofunction",
        "run": "autofunction",
        "CheckError": "autoexception",
        "lowercase_class": "autoclass",
        "Failure": "autoexception",
    }


def test_read_definitions_lists_every_file_it_read(reexporting_package):
    """The API page depends on each file the kinds came from, once each."""
    check = reexporting_package / "check"
    _, files = read_definitions(check / "__init__.py")
    expected = ["__init__.py", "_report.py", "_api.py", "_errors.py"]
    assert sorted(files) == sorted(check / name for name in expected)


def test_timing_page_lists_each_run_or_says_none_ran():
    """The page tables each run tutorial; with none (a no-plot build) it has no empty table."""
    page = timing_page([(2.5, "sphx_glr_g_plot_01_a.py", "plot_01_a.py")], 2.5)
    assert "   * - :ref:`sphx_glr_g_plot_01_a.py` (``plot_01_a.py``)\n     - 2.50\n" in page
    assert "**1** tutorials in **2.5 s**" in page
    empty = timing_page([], 0.0)
    assert "list-table" not in empty
    assert "No tutorial has run yet" in empty


def test_the_glue_imports_neither_torch_nor_the_package():
    """Loading the extension (and conf.py) imports no torch and no gradbook."""
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(ROOT / 'docs' / 'conf.py')!r})\n"
        "import gradbook_sphinx\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'gradbook')]\n"
        "print(heavy)\n"
        "assert not heavy, heavy\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_nitpicky_lets_no_gradbook_reference_through():
    """The build resolves every reference; the ignore list never covers gradbook's names."""
    import re
    import runpy

    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
    assert conf["nitpicky"] is True
    own = ["gradbook", "gradbook.train.fit", "gradbook.autodiff.Value", "Value", "SimpleNet"]
    for kind, target in conf["nitpick_ignore_regex"]:
        for name in own:
            assert not (re.fullmatch(kind, "py:class") and re.fullmatch(target, name)), name
    assert not conf.get("nitpick_ignore")


def test_public_names_reads_augmented_all(tmp_path):
    """``__all__ += [...]`` after ``__all__ = [...]`` adds its names, in order."""
    module = tmp_path / "m.py"
    module.write_text('__all__ = ["a", "b"]\n__all__ += ["c"]\n')
    assert public_names(module) == ["a", "b", "c"]


def glue_app(root: Path, package: str = "pkg") -> SimpleNamespace:
    """What the glue's event handlers read from Sphinx's ``app``, for a package in ``root``."""
    return SimpleNamespace(
        confdir=str(root),
        srcdir=str(root),
        config=SimpleNamespace(
            gradbook_package_dir=package,
            gradbook_package=package,
            sphinx_gallery_conf={"backreferences_dir": "backrefs"},
        ),
    )


def test_defining_file_follows_reexports_to_the_definition(reexporting_package):
    """A re-exported name leads to the file with its def or class; a constant to none."""
    check = reexporting_package / "check"
    init = check / "__init__.py"
    assert defining_file(init, "run") == check / "_api.py"
    assert defining_file(init, "Report") == check / "_report.py"
    assert defining_file(init, "build") == check / "_report.py"  # make_report, renamed
    assert defining_file(init, "CheckError") == check / "_errors.py"  # via a * import
    assert defining_file(init, "Failure") == check / "_errors.py"
    assert defining_file(init, "LIMIT") is None
    assert defining_file(init, "nothing") is None
    assert defining_file(reexporting_package / "__init__.py", "run") == check / "_api.py"


def test_viewcode_defining_module_names_the_module_of_the_definition(reexporting_package):
    """[source] of a re-exported name, or of a method, goes to the module that defines it."""
    app = glue_app(reexporting_package.parent)
    assert viewcode_defining_module(app, "pkg.check", "run") == "pkg.check._api"
    assert viewcode_defining_module(app, "pkg.check", "Report.method") == "pkg.check._report"
    assert viewcode_defining_module(app, "pkg.check", "LIMIT") is None
    assert viewcode_defining_module(app, "pkg.nope", "run") is None
    assert viewcode_defining_module(app, "numpy", "pi") is None  # not ours: viewcode decides


def test_viewcode_source_reads_the_file_without_importing_it(tmp_path):
    """The code and its definitions' line ranges come from the file; nothing runs."""
    source = """\
        class Report:
            def summary(self):
                pass
        def run():
            pass
        raise RuntimeError("importing this module is an error")
        """
    make_package(tmp_path, {"__init__.py": "", "api.py": source})
    app = glue_app(tmp_path)
    code, tags = viewcode_source(app, "pkg.api")
    assert code == textwrap.dedent(source)
    # (kind, first line, last line), as viewcode highlights them
    assert tags == {
        "Report": ("class", 1, 3),
        "Report.summary": ("def", 2, 3),
        "run": ("def", 4, 5),
    }
    assert "pkg.api" not in sys.modules
    assert viewcode_source(app, "pkg.nope") is None
    assert viewcode_source(app, "numpy") is None


def test_minigallery_sits_under_a_rubric_not_a_heading(tmp_path):
    """An object some example uses gets a rubric and its thumbnails; no section title."""
    record = tmp_path / "backrefs" / "backreferences_all.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"pkg.models.MLP": [["plot_01_x.py", "autograd"]]}))
    app = glue_app(tmp_path)
    lines = ["The docstring."]
    add_minigallery(app, "class", "pkg.models.MLP", None, {}, lines)
    assert lines[0] == "The docstring."
    text = "\n".join(lines)
    assert (
        ".. rubric:: Examples using ``pkg.models.MLP``\n   :class: gradbook-examples-using" in text
    )
    assert ".. minigallery:: pkg.models.MLP" in text
    assert ":add-heading:" not in text
    unused = ["Another docstring."]
    add_minigallery(app, "function", "pkg.models.count", None, {}, unused)
    assert unused == ["Another docstring."]


SIDEBAR = (
    '<li class="toctree-l1 current active has-children">'
    '<a aria-current="page" class="current reference internal" href="#">'
    "Part 1: <code>autograd</code> &amp; more</a>"
    '<details open="open"><summary><span class="toctree-toggle" role="presentation">'
    '<i class="fa-solid fa-chevron-down"></i></span></summary><ul>'
    '<li class="toctree-l2"><a class="reference internal" href="a.html">A</a></li></ul>'
    "</details></li>"
    '<li class="toctree-l1 has-children"><a class="reference internal" href="b.html">B</a>'
    "<details><summary><span></span></summary><ul></ul></details></li>"
    '<li class="toctree-l0"><details><summary><p class="caption">Part</p></summary>'
    "</details></li>"
)


def test_sidebar_toggles_get_a_name_from_their_entry():
    """Each empty show/hide button of the theme's sidebar is named after its entry's link."""
    from bs4 import BeautifulSoup

    tree = BeautifulSoup(SIDEBAR, "html.parser")
    context = {"generate_toctree_html": lambda kind, **kwargs: tree}
    name_sidebar_toggles(None, "page", "page.html", context, None)
    shown = context["generate_toctree_html"]("sidebar", startdepth=1)
    labels = [summary.get("aria-label") for summary in shown.select("summary")]
    # the last one holds its caption's text: it has a name already
    assert labels == ["Pages in Part 1: autograd & more", "Pages in B", None]
    assert str(context["generate_toctree_html"]("sidebar")) == str(shown)  # once only
    other_theme = {}
    name_sidebar_toggles(None, "page", "page.html", other_theme, None)
    assert other_theme == {}
