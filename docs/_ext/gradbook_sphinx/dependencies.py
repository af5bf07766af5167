"""Which modules of the package a piece of code executes, read with ast (nothing is imported).

Python runs more than the module an import names. ``from gradbook.gradcheck.api import
check_gradients`` executes ``gradbook/__init__.py``, then ``gradbook/gradcheck/__init__.py``,
then ``gradbook/gradcheck/api.py``, and each of them executes what it imports in turn.
So the modules a tutorial executes are the ones it imports, every parent package of
those, and, transitively, whatever each of them imports (relative imports included).

- ``module_name``: ``src/gradbook/train.py`` -> ``gradbook.train``.
- ``imported_modules``: the package names that some code imports.
- ``with_parents``: dotted names together with their parent packages.
- ``import_graph``: for each module of the package, what importing it executes directly.
- ``affected_modules``: the modules whose import executes one of the changed ones.
- ``uses_affected``: whether running some code executes one of those modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = [
    "affected_modules",
    "import_graph",
    "imported_modules",
    "module_name",
    "uses_affected",
    "with_parents",
]


def module_name(path: Path, package_dir: Path) -> str:
    """``src/gradbook/train.py`` -> ``gradbook.train``; an ``__init__.py`` -> its package."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imported_modules(source: str, package: str, current: str | None = None) -> set[str]:
    """Names of ``package`` modules that ``source`` imports (``SyntaxError`` if it does not parse).

    ``from gradbook import x`` counts as importing ``gradbook`` and ``gradbook.x``,
    whichever of the two ``x`` turns out to be: a name that is not a module does no
    harm. ``current`` is the importing module's own name, to resolve relative imports
    inside the package; for a package's ``__init__.py`` it is ``"<package>.__init__"``.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if _in_package(alias.name, package)}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and current is not None:
                anchor = current.split(".")[: -node.level]
                base = ".".join(anchor + ([base] if base else []))
            if _in_package(base, package):
                found.add(base)
                found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def with_parents(names: set[str]) -> set[str]:
    """``names`` and every package above them: ``a.b.c`` adds ``a.b`` and ``a``."""
    parts = (name.split(".") for name in names)
    return {".".join(p[:i]) for p in parts for i in range(1, len(p) + 1)}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """For each module of the package, the modules that importing it executes directly.

    Those are its parent packages (Python runs ``gradbook/__init__.py`` before
    ``gradbook/train.py``) and the package modules it imports, with their parents.
    """
    package = package_dir.name
    graph: dict[str, set[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        name = module_name(path, package_dir)
        current = f"{name}.__init__" if path.name == "__init__.py" else name
        try:
            imports = imported_modules(path.read_text(encoding="utf-8"), package, current)
        except SyntaxError:
            # It fails when imported; as a changed file it re-runs its users anyway.
            imports = set()
        graph[name] = with_parents(imports | {name}) - {name}
    return graph


def affected_modules(package_dir: Path, changed: set[str]) -> set[str]:
    """``changed`` and every module whose import executes one of them, transitively.

    A changed ``__init__.py`` affects every module below it: importing any of them
    runs it first.
    """
    graph = import_graph(package_dir)
    affected = set(changed)
    grew = True
    while grew:
        grew = False
        for name, runs in graph.items():
            if name not in affected and runs & affected:
                affected.add(name)
                grew = True
    return affected


def uses_affected(source: str, package: str, affected: set[str]) -> bool:
    """Whether running code ``source`` executes any module in ``affected``.

    ``from gradbook.models import MLP`` executes ``gradbook.models`` and, on the way,
    the package ``gradbook`` (its ``__init__.py``). Code that does not parse counts as
    using everything, so that it is never skipped.
    """
    try:
        imports = imported_modules(source, package)
    except SyntaxError:
        return True
    return bool(with_parents(imports) & affected)
