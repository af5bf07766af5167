r"""The second-order check: :func:`check_gradgrad` and :func:`assert_gradgrad`.

The first-order gradient of ``fn`` is itself a function of the inputs :math:`x` and
of the upstream gradients :math:`v`,

.. math::

    g(x, v) = v^T J(x),

and autograd differentiates it (``create_graph=True``) when the backward is built from
differentiable operations. The second-order check is the first-order check of
:math:`g`: its gradient with respect to :math:`x` holds the Hessian-vector products
:math:`u^T \partial(v^T J)/\partial x`, its gradient with respect to :math:`v` is
:math:`J u` again. Before the numbers, two failures are named in words: a backward
marked ``once_differentiable`` (autograd refuses to go through it) and a backward whose
result is detached from the graph (autograd would see second derivatives of zero).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._analytical import analytical_side
from ._api import _check, _setup
from ._compare import Problem
from ._numerics import as_tuple
from ._report import GradientReport, ensure_ok

__all__ = ["assert_gradgrad", "check_gradgrad"]


def _backward_of(fn: Callable, n_inputs: int, diff: list[int], checked: list[int]) -> Callable:
    """g(*inputs, *vs): the gradients of fn wrt the inputs ``diff``, with a graph."""

    def backward(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        graph = any(a.requires_grad for a in args)  # the analytical side differentiates g
        with torch.enable_grad():
            # the numerical side calls g with plain tensors: autograd needs leaves there
            xs = [x if x.requires_grad or k not in diff else x.detach().requires_grad_()
                  for k, x in enumerate(args[:n_inputs])]  # fmt: skip
            outputs = as_tuple(fn(*xs), "fn(*inputs)")[0]
            targets = [outputs[j] for j in checked]
            wrt = [xs[i] for i in diff]
            return torch.autograd.grad(targets, wrt, args[n_inputs:], create_graph=graph,
                                       materialize_grads=True)  # fmt: skip

    return backward


def _not_twice_differentiable(g: Callable, args: list[torch.Tensor], diff: list[int]) -> list:
    """Problems with differentiating the backward at all, in words."""
    grads = g(*args)
    detached = [i for i, gi in zip(diff, grads, strict=True) if not gi.requires_grad]
    if detached:
        how = "runs under torch.no_grad, calls .detach() or .item(), or goes through NumPy"
        what = f"the gradient wrt input {detached[0]} is detached from autograd's graph"
        text = f"{what}: the backward {how}, so autograd would see second derivatives of zero"
        return [Problem("not twice differentiable", text)]
    try:  # a once_differentiable backward hangs its results on a node that raises
        torch.autograd.backward([gi.sum() for gi in grads])
    except RuntimeError as err:
        if "once_differentiable" not in str(err):
            return []  # the check below reports it, with the inputs' names
        what = "the backward is marked @once_differentiable: autograd cannot differentiate it"
        text = f"{what}; write it with differentiable torch operations to support them"
        return [Problem("not twice differentiable", text)]
    finally:
        for a in args:
            a.grad = None
    return []


# check_gradients' keywords, less method and fast; their types are as documented there
def check_gradgrad(
    fn: Callable, inputs, *, grad_outputs=None, eps=None, atol=None, rtol=None, seed=0
) -> GradientReport:
    r"""Check that the backward of ``fn`` is itself differentiated correctly.

    The second-order analogue of :func:`check_gradients` (and of
    :func:`torch.autograd.gradgradcheck`): the first-order gradient
    :math:`g(x, v) = v^T J(x)`, computed by autograd with ``create_graph=True``, is
    checked against finite differences of itself, with respect to every input that
    requires grad and to the upstream gradients :math:`v`. A correct first-order
    check does not imply this one: a backward written with ``.detach()``, under
    ``torch.no_grad``, or that drops a term which vanishes at first order, passes the
    first check and fails this one.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*inputs)``; returns a tensor or a tuple of tensors.
    inputs : Tensor or tuple of Tensor
        The inputs; those with ``requires_grad=True`` are checked.
    grad_outputs : Tensor or tuple of Tensor, optional
        The upstream gradients :math:`v` of ``fn``'s outputs; by default seeded
        random normals.
    eps, atol, rtol : float, optional
        As in :func:`check_gradients` (the defaults follow the dtype: float32 inputs
        get float64 numerics where ``fn`` runs in float64, and rtol 1e-3).
    seed : int
        Seed for the random upstream gradients.

    Returns
    -------
    GradientReport
        Pairs are (an input of :math:`g`, ``"grad k"``: the gradient of ``fn`` wrt
        its input k), the inputs of :math:`g` being ``"input i"`` and
        ``"grad_output j"`` (the :math:`v` of output j); a backward
        that cannot be differentiated is named as a problem, in words.

    Examples
    --------
    >>> import torch
    >>> from gradbook.gradcheck import check_gradgrad
    >>> x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    >>> check_gradgrad(torch.tanh, x).ok
    True
    """
    tensors, grad_outputs, diff = _setup(fn, inputs, grad_outputs, eps, atol, rtol, seed=seed)
    names = [f"input {k}" for k in range(len(tensors))]
    first = analytical_side(fn, tensors, diff, names, grad_outputs, seed)
    vs = [first.vs[j].detach().requires_grad_(True) for j in first.checked]
    g = _backward_of(fn, len(tensors), diff, first.checked)
    args = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors] + vs
    problems = list(first.problems) or _not_twice_differentiable(g, args, diff)
    if problems:
        return GradientReport([], problems, "central", "-", rtol or 0.0, "-", "-", order=2)
    names += [f"grad_output {j}" for j in first.checked]
    report = _check(g, tuple(tensors) + tuple(vs), None, eps, atol, rtol, "central", False,
                    seed + 1, names=names, out_names=[f"grad {i}" for i in diff])  # fmt: skip
    report.order = 2
    report.notes.append("output grad k is fn's gradient wrt input k, grad_output j the "
                        "upstream gradient of fn's output j")  # fmt: skip
    return report


def assert_gradgrad(fn: Callable, inputs, **options) -> GradientReport:
    """Like :func:`check_gradgrad` (with the same arguments), but raise
    :class:`GradientCheckError` on failure.

    Raises
    ------
    GradientCheckError
        When ``report.ok`` is False.
    """
    return ensure_ok(check_gradgrad(fn, inputs, **options))
