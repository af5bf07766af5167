"""Sphinx glue for the gradbook site.

Three jobs, each small:

1. ``reset_seeds``: sphinx-gallery's ``reset_modules`` hook. It re-seeds Python,
   NumPy and PyTorch before every example, so two builds print the same numbers.
2. Re-execution that follows the package. sphinx-gallery re-runs an example only
   when the example file itself changed (it compares an ``.md5`` next to the
   output). Here we also hash every module of the package; when one changed since
   the last build, the examples that import it (directly, or through another
   package module that imports it) lose their ``.md5`` and so run again. MyST
   theory pages that import the changed code are marked outdated and their
   execution cache is dropped. When nothing changed, nothing re-runs.
3. The execution-time pages of sphinx-gallery load jQuery and DataTables from
   CDNs. The site must work offline, so those are off and the timings are written
   as a plain page (``auto_examples/execution_times``) and to the build log.

The module imports neither torch nor the package at import time: a no-change
rebuild must not pay for ``import torch``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

STAMP_NAME = ".package_stamp.json"


# ---------------------------------------------------------------------------
# 1. seeding before each example
# ---------------------------------------------------------------------------
def reset_seeds(gallery_conf, fname):
    """Seed ``random``, NumPy and PyTorch before each example (sphinx-gallery hook).

    Also runs PyTorch on one thread: the tutorials' tensors are small, and on a
    shared 2-core machine a second thread makes small operations many times slower.
    """
    import torch

    from gradbook.utils import seed_everything

    seed_everything(0)
    torch.set_num_threads(1)


# ---------------------------------------------------------------------------
# 2. re-run what the changed package code affects
# ---------------------------------------------------------------------------
def module_name(path: Path, package_dir: Path) -> str:
    """``src/gradbook/train.py`` -> ``gradbook.train``; ``__init__.py`` -> the package."""
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, package: str, current: str | None = None) -> set[str]:
    """Names of ``package`` modules that ``source`` imports.

    ``from gradbook import x`` counts as importing ``gradbook`` (its ``__init__``)
    and ``gradbook.x``, whichever of the two ``x`` turns out to be. ``current`` is
    the importing module's own name, to resolve relative imports inside the package.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # An example that does not parse will fail the build anyway; treat it as
        # depending on everything so it is never skipped.
        return {package}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(package + "."):
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and current is not None:
                # a relative import inside the package: resolve against `current`
                anchor = current.split(".")[: -node.level]
                base = ".".join(anchor + ([base] if base else []))
            if base == package or base.startswith(package + "."):
                found.add(base)
                for alias in node.names:
                    found.add(f"{base}.{alias.name}")
    return found


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_hashes(package_dir: Path) -> dict[str, str]:
    """sha256 of every ``.py`` file of the package, keyed by module name."""
    return {module_name(p, package_dir): _hash(p) for p in sorted(package_dir.rglob("*.py"))}


def affected_modules(package_dir: Path, changed: set[str]) -> set[str]:
    """``changed`` plus every package module that imports one of them, transitively."""
    package = package_dir.name
    deps: dict[str, set[str]] = {}
    for p in package_dir.rglob("*.py"):
        name = module_name(p, package_dir)
        current = name if p.name != "__init__.py" else name + ".__init__"
        deps[name] = imported_modules(p.read_text(encoding="utf-8"), package, current)
    affected = set(changed)
    grew = True
    while grew:
        grew = False
        for name, imports in deps.items():
            if name not in affected and imports & affected:
                affected.add(name)
                grew = True
    return affected


def uses_affected(source: str, package: str, affected: set[str]) -> bool:
    """Whether code ``source`` imports any module in ``affected``."""
    # `from gradbook.models import MLP` depends on gradbook.models (and what it
    # imports), not on the package __init__ that Python also runs on the way.
    return bool(imported_modules(source, package) & affected)


def _gallery_pairs(app) -> list[tuple[Path, Path]]:
    conf = app.config.sphinx_gallery_conf
    src = Path(app.srcdir)
    examples = conf.get("examples_dirs", [])
    galleries = conf.get("gallery_dirs", [])
    if isinstance(examples, str):
        examples = [examples]
    if isinstance(galleries, str):
        galleries = [galleries]
    return [
        ((src / e).resolve(), (src / g).resolve()) for e, g in zip(examples, galleries, strict=True)
    ]


def invalidate_stale_examples(app) -> None:
    """builder-inited (before sphinx-gallery): drop the .md5 of examples using changed code."""
    package_dir = app.config.gradbook_package_dir
    if not package_dir:
        return
    package_dir = Path(app.confdir, package_dir).resolve()
    package = package_dir.name
    current = package_hashes(package_dir)
    app.env.gradbook_stale_docs = set()

    for examples_dir, gallery_dir in _gallery_pairs(app):
        stamp = gallery_dir / STAMP_NAME
        previous = json.loads(stamp.read_text()) if stamp.is_file() else None
        if previous is None:
            # No record of what the outputs were built against: trust none of them.
            changed = set(current)
        else:
            changed = {
                m for m in current.keys() | previous.keys() if current.get(m) != previous.get(m)
            }
        if changed:
            affected = affected_modules(package_dir, changed)
            rerun = []
            for example in sorted(examples_dir.rglob("*.py")):
                if not uses_affected(example.read_text(encoding="utf-8"), package, affected):
                    continue
                md5 = gallery_dir / example.relative_to(examples_dir).with_suffix(".py.md5")
                if md5.exists():
                    md5.unlink()
                    rerun.append(example.name)
            if rerun:
                print(
                    f"[gradbook] package changed ({', '.join(sorted(changed))}): "
                    f"re-running {', '.join(rerun)}"
                )
            _mark_stale_notebooks(app, package, affected)
        gallery_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(current, indent=1, sort_keys=True))


def _mark_stale_notebooks(app, package: str, affected: set[str]) -> None:
    """Theory pages (MyST notebooks) whose code imports ``affected`` modules re-execute."""
    srcdir = Path(app.srcdir)
    stale = set()
    for md in srcdir.glob(app.config.gradbook_executed_pages):
        text = md.read_text(encoding="utf-8")
        code = "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S))
        if uses_affected(code, package, affected):
            stale.add(str(md.relative_to(srcdir).with_suffix("").as_posix()))
    if stale:
        # jupyter-cache keys on the code alone, so a package change would hit the cache.
        cache = Path(app.outdir).parent / ".jupyter_cache"
        cache_path = getattr(app.config, "nb_execution_cache_path", "") or cache
        shutil.rmtree(cache_path, ignore_errors=True)
        app.env.gradbook_stale_docs = stale
        print(f"[gradbook] package changed: re-executing {', '.join(sorted(stale))}")


def outdated_notebooks(app, env, added, changed, removed):
    """env-get-outdated: the theory pages found stale at builder-inited."""
    return sorted(getattr(env, "gradbook_stale_docs", set()) - set(removed))


# ---------------------------------------------------------------------------
# 3. execution times, without CDN scripts
# ---------------------------------------------------------------------------
TIMES_PAGE = "execution_times.rst"


def write_execution_times(app) -> None:
    """builder-inited (after sphinx-gallery): the timing report, as a plain page.

    sphinx-gallery's own ``sg_execution_times`` pages load jQuery and DataTables
    from CDNs, which breaks offline, so they are switched off and stale copies
    removed. The times come from the ``.cost.json`` files sphinx-gallery keeps next
    to each example's output (last measured run, cached across builds).
    """
    srcdir = Path(app.srcdir)
    for stale in [
        srcdir / "sg_execution_times.rst",
        *(g / "sg_execution_times.rst" for _, g in _gallery_pairs(app)),
    ]:
        stale.unlink(missing_ok=True)
    for examples_dir, gallery_dir in _gallery_pairs(app):
        rows = []
        for example in sorted(examples_dir.rglob("*.py")):
            cost = gallery_dir / example.relative_to(examples_dir).with_suffix(".cost.json")
            if cost.is_file():
                seconds = float(json.loads(cost.read_text())["time"])
                ref = "sphx_glr_" + "_".join(
                    gallery_dir.relative_to(srcdir).parts + example.relative_to(examples_dir).parts
                )
                rows.append((seconds, ref, example.name))
        rows.sort(reverse=True)
        total = sum(r[0] for r in rows)
        lines = [
            ":orphan:",
            "",
            ".. _execution_times:",
            "",
            "Execution times",
            "===============",
            "",
            f"The last build ran **{len(rows)}** tutorials in **{total:.1f} s** "
            "(each time is that of the tutorial's last run; an unchanged tutorial "
            "is not re-run).",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "",
            "   * - Tutorial",
            "     - Time (s)",
        ]
        for seconds, ref, name in rows:
            lines += [f"   * - :ref:`{ref}` (``{name}``)", f"     - {seconds:.2f}"]
        text = "\n".join(lines) + "\n"
        page = gallery_dir / TIMES_PAGE
        if not page.is_file() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")  # unchanged: keep the mtime
        print(f"[gradbook] execution times ({gallery_dir.name}), total {total:.1f} s:")
        for seconds, _, name in rows:
            print(f"[gradbook]   {seconds:6.2f} s  {name}")


# ---------------------------------------------------------------------------
# "Examples using ..." under each documented class and function
# ---------------------------------------------------------------------------
def add_minigallery(app, what, name, obj, options, lines):
    """Append a mini-gallery of the examples that use ``name`` to its API entry."""
    if what not in ("class", "exception", "function") or not name.startswith(
        app.config.gradbook_package
    ):
        return
    backrefs = app.config.sphinx_gallery_conf.get("backreferences_dir")
    if not backrefs:
        return
    json_file = Path(app.srcdir, backrefs, "backreferences_all.json")
    if not json_file.exists():
        return
    used = json.loads(json_file.read_text() or "{}")
    if name not in used:
        return
    lines.extend(["", f".. minigallery:: {name}", "   :add-heading:", ""])


def note_backreference_dependency(app, docname, source):
    """Re-read API pages when the set of examples using an object changes."""
    backrefs = app.config.sphinx_gallery_conf.get("backreferences_dir")
    if backrefs and docname.startswith("api/"):
        app.env.note_dependency(str(Path(app.srcdir, backrefs, "backreferences_all.json")))


# ---------------------------------------------------------------------------
# API pages: a summary table of the module's __all__, then the full entries
# ---------------------------------------------------------------------------
def public_names(module_file: Path) -> list[str]:
    """The names in a module's ``__all__``, read with ast (no import)."""
    tree = ast.parse(module_file.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return [ast.literal_eval(elt) for elt in node.value.elts]
    raise ValueError(f"{module_file} has no __all__")


def definition_kinds(module_file: Path) -> dict[str, str]:
    """Which autodoc directive documents each top-level name of a module (read with ast)."""
    kinds = {}
    for node in ast.parse(module_file.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kinds[node.name] = "autofunction"
        elif isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            is_error = any(b.endswith(("Error", "Exception", "Warning")) for b in bases)
            kinds[node.name] = "autoexception" if is_error else "autoclass"
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            for alias in node.names:  # re-exported names: guess from the spelling
                name = alias.asname or alias.name.split(".")[-1]
                kinds[name] = "autoclass" if name[:1].isupper() else "autofunction"
    return kinds


class ModulePage(Directive):
    """``.. gradbook-module:: gradbook.models``: summary table + automodule."""

    required_arguments = 1

    def run(self):
        env = self.state.document.settings.env
        module = self.arguments[0]
        package_dir = Path(env.app.confdir, env.config.gradbook_package_dir).resolve()
        rel = module.split(".")[1:]
        module_file = package_dir.joinpath(*rel).with_suffix(".py")
        env.note_dependency(str(module_file))
        names = public_names(module_file)
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
        kinds = definition_kinds(module_file)
        for name in names:
            lines += [f".. {kinds.get(name, 'autodata')}:: {name}", ""]
        self.state_machine.insert_input(lines, f"<gradbook-module {module}>")
        return []


# ---------------------------------------------------------------------------
# landing-page cards: one per tutorial, with its thumbnail, title and summary
# ---------------------------------------------------------------------------
def tutorial_summary(path: Path) -> tuple[str, str]:
    """The reST title and the first sentence of a gallery script's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines = [line.rstrip() for line in doc.strip().splitlines()]
    title = lines[0].strip() if lines else path.stem
    body = " ".join(line.strip() for line in lines[2:] if not set(line.strip()) <= set("=-~"))
    first = re.split(r"(?<=[.!?])\s", body.strip(), maxsplit=1)[0] if body else ""
    return title, first


class TutorialCards(Directive):
    """``.. gradbook-tutorial-cards::``: a sphinx-design grid of the gallery's tutorials."""

    def run(self):
        env = self.state.document.settings.env
        conf = env.config.sphinx_gallery_conf
        lines = [".. grid:: 1 2 3 3", "   :gutter: 3", ""]
        for examples_dir, gallery_dir in _gallery_pairs(env.app):
            rel_gallery = gallery_dir.relative_to(Path(env.srcdir)).as_posix()
            pattern = re.compile(conf.get("filename_pattern", "plot_"))
            for script in sorted(examples_dir.glob("*.py")):
                if not pattern.search("/" + script.name):
                    continue
                env.note_dependency(str(script))
                title, summary = tutorial_summary(script)
                ref = f"sphx_glr_{rel_gallery.replace('/', '_')}_{script.name}"
                thumb = f"/{rel_gallery}/images/thumb/sphx_glr_{script.stem}_thumb.png"
                lines += [
                    f"   .. grid-item-card:: {script.stem.split('_')[1]}. {title}",
                    f"      :img-top: {thumb}",
                    f"      :link: {ref}",
                    "      :link-type: ref",
                    "      :class-card: gradbook-card",
                    "",
                    f"      {summary}",
                    "",
                ]
        self.state_machine.insert_input(lines, "<gradbook-tutorial-cards>")
        return []


# ---------------------------------------------------------------------------
# animations: matplotlib's JS player links Font Awesome 4 from a CDN
# ---------------------------------------------------------------------------
def _is_gallery_page(app, docname: str) -> bool:
    """Whether ``docname`` is a page sphinx-gallery generated."""
    galleries = [g.relative_to(Path(app.srcdir)).as_posix() for _, g in _gallery_pairs(app)]
    return any(docname.startswith(g + "/") for g in galleries)


_REMOTE_STYLESHEET = re.compile(r'<link rel="stylesheet"\s+href="https?://[^"]+"\s*/?>')


def drop_remote_stylesheets(app, docname, source):
    """source-read: remove CDN stylesheet links from generated gallery pages.

    ``FuncAnimation.to_jshtml()`` links Font Awesome 4 from a CDN for its player's
    buttons. The theme already bundles Font Awesome (whose CSS keeps the v4 icon
    names), so the buttons keep their icons and the page needs no network.
    """
    if _is_gallery_page(app, docname):
        source[0] = _REMOTE_STYLESHEET.sub("", source[0])


_ANIMATION_FRAME = re.compile(r'<img id="(_anim_img[0-9a-f]+)">')
_ANIMATION_SLIDER = re.compile(r'<input id="(_anim_slider[0-9a-f]+)" type="range"')


def label_animation_controls(app, docname, source):
    """source-read: give matplotlib's JS player an alt text and a labelled slider.

    The player's frame is an ``<img>`` with no ``alt`` and its slider an unlabelled
    ``<input>``: a screen reader announces neither, and axe-core reports both as
    critical.
    """
    if _is_gallery_page(app, docname):
        source[0] = _ANIMATION_FRAME.sub(
            r'<img id="\1" alt="Animation of the figure above, one frame at a time; '
            r'the buttons below play, pause and step it">',
            source[0],
        )
        source[0] = _ANIMATION_SLIDER.sub(
            r'<input id="\1" type="range" aria-label="Animation frame"', source[0]
        )


# ---------------------------------------------------------------------------
# thumbnails: sphinx-gallery writes them with an empty alt text
# ---------------------------------------------------------------------------
_THUMBNAIL = re.compile(r"sphx_glr_(?P<stem>[^/]+)_thumb\.(png|svg|gif|jpg)$")


def describe_thumbnails(app, doctree, docname):
    """doctree-resolved: name the tutorial in each thumbnail's alt text.

    A thumbnail is the only content of its link in the gallery index and in the
    "Examples using" mini-galleries, so with ``alt=""`` the link has no accessible
    name at all.
    """
    galleries = [g.relative_to(Path(app.srcdir)).as_posix() for _, g in _gallery_pairs(app)]
    for image in doctree.findall(nodes.image):
        match = _THUMBNAIL.search(image.get("uri", ""))
        if not match or image.get("alt"):
            continue
        for gallery in galleries:
            title = app.env.titles.get(f"{gallery}/{match['stem']}")
            if title is not None:
                image["alt"] = f"Thumbnail of the tutorial: {title.astext()}"
                break


def setup(app):
    app.connect("source-read", drop_remote_stylesheets)
    app.connect("source-read", label_animation_controls)
    app.connect("doctree-resolved", describe_thumbnails)
    app.add_directive("gradbook-tutorial-cards", TutorialCards)
    app.add_directive("gradbook-module", ModulePage)
    app.add_config_value("gradbook_package_dir", "", "env")
    app.add_config_value("gradbook_package", "gradbook", "env")
    app.add_config_value("gradbook_executed_pages", "theory/*.md", "env")
    # sphinx-gallery generates its pages at builder-inited, priority 500
    app.connect("builder-inited", invalidate_stale_examples, priority=400)
    app.connect("builder-inited", write_execution_times, priority=600)
    app.connect("env-get-outdated", outdated_notebooks)
    app.connect("autodoc-process-docstring", add_minigallery)
    app.connect("source-read", note_backreference_dependency)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
