"""Tests for gradbook.utils: seeding and show_error."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

from gradbook.utils import seed_everything, show_error


def test_seed_everything_makes_random_numpy_and_torch_repeat():
    """Two seed_everything(3) calls followed by the same draws give the same numbers."""
    draws = []
    for _ in range(2):
        seed_everything(3)
        draws.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert draws[0] == draws[1]


def test_show_error_prints_the_whole_message_wrapped_at_spaces(capsys):
    """The printed lines hold every word of 'Type: message', none over the width."""
    message = "first " + "word " * 40 + "last"
    with show_error("word", width=40) as caught:
        raise ValueError(message)
    out = capsys.readouterr().out
    assert caught.message == f"ValueError: {message}"
    assert out.split() == caught.message.split()
    assert max(len(line) for line in out.splitlines()) <= 40


def test_show_error_never_breaks_a_word(capsys):
    """A word longer than the width is printed whole, on its own line."""
    long = "x" * 60
    with show_error(width=30):
        raise RuntimeError(f"see {long} here")
    assert long in capsys.readouterr().out.split()


def test_show_error_catches_a_warning_when_nothing_raises(capsys):
    """With no exception, the first warning is the message, and all are kept."""
    with show_error("careful") as caught:
        warnings.warn("careful now", UserWarning, stacklevel=1)
        warnings.warn("second", UserWarning, stacklevel=1)
    assert caught.message == "UserWarning: careful now"
    assert [str(w.message) for w in caught.warnings] == ["careful now", "second"]
    assert "UserWarning: careful now" in capsys.readouterr().out


def test_show_error_fails_when_the_block_succeeds():
    """A block that neither raises nor warns raises AssertionError naming the phrase."""
    with pytest.raises(AssertionError, match="raised nothing; expected 'boom'"):
        with show_error("boom"):
            pass


def test_show_error_fails_when_the_message_is_reworded():
    """A message without the expected phrase raises AssertionError quoting both."""
    with pytest.raises(AssertionError, match="expected 'old words'.*new words"):
        with show_error("old words"):
            raise RuntimeError("new words")


def test_show_error_shows_torchs_real_message(capsys):
    """A real autograd error comes out as torch words it."""
    with show_error("only for scalar outputs"):
        torch.ones(2, requires_grad=True).exp().backward()
    assert capsys.readouterr().out.startswith("RuntimeError: grad can be implicitly created")


@pytest.mark.parametrize("kwargs, match", [({"expected": 3}, "expected"), ({"width": 5}, "width")])
def test_show_error_names_a_bad_argument(kwargs, match):
    """A bad expected or width is refused with the argument's name."""
    with pytest.raises((TypeError, ValueError), match=match):
        with show_error(**kwargs):
            raise RuntimeError("x")
