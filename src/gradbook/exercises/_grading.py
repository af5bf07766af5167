r"""What every checker is made of: the exercise record, and :class:`Grader`.

A checker is a function ``checker(answer, grader)`` that runs the learner's answer on
fresh inputs and compares what comes back with a reference. It stops at the first thing
that is wrong by raising :class:`~gradbook.exercises._feedback.Wrong` (or
:class:`~gradbook.exercises._feedback.NotYet` for a stub), and notes what is right with
``grader.passed``. The :class:`Grader` does the parts every checker shares:

- it runs the learner's code (:meth:`Grader.call`), so that an exception inside it is
  quoted in one line with a hint for the usual causes, and a stub is told apart;
- it checks what came back: a callable, a class, a tensor of the right shape with finite
  values, a number (:meth:`Grader.function`, :meth:`Grader.subclass`,
  :meth:`Grader.tensor`, :meth:`Grader.number`);
- it compares tensors with :func:`gradbook.gradcheck.compare_tensors`, and turns its
  diagnosis (a constant factor, a sign flip, a transpose, an error confined to a few
  elements) into a hint, unless the answer equals one of the exercise's typical
  mistakes, whose own hint is more specific (:meth:`Grader.compare`);
- it draws the inputs from its own seeded generator (:meth:`Grader.randn`), so the
  inputs do not depend on what the learner's code draws.

Also here: :class:`Exercise` (one exercise's record), :class:`Part` (the exercises of one
gallery part, registered with its ``exercise`` decorator; the words of each record, from
title to answer, are in ``catalogue.json``) and :func:`isolated` (the
context a check runs in: the random states and the grad mode are put back afterwards).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import torch

from gradbook._validation import type_name
from gradbook.gradcheck import compare_tensors

from ._feedback import NotYet, Wrong, one_line

__all__ = ["KINDS", "Exercise", "Grader", "Part", "diagnosis_hint", "isolated"]

KINDS = (
    "predict a number",
    "write a function",
    "write a module",
    "a manual backward",
    "extend the Value engine",
    "an optimizer step",
    "find the bug",
    "a custom autograd.Function",
    "an initialisation",
    "fix the error",
)

# Hints for errors that torch raises on the usual slips, by a phrase of the message.
ERROR_HINTS = (
    (
        "mat1 and mat2 shapes cannot be multiplied",
        "the inner sizes of a matrix product "
        "differ: check which side is transposed (a weight W is (d_out, d_in), Y = X W^T)",
    ),
    (
        "must have the same dtype",
        "float32 met float64: make new tensors in the inputs' "
        "dtype (torch.zeros_like(x), .to(x.dtype))",
    ),
    (
        "does not require grad and does not have a grad_fn",
        "the tensor you differentiate "
        "has no graph: computed under no_grad, from a detached tensor, or a gradient taken "
        "without create_graph=True?",
    ),
    (
        "backward through the graph a second time",
        "the first backward() freed the graph: "
        "compute the forward again for each backward() (or pass retain_graph=True)",
    ),
    (
        "leaf Variable that requires grad is being used in an in-place",
        "autograd records an in-place change of a parameter: make the update under torch.no_grad()",
    ),
    (
        "modified by an inplace operation",
        "a tensor saved for backward was changed in "
        "place: write that line out of place (y = y * 2, not y *= 2)",
    ),
    (
        "only for scalar outputs",
        "backward() with no argument needs a scalar: reduce to one number, or pass gradient=v",
    ),
    (
        "must match the size of tensor",
        "two shapes do not broadcast: print the shape of each tensor in that line",
    ),
    (
        "'NoneType' object",
        "something is None: a .grad before any backward(), or a function without a return?",
    ),
)


@dataclass(frozen=True)
class Exercise:
    """One exercise: what :data:`~gradbook.exercises.EXERCISES` holds for each id.

    Attributes
    ----------
    id : str
        ``"NN.k"``: exercise ``k`` of tutorial ``NN``.
    title : str
        A few words, shown first in every feedback.
    tutorial : str
        The stem of the gallery script it belongs to, e.g. ``"plot_02_gradient_accumulation"``.
    part : str
        The gallery part (sub-folder) of that tutorial: ``"autograd"``, ``"networks"``
        or ``"training"``.
    practises : str
        What it practises, in a phrase.
    kind : str
        What the learner does: "predict a number", "write a function", "write a module",
        "a manual backward", "extend the Value engine", "an optimizer step", "find the
        bug", "a custom autograd.Function", "an initialisation" or "fix the error".
    answer : str
        What the learner hands to :func:`~gradbook.exercises.check`, in words.
    checker : callable
        ``checker(answer, grader)``: runs the answer and raises at the first thing wrong.
    """

    id: str
    title: str
    tutorial: str
    part: str
    practises: str
    kind: str
    answer: str
    checker: Callable[[Any, Grader], None] = field(repr=False, compare=False)

    @property
    def seed(self) -> int:
        """The seed of this exercise's inputs (21 for ``"02.1"``)."""
        return int(self.id.replace(".", ""))


# What each exercise is, by id: title, tutorial, what it practises, kind and answer. The
# words live in one data file, apart from the code that checks the answers.
CATALOGUE: dict[str, dict[str, str]] = json.loads(
    resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
)


class Part:
    """The exercises of one gallery part, in the order they are registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.exercises: list[Exercise] = []

    def exercise(self, exercise_id: str):
        """Register the decorated function as the checker of ``exercise_id``, whose
        record is in ``catalogue.json``."""
        entry = CATALOGUE.get(exercise_id, {})
        if not re.fullmatch(r"\d\d\.\d", exercise_id) or entry.get("kind") not in KINDS:
            raise ValueError(f"bad exercise record: {exercise_id!r}, {entry or 'not in catalogue'}")
        if not entry["tutorial"].startswith(f"plot_{exercise_id[:2]}_"):
            raise ValueError(f"exercise {exercise_id} does not belong to {entry['tutorial']}")

        def register(checker: Callable[[Any, Grader], None]) -> Callable:
            fields = {"id": exercise_id, "part": self.name, **entry}
            self.exercises.append(Exercise(**fields, checker=checker))
            return checker

        return register


@contextlib.contextmanager
def isolated(seed: int) -> Iterator[None]:
    """Run a check seeded with ``seed``; afterwards put back torch's, Python's and NumPy's
    random states, the grad mode and the default dtype, whatever the learner's code did."""
    grad, dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            with torch.enable_grad():
                yield
        finally:
            torch.set_grad_enabled(grad)
            torch.set_default_dtype(dtype)
            random.setstate(py_state)
            np.random.set_state(np_state)


def _describe(value: object) -> str:
    """A value as a message names it: its type, and the shape of a tensor or array."""
    if isinstance(value, torch.Tensor | np.ndarray):
        return f"a {type_name(value)} of shape {tuple(value.shape)}"
    if isinstance(value, tuple | list):
        return f"a {type_name(value)} of {len(value)} item(s)"
    if isinstance(value, type):
        return f"the class {value.__name__}"
    text = repr(value)
    return f"{type_name(value)} {text}" if len(text) <= 30 else type_name(value)


def _shape_hint(got: tuple, expected: tuple) -> str:
    """Why a shape may be wrong, from how it differs from the expected one."""
    if len(got) == len(expected) == 2 and got == expected[::-1]:
        return "your result is transposed: check which factor of the product is transposed"
    if math.prod(got) == math.prod(expected):
        return (
            "the right number of elements in the wrong shape: a reshape, a missing "
            "keepdim=True, or a reduction over the wrong dim?"
        )
    if len(got) < len(expected):
        return "a dimension is missing: a sum or mean that should not be there?"
    return "compare the shape of each tensor in your computation with the expected one"


def diagnosis_hint(diagnosis: str | None, factors: Mapping[float, str] | None = None) -> str:
    """A hint from :func:`~gradbook.gradcheck.compare_tensors`'s diagnosis; ``factors`` maps
    a ratio answer / reference (``8`` or ``1 / 8``) to the exercise's own words for it."""
    text = diagnosis or ""
    ratio = re.search(r"answer = (-?)(1/)?(\d+) x", text)
    if ratio:
        k = int(ratio.group(3))
        c = (-1 if ratio.group(1) else 1) * (1 / k if ratio.group(2) else k)
        for factor, words in (factors or {}).items():
            if math.isclose(c, factor, rel_tol=1e-6):
                return words
    if "sign flip" in text:
        return "a minus sign lost or added: check the sign of each term"
    if ratio:
        return (
            f"a constant factor off ({ratio.group(0)[9:]} the reference): check the "
            "constants of your formula (a 2 from a square, a 1/N from a mean)"
        )
    if "transpose" in text:
        return "your answer is transposed: swap the order of the product, or transpose it"
    if "shifted" in text:
        return "an off-by-one index: check where your loop or slice starts"
    if "all zero" in text:
        return (
            "nothing reached your answer: a detached tensor, a missing backward(), "
            "or gradients zeroed too late?"
        )
    if "confined to" in text:
        return (
            "only a few elements are off: look at the special cases (x = 0, ties, the "
            "target class, the first or last row)"
        )
    return (
        "most elements are off: a missing term (the product rule, the chain rule's "
        "inner derivative) or a wrong formula"
    )


def _worded(pair) -> str:
    """A failed comparison in words: the diagnosis, and the worst element."""
    text = (pair.diagnosis or "wrong values").replace("constant ratio: ", "")
    text = text.split(": the backward")[0]  # gradcheck's words about a backward
    text = re.sub(r" with no simple pattern \(.*\)$", "", text)  # the hint says more
    text = re.sub(r"^sign flip: ", "", text)
    text = re.sub(r"^answer = (\S+) x reference.*$", r"your answer = \1 x the reference", text)
    worst = pair.worst
    if worst is not None and ("elements off" in text or "confined" in text):
        index = ", ".join(str(i) for i in worst.index)
        text += f"; at [{index}] yours is {worst.analytical:.4g}, "
        text += f"the reference {worst.numerical:.4g}"
    return text


class Grader:
    """What a checker calls. ``expected`` says in words what the answer should be; each
    ``passed`` sentence ends up under "right" in the feedback."""

    def __init__(self, expected: str, seed: int) -> None:
        self.expected = expected
        self.right: list[str] = []
        self._generator = torch.Generator().manual_seed(seed)

    def passed(self, text: str) -> None:
        """Note one thing the answer gets right."""
        self.right.append(text)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Standard normal numbers from the grader's own generator."""
        return torch.randn(shape, generator=self._generator, dtype=dtype)

    def randint(self, high: int, *shape: int) -> torch.Tensor:
        """Integers in ``[0, high)`` from the grader's own generator."""
        return torch.randint(high, shape, generator=self._generator)

    # ---- running the learner's code ---------------------------------------------------

    def call(
        self,
        fn: Callable,
        *args: Any,
        what: str = "your function",
        gives: str | None = "a result",
        errors: Sequence[tuple[str, str]] = (),
    ) -> Any:
        """``fn(*args)``, with the learner's exception turned into a feedback.

        ``NotImplementedError`` means a stub (not yet); any other exception is quoted in
        one line, with the hint of the first phrase of ``errors`` (then of
        ``ERROR_HINTS``) found in its message. A ``None`` result is a stub too, unless
        ``gives`` is None (a function that works in place and returns nothing).
        """
        try:
            out = fn(*args)
        except NotImplementedError:
            raise NotYet(f"{what} raises NotImplementedError: write it ({self.expected}), "
                         "then check it again") from None  # fmt: skip
        except Exception as exc:  # the learner's code: any exception is feedback
            message = str(exc)
            hint = next((h for phrase, h in (*errors, *ERROR_HINTS) if phrase in message), None)
            raise Wrong(f"{what} raised {one_line(exc)}", hint) from None
        if out is None and gives is not None:
            raise NotYet(f"{what} returned None: expected {gives}")
        return out

    def function(self, answer: Any) -> Callable:
        """``answer`` as the function the exercise asks for."""
        if answer is None:
            raise NotYet(f"the answer is None: write {self.expected}")
        if isinstance(answer, type) or not callable(answer):
            raise Wrong(f"expected {self.expected}, got {_describe(answer)}",
                        "pass the function itself, check(id, my_function), without "
                        "calling it")  # fmt: skip
        return answer

    def subclass(self, answer: Any, base: type, what: str) -> type:
        """``answer`` as a subclass of ``base`` (``what`` names it in words)."""
        if answer is None:
            raise NotYet(f"the answer is None: write {self.expected}")
        if not (isinstance(answer, type) and issubclass(answer, base)):
            hint = "pass the class itself, not an instance or its apply" if not isinstance(
                answer, type) else f"derive it from {what}"  # fmt: skip
            raise Wrong(f"expected {self.expected}, got {_describe(answer)}", hint)
        return answer

    # ---- checking what came back -------------------------------------------------------

    def tensor(self, value: Any, shape: Sequence[int], what: str) -> torch.Tensor:
        """``value`` as a detached tensor of ``shape`` with finite entries."""
        shape = tuple(shape)
        if not isinstance(value, torch.Tensor):
            hint = "return one torch.Tensor (torch.tensor(...) or torch.stack(...))"
            raise Wrong(f"{what}: expected a torch.Tensor of shape {shape}, got "
                        f"{_describe(value)}", hint)  # fmt: skip
        if tuple(value.shape) != shape:
            got = tuple(value.shape)
            raise Wrong(f"{what}: expected shape {shape}, got {got}", _shape_hint(got, shape))
        value = value.detach()
        if value.is_complex() or not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum()) if not value.is_complex() else value.numel()
            raise Wrong(f"{what}: {bad} of {value.numel()} values are NaN or inf",
                        "an overflow (exp of a large number?), a log of 0 or a 0 / 0")  # fmt: skip
        return value

    def listed(self, value: Any, convert: type, what: str, hint: str) -> list:
        """``value`` as a list of ``convert`` (int or float); ``what`` words that list."""
        try:
            return [convert(v) for v in value]
        except (TypeError, ValueError):
            raise Wrong(f"expected {what}, got {type_name(value)}", hint) from None

    def compare(
        self,
        got: Any,
        expected: torch.Tensor,
        what: str,
        *,
        mistakes: Mapping[str, torch.Tensor] | None = None,
        factors: Mapping[float, str] | None = None,
        rtol: float | None = None,
    ) -> None:
        """Fail unless ``got`` matches ``expected``; ``mistakes`` maps the hint of each
        typical mistake to what that mistake gives, ``factors`` words constant ratios."""
        got = self.tensor(got, expected.shape, what)
        pair = compare_tensors(got, expected.detach(), rtol=rtol)
        if pair.ok:
            return
        for hint, wrong in (mistakes or {}).items():
            if wrong.shape == got.shape and _close(got, wrong):
                raise Wrong(f"{what}: {_worded(pair)}", hint)
        raise Wrong(f"{what}: {_worded(pair)}", diagnosis_hint(pair.diagnosis, factors))

    def number(
        self,
        value: Any,
        expected: float | Sequence[float],
        what: str,
        *,
        mistakes: Mapping[str, float | Sequence[float]] | None = None,
        rtol: float = 1e-6,
    ) -> None:
        """Fail unless ``value`` (a number, a list of numbers or a tensor) is ``expected``."""
        if value is None:
            raise NotYet(f"the answer is None: expected {self.expected}")
        if callable(value):
            value = self.call(value, what="your function", gives=self.expected)
        target = torch.as_tensor(expected, dtype=torch.float64)
        if isinstance(value, bool):  # True is an int to Python, and a slip here
            raise Wrong(f"{what}: expected {self.expected}, got bool {value}",
                        "write the number itself, e.g. 0.5")  # fmt: skip
        try:
            got = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise Wrong(
                f"{what}: expected {self.expected}, got {_describe(value)}",
                "write the number(s) as Python floats, e.g. 0.5 or [1.0, 2.0]",
            ) from None
        if got.shape != target.shape and got.numel() == target.numel():
            got = got.reshape(target.shape)  # [[1, 2]] for [1, 2] is not the mistake here
        shown = ", ".join(f"{v:.6g}" for v in got.flatten().tolist())
        shown = f"[{shown}]" if got.dim() else shown
        if got.shape != target.shape:
            raise Wrong(f"{what}: expected {self.expected}, got {got.numel()} number(s): "
                        f"{shown}", "give one number per element asked for")  # fmt: skip
        if not torch.isfinite(got).all():
            raise Wrong(f"{what}: your answer {shown} is not finite", None)
        if torch.allclose(got, target, rtol=rtol, atol=1e-12):
            return
        for hint, wrong in (mistakes or {}).items():
            if _close(got, torch.as_tensor(wrong, dtype=torch.float64).reshape(got.shape)):
                raise Wrong(f"{what} is not {shown}", hint)
        raise Wrong(f"{what} is not {shown}", "run the page's code in your head once more, "
                    "one operation at a time")  # fmt: skip


def _close(got: torch.Tensor, wrong: torch.Tensor) -> bool:
    """Whether an answer equals a typical mistake's result, to float32 rounding."""
    got, wrong = got.double(), wrong.detach().double()
    scale = float(wrong.abs().max()) if wrong.numel() else 0.0
    return bool(torch.allclose(got, wrong, rtol=1e-4, atol=1e-6 * max(scale, 1e-12)))
