r"""The analytical side of a gradient check: what autograd (or a hand-written backward) says.

Holds :class:`Analytical` and :func:`analytical_side`, which runs ``fn`` once with autograd
on copies of the inputs, draws (or takes) the upstream gradients :math:`v_j`, computes the
vector-Jacobian products :math:`v_j^T J` with :func:`torch.autograd.grad`, and records the
:class:`~gradbook.gradcheck._compare.Problem` findings that no comparison of numbers
shows: inputs mutated in place by the forward or the backward, a backward that is not
deterministic, a nonzero gradient for a zero upstream gradient, a backward that raised,
and outputs that are NaN or inf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._compare import Problem
from ._numerics import as_tuple, close

__all__ = ["Analytical", "analytical_side", "max_diff", "random_generator", "same"]


@dataclass
class Analytical:
    """The outputs of fn, the upstream gradients and the VJPs; ``grads`` is empty when the
    backward raised."""

    outputs: tuple[torch.Tensor, ...]
    checked: list[int]  # the outputs that are compared (the floating-point ones)
    vs: list[torch.Tensor | None]  # upstream gradient per output (None: not checked)
    grads: dict[int, tuple[torch.Tensor, ...]]  # output j -> v_j^T J per input checked
    problems: list[Problem]


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise-equal values of one dtype, with NaN equal to NaN."""
    return a.dtype == b.dtype and close(a, b, ulps=0)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest |a - b| (inf where they differ by NaN)."""
    d = (a.double() - b.double()).abs()
    return float(d.nan_to_num(nan=float("inf")).max()) if d.numel() else 0.0


def random_generator(seed: int, stream: int = 0) -> torch.Generator:
    """A generator whose draws differ from ``torch.manual_seed(seed)``'s.

    Users often build their inputs right after ``torch.manual_seed(0)``; drawing the
    upstream gradient from the same stream would make it equal to an input (a symmetric
    ``v^T x`` hides a transposed gradient).
    """
    mixed = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019 + stream) % (1 << 63)
    return torch.Generator().manual_seed(mixed)


def _checked_outputs(outputs: tuple[torch.Tensor, ...]) -> list[int]:
    """The floating-point outputs (integer ones, like indices, carry no gradient)."""
    for j, y in enumerate(outputs):
        if y.is_complex():
            raise TypeError(f"fn returned a complex output {j}; only real outputs are supported")
        if y.is_floating_point() and not y.requires_grad:
            why = "does not depend on any input that requires grad (constants, or a detach?)"
            raise ValueError(f"output {j} of fn {why}")
    checked = [j for j, y in enumerate(outputs) if y.is_floating_point()]
    if not checked:
        raise ValueError("fn returned no floating-point output to check")
    return checked


def _upstream(outputs, checked, grad_outputs, seed) -> list[torch.Tensor | None]:
    """v_j per output: ``grad_outputs`` (a tuple) checked against the outputs, or seeded
    normals when it is None."""
    if grad_outputs is None:
        gen = random_generator(seed)
        # drawn in float64 then cast, so the same seed gives the same v in every dtype
        grad_outputs = [torch.randn(y.shape, generator=gen, dtype=torch.float64) for y in outputs]
    if len(grad_outputs) != len(outputs):
        want = f"one tensor per output of fn ({len(outputs)})"
        raise ValueError(f"grad_outputs must hold {want}, got {len(grad_outputs)}")
    given = list(enumerate(zip(grad_outputs, outputs, strict=True)))
    for j, (g, y) in given:
        if g.shape != y.shape:
            want = f"the shape of output {j}, {tuple(y.shape)}"
            raise ValueError(f"grad_outputs[{j}] must have {want}, got {tuple(g.shape)}")
    return [g.detach().to(y.dtype) if j in checked else None for j, (g, y) in given]


def _mutations(work, before, who: str, names) -> list[Problem]:
    """A problem for each tensor of ``work`` that differs from ``before``."""
    found = []
    for i, (w, b) in enumerate(zip(work, before, strict=True)):
        if not same(w.detach(), b.detach()):
            change = max_diff(w.detach(), b.detach())
            text = f"{who} mutated {names[i]} in place (max change {change:.3g})"
            found.append(Problem("mutated input", text))
    return found


def _raised(err: RuntimeError) -> Problem:
    text = str(err).split("\n")[0]
    if "invalid gradient" in text and "shape" in text:
        text += " (the backward returned a gradient of the wrong shape: a transpose?)"
    return Problem("backward raised", f"the backward raised RuntimeError: {text}")


def analytical_side(fn: Callable, tensors, diff: list[int], names, grad_outputs, seed: int):
    """Run fn with autograd on copies of ``tensors``: the VJPs wrt the inputs ``diff``, and
    the problems no comparison of numbers would show."""
    work = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors]
    with torch.enable_grad():
        outputs = as_tuple(fn(*work), "fn(*inputs)")[0]
    checked = _checked_outputs(outputs)
    problems = _mutations(work, tensors, "fn", names)
    vs = _upstream(outputs, checked, grad_outputs, seed)
    before = [w.detach().clone() for w in work]  # what the backward must leave as it is
    xs = [work[i] for i in diff]

    def vjp(targets, grads) -> tuple[torch.Tensor, ...]:  # zeros for inputs fn does not use
        got = torch.autograd.grad(targets, xs, grads, retain_graph=True, materialize_grads=True)
        return tuple(g.detach() for g in got)  # a backward may return a saved input as it is

    try:
        grads = {j: vjp(outputs[j], vs[j]) for j in checked}
    except RuntimeError as err:
        problems += _mutations(work, before, "the backward", names) + [_raised(err)]
        return Analytical(outputs, checked, vs, {}, problems)
    try:  # a second call, and one with zero upstream gradients
        again = {j: vjp(outputs[j], vs[j]) for j in checked}
        zero = vjp([outputs[j] for j in checked], [torch.zeros_like(vs[j]) for j in checked])
    except RuntimeError as err:  # e.g. a saved tensor the first backward modified
        problems.append(_raised(err))
        again, zero = grads, None
    problems += _mutations(work, before, "the backward", names)
    problems += _backward_problems(grads, again, zero, [names[i] for i in diff])
    problems += [Problem("non-finite output", f"output {j} of fn has NaN/inf at the given inputs")
                 for j in checked if not bool(torch.isfinite(outputs[j]).all())]  # fmt: skip
    return Analytical(outputs, checked, vs, grads, problems)


def _backward_problems(grads, again, zero, names) -> list[Problem]:
    """Two backward calls that differ; a gradient that does not vanish for v = 0."""
    found = []
    for pos, name in enumerate(names):
        if not all(same(grads[j][pos], again[j][pos]) for j in grads):
            drift = max(max_diff(grads[j][pos], again[j][pos]) for j in grads)
            text = f"two calls with the same grad_outputs differ by up to {drift:.3g} for {name}"
            kind = "non-deterministic backward"
            found.append(Problem(kind, f"the backward is not deterministic: {text}"))
        # any nonzero (NaN included), except where the gradient itself is NaN/inf: there
        # 0 x NaN is NaN whatever the backward does, and the NaN is reported on its own
        if zero is None or not bool(zero[pos].any()):  # all exact zeros: nothing to look at
            continue
        finite = torch.stack([grads[j][pos].isfinite() for j in grads]).all(0)
        if bool(zero[pos][finite].any()):
            largest = float(zero[pos][finite].abs().nan_to_num(nan=float("inf")).max())
            size = f"max |g| = {largest:.3g}"
            text = f"a zero grad_output gave a nonzero gradient for {name} ({size})"
            why = "the backward has a term that does not scale with grad_output (or ignores it)"
            found.append(Problem("zero upstream", f"{text}: {why}"))
    return found
