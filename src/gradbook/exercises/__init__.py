r"""Exercises for every tutorial, and the autograder that checks them.

Each tutorial ends with exercises, numbered ``"NN.k"`` after the tutorial (``"02.1"`` is
the first exercise of tutorial 02). Write the answer the exercise asks for (a number, a
function, a class) and check it::

    from gradbook.exercises import check

    def answer_02_2(model, loss_fn, X, y, num_micro):
        ...

    print(check("02.2", answer_02_2))

:func:`check` runs the answer on fresh seeded inputs, in several shapes, compares what
it gives with a reference (PyTorch itself wherever PyTorch computes the same thing), and
returns a :class:`Feedback`: ``feedback.ok`` is a bool, and ``print(feedback)`` says what
is right, what is wrong, and a hint for the mistake it recognises (a factor of the batch
size, a sign, a transpose, a stale gradient, ...). It never raises because of an answer:
a stub that still raises ``NotImplementedError`` (or gives ``None``) gets "not yet", and
a wrong type or shape, NaN, or an exception inside the answer gets a message that says
what was expected and what came back.

:data:`EXERCISES` maps each id to its :class:`Exercise` record: title, tutorial, what it
practises, kind, and what the answer should be. :func:`value_node` is how the exercises
on :class:`gradbook.autodiff.Value` add an operation to the engine.

The subpackage, one file per part:

- ``_feedback``: :class:`Feedback`, and the signals a checker stops with;
- ``_grading``: the exercise record and the grader every checker uses (running the
  learner's code, checking types and shapes, comparing tensors, wording hints);
- ``_autograd``, ``_networks``, ``_training``: the exercises of each part of the site;
- ``_api``: :data:`EXERCISES` and :func:`check`.
"""

from ._api import EXERCISES, UnknownExerciseError, check
from ._autograd import value_node
from ._feedback import Feedback
from ._grading import Exercise

__all__ = ["EXERCISES", "Exercise", "Feedback", "UnknownExerciseError", "check"]
__all__ += ["value_node"]

# The documented import path is gradbook.exercises.X: help(), reprs and the docs' "Examples
# using" backreferences should show it, not the private file.
for _name in ("Exercise", "Feedback", "UnknownExerciseError", "check", "value_node"):
    globals()[_name].__module__ = __name__
del _name
