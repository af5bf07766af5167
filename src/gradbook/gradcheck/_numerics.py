r"""The numerical side of a gradient check: finite differences, evaluated in batches.

Holds:

- :class:`Stencil` and ``STENCILS``: where each method evaluates ``fn`` (offsets in steps
  :math:`h`), the weights of its difference quotient, its default step and its accuracy;
  the same stencil serves the full check (one element at a time) and the fast one (one
  random direction per input);
- :func:`element_steps`: the step rule;
- :class:`Evaluator`: ``fn`` with a batch of perturbed copies in place of some inputs, in
  one :func:`torch.func.vmap` call, or a plain loop when vmap cannot run ``fn`` or
  changes its value;
- :func:`evaluate`: ``fn`` along many perturbations of several inputs: one vmap call per
  input (in cache-sized chunks), one call for the inputs with few, plain calls for a handful;
- :class:`Numerical` and :func:`numerical_vjp`: those values reduced with the upstream
  gradient :math:`v` to what the comparison reads, per (input, output) pair;
- :func:`jacobian`: the whole Jacobian, for :func:`~gradbook.gradcheck.numerical_jacobian`;
- :func:`as_tuple`, :func:`close` and :func:`to_numpy`: inputs or what ``fn`` returned as a
  tuple of tensors, agreement up to rounding, and tensors as NumPy arrays.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from itertools import accumulate

import numpy as np
import torch

from .. import _validation as checks

__all__ = ["STENCILS", "Evaluator", "Numerical", "Stencil", "close", "element_steps", "evaluate"]
__all__ += ["jacobian", "numerical_vjp", "as_tuple", "to_numpy"]

# One call of fn perturbs at most this many numbers (rows x (input + outputs)), in equal
# calls, so that fn's intermediates stay in the cache: the 256 weights of the MLP benchmark
# take 3 calls of about 0.33 ms instead of one of 1.27 ms; it also bounds a call's memory.
_CALL_BUDGET = 1 << 15
# Up to this many rows of several inputs go in one call: the central re-check of 33
# elements of 4 inputs of the MLP benchmark takes 0.36 ms instead of 0.71 ms in 4 calls.
_FEW_ROWS = 128
# Up to this many rows, plain calls beat a vmap call (about 60 us of overhead against
# 20 us a call of the MLP): its fast check takes 1.9 ms instead of 2.2 ms.
_PLAIN_ROWS = 16


@dataclass(frozen=True)
class Stencil:
    r"""A finite-difference rule: :math:`J e_k \approx \mathrm{Re}\sum_o w_o f(x + o h e_k) / h`."""

    offsets: tuple[complex, ...]  # where fn is evaluated, in steps h (0: the unperturbed point)
    weights: tuple[complex, ...]  # w_o
    step_power: float  # default h = eps_machine ** step_power * max(1, |x|): the best balance
    accuracy_power: float  # relative accuracy at that step, as a power of eps_machine
    rounding: float  # rounding error of the quotient in eps |f| / h (sum |w_o|; 0: no cancelling)

    @property
    def evaluated(self) -> tuple[complex, ...]:
        """The offsets at which fn is called (f(x) itself is known)."""
        return tuple(o for o in self.offsets if o != 0)

    def accuracy(self, dtype: torch.dtype) -> float:
        """Relative accuracy (with a margin) of the quotient at its default step."""
        return 10 * torch.finfo(dtype).eps ** self.accuracy_power

    def quotient(self, ys: np.ndarray, y0: np.ndarray, h: np.ndarray) -> np.ndarray:
        """The columns of J, (c, out_j), from f at the evaluated offsets ``ys`` (m, c, out_j),
        f(x) ``y0`` (out_j,) and the steps ``h`` (c, 1)."""
        at = dict(zip(self.evaluated, ys, strict=True)) | {0: y0}
        return sum(w * at[o] for o, w in zip(self.offsets, self.weights, strict=True)).real / h


STENCILS = {
    "central": Stencil((1, -1), (1 / 2, -1 / 2), 1 / 3, 2 / 3, 1.0),
    "forward": Stencil((1, 0), (1, -1), 1 / 2, 1 / 2, 2.0),
    "five_point": Stencil((2, 1, -1, -2), (-1 / 12, 2 / 3, -2 / 3, 1 / 12), 1 / 5, 4 / 5, 1.5),
    # Im f(x + i h) / h = Re(-i f(x + i h)) / h: nothing cancels, so h can be tiny
    "complex": Stencil((1j,), (-1j,), 2.0, 1.0, 0.0),
}


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor as a NumPy array (a view where it can be)."""
    # NumPy has no bfloat16: its values are exact in float32
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def element_steps(x: torch.Tensor, stencil: Stencil, eps: float | None) -> torch.Tensor:
    """The step per element of x (flat): ``eps`` corrected to the step that x + h actually
    takes (1e-6 is not representable next to x), or by default eps_machine ** p * max(1, |x|)
    rounded down to a power of 2, which x + h takes exactly far more often."""
    real = (x.real if x.is_complex() else x).reshape(-1)
    if eps is not None:
        h = torch.full_like(real, eps)
        return h if x.is_complex() else (real + h) - real
    p = math.floor(stencil.step_power * math.log2(torch.finfo(real.dtype).eps))
    e = np.frexp(np.maximum(np.abs(to_numpy(real)), 1.0))[1] - 1  # floor(log2 max(1, |x|))
    return torch.as_tensor(np.ldexp(1.0, e + p), dtype=real.dtype)  # NumPy: a quarter the time


def as_tuple(value: object, name: str) -> tuple[tuple[torch.Tensor, ...], bool]:
    """A tensor, or a non-empty tuple or list of tensors, as a tuple; and whether it was a
    sequence. Anything else is an error that names ``name`` (``inputs``, ``fn(*inputs)``)."""
    if isinstance(value, torch.Tensor):
        return (value,), False
    checks.check_instance(value, name, (tuple, list), "a tensor or a tuple of tensors")
    if not value:
        raise ValueError(f"{name} must hold at least one tensor, got an empty sequence")
    for k, x in enumerate(value):
        checks.check_instance(x, f"{name}[{k}]", torch.Tensor, "a torch.Tensor")
    return tuple(value), True


def close(y: torch.Tensor, ref: torch.Tensor, ulps: float = 256) -> bool:
    """Same shape and values up to ``ulps`` roundings of the coarser dtype (NaN equals NaN)."""
    if y.shape != ref.shape:
        return False
    if y.dtype == ref.dtype and torch.equal(y, ref):  # the usual case, in one cheap call
        return True
    if not (y.is_floating_point() or y.is_complex()):
        return False
    tol = ulps * max(torch.finfo(y.dtype).eps, torch.finfo(ref.dtype).eps)
    scale = float(ref.abs().nan_to_num(0.0, 0.0, 0.0).max()) if ref.numel() else 0.0
    return bool(torch.isclose(y, ref.to(y.dtype), tol, tol * scale, equal_nan=True).all())


class Evaluator:
    """Evaluates ``fn`` with batches of perturbed copies in place of some inputs.

    ``evaluator({i: rows_i, ...})`` returns fn's outputs, each ``(B, *out_j)``, where row b
    puts ``rows_i[b]`` (each ``(B, *shape_i)``) in place of input i. A handful of rows are
    plain calls. The first vmap call also evaluates the unperturbed inputs and compares
    them with a plain call: a function that vmap cannot run or changes (a classic
    ``autograd.Function``, ``.item()``, randomness) is called once per row from then on,
    and ``mode`` says ``"loop"``.
    """

    def __init__(self, fn: Callable, base: list[torch.Tensor], fresh_copies: bool) -> None:
        # mode: "vmap" once a vmap call ran; verified: None until vmap was tried on fn
        self.fn, self.base, self.mode, self.verified = fn, base, "loop", None
        self.fresh_copies = fresh_copies  # fn mutates its inputs: give every call copies
        self.f0, self.returns_tuple = self._plain({})

    def _args(self, replaced: dict[int, torch.Tensor]) -> list[torch.Tensor]:
        args = [a.clone() if self.fresh_copies else a for a in self.base]
        return [replaced.get(i, a) for i, a in enumerate(args)]

    def _plain(self, replaced: dict[int, torch.Tensor]) -> tuple[tuple[torch.Tensor, ...], bool]:
        with torch.no_grad():
            return as_tuple(self.fn(*self._args(replaced)), "fn(*inputs)")

    def _vmapped(self, rows: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        def call(*batched: torch.Tensor):
            return self.fn(*self._args(dict(zip(rows, batched, strict=True))))

        with torch.no_grad(), warnings.catch_warnings():
            # vmap warns when an op has no batching rule and it loops itself: still correct
            warnings.filterwarnings("ignore", message=".*performance drop.*")
            return as_tuple(torch.func.vmap(call)(*rows.values()), "fn(*inputs)")[0]

    def __call__(self, rows: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        n_rows = next(iter(rows.values())).shape[0]
        if self.verified is not False and n_rows > _PLAIN_ROWS:
            try:
                if self.verified:
                    return self._vmapped(rows)
                with_base = {i: torch.cat([self.base[i].unsqueeze(0), r]) for i, r in rows.items()}
                out = self._vmapped(with_base)
                if len(out) == len(self.f0) and all(map(close, [y[0] for y in out], self.f0)):
                    self.verified, self.mode = True, "vmap"
                    return tuple(y[1:] for y in out)
            except Exception:  # anything vmap cannot run falls back to plain calls
                pass
            self.verified = False
        outs = [self._plain({i: r[b] for i, r in rows.items()})[0] for b in range(n_rows)]
        return tuple(torch.stack(ys) for ys in zip(*outs, strict=True))


def evaluate(ev: Evaluator, stencil: Stencil, perturbations: dict) -> dict[int, list[np.ndarray]]:
    """f(x + o d_k) for each perturbation d_k of input i and each evaluated offset o.

    ``perturbations[i] = (h, d)``: the steps h (c,) and the perturbations d (c, n_i), the
    rows of diag(h) where single elements are perturbed. Returns, per input i and output
    j, a NumPy array (m, c, out_j). NumPy, not torch: the reductions work on small arrays,
    where a NumPy operation costs a fifth of a torch one.
    """
    m, out_numel = len(stencil.evaluated), sum(y.numel() for y in ev.f0)

    def rows(i: int, d: torch.Tensor) -> torch.Tensor:  # (m * c, *shape_i)
        x, offs = ev.base[i], torch.tensor(stencil.evaluated, dtype=ev.base[i].dtype)
        return (x.reshape(1, 1, -1) + offs.reshape(m, 1, 1) * d).reshape(-1, *x.shape)

    def split(outs, start: int, c: int) -> list[np.ndarray]:  # rows start:start + m * c
        return [to_numpy(y[start : start + m * c]).reshape(m, c, -1) for y in outs]

    n_rows = {i: m * len(h) for i, (h, _) in perturbations.items()}
    order = sorted(n_rows, key=n_rows.get)  # the inputs with fewest rows share one call
    totals = accumulate(n_rows[i] for i in order)
    shared = [i for i, n in zip(order, totals, strict=True) if n <= _FEW_ROWS]
    result, total = {}, sum(n_rows[i] for i in shared)
    if len(shared) > 1 and total > _PLAIN_ROWS:  # row block i perturbs input i, the rest is base
        starts = dict(zip(shared, accumulate((n_rows[i] for i in shared), initial=0), strict=False))
        batched = {i: ev.base[i].expand(total, *ev.base[i].shape).clone() for i in shared}
        for i in shared:
            batched[i][starts[i] : starts[i] + n_rows[i]] = rows(i, perturbations[i][1])
        outs = ev(batched)
        result = {i: split(outs, starts[i], n_rows[i] // m) for i in shared}
    for i in [i for i in perturbations if i not in result]:
        # equal calls of at most _CALL_BUDGET numbers each
        calls = max(1, -(-n_rows[i] * (ev.base[i].numel() + out_numel) // _CALL_BUDGET))
        parts = zip(*(t.tensor_split(calls) for t in perturbations[i]), strict=True)
        ys = [split(ev({i: rows(i, d)}), 0, len(h)) for h, d in parts]
        result[i] = [np.concatenate(y, axis=1) for y in zip(*ys, strict=True)]
    return result


@dataclass(frozen=True)
class Numerical:
    """What finite differences say about one (input, output) pair, per perturbation k.

    Float64 NumPy arrays (c,).
    """

    value: np.ndarray  # (v^T J)_k
    scale: np.ndarray  # sum_j |v_j J_jk|: the size of the terms before they cancel
    floor: np.ndarray  # error bound of value: the stencil's truncation and rounding
    ones: np.ndarray  # (1^T J)_k: what a backward that ignores grad_output returns
    lo: np.ndarray  # smallest of sum_j v_j D_jk over left/right one-sided D (NaN: none)
    hi: np.ndarray  # largest

    def replaced(self, where: np.ndarray, finer: Numerical) -> Numerical:
        """These values, with those at ``where`` taken from a finer evaluation."""
        new = {f.name: getattr(self, f.name).copy() for f in fields(self)}
        for name, values in new.items():
            values[where] = getattr(finer, name)
        return Numerical(**new)


def _reduce(stencil, ys, y0, v, h, dtype, floor_of) -> Numerical:
    """f(x + o h e_k) (``ys`` (m, c, out_j)) reduced with v (out_j,)."""
    av = np.abs(v)
    d = stencil.quotient(ys, y0, h[:, None])  # (c, out_j)
    scale = np.abs(d) @ av
    floor_stencil, h_floor = floor_of or (stencil, h)
    rounding = floor_stencil.rounding * torch.finfo(dtype).eps * (np.abs(y0) @ av) / h_floor
    lo = hi = np.full_like(scale, np.nan)
    at = dict(zip(stencil.evaluated, ys, strict=True))
    if 1 in at and -1 in at:  # left and right one-sided differences: kinks
        right, left = (at[1] - y0) * v, (y0 - at[-1]) * v  # v_j h D_jk, one-sided, (c, out_j)
        lo, hi = np.minimum(right, left).sum(1) / h, np.maximum(right, left).sum(1) / h
    floor = floor_stencil.accuracy(dtype) * scale + 4 * rounding
    return Numerical(d @ v, scale, floor, d.sum(1), lo, hi)


def numerical_vjp(ev: Evaluator, stencil: Stencil, perturbations, vs, *, floor_of=None) -> dict:
    """:class:`Numerical` per input i and output j (None where ``vs[j]`` is None).

    ``perturbations[i] = (h, d)`` as in :func:`evaluate`. ``vs[j]`` is the upstream
    gradient of output j, flat float64. ``floor_of = (other, h_other)`` gives the values
    the error floor that stencil ``other`` would have at steps ``h_other[i]`` (c,): the
    forward-difference screen is judged by central differences' floor.
    """
    ys = evaluate(ev, stencil, perturbations)
    y0s = [to_numpy(y).reshape(-1) for y in ev.f0]
    result = {}
    for i, (h, _) in perturbations.items():
        dtype = ev.base[i].real.dtype
        floor = floor_of and (floor_of[0], to_numpy(floor_of[1][i]))
        result[i] = [None if v is None else _reduce(stencil, y, y0, v, to_numpy(h), dtype, floor)
                     for y, y0, v in zip(ys[i], y0s, vs, strict=True)]  # fmt: skip
    return result


def jacobian(ev: Evaluator, stencil: Stencil, dtypes: dict[int, torch.dtype], eps) -> list[list]:
    """``J[output j][input i]`` by finite differences for the inputs i in ``dtypes``, shaped
    ``out_j.shape + x_i.shape``, of dtype ``dtypes[i]`` (None for the other inputs)."""
    steps = {i: element_steps(ev.base[i], stencil, eps) for i in dtypes}
    ys = evaluate(ev, stencil, {i: (h, torch.diag(h)) for i, h in steps.items()})
    table = [[None] * len(ev.base) for _ in ev.f0]
    for i, h in steps.items():
        for j, (y, y0) in enumerate(zip(ys[i], ev.f0, strict=True)):
            jac = stencil.quotient(y, to_numpy(y0).reshape(-1), to_numpy(h)[:, None]).T
            shape = (*y0.shape, *ev.base[i].shape)  # out_j.shape + x_i.shape
            table[j][i] = torch.from_numpy(jac.copy()).reshape(shape).to(dtypes[i])
    return table
