"""What :func:`~gradbook.exercises.check` says: :class:`Feedback`, and how a checker stops.

Holds:

- :class:`Feedback`: the verdict on one answer (``ok``, ``status``, what is right, what is
  wrong, the hint); ``str(feedback)`` is the text a page prints, wrapped to 79 columns;
- :class:`NotYet` and :class:`Wrong`: what a checker raises at the first thing that stops
  it, the answer being a stub (or ``None``) or the answer being wrong;
- :func:`one_line`: an exception as ``"ValueError: the message"``, on one line.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

__all__ = ["STATUSES", "Feedback", "NotYet", "Wrong", "one_line"]

STATUSES = ("correct", "not yet", "not right yet")
WIDTH = 79  # the page's code column: no printed line may be wider
_LABEL = 9  # "  right: " and the indent of every continuation line
_QUOTE = 160  # the longest exception message quoted, in characters


class NotYet(Exception):  # a signal that stops a checker, not an error
    """The answer is a stub: it raised ``NotImplementedError`` or gave ``None``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Wrong(Exception):  # a signal that stops a checker, not an error
    """The answer is wrong: ``wrong`` says what, ``hint`` what to look at."""

    def __init__(self, wrong: str, hint: str | None = None) -> None:
        super().__init__(wrong)
        self.wrong = wrong
        self.hint = hint


def one_line(exc: BaseException) -> str:
    """``exc`` as ``"TypeError: message"``: whitespace folded, cut at 160 characters."""
    text = " ".join(str(exc).split())
    if len(text) > _QUOTE:
        text = text[: _QUOTE - 3].rstrip() + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _block(label: str, text: str) -> list[str]:
    """``text`` under a label, wrapped at spaces to the page's width."""
    head = f"  {label + ':':<{_LABEL - 2}}"
    wrapper = textwrap.TextWrapper(
        WIDTH, initial_indent=head, subsequent_indent=" " * _LABEL, break_on_hyphens=False
    )
    return wrapper.wrap(text)


@dataclass(frozen=True)
class Feedback:
    """The verdict of :func:`~gradbook.exercises.check` on one answer.

    Attributes
    ----------
    exercise_id : str
        The exercise, e.g. ``"02.1"``.
    title : str
        Its title.
    status : str
        ``"correct"``, ``"not yet"`` (the answer is still a stub, or ``None``) or
        ``"not right yet"``.
    right : tuple of str
        What the answer gets right, one sentence each.
    wrong : str or None
        What is wrong (for ``"not yet"``: what to do next); ``None`` when correct.
    hint : str or None
        What to look at, specific to the mistake found.

    ``feedback.ok`` is True only for a correct answer, and so is ``bool(feedback)``;
    ``str(feedback)`` is the text to print.
    """

    exercise_id: str
    title: str
    status: str
    right: tuple[str, ...] = ()
    wrong: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        """Whether the answer is correct."""
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        wrapper = textwrap.TextWrapper(WIDTH, subsequent_indent="    ", break_on_hyphens=False)
        lines = wrapper.wrap(f"{self.exercise_id} {self.title}: {self.status}")
        for text in self.right:
            lines += _block("right", text)
        if self.wrong:
            lines += _block("next" if self.status == "not yet" else "wrong", self.wrong)
        if self.hint:
            lines += _block("hint", self.hint)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Feedback({self.exercise_id!r}, {self.status!r}, ok={self.ok})"
