"""Tests for the package as a whole: what ``import gradbook`` loads, and every ``__all__``."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import gradbook

MODULES = sorted(info.name for info in pkgutil.walk_packages(gradbook.__path__, prefix="gradbook."))


@pytest.mark.parametrize("heavy", ["matplotlib", "networkx"])
def test_import_gradbook_does_not_import_the_drawing_libraries(heavy):
    """A fresh interpreter that runs `import gradbook` has not loaded matplotlib or
    networkx (each launched rank of gradbook.distributed pays for what it imports)."""
    code = f"import sys, gradbook; print(sorted(m for m in sys.modules if {heavy!r} in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", f"import gradbook loaded {result.stdout.strip()}"


def _is_private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


@pytest.mark.parametrize("name", ["gradbook", *MODULES])
def test_every_name_in_all_exists(name):
    """Every public module has an __all__, and each name an __all__ lists is defined."""
    module = importlib.import_module(name)
    assert hasattr(module, "__all__") or _is_private(name), f"{name} has no __all__"
    names = getattr(module, "__all__", [])
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    assert len(set(names)) == len(names), f"{name}.__all__ repeats a name"
