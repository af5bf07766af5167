"""Small shared helpers.

- :func:`seed_everything`: one place for seeding;
- :func:`show_error`: run a block that must fail, and print its message in full (the
  tutorials use it to show an error as torch words it, and to check that it happens).
"""

from __future__ import annotations

import contextlib
import random
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from gradbook._validation import check_instance, check_int, check_seed

__all__ = ["Caught", "seed_everything", "show_error"]


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and, when present, CUDA).

    Two runs that call ``seed_everything(s)`` with the same ``s`` and then do the same
    work print the same numbers. The docs build calls it before every tutorial.
    """
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


@dataclass
class Caught:
    """What :func:`show_error` caught.

    Attributes
    ----------
    message : str
        ``"ErrorType: message"`` exactly as raised (or as warned), unwrapped.
    warnings : list
        Every warning the block raised, in order (``warnings.WarningMessage`` records).
    """

    message: str = ""
    warnings: list = field(default_factory=list)


@contextlib.contextmanager
def show_error(expected: str | None = None, *, width: int = 79) -> Iterator[Caught]:
    """Run the block, which must raise an exception or, failing that, a warning; print
    its message in full.

    The message is printed as ``ErrorType: message``, wrapped at spaces to ``width``
    columns (never inside a word, so every word of it can still be searched for); the
    block's exception does not propagate. A block that raises nothing and warns
    nothing, or whose message does not contain ``expected``, raises
    ``AssertionError``: a tutorial that shows an error fails if the error goes away
    or is reworded.

    Parameters
    ----------
    expected : str, optional
        A phrase the message must contain.
    width : int
        Column at which the printed lines wrap.

    Yields
    ------
    Caught
        Filled in when the block ends: ``.message`` and ``.warnings``.

    Examples
    --------
    >>> import torch
    >>> from gradbook.utils import show_error
    >>> with show_error("only for scalar outputs"):
    ...     torch.ones(2, requires_grad=True).exp().backward()
    RuntimeError: grad can be implicitly created only for scalar outputs
    """
    check_instance(expected, "expected", str, "a string", allow_none=True)
    check_int(width, "width", minimum=20)
    caught = Caught()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            yield caught
        except Exception as err:  # the error the block exists to show
            caught.message = f"{type(err).__name__}: {err}"
        caught.warnings = list(records)
    if not caught.message:
        if not caught.warnings:
            raise AssertionError(f"the block raised nothing; expected {expected!r}")
        first = caught.warnings[0]
        caught.message = f"{first.category.__name__}: {first.message}"
    if expected is not None and expected not in caught.message:
        raise AssertionError(f"expected {expected!r} in the message, got {caught.message!r}")
    wrap = textwrap.TextWrapper(width, break_long_words=False, break_on_hyphens=False)
    for line in caught.message.splitlines():
        print(wrap.fill(line) if line.strip() else "")
