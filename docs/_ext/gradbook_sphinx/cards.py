"""Landing-page cards: the ``gradbook-tutorial-cards`` directive.

It writes a sphinx-design grid with one card per numbered gallery script: the
tutorial's thumbnail, its number and title, and the first sentence of its docstring,
linked to its page; one grid per part (sub-gallery), under the part's title. The
scripts are read with ast, not run.

- ``tutorial_summary``: the title and first sentence of a gallery script.
- ``part_title``: the title of a sub-gallery, from its ``GALLERY_HEADER.rst``.
- ``TutorialCards``: the directive.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from docutils.parsers.rst import Directive

from gradbook_sphinx.galleries import gallery_pairs

__all__ = ["TutorialCards", "part_title", "tutorial_summary"]


def tutorial_summary(path: Path) -> tuple[str, str]:
    """The reST title and the first sentence of a gallery script's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines = [line.rstrip() for line in doc.strip().splitlines()]
    title = lines[0].strip() if lines else path.stem
    # lines[1] underlines the title; later underlines are not prose either
    body = " ".join(line.strip() for line in lines[2:] if not set(line.strip()) <= set("=-~"))
    first = re.split(r"(?<=[.!?])\s", body.strip(), maxsplit=1)[0] if body else ""
    return title, first


def part_title(folder: Path) -> str:
    """The title of a sub-gallery: the first heading of its ``GALLERY_HEADER.rst``."""
    lines = (folder / "GALLERY_HEADER.rst").read_text(encoding="utf-8").splitlines()
    for text, underline in zip(lines, lines[1:], strict=False):  # each line and the next
        if text.strip() and underline.strip() and set(underline.strip()) <= set("=-~^"):
            return text.strip()
    return folder.name


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


def _grid(env, folder: Path, rel_gallery: str) -> list[str]:
    """One grid of cards: the executed scripts of one folder, in file-name order."""
    # the scripts sphinx-gallery executes; anything else is not a tutorial
    pattern = re.compile(env.config.sphinx_gallery_conf.get("filename_pattern", "plot_"))
    scripts = [s for s in sorted(folder.glob("*.py")) if pattern.search("/" + s.name)]
    if not scripts:
        return []
    lines = ["", ".. grid:: 1 2 3 3", "   :gutter: 3", "   :class-container: gradbook-cards", ""]
    for script in scripts:
        env.note_dependency(str(script))
        lines += _card(script, rel_gallery)
    return lines


class TutorialCards(Directive):
    """``.. gradbook-tutorial-cards:: [part]``: grids of the gallery's tutorials.

    With no argument, every part of the gallery, each under its title (the landing
    page); with the name of a sub-gallery folder (``autograd``), that part's grid alone
    (its ``GALLERY_HEADER.rst``, so the gallery index shows the landing page's cards;
    gradbook.css hides sphinx-gallery's own thumbnails after them, which carry no
    number and no summary).
    """

    optional_arguments = 1

    def run(self):
        env = self.state.document.settings.env
        lines: list[str] = []
        for examples_dir, gallery_dir in gallery_pairs(env.app):
            rel = gallery_dir.relative_to(Path(env.srcdir)).as_posix()
            headers = sorted(examples_dir.glob("*/GALLERY_HEADER.rst"))
            parts = [header.parent for header in headers]
            if self.arguments:
                parts = [p for p in parts if p.name == self.arguments[0]]
                if not parts:
                    raise self.error(f"no sub-gallery named {self.arguments[0]!r}")
                lines += _grid(env, parts[0], f"{rel}/{parts[0].name}")
                continue
            lines += _grid(env, examples_dir, rel)  # scripts at the top level, if any
            for part in parts:
                env.note_dependency(str(part / "GALLERY_HEADER.rst"))
                lines += ["", f".. rubric:: {part_title(part)}", "   :heading-level: 3"]
                lines += ["   :class: gradbook-part", ""]
                lines += _grid(env, part, f"{rel}/{part.name}")
        self.state_machine.insert_input(lines, "<gradbook-tutorial-cards>")
        return []
