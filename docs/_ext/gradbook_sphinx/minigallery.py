"""'Examples using ...' under each documented class, exception and function.

sphinx-gallery records which examples use which object in
``<backreferences_dir>/backreferences_all.json``; its ``minigallery`` directive shows
the thumbnails of those examples.

- ``add_minigallery`` (autodoc-process-docstring): appends a ``minigallery`` to the
  entry of every package object that some example uses, under a rubric.
- ``note_backreference_dependency`` (source-read): API pages are re-read when that
  record changes, so a tutorial that starts using an object shows up on its page.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["add_minigallery", "note_backreference_dependency"]


def _backreferences_file(app) -> Path | None:
    backrefs = app.config.sphinx_gallery_conf.get("backreferences_dir")
    return Path(app.srcdir, backrefs, "backreferences_all.json") if backrefs else None


def add_minigallery(app, what, name, obj, options, lines):
    """Append a mini-gallery of the examples that use ``name`` to its API entry."""
    if what not in ("class", "exception", "function"):
        return
    if not name.startswith(app.config.gradbook_package):
        return
    record = _backreferences_file(app)
    if record is None or not record.exists():
        return
    used = json.loads(record.read_text() or "{}")
    if name in used:
        # A rubric, not the directive's :add-heading:, which makes a section title: inside
        # an API entry that became an <h2>, larger than the entry's own signature and
        # listed in the page's outline. A rubric is styled like the entry's "Examples"
        # (its class keeps the name on the same line: see gradbook.css).
        lines.extend(
            [
                "",
                f".. rubric:: Examples using ``{name}``",
                "   :class: gradbook-examples-using",
                "",
                f".. minigallery:: {name}",
                "",
            ]
        )


def note_backreference_dependency(app, docname, source):
    """Re-read API pages when the set of examples using an object changes."""
    record = _backreferences_file(app)
    if record is not None and docname.startswith("api/"):
        app.env.note_dependency(str(record))
