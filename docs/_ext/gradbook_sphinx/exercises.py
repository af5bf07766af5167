"""The exercises on the site: the ``gradbook-exercises`` directive, and folded solutions in
the notebooks.

- ``exercise_rows``: the rows of the exercises table, as reST cells (the exercise, what it
  practises, a link to its tutorial), from the records of ``gradbook.exercises.EXERCISES``.
- ``ExerciseTable``: ``.. gradbook-exercises::``, one table per part of the gallery, under
  the part's title. It imports ``gradbook.exercises`` when the page is read (only then), and
  the page is read again when a file of that subpackage changes.
- ``mark_solutions``: a notebook with its solutions marked and folded.
- ``fold_notebook_solutions`` (builder-inited, after sphinx-gallery): applies it to every
  notebook of the gallery, and rewrites the zip of all notebooks to match
  (``rewrite_zip``).

Why the notebooks need this: a page folds a solution between two ``.. raw:: html`` blocks
(``<details><summary>Solution to 02.1</summary>`` ... ``</details>``), which cannot fold
across notebook cells. sphinx-gallery's rst2md copies the ``raw`` directive into the
notebook's Markdown as it is, and pandoc keeps its HTML: either way the first cell would
show an empty disclosure triangle above the solution's code, in plain view. Here the
opening cell becomes "**Solution to 02.1**", the solution's code cells get
``"jupyter": {"source_hidden": true}`` (folded in JupyterLab and Notebook 7, shown under
the heading elsewhere), and the closing ``</details>`` is dropped.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from docutils.parsers.rst import Directive

from gradbook_sphinx.cards import part_title
from gradbook_sphinx.galleries import gallery_pairs

__all__ = ["ExerciseTable", "exercise_rows", "fold_notebook_solutions", "mark_solutions"]
__all__ += ["rewrite_zip"]

# A solution's first and last cells, as rst2md leaves them (the directive and its HTML)
# or as pandoc does (the HTML alone)
_RAW = r"\A\s*(?:\.\. raw:: html\s*\n)?\s*"
_OPEN = re.compile(_RAW + r"<details><summary>(Solution to [^<]+)</summary>\s*")
_CLOSE = re.compile(_RAW + r"</details>\s*")


def _escape(text: str) -> str:
    """Plain text as reST: the characters of inline markup backslash-escaped."""
    return re.sub(r"([\\*`|_])", r"\\\1", text)


def exercise_rows(exercises: Iterable, gallery: str = "auto_examples") -> list[list[str]]:
    """One row per exercise: ``**id** title``, what it practises, and a ``:ref:`` to its
    tutorial's page (sphinx-gallery's label, under the generated folder ``gallery``)."""
    prefix = gallery.replace("/", "_")
    return [
        [
            f"**{e.id}** {_escape(e.title)}",
            _escape(e.practises),
            f":ref:`sphx_glr_{prefix}_{e.part}_{e.tutorial}.py`",
        ]
        for e in exercises
    ]


def _table(rows: list[list[str]]) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 30 40 30"]
    lines += ["   :class: gradbook-exercises", ""]
    for row in [["Exercise", "What it practises", "Tutorial"], *rows]:
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    return [*lines, ""]


class ExerciseTable(Directive):
    """``.. gradbook-exercises::``: every exercise, one table per part of the gallery."""

    def run(self):
        from gradbook.exercises import EXERCISES  # imports torch: only when the page is read

        env = self.state.document.settings.env
        package = Path(env.srcdir, env.config.gradbook_package_dir, "exercises")
        for source in sorted(package.glob("*.py")):
            env.note_dependency(str(source))  # a new exercise re-reads this page
        (examples_dir, gallery_dir), *_ = gallery_pairs(env.app)
        gallery = gallery_dir.relative_to(Path(env.srcdir)).as_posix()
        by_part: dict[str, list] = {}
        for exercise in EXERCISES.values():
            by_part.setdefault(exercise.part, []).append(exercise)
        lines: list[str] = []
        for part, exercises in by_part.items():
            header = examples_dir / part
            title = part_title(header) if (header / "GALLERY_HEADER.rst").is_file() else part
            lines += ["", f".. rubric:: {title}", "   :class: gradbook-part", ""]
            lines += _table(exercise_rows(exercises, gallery))
        self.state_machine.insert_input(lines, "<gradbook-exercises>")
        return []


def mark_solutions(notebook: dict) -> bool:
    """Mark and fold the solutions of a sphinx-gallery notebook, in place; True if it changed.

    Idempotent: a notebook already marked has no raw-HTML cell left, and is left alone.
    """
    cells, changed, folding = [], False, False
    for cell in notebook.get("cells", []):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") == "markdown" and (opening := _OPEN.match(source)):
            summary = opening.group(1).strip()
            rest = source[opening.end() :]
            cell["source"] = [f"**{summary}** (folded: try the exercise first)\n\n{rest}"]
            changed = folding = True
        elif cell.get("cell_type") == "markdown" and (closing := _CLOSE.match(source)):
            changed, folding = True, False
            rest = source[closing.end() :]
            if not rest.strip():
                continue  # nothing but the closing tag: drop the cell
            cell["source"] = [rest]
        elif folding and cell.get("cell_type") == "code":
            cell.setdefault("metadata", {}).setdefault("jupyter", {})["source_hidden"] = True
        cells.append(cell)
    notebook["cells"] = cells
    return changed


def rewrite_zip(zip_path: Path, folder: Path) -> None:
    """Rewrite a zip of notebooks with the current files of ``folder`` (same names)."""
    with zipfile.ZipFile(zip_path) as old:
        items = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in items:
            on_disk = folder / info.filename
            new.writestr(info, on_disk.read_bytes() if on_disk.is_file() else data)


def fold_notebook_solutions(app) -> None:
    """Mark the solutions of every generated notebook (builder-inited, after sphinx-gallery
    wrote them), and rewrite the zip of all notebooks when one changed."""
    for _, gallery_dir in gallery_pairs(app):
        changed = False
        for path in sorted(gallery_dir.rglob("*.ipynb")):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            if mark_solutions(notebook):
                path.write_text(json.dumps(notebook, indent=2), encoding="utf-8")
                changed = True
        for zip_path in gallery_dir.glob("*_jupyter.zip") if changed else ():
            rewrite_zip(zip_path, gallery_dir)
