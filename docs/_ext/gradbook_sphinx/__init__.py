"""Sphinx glue for the gradbook site: the extension ``gradbook_sphinx``, one module per concern.

- ``seeding``: ``reset_seeds``, the sphinx-gallery ``reset_modules`` hook that seeds
  Python, NumPy and PyTorch before every example.
- ``dependencies``: which modules of the package some code executes (read with ast).
- ``rerun``: re-runs the tutorials and theory pages that execute package code changed
  since the last build, and nothing else.
- ``timings``: the execution-time page, written without sphinx-gallery's CDN scripts.
- ``minigallery``: "Examples using ..." under each documented class and function.
- ``api_pages``: the ``gradbook-module`` directive of the API pages, and the [source]
  links (``sphinx.ext.viewcode``) read from the package's files.
- ``cards``: the ``gradbook-tutorial-cards`` directive of the landing page.
- ``html_patches``: matplotlib's animation player made offline and labelled; the
  theme's sidebar toggles named.
- ``thumbnails``: alt text for sphinx-gallery's thumbnails.
- ``notebooks``: downloads that run as downloaded: the notebooks' Markdown (a pandoc
  filter for Sphinx's roles and the macros), their set-up cell, and gradbook's wheel,
  built into the site and linked from each download box.
- ``exercises``: the ``gradbook-exercises`` directive of the exercises page, and the
  solutions folded in the notebooks.
- ``galleries``: the gallery folders, as sphinx-gallery's configuration names them.

``setup`` below connects them all. No module imports torch or the package at import
time: a rebuild that runs no example must not pay for ``import torch``.
"""

from __future__ import annotations

from gradbook_sphinx.api_pages import (
    ModulePage,
    module_file,
    public_bases,
    public_names,
    viewcode_defining_module,
    viewcode_source,
)
from gradbook_sphinx.cards import TutorialCards
from gradbook_sphinx.exercises import ExerciseTable, fold_notebook_solutions
from gradbook_sphinx.html_patches import (
    drop_remote_stylesheets,
    label_animation_controls,
    name_sidebar_toggles,
)
from gradbook_sphinx.minigallery import add_minigallery, note_backreference_dependency
from gradbook_sphinx.notebooks import add_markdown_filter, link_wheel, publish_wheel
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
    app.add_directive("gradbook-exercises", ExerciseTable)
    # sphinx-gallery runs the examples at builder-inited, priority 500: the stale
    # examples must lose their .md5 before, and the timings are read after
    app.connect("builder-inited", invalidate_stale_examples, priority=400)
    app.connect("builder-inited", mark_stale_pages)
    app.connect("builder-inited", write_execution_times, priority=600)
    app.connect("builder-inited", fold_notebook_solutions, priority=600)
    app.connect("env-get-outdated", outdated_pages)
    app.connect("autodoc-process-docstring", add_minigallery)
    app.connect("autodoc-process-bases", public_bases)
    app.setup_extension("sphinx.ext.viewcode")  # its events must exist before we connect
    app.connect("viewcode-find-source", viewcode_source)
    app.connect("viewcode-follow-imported", viewcode_defining_module)
    app.connect("source-read", note_backreference_dependency)
    app.connect("source-read", drop_remote_stylesheets)
    app.connect("source-read", label_animation_controls)
    # after pydata-sphinx-theme's own html-page-context handlers (priority 500)
    app.connect("html-page-context", name_sidebar_toggles, priority=600)
    app.connect("doctree-resolved", describe_thumbnails)
    # before sphinx-gallery writes the notebooks (builder-inited, priority 500)
    app.connect("builder-inited", add_markdown_filter, priority=450)
    app.connect("source-read", link_wheel)
    app.connect("build-finished", publish_wheel)
    # sphinx-mathjax-offline (0.0.2) only copies MathJax into _static at build-finished, in
    # the main process, but declares nothing: Sphinx would warn and read serially with -j
    mathjax = app.extensions.get("sphinx-mathjax-offline")
    if mathjax is not None:
        mathjax.parallel_read_safe = mathjax.parallel_write_safe = True
    return {"parallel_read_safe": True, "parallel_write_safe": True}
