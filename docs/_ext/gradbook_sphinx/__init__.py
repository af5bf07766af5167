"""Sphinx glue for the gradbook site: the extension ``gradbook_sphinx``, one module per concern.

- ``seeding``: ``reset_seeds``, the sphinx-gallery ``reset_modules`` hook that seeds
  Python, NumPy and PyTorch before every example.
- ``dependencies``: which modules of the package some code executes (read with ast).
- ``rerun``: re-runs the tutorials and theory pages that execute package code changed
  since the last build, and nothing else.
- ``timings``: the execution-time page, written without sphinx-gallery's CDN scripts.
- ``minigallery``: "Examples using ..." under each documented class and function.
- ``api_pages``: the ``gradbook-module`` directive of the API pages.
- ``cards``: the ``gradbook-tutorial-cards`` directive of the landing page.
- ``html_patches``: matplotlib's animation player made offline and labelled.
- ``thumbnails``: alt text for sphinx-gallery's thumbnails.
- ``galleries``: the gallery folders, as sphinx-gallery's configuration names them.

``setup`` below connects them all. No module imports torch or the package at import
time: a rebuild that runs no example must not pay for ``import torch``.
"""

from __future__ import annotations

from gradbook_sphinx.api_pages import ModulePage, module_file, public_bases, public_names
from gradbook_sphinx.cards import TutorialCards
from gradbook_sphinx.html_patches import drop_remote_stylesheets, label_animation_controls
from gradbook_sphinx.minigallery import add_minigallery, note_backreference_dependency
from gradbook_sphinx.rerun import invalidate_stale_examples, mark_stale_pages, outdated_pages
from gradbook_sphinx.thumbnails import describe_thumbnails
from gradbook_sphinx.timings import write_execution_times

# module_file and public_names are also what the site tests use to read __all__
__all__ = ["module_file", "public_names", "setup"]


def setup(app):
    """Register the glue's configuration values, directives and event handlers."""
    app.add_config_value("gradbook_package_dir", "", "env")
    app.add_config_value("gradbook_package", "gradbook", "env")
    app.add_config_value("gradbook_executed_pages", "theory/*.md", "env")
    app.add_directive("gradbook-module", ModulePage)
    app.add_directive("gradbook-tutorial-cards", TutorialCards)
    # sphinx-gallery runs the examples at builder-inited, priority 500: the stale
    # examples must lose their .md5 before, and the timings are read after
    app.connect("builder-inited", invalidate_stale_examples, priority=400)
    app.connect("builder-inited", mark_stale_pages)
    app.connect("builder-inited", write_execution_times, priority=600)
    app.connect("env-get-outdated", outdated_pages)
    app.connect("autodoc-process-docstring", add_minigallery)
    app.connect("autodoc-process-bases", public_bases)
    app.connect("source-read", note_backreference_dependency)
    app.connect("source-read", drop_remote_stylesheets)
    app.connect("source-read", label_animation_controls)
    app.connect("doctree-resolved", describe_thumbnails)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
