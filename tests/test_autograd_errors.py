"""The messages of the "Autograd errors, explained" page, as the installed torch writes them.

The tutorial ``gallery/autograd/plot_11_autograd_errors.py`` raises each error for real
and keeps its message in a dict, ``messages`` (section slug -> ``"ErrorType: message"``).
These tests run the script once and check each message's key phrase, so a torch upgrade
that rewords a message fails here, in ``make test-fast``, and not only in the site build.
They also check what the page promises its reader: every message printed in full, every
printed line within the 79-column article, every section labelled and linked from the
table at the top.
"""

from __future__ import annotations

import contextlib
import io
import re
import runpy
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "gallery" / "autograd" / "plot_11_autograd_errors.py"

# slug -> the phrase of torch's message that the page's section is titled with (or that
# its section explains). Written here independently of the tutorial on purpose.
KEY_PHRASES = {
    "backward-twice": "RuntimeError: Trying to backward through the graph a second time",
    "scalar-outputs": "RuntimeError: grad can be implicitly created only for scalar outputs",
    "no-grad-fn": "element 0 of tensors does not require grad and does not have a grad_fn",
    "integer-requires-grad": "Only Tensors of floating point and complex dtype can require",
    "leaf-inplace": "a leaf Variable that requires grad is being used in an in-place operation",
    "modified-inplace": "one of the variables needed for gradient computation has been "
    "modified by an inplace operation",
    "anomaly": "Hint: the backtrace further above shows the operation that failed",
    "non-leaf-grad": "UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor "
    "is being accessed",
    "non-leaf-optimizer": "ValueError: can't optimize a non-leaf Tensor",
    "numpy": "RuntimeError: Can't call numpy() on Tensor that requires grad",
    "inference": "RuntimeError: Inference tensors cannot be saved for backward",
    "mat-shapes": "RuntimeError: mat1 and mat2 shapes cannot be multiplied",
    "dtype": "RuntimeError: mat1 and mat2 must have the same dtype",
    "ce-long-probabilities": "Expected floating point type for target with class "
    "probabilities, got Long",
    "ce-target-shape": "0D or 1D target tensor expected, multi-target not supported",
    "ce-target-dtype": "expected target dtype to be Long or Byte, but got Float",
}

# Slugs kept in `messages` that share a section with another one (no label of their own).
SAME_SECTION = {"anomaly": "modified-inplace"}


@pytest.fixture(scope="module")
def page():
    """Run the tutorial once: its ``messages`` dict and everything it printed."""
    out = io.StringIO()
    # the script sets matplotlib's style and torch's seed: leave both as they were
    with matplotlib.rc_context(), torch.random.fork_rng(), contextlib.redirect_stdout(out):
        script_globals = runpy.run_path(str(SCRIPT))
    plt.close("all")
    return script_globals["messages"], out.getvalue()


def squash(text: str) -> str:
    """``text`` with every run of whitespace (a line break of the wrapping) as one space."""
    return " ".join(text.split())


def test_page_keeps_one_message_per_key_phrase(page):
    """The page keeps a message for exactly the errors this module checks, no more, no fewer."""
    messages, _ = page
    assert sorted(messages) == sorted(KEY_PHRASES)


@pytest.mark.parametrize("slug", sorted(KEY_PHRASES))
def test_torch_still_writes_the_message(page, slug):
    """The installed torch's message for this error still holds the phrase the page explains."""
    messages, _ = page
    assert KEY_PHRASES[slug] in messages[slug]


@pytest.mark.parametrize("slug", sorted(KEY_PHRASES))
def test_message_is_printed_in_full(page, slug):
    """The page prints the whole message (wrapped at spaces, never cut), not a prefix of it."""
    messages, printed = page
    assert squash(messages[slug]) in squash(printed)


def test_printed_lines_fit_the_article_column(page):
    """No printed line is wider than the 79 columns the page shows without scrolling."""
    _, printed = page
    too_wide = [line for line in printed.splitlines() if len(line) > 79]
    assert too_wide == []


def test_anomaly_mode_names_the_forward_line(page):
    """Anomaly detection's traceback is read down to the forward line that made the tensor."""
    _, printed = page
    assert "the forward line it points at: y = x.sigmoid()" in printed


@pytest.mark.parametrize("slug", sorted(set(KEY_PHRASES) - set(SAME_SECTION)))
def test_each_message_has_a_labelled_section_linked_from_the_table(slug):
    """Each message has a ``.. _autograd-error-<slug>:`` label and the table refers to it."""
    source = SCRIPT.read_text(encoding="utf-8")
    assert f"# .. _autograd-error-{slug}:\n" in source
    assert f":ref:`autograd-error-{slug}`" in source


def test_table_links_only_sections_that_exist():
    """Every :ref: of the table points at a label defined on the page."""
    source = SCRIPT.read_text(encoding="utf-8")
    linked = set(re.findall(r":ref:`autograd-error-([a-z0-9-]+)`", source))
    labelled = set(re.findall(r"# \.\. _autograd-error-([a-z0-9-]+):", source))
    assert linked == labelled
