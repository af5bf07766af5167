"""Landing-page cards: the ``gradbook-tutorial-cards`` directive.

It writes a sphinx-design grid with one card per numbered gallery script: the
tutorial's thumbnail, its number and title, and the first sentence of its docstring,
linked to its page. The scripts are read with ast, not run.

- ``tutorial_summary``: the title and first sentence of a gallery script.
- ``TutorialCards``: the directive.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from docutils.parsers.rst import Directive

from gradbook_sphinx.galleries import gallery_pairs

__all__ = ["TutorialCards", "tutorial_summary"]


def tutorial_summary(path: Path) -> tuple[str, str]:
    """The reST title and the first sentence of a gallery script's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines = [line.rstrip() for line in doc.strip().splitlines()]
    title = lines[0].strip() if lines else path.stem
    # lines[1] underlines the title; later underlines are not prose either
    body = " ".join(line.strip() for line in lines[2:] if not set(line.strip()) <= set("=-~"))
    first = re.split(r"(?<=[.!?])\s", body.strip(), maxsplit=1)[0] if body else ""
    return title, first


def _card(script: Path, rel_gallery: str) -> list[str]:
    title, summary = tutorial_summary(script)
    ref = f"sphx_glr_{rel_gallery.replace('/', '_')}_{script.name}"
    thumb = f"/{rel_gallery}/images/thumb/sphx_glr_{script.stem}_thumb.png"
    return [
        f"   .. grid-item-card:: {script.stem.split('_')[1]}. {title}",
        f"      :img-top: {thumb}",
        f"      :link: {ref}",
        "      :link-type: ref",
        "      :class-card: gradbook-card",
        "",
        f"      {summary}",
        "",
    ]


class TutorialCards(Directive):
    """``.. gradbook-tutorial-cards::``: a sphinx-design grid of the gallery's tutorials."""

    def run(self):
        env = self.state.document.settings.env
        # the scripts sphinx-gallery executes; anything else is not a tutorial
        pattern = re.compile(env.config.sphinx_gallery_conf.get("filename_pattern", "plot_"))
        lines = [".. grid:: 1 2 3 3", "   :gutter: 3", ""]
        for examples_dir, gallery_dir in gallery_pairs(env.app):
            rel_gallery = gallery_dir.relative_to(Path(env.srcdir)).as_posix()
            for script in sorted(examples_dir.glob("*.py")):
                if pattern.search("/" + script.name):
                    env.note_dependency(str(script))
                    lines += _card(script, rel_gallery)
        self.state_machine.insert_input(lines, "<gradbook-tutorial-cards>")
        return []
