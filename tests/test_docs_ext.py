"""Unit tests of the Sphinx glue in docs/_ext/gradbook_sphinx.py (no build)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradbook_sphinx import (
    affected_modules,
    definition_kinds,
    imported_modules,
    public_names,
    uses_affected,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import gradbook", {"gradbook"}),
        ("import gradbook.train as t", {"gradbook.train"}),
        ("from gradbook.models import MLP", {"gradbook.models", "gradbook.models.MLP"}),
        ("from gradbook import fit", {"gradbook", "gradbook.fit"}),
        ("import torch\nfrom numpy import pi", set()),
        ("def f(:\n", {"gradbook"}),  # unparsable: depends on everything
    ],
)
def test_imported_modules(source, expected):
    """Imports of the package are found in every spelling; others are ignored."""
    assert imported_modules(source, "gradbook") == expected


def test_relative_imports_resolve_inside_the_package():
    """``from .utils import x`` in gradbook.train means gradbook.utils."""
    found = imported_modules("from .utils import seed_everything", "gradbook", "gradbook.train")
    assert "gradbook.utils" in found


def test_affected_modules_follow_imports_transitively(tmp_path):
    """A change to b affects c (imports b) and d (imports c), not a."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("A = 1\n")
    (pkg / "b.py").write_text("B = 1\n")
    (pkg / "c.py").write_text("from .b import B\n")
    (pkg / "d.py").write_text("from pkg.c import B\n")
    assert affected_modules(pkg, {"pkg.b"}) == {"pkg.b", "pkg.c", "pkg.d"}
    assert affected_modules(pkg, {"pkg.a"}) == {"pkg.a"}


def test_uses_affected():
    """An example depends on the modules it imports from, not on the package __init__."""
    assert uses_affected("from gradbook.models import MLP", "gradbook", {"gradbook.models"})
    assert not uses_affected("from gradbook.models import MLP", "gradbook", {"gradbook.optim"})
    assert not uses_affected("import torch", "gradbook", {"gradbook.optim"})


def test_public_names_reads_all_without_importing(tmp_path):
    """__all__ is read with ast; a module without one is an error."""
    assert "seed_everything" in public_names(ROOT / "src" / "gradbook" / "utils.py")
    bare = Path(tmp_path / "bare.py")
    bare.write_text("X = 1\n")
    with pytest.raises(ValueError, match="no __all__"):
        public_names(bare)


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
