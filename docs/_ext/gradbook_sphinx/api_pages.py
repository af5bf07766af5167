"""API pages: the ``gradbook-module`` directive of docs/api/.

``.. gradbook-module:: gradbook.models`` writes a summary table of the module's
``__all__``, then one autodoc entry per name (``autoclass``, ``autoexception``,
``autofunction``, or ``autodata`` for anything else). Everything is read from the source
with ast, so that a rebuild that changes no module imports nothing.

A module is a file (``gradbook/train.py``) or a package (``gradbook/gradcheck/__init__.py``).
A package's ``__init__`` often only re-exports names from its private modules
(``from .report import GradientReport``); each such name is documented by the kind of
its definition, found by following the re-export to the file that defines it.

- ``module_file``: the file that holds a module (a ``.py`` file or a package's ``__init__.py``).
- ``public_names``: a module's ``__all__``.
- ``read_definitions``: the kind of each top-level name, and the files read to tell.
- ``definition_kinds``: the kinds alone.
- ``ModulePage``: the directive.
- ``public_bases``: the "Bases:" line of a class shows public classes only.
- ``defining_file``: the file that defines a name, through any re-exports.
- ``viewcode_source``, ``viewcode_defining_module``: what ``sphinx.ext.viewcode`` needs
  for the [source] links, read from the files. Left to itself viewcode imports every
  module again at the end of each build (a rebuild that changed nothing would pay for
  ``import torch``), and it looks for a name in the module its ``__module__`` gives:
  ``gradbook.gradcheck`` sets that to the subpackage, whose ``__init__`` only
  re-exports, so its entries would get no link.
"""

from __future__ import annotations

import ast
from pathlib import Path

from docutils.parsers.rst import Directive
from sphinx.pycode import ModuleAnalyzer

from gradbook_sphinx.dependencies import module_name

__all__ = [
    "ModulePage",
    "defining_file",
    "definition_kinds",
    "module_file",
    "public_bases",
    "public_names",
    "read_definitions",
    "viewcode_defining_module",
    "viewcode_source",
]


def module_file(package_dir: Path, module: str) -> Path:
    """The file of ``module`` (``gradbook.x.y``) in the package at ``package_dir``.

    A package (``x/y/__init__.py``) wins over a module file (``x/y.py``), as in Python.
    """
    path = package_dir.joinpath(*module.split(".")[1:])
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    raise ValueError(f"no file for module {module!r}: expected {path}.py or {path}/__init__.py")


def public_names(module_file: Path) -> list[str]:
    """The names in a module's ``__all__`` (``__all__ = [...]`` and any ``__all__ += [...]``
    after it), read with ast (no import)."""
    tree = ast.parse(module_file.read_text(encoding="utf-8"))
    names: list[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            names = [ast.literal_eval(elt) for elt in node.value.elts]
        elif (
            names is not None
            and isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "__all__"
        ):
            names += [ast.literal_eval(elt) for elt in node.value.elts]
    if names is None:
        raise ValueError(f"{module_file} has no __all__")
    return names


def _top_package(path: Path) -> Path | None:
    """The outermost package folder above ``path`` (each level holds an ``__init__.py``)."""
    top = None
    folder = path.parent
    while (folder / "__init__.py").is_file():
        top = folder
        folder = folder.parent
    return top


def _source_of(path: Path, node: ast.ImportFrom) -> Path | None:
    """The package file that ``from ... import`` in ``path`` reads, or None outside the package."""
    parts = node.module.split(".") if node.module else []
    if node.level:  # relative: `.` is the folder of `path`, each further dot one up
        if node.level > len(path.parents):
            return None
        folder = path.parents[node.level - 1]
    else:
        top = _top_package(path)
        if top is None or parts[:1] != [top.name]:
            return None
        folder = top.parent
    target = folder.joinpath(*parts)
    for candidate in (target / "__init__.py", target.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _guess(name: str) -> str:
    """The directive for a name imported from outside the package: from its spelling."""
    return "autoclass" if name[:1].isupper() else "autofunction"


def _class_kind(node: ast.ClassDef) -> str:
    bases = [ast.unparse(b) for b in node.bases]
    is_error = any(b.endswith(("Error", "Exception", "Warning")) for b in bases)
    return "autoexception" if is_error else "autoclass"


def _collect(path: Path, read: dict[Path, dict[str, str]]) -> dict[str, str]:
    """The kinds of ``path``'s top-level names; ``read`` keeps those of every file read."""
    if path in read:
        return read[path]
    # registered before it is filled: an import cycle back here sees what is known so far
    kinds = read[path] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kinds[node.name] = "autofunction"
        elif isinstance(node, ast.ClassDef):
            kinds[node.name] = _class_kind(node)
        elif isinstance(node, ast.ImportFrom):
            kinds.update(_imported_kinds(path, node, read))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[-1]
                kinds[name] = _guess(name)
    return kinds


def _imported_kinds(
    path: Path, node: ast.ImportFrom, read: dict[Path, dict[str, str]]
) -> dict[str, str]:
    """The kinds of the names that ``from ... import`` binds in ``path``."""
    source = _source_of(path, node)
    if source is None:
        return {alias.asname or alias.name: _guess(alias.name) for alias in node.names}
    found = _collect(source, read)
    if any(alias.name == "*" for alias in node.names):
        return dict(found)
    # a name the source does not define as a class or function is data (autodata)
    return {
        alias.asname or alias.name: found[alias.name] for alias in node.names if alias.name in found
    }


def read_definitions(module_file: Path) -> tuple[dict[str, str], list[Path]]:
    """Which autodoc directive documents each top-level name, and the files read to tell.

    Functions get ``autofunction``, classes ``autoclass`` (``autoexception`` when a base
    is named ``...Error``, ``...Exception`` or ``...Warning``). A name imported from the
    same package (relative, or absolute with the package's name) takes the kind of its
    definition there, through any number of re-exports; a name imported from elsewhere
    is guessed from its spelling (``Capitalised`` is a class). Other names (constants)
    are left out: the directive documents them with ``autodata``.
    """
    read: dict[Path, dict[str, str]] = {}
    kinds = _collect(module_file, read)
    return kinds, list(read)


def definition_kinds(module_file: Path) -> dict[str, str]:
    """Which autodoc directive documents each top-level name of a module (read with ast)."""
    return read_definitions(module_file)[0]


class ModulePage(Directive):
    """``.. gradbook-module:: gradbook.models``: summary table + automodule."""

    required_arguments = 1

    def run(self):
        env = self.state.document.settings.env
        module = self.arguments[0]
        package_dir = Path(env.app.confdir, env.config.gradbook_package_dir).resolve()
        path = module_file(package_dir, module)
        names = public_names(path)
        kinds, files = read_definitions(path)
        for read in files:  # an edit to any of them can change the page
            env.note_dependency(str(read))
        lines = [
            f".. automodule:: {module}",
            "   :no-members:",
            "",
            ".. rubric:: Summary",
            "",
            f".. currentmodule:: {module}",
            "",
            ".. autosummary::",
            "",
        ]
        lines += [f"   {name}" for name in names]
        lines += ["", ".. rubric:: Reference", ""]
        for name in names:
            lines += [f".. {kinds.get(name, 'autodata')}:: {name}", ""]
        self.state_machine.insert_input(lines, f"<gradbook-module {module}>")
        return []


def public_bases(app, name, obj, options, bases: list) -> None:
    """autodoc-process-bases: show a private base class by its public ancestors.

    ``gradbook.optim.SGD`` derives from a private ``_Optimizer`` that holds the shared
    argument checks; a reader should see (and be linked to) ``torch.optim.Optimizer``.
    """
    shown = []
    for base in bases:
        while base.__name__.startswith("_") and base.__bases__ != (object,):
            base = base.__bases__[0]
        shown.append(base)
    bases[:] = shown


def defining_file(module_file: Path, name: str) -> Path | None:
    """The package file whose top level defines ``name`` (``def`` or ``class``), or None.

    A name the file imports from the same package is followed to its source, through
    any number of re-exports (``from ._api import run``, ``from .x import *``, ``as``
    aliases). A name bound otherwise (a constant) or imported from outside gives None.
    """
    return _find_definition(module_file, name, set())


def _find_definition(path: Path, name: str, seen: set[Path]) -> Path | None:
    if path in seen:  # an import cycle
        return None
    seen.add(path)
    body = ast.parse(path.read_text(encoding="utf-8")).body
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if any(isinstance(node, definitions) and node.name == name for node in body):
        return path
    for node in body:
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            if alias.name == "*" or (alias.asname or alias.name) == name:
                source = _source_of(path, node)
                wanted = name if alias.name == "*" else alias.name
                found = source and _find_definition(source, wanted, seen)
                if found:
                    return found
    return None


def _package_dir(app) -> Path:
    return Path(app.confdir, app.config.gradbook_package_dir).resolve()


def _in_package(app, modname: str | None) -> bool:
    package = app.config.gradbook_package
    return bool(modname) and (modname == package or modname.startswith(package + "."))


def viewcode_defining_module(app, modname: str, attribute: str) -> str | None:
    """viewcode-follow-imported: the package module whose file defines ``attribute``.

    ``attribute`` is the documented name inside ``modname`` (``check_gradients``, or
    ``GradientReport.summary`` for a method, found under its class). None lets viewcode
    ask the object's ``__module__``, as it does for other projects.
    """
    if not _in_package(app, modname):
        return None
    package_dir = _package_dir(app)
    try:
        path = module_file(package_dir, modname)
    except ValueError:
        return None
    found = defining_file(path, attribute.split(".")[0])
    return module_name(found, package_dir) if found else None


def viewcode_source(app, modname: str) -> tuple[str, dict] | None:
    """viewcode-find-source: a package module's code and its definitions' line ranges.

    Read from the file (no import); None for a module outside the package.
    """
    if not _in_package(app, modname):
        return None
    try:
        path = module_file(_package_dir(app), modname)
    except ValueError:
        return None
    code = path.read_text(encoding="utf-8")
    analyzer = ModuleAnalyzer.for_string(code, modname, str(path))
    return code, analyzer.find_tags()
