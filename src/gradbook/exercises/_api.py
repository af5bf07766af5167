"""The public entry points: :data:`EXERCISES` and :func:`check`.

:func:`check` looks the exercise up, runs its checker on the answer inside
:func:`~gradbook.exercises._grading.isolated` (so that the page's random numbers and
grad mode are the same after a check as before), and turns how the checker stopped
into a :class:`~gradbook.exercises._feedback.Feedback`. It raises only for an exercise
id that does not exist, never for an answer.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from gradbook._validation import type_name

from . import _autograd, _networks, _training
from ._feedback import Feedback, NotYet, Wrong, one_line
from ._grading import CATALOGUE, Exercise, Grader, isolated

__all__ = ["EXERCISES", "UnknownExerciseError", "check"]


class _Exercises(Mapping[str, Exercise]):
    """A read-only mapping from each exercise id (``"02.1"``) to its
    :class:`~gradbook.exercises.Exercise` record (title, tutorial, part, what it
    practises, kind, what the answer is), in reading order."""

    def __init__(self, exercises: dict[str, Exercise]) -> None:
        self._by_id = MappingProxyType(exercises)

    def __getitem__(self, exercise_id: str) -> Exercise:
        return self._by_id[exercise_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:  # short: the API page shows it as the value
        ids = list(self._by_id)
        return f"EXERCISES({len(ids)} exercises, {ids[0]} to {ids[-1]})"


_PARTS = (_autograd.PART, _networks.PART, _training.PART)
_REGISTERED = [e for part in _PARTS for e in part.exercises]
if sorted(e.id for e in _REGISTERED) != sorted(CATALOGUE):  # one checker per record
    raise ImportError("the checkers registered do not match the ids of catalogue.json")
EXERCISES = _Exercises({e.id: e for e in _REGISTERED})


class UnknownExerciseError(KeyError, ValueError):
    """No exercise has this id; the message lists the closest ids, then all of them."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


def _lookup(exercise_id: object) -> Exercise:
    if not isinstance(exercise_id, str):
        raise TypeError(
            f"exercise_id must be a str such as '02.1', got {type_name(exercise_id)}: "
            f"{exercise_id!r}"
        )
    if exercise_id in EXERCISES:
        return EXERCISES[exercise_id]
    same_page = [i for i in EXERCISES if i[:3] == exercise_id[:3]]  # "02." for "02.9"
    others = [i for i in EXERCISES if i not in same_page]
    closest = (same_page + difflib.get_close_matches(exercise_id, others, n=4, cutoff=0.0))[:4]
    raise UnknownExerciseError(
        f"no exercise {exercise_id!r}; the closest: {', '.join(closest)}. "
        f"The exercises are {', '.join(EXERCISES)}"
    )


def check(exercise_id: str, answer: Any) -> Feedback:
    """Check an answer to an exercise, and say what is right, what is wrong and why.

    The checker runs ``answer`` (a function, a class or a value, as the exercise asks) on
    fresh seeded inputs, in several shapes, and compares what it gives with a reference.
    It never raises because of the answer: a stub (``raise NotImplementedError``, or
    ``None``) gets a "not yet"; a wrong type or shape, an exception inside the answer
    (quoted in one line), NaN, or a wrong value gets ``ok=False`` and a message that says
    what was expected, what came back, and a hint specific to the mistake.

    Parameters
    ----------
    exercise_id : str
        The id shown on the page, e.g. ``"02.1"``; :data:`EXERCISES` lists them.
    answer : object
        What the exercise asks for; ``EXERCISES[exercise_id].answer`` says it in words.

    Returns
    -------
    Feedback
        ``.ok`` is True for a correct answer; ``print(feedback)`` shows the verdict.

    Raises
    ------
    UnknownExerciseError
        For an id that no exercise has (a ``KeyError`` and a ``ValueError``); the
        message lists the closest ids and all of them.

    Examples
    --------
    >>> from gradbook.exercises import check
    >>> print(check("02.1", None))
    02.1 Two backward() calls: not yet
      next:  the answer is None: expected your prediction of x.grad, a list of
             2 numbers
    """
    exercise = _lookup(exercise_id)
    grader = Grader(exercise.answer, exercise.seed)
    head = (exercise.id, exercise.title)
    try:
        with isolated(exercise.seed):
            exercise.checker(answer, grader)
    except NotYet as stop:
        return Feedback(*head, "not yet", tuple(grader.right), stop.message)
    except Wrong as stop:
        return Feedback(*head, "not right yet", tuple(grader.right), stop.wrong, stop.hint)
    except Exception as exc:  # an answer that the checker could not even read
        wrong = f"the answer could not be checked: {one_line(exc)}"
        hint = f"the exercise asks for {exercise.answer}"
        return Feedback(*head, "not right yet", tuple(grader.right), wrong, hint)
    return Feedback(*head, "correct", tuple(grader.right))
