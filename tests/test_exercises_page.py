"""Unit tests of docs/_ext/gradbook_sphinx/exercises.py: the rows of the exercises table,
and the folding of solutions in the notebooks (no build)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradbook_sphinx.exercises import exercise_rows, mark_solutions, rewrite_zip

from gradbook.exercises import EXERCISES

ROOT = Path(__file__).resolve().parents[1]


def record(**fields):
    defaults = dict(id="02.1", title="Two backward() calls", part="autograd",
                    tutorial="plot_02_gradient_accumulation", practises="adding up")  # fmt: skip
    return SimpleNamespace(**{**defaults, **fields})


def test_a_row_holds_the_exercise_what_it_practises_and_a_link():
    """A row is the bold id with the title, the phrase, and a :ref: to the tutorial."""
    (row,) = exercise_rows([record()])
    assert row == [
        "**02.1** Two backward() calls",
        "adding up",
        ":ref:`sphx_glr_auto_examples_autograd_plot_02_gradient_accumulation.py`",
    ]


def test_the_link_follows_the_generated_folder():
    """The label is sphinx-gallery's, for the folder the gallery is generated into."""
    (row,) = exercise_rows([record()], gallery="tutorials/generated")
    assert row[2] == ":ref:`sphx_glr_tutorials_generated_autograd_plot_02_gradient_accumulation.py`"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("x**2 and *y*", r"x\*\*2 and \*y\*"), ("d_in_", r"d\_in\_"), ("`v` | w", r"\`v\` \| w")],
)
def test_inline_markup_is_escaped(text, escaped):
    """Asterisks, underscores, backquotes and bars in a title or phrase stay plain text."""
    (row,) = exercise_rows([record(title=text, practises=text)])
    assert row[0] == f"**02.1** {escaped}" and row[1] == escaped


def test_every_exercise_links_a_tutorial_that_exists():
    """Each exercise's part and tutorial name a numbered script of the gallery."""
    rows = exercise_rows(EXERCISES.values())
    assert len(rows) == len(EXERCISES)
    for exercise in EXERCISES.values():
        script = ROOT / "gallery" / exercise.part / f"{exercise.tutorial}.py"
        assert script.is_file(), f"{exercise.id}: no {script.relative_to(ROOT)}"


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": [text]}


def code(text):
    return {"cell_type": "code", "metadata": {"collapsed": False}, "outputs": [], "source": [text]}


def notebook():
    """The cells sphinx-gallery writes for an exercise, its solution, and the next one."""
    return {
        "cells": [
            markdown("## Exercises\n**02.1** Predict.\n\n"),
            code("answer_02_1 = None\nprint(check('02.1', answer_02_1))"),
            markdown(".. raw:: html\n\n   <details><summary>Solution to 02.1</summary>\n\n"),
            code("answer_02_1 = [5.0, 7.0]\nprint(check('02.1', answer_02_1))"),
            markdown(".. raw:: html\n\n   </details>\n\n**02.2** Write a function.\n\n"),
            code("def answer_02_2(): ...\nprint(check('02.2', answer_02_2))"),
            markdown(".. raw:: html\n\n   <details><summary>Solution to 02.2</summary>\n\n"),
            code("def answer_02_2(): return 1"),
            code("print(check('02.2', answer_02_2))"),
            markdown(".. raw:: html\n\n   </details>\n\n"),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 0,
    }


def test_the_solutions_are_marked_and_folded():
    """The opening raw cell becomes a heading, the solution's code is folded, the closing
    tag goes (and its cell too when nothing else is in it), the rest is kept."""
    nb = notebook()
    assert mark_solutions(nb)
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert sources[2].startswith("**Solution to 02.1** (folded: try the exercise first)")
    assert sources[4] == "**02.2** Write a function.\n\n"
    assert len(nb["cells"]) == 9 and not any("raw::" in s or "details>" in s for s in sources)
    folded = [c.get("metadata", {}).get("jupyter", {}).get("source_hidden") for c in nb["cells"]]
    assert folded == [None, None, None, True, None, None, None, True, True]


def test_pandocs_markdown_is_marked_the_same():
    """The cells pandoc writes (the HTML without the directive) are marked alike."""
    nb, pandoc = notebook(), notebook()
    for cell in pandoc["cells"]:
        cell["source"] = [s.replace(".. raw:: html\n\n   ", "") for s in cell["source"]]
    mark_solutions(nb)
    mark_solutions(pandoc)
    assert pandoc == nb


def test_marking_twice_changes_nothing():
    """A notebook already marked is left as it is, and reported unchanged."""
    nb = notebook()
    mark_solutions(nb)
    again = json.loads(json.dumps(nb))
    assert not mark_solutions(again) and again == nb


def test_a_notebook_without_solutions_is_unchanged():
    """A notebook with no raw-HTML cells is not touched."""
    nb = {"cells": [markdown("# A page\n"), code("print(1)")]}
    before = json.loads(json.dumps(nb))
    assert not mark_solutions(nb) and nb == before


def test_the_zip_of_notebooks_is_rewritten_with_the_files_on_disk(tmp_path):
    """The zip keeps its names, and holds the current file for each of them."""
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "a.ipynb").write_text("new")
    archive = tmp_path / "gallery_jupyter.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("part/a.ipynb", "old")
        z.writestr("part/gone.ipynb", "kept")
    rewrite_zip(archive, tmp_path)
    with zipfile.ZipFile(archive) as z:
        assert z.namelist() == ["part/a.ipynb", "part/gone.ipynb"]
        assert z.read("part/a.ipynb") == b"new" and z.read("part/gone.ipynb") == b"kept"
