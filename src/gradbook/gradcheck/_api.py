r"""The public functions: :func:`numerical_jacobian`, :func:`check_gradients`,
:func:`assert_gradients` and :func:`check_module`.

Also holds the steps of a check between the analytical side and the comparison: the
options, the dtype the numerical side runs in (float64 where ``fn`` allows it), the
default tolerance, the fast check (one random direction per input) and the full one
(every element, behind a forward-difference screen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from .. import _validation as checks
from ._analytical import Analytical, analytical_side, max_diff, random_generator, same
from ._compare import Problem, compare, relative_errors
from ._numerics import STENCILS, Evaluator, as_tuple, close, element_steps, jacobian, numerical_vjp
from ._report import GradientReport, PairResult, ensure_ok

__all__ = ["assert_gradients", "check_gradients", "check_module", "numerical_jacobian"]

# Default rtol by the dtype of the analytical gradient, and by the method for float64
# numerics (narrower numerics get 30 x their stencil's accuracy).
_RTOL_GRAD = {torch.float64: 1e-6, torch.float32: 1e-3, torch.float16: 2e-2, torch.bfloat16: 5e-2}
_RTOL_NUMERICAL = {"central": 1e-6, "forward": 1e-5, "five_point": 1e-7, "complex": 1e-9}


def _check_options(fn, eps, atol, rtol, method, seed, fast) -> None:
    checks.check_callable(fn, "fn")
    checks.check_real(eps, "eps", positive=True, allow_none=True)
    checks.check_real(atol, "atol", minimum=0, allow_none=True)
    checks.check_real(rtol, "rtol", positive=True, allow_none=True)
    checks.check_choice(method, "method", tuple(STENCILS))
    checks.check_int(seed, "seed")
    checks.check_bool(fast, "fast")


def _inputs_to_check(tensors: tuple[torch.Tensor, ...]) -> list[int]:
    for k, t in enumerate(tensors):
        if t.requires_grad and not t.is_floating_point():
            why = "only floating-point tensors can be checked"
            raise TypeError(f"inputs[{k}] requires grad but has dtype {t.dtype}; {why}")
    if not any(t.requires_grad for t in tensors):
        integer = [k for k, t in enumerate(tensors) if not t.is_floating_point()]
        hint = f" (inputs {integer} are integer or bool: convert them with .double() first)"
        ask = "mark the tensors to check with requires_grad=True"
        raise ValueError(f"no input requires grad: {ask}{hint if integer else ''}")
    return [k for k, t in enumerate(tensors) if t.requires_grad]


def _converted(tensors: Sequence[torch.Tensor], dtype: torch.dtype) -> list[torch.Tensor]:
    return [t.detach().to(dtype) if t.is_floating_point() else t.detach() for t in tensors]


def _numerics(fn, tensors, diff, an: Analytical, method: str, fresh_copies: bool):
    """The evaluator of the numerical side, its description, and the problems it found.

    Float64 (complex128 for the complex step) when fn runs in it and gives the same values
    up to the inputs' rounding: the truncation error of float32 differences would swamp a
    float32 check. Else the inputs' own dtype, with a check that fn is deterministic.
    """
    low = ", ".join(sorted({str(tensors[i].dtype).removeprefix("torch.") for i in diff}))
    wide = torch.complex128 if method == "complex" else torch.float64
    try:
        ev = Evaluator(fn, _converted(tensors, wide), fresh_copies)
        if all(ev.f0[j].dtype == wide and close(ev.f0[j].real, an.outputs[j].detach())
               for j in an.checked):  # fmt: skip
            how = "complex step" if method == "complex" else f"upcast from {low}"
            name = str(wide).removeprefix("torch.")
            return ev, name if name == low else f"{name} ({how})", []  # no upcast: "float64"
        err = "its outputs are not complex, or differ from the real ones (.real or abs inside?)"
    except Exception as e:  # fn does not run in float64 (a float32 constant inside, ...)
        err = f"calling it with complex inputs raised {type(e).__name__}: {e}"
    if method == "complex":
        raise ValueError(f"method='complex' needs fn to be analytic in its inputs; {err}")
    ev = Evaluator(fn, [t.detach() for t in tensors], fresh_copies)
    note = " (fn does not run in float64; step and tolerance chosen for the dtype)"
    text = "float64" if low == "float64" else low + note
    changed = [j for j in an.checked if not same(ev.f0[j], an.outputs[j].detach())]
    if not changed:
        return ev, text, []
    # fn gave other values than in the analytical pass, at the same inputs
    size = max_diff(ev.f0[changed[0]], an.outputs[changed[0]].detach())
    differ = f"output {changed[0]} values that differ by up to {size:.3g}"
    text_p = f"fn is not deterministic: two calls at the same inputs give {differ}"
    return ev, text, [Problem("non-deterministic forward", text_p)]


@dataclass(frozen=True)
class _Check:
    """A check, set up: the evaluator, the analytical side and the tolerances."""

    ev: Evaluator
    an: Analytical
    diff: list[int]  # the inputs checked
    names: list[str]
    method: str
    eps: float | None
    rtol: float
    atol: float | None
    random_v: bool  # the upstream gradients were drawn (not given)
    vs: list[np.ndarray | None]  # the upstream gradients, flat float64
    out_names: list[str]  # names of fn's outputs

    def analytical(self, pos: int, j: int) -> np.ndarray:
        """v_j^T J wrt input ``diff[pos]``, flat float64."""
        return self.an.grads[j][pos].reshape(-1).double().numpy()

    def pair(self, pos: int, j: int, a: np.ndarray, num, shape=None) -> PairResult:
        """The comparison of input ``diff[pos]`` (of its shape by default) with output j."""
        names, dtype = (self.names[self.diff[pos]], self.out_names[j]), self.an.grads[j][pos].dtype
        shape = shape or tuple(self.ev.base[self.diff[pos]].shape)
        return compare(a, num, an_dtype=dtype, rtol=self.rtol, atol=self.atol, names=names,
                       shape=shape, random_v=self.random_v)  # fmt: skip


def _fast_pairs(c: _Check, seed: int) -> list[PairResult]:
    """Compare u^T (J^T v) with v^T (J u) for one random direction u per input."""
    gen = random_generator(seed, stream=1)
    stencil, perturbations, us = STENCILS[c.method], {}, {}
    for i in c.diff:
        real = c.ev.base[i].real
        u = torch.randn(real.numel(), generator=gen, dtype=torch.float64).to(real.dtype)
        us[i] = u = u / u.abs().max().clamp(min=1e-300)
        h = element_steps(real.abs().max().reshape(1), stencil, c.eps)  # (1,): one direction
        perturbations[i] = (h, (h * u).unsqueeze(0))
    nums = numerical_vjp(c.ev, stencil, perturbations, c.vs)
    pairs, nan = [], np.full(1, np.nan)
    for pos, i in enumerate(c.diff):
        for j in c.an.checked:
            gu = c.analytical(pos, j) * us[i].double().numpy()
            # u^T g sums terms too, and rounds with their size; kinks are left to the full
            # check (along a random direction a kink could hide a wrong gradient elsewhere)
            num = replace(nums[i][j], scale=nums[i][j].scale + np.abs(gu).sum(), lo=nan, hi=nan)
            pair = c.pair(pos, j, np.array([gu.sum()]), num, (1,))
            x = c.ev.base[i]
            pairs.append(replace(pair, shape=tuple(x.shape), n_elements=x.numel(), worst=None))
    return pairs


def _full_pairs(c: _Check) -> tuple[list[PairResult], list[str]]:
    """Compare v^T J element by element, for every input and output; and a note."""
    forward, central = STENCILS["forward"], STENCILS["central"]
    # For float64 numerics at the default step, forward differences (one call per element)
    # vouch for most elements at central differences' error floor, and only the rest are
    # re-checked with central ones (two calls each, and kinks): the full check of the
    # 548-element MLP benchmark takes 5.7 ms instead of 6.2 ms (33 elements re-checked).
    wide = c.ev.base[c.diff[0]].dtype == torch.float64
    screen = c.method == "central" and c.eps is None and wide
    stencil = forward if screen else STENCILS[c.method]
    steps = {i: element_steps(c.ev.base[i], stencil, c.eps) for i in c.diff}
    perturbations = {i: (h, torch.diag(h)) for i, h in steps.items()}
    if not screen:
        nums, notes = numerical_vjp(c.ev, stencil, perturbations, c.vs), []
    else:
        h_central = {i: element_steps(c.ev.base[i], central, None) for i in c.diff}
        nums = numerical_vjp(c.ev, forward, perturbations, c.vs, floor_of=(central, h_central))
        n = _refine(c, nums, h_central)
        total = sum(len(h) for h in h_central.values())
        rest = "for the rest" if n < total else "for none of them"
        notes = [f"central differences ran on {n} of {total} elements: a forward-difference "
                 f"screen vouched {rest}"]  # fmt: skip
    pairs = [c.pair(pos, j, c.analytical(pos, j), nums[i][j])
             for pos, i in enumerate(c.diff) for j in c.an.checked]  # fmt: skip
    return pairs, notes


def _refine(c: _Check, nums: dict, h_central: dict[int, torch.Tensor]) -> int:
    """Central differences in ``nums`` for the elements whose forward differences miss
    central differences' error floor; returns how many there were."""
    suspects = {}
    for pos, i in enumerate(c.diff):
        # judged as float64 values (the screen's numerics), the strictest floor
        off = [relative_errors(c.analytical(pos, j), nums[i][j], torch.float64, c.rtol,
                               c.atol).rel > c.rtol for j in c.an.checked]  # fmt: skip
        which = np.flatnonzero(np.any(off, axis=0))
        if which.size:
            suspects[i] = which
    perturbations = {i: (h_central[i][k], torch.diag(h_central[i])[k]) for i, k in suspects.items()}
    finer = numerical_vjp(c.ev, STENCILS["central"], perturbations, c.vs)
    for i, which in suspects.items():
        nums[i] = [n and n.replaced(which, f) for n, f in zip(nums[i], finer[i], strict=True)]
    return sum(which.size for which in suspects.values())


def _setup(fn, inputs, grad_outputs, eps, atol, rtol, method="central", seed=0, fast=False):
    """The checked arguments: inputs and grad_outputs as tuples, and the inputs to check."""
    _check_options(fn, eps, atol, rtol, method, seed, fast)
    tensors, _ = as_tuple(inputs, "inputs")
    if grad_outputs is not None:
        grad_outputs, _ = as_tuple(grad_outputs, "grad_outputs")
    return tensors, grad_outputs, _inputs_to_check(tensors)


def _check(fn, inputs, grad_outputs=None, eps=None, atol=None, rtol=None, method="central",
           fast=False, seed=0, names=None, out_names=None):  # fmt: skip
    """check_gradients, with names (check_module names inputs by parameter)."""
    tensors, grad_outputs, diff = _setup(
        fn, inputs, grad_outputs, eps, atol, rtol, method, seed, fast
    )
    names = names or [f"input {k}" for k in range(len(tensors))]
    an = analytical_side(fn, tensors, diff, names, grad_outputs, seed)
    problems = list(an.problems)
    if not an.grads:  # the backward raised: nothing to compare
        return GradientReport([], problems, method, "-", rtol or 0.0, "-", "-", fast)
    mutates = any(p.kind == "mutated input" for p in problems)
    ev, numerics, more = _numerics(fn, tensors, diff, an, method, mutates)
    problems += more
    if rtol is None:
        num_dtype = ev.base[diff[0]].real.dtype
        numeric = _RTOL_NUMERICAL[method] if num_dtype == torch.float64 else (
            30 * torch.finfo(num_dtype).eps ** STENCILS[method].accuracy_power)  # fmt: skip
        rtol = max(numeric, *(_RTOL_GRAD.get(tensors[i].dtype, 1e-1) for i in diff))
    vs = [None if v is None else v.reshape(-1).double().numpy() for v in an.vs]
    outs = ["output"] if len(an.outputs) == 1 else [f"output {j}" for j in range(len(an.outputs))]
    c = _Check(
        ev, an, diff, names, method, eps, rtol, atol, grad_outputs is None, vs, out_names or outs
    )
    floor = "rtol x fraction of the largest gradient + rounding" if atol is None else f"{atol:g}"
    notes = []
    if fast:
        pairs = _fast_pairs(c, seed)
        if all(p.ok for p in pairs):
            return GradientReport(pairs, problems, method, numerics, rtol, floor, ev.mode, True)
        notes.append("the fast check failed; the full Jacobian was formed to find the worst")
    pairs, more_notes = _full_pairs(c)
    notes += more_notes
    return GradientReport(pairs, problems, method, numerics, rtol, floor, ev.mode, fast, notes)


def numerical_jacobian(
    fn: Callable,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    eps: float | None = None,
    method: str = "central",
):
    r"""Jacobian of ``fn`` at ``inputs`` by finite differences, in batched calls.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*inputs)``; returns a tensor or a tuple of tensors.
    inputs : Tensor or tuple of Tensor
        Where to differentiate. Every floating-point input is differentiated (whether or
        not it requires grad); the numbers are computed in the inputs' own dtype (in
        complex128 for the complex step).
    eps : float, optional
        Absolute step for every element. By default the step follows the dtype and the
        size of each element, :math:`h = \epsilon^{p} \max(1, |x|)` rounded down to a
        power of two, with :math:`p = 1/3` for central, :math:`1/2` for forward,
        :math:`1/5` for five-point differences (the steps that balance truncation
        against rounding error) and :math:`h = \epsilon^2 \max(1, |x|)` for the
        complex step.
    method : {"central", "forward", "five_point", "complex"}
        The stencil:

        - ``"central"``: :math:`(f(x+h) - f(x-h)) / 2h`, error :math:`O(h^2)`;
        - ``"forward"``: :math:`(f(x+h) - f(x)) / h`, error :math:`O(h)`, half the calls;
        - ``"five_point"``: :math:`(-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)) / 12h`,
          error :math:`O(h^4)`;
        - ``"complex"``: :math:`\operatorname{Im} f(x + ih) / h`, exact to rounding for
          functions analytic in their inputs (``fn`` must accept complex tensors).

    Returns
    -------
    Tensor or tuple
        Laid out like :func:`torch.autograd.functional.jacobian`: for a single input
        tensor and a single output, a tensor of shape ``output.shape + input.shape``;
        a tuple over inputs when ``inputs`` is a tuple, over outputs when ``fn``
        returns a tuple, and ``J[output][input]`` when both are. Entries for
        non-floating inputs are None.

    Examples
    --------
    >>> import torch
    >>> from gradbook.gradcheck import numerical_jacobian
    >>> x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    >>> numerical_jacobian(lambda t: t**2, x)
    tensor([[2., 0.],
            [0., 4.]], dtype=torch.float64)
    """
    _check_options(fn, eps, None, None, method, 0, False)
    tensors, inputs_tuple = as_tuple(inputs, "inputs")
    base = [t.detach() for t in tensors]
    ev = Evaluator(fn, _converted(base, torch.complex128) if method == "complex" else base, True)
    dtypes = {i: t.dtype for i, t in enumerate(tensors) if t.is_floating_point()}
    table = jacobian(ev, STENCILS[method], dtypes, eps)
    rows = [tuple(row) if inputs_tuple else row[0] for row in table]
    return tuple(rows) if ev.returns_tuple else rows[0]


def check_gradients(
    fn: Callable,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    grad_outputs: torch.Tensor | Sequence[torch.Tensor] | None = None,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    method: str = "central",
    fast: bool = False,
    seed: int = 0,
) -> GradientReport:
    r"""Compare the gradients of ``fn`` from autograd with finite differences.

    For every input that requires grad and every floating-point output :math:`y_j`,
    the vector-Jacobian product :math:`v_j^T J_{ij}` from ``torch.autograd.grad`` is
    compared, element by element, with the same product from the numerical Jacobian.
    An element is *off* when its relative error

    .. math::

        r_k = \frac{|a_k - n_k|}{\max(|a_k|, |n_k|, \tau_k)}

    exceeds ``rtol``. The floor :math:`\tau_k = (\text{atol} + \text{noise}_k) /
    \text{rtol}` holds the rounding of both sides and the truncation of the stencil,
    so values that cancel to near zero are compared in absolute terms.

    Besides the numbers, the check also fails on: inputs mutated in place by ``fn`` or
    by its backward; a backward that gives different results on two calls; a
    backward that does not give zero for a zero upstream gradient; a forward that is
    not deterministic; NaN or inf on either side; a backward that raises. Elements
    where the left and right one-sided differences disagree and the analytical value
    lies between them are reported as *kinks* (non-differentiable points such as relu
    or abs at 0) and do not fail the check.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*inputs)``; returns a tensor or a tuple of tensors.
        Integer outputs are ignored.
    inputs : Tensor or tuple of Tensor
        The inputs; those with ``requires_grad=True`` are checked. They are never
        modified: the check works on copies.
    grad_outputs : Tensor or tuple of Tensor, optional
        The upstream gradients :math:`v_j`, one per output. By default random normal
        values (seeded by ``seed``), so that a backward which ignores its
        ``grad_output`` fails.
    eps : float, optional
        Absolute finite-difference step. By default it follows the dtype and the size
        of each element (see :func:`numerical_jacobian`).
    atol : float, optional
        Absolute tolerance. By default a fraction of the pair's largest gradient
        (1e-3 for float64, 1e-2 for float32), times ``rtol``.
    rtol : float, optional
        Relative tolerance. By default 1e-6 for float64 inputs, 1e-3 for float32,
        2e-2 for float16, 5e-2 for bfloat16 (and looser for numerics that had to run
        in a narrow dtype).
    method : {"central", "forward", "five_point", "complex"}
        The finite-difference stencil (see :func:`numerical_jacobian`). Kinks are
        detected with ``"central"`` and ``"five_point"``.
    fast : bool
        Compare only one random projection :math:`u^T J^T v` per (input, output)
        pair: two calls of ``fn`` per input instead of two per element. When it
        fails, the full Jacobian is formed so that the report points at the worst
        element.
    seed : int
        Seed for the random ``grad_outputs`` and projections.

    Returns
    -------
    GradientReport
        ``.ok``, ``.worst``, one :class:`PairResult` per (input, output) pair, and
        ``str(report)`` a readable table.

    Notes
    -----
    For float32 and float16 inputs the numerical side runs in float64 when ``fn``
    accepts float64 inputs and gives the same values up to rounding; otherwise it runs
    in the input dtype with a step and tolerance for that dtype. The report says which.
    The perturbed copies of each input are evaluated in batches with
    :func:`torch.func.vmap`; functions vmap cannot run (a classic
    ``torch.autograd.Function``, data-dependent Python control flow) are called once
    per perturbation instead.

    Examples
    --------
    >>> import torch
    >>> from gradbook.gradcheck import check_gradients
    >>> x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    >>> check_gradients(torch.tanh, x).ok
    True
    """
    return _check(fn, inputs, grad_outputs, eps, atol, rtol, method, fast, seed)


def assert_gradients(fn: Callable, inputs, **options) -> GradientReport:
    """Like :func:`check_gradients` (with the same arguments), but raise
    :class:`GradientCheckError` on failure.

    Returns the report when the check passes. The exception's message is the
    report's table, and the report is kept as ``error.report``.

    Raises
    ------
    GradientCheckError
        When ``report.ok`` is False.
    """
    return ensure_ok(check_gradients(fn, inputs, **options))


def check_module(
    module: torch.nn.Module,
    *inputs: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    **options,
) -> GradientReport:
    """Check the gradients of a module's parameters for a scalar loss.

    The loss is ``loss_fn(module(*inputs))``, or ``module(*inputs).sum()`` when no
    ``loss_fn`` is given. Every parameter with ``requires_grad`` is checked, and so is
    every input that requires grad. The module is called through
    :func:`torch.func.functional_call` on copies of its parameters: it is not modified.
    Buffers travel along as constants (so that the float64 numerics can upcast them).

    Parameters
    ----------
    module : torch.nn.Module
        The module; put it in ``eval()`` mode first if it uses dropout (a random
        forward fails the check as non-deterministic).
    *inputs : Tensor
        Positional inputs of the module.
    loss_fn : callable, optional
        Maps the module's output to a scalar tensor (close over targets if needed).
    **options
        ``eps``, ``atol``, ``rtol``, ``method``, ``fast``, ``seed``: as in
        :func:`check_gradients`.

    Returns
    -------
    GradientReport
        Pairs are named by parameter name (``"0.weight"``) and ``"input k"``.
    """
    checks.check_model(module, "module")
    checks.check_callable(loss_fn, "loss_fn", allow_none=True)
    for k, x in enumerate(inputs):
        checks.check_instance(x, f"inputs[{k}]", torch.Tensor, "a torch.Tensor")
    params = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    buffers = list(module.named_buffers())
    if not params and not any(x.requires_grad for x in inputs):
        raise ValueError("module has no parameter that requires grad, and no input requires it")
    try:  # a clear error for inputs the module cannot take (integers into a float layer)
        with torch.no_grad():
            module(*inputs)
    except RuntimeError as err:
        kinds = ", ".join(f"inputs[{k}] is {x.dtype}" for k, x in enumerate(inputs))
        raise ValueError(f"module(*inputs) raised {err} ({kinds}: try .double())") from err

    def loss(*flat: torch.Tensor) -> torch.Tensor:
        n = len(params) + len(buffers)  # flat holds the parameters, the buffers, the inputs
        state = {name: t for (name, _), t in zip(params + buffers, flat[:n], strict=True)}
        out = torch.func.functional_call(module, state, flat[n:])
        value = out.sum() if loss_fn is None else loss_fn(out)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"loss_fn must return a scalar tensor, got {got}")
        return value

    flat = [p.detach().clone().requires_grad_(True) for _, p in params]
    flat += [b.detach().clone() for _, b in buffers] + list(inputs)
    names = [name for name, _ in params] + [f"buffer {name}" for name, _ in buffers]
    names += [f"input {k}" for k in range(len(inputs))]
    return _check(loss, tuple(flat), **options, names=names)
