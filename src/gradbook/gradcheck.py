r"""Gradient checking that finds the bug and says what it is.

A gradient check compares the gradient that autograd (or a hand-written
``torch.autograd.Function.backward``) computes, the *analytical* gradient, with a
*numerical* one from finite differences. For a function :math:`f` with Jacobian
:math:`J = \partial f / \partial x` and an upstream gradient :math:`v`, autograd
returns the vector-Jacobian product :math:`v^T J`; the central difference

.. math::

    J_{:,k} \approx \frac{f(x + h e_k) - f(x - h e_k)}{2 h}

gives the same product numerically, one input element :math:`k` at a time. This
module evaluates all the perturbed copies of an input in a few batched calls
(:func:`torch.func.vmap`), compares element by element with the relative error

.. math::

    r_k = \frac{|a_k - n_k|}{\max(|a_k|, |n_k|, \tau_k)}

(:math:`a` analytical, :math:`n` numerical, :math:`\tau_k` a floor below which a
value counts as zero), and returns a :class:`GradientReport` that names the worst
element, both values, a verdict band and, where the pattern is clear, the likely
mistake (a factor of 2, a sign flip, a transpose, an ignored ``grad_output``, ...).

The main entry points are :func:`check_gradients` (returns a report),
:func:`assert_gradients` (raises :class:`GradientCheckError`),
:func:`check_module` (the parameters of an ``nn.Module``) and
:func:`numerical_jacobian`.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "GradientCheckError",
    "GradientReport",
    "PairResult",
    "WorstElement",
    "assert_gradients",
    "check_gradients",
    "check_module",
    "numerical_jacobian",
]

_METHODS = ("central", "forward", "five_point", "complex")
# Offsets (in units of the step h) at which each stencil evaluates fn.
_OFFSETS = {
    "central": (1.0, -1.0),
    "forward": (1.0,),
    "five_point": (2.0, 1.0, -1.0, -2.0),
    "complex": (1.0,),  # an imaginary offset: x + i h
}
# h = eps_machine ** p * max(1, |x|): p balances truncation error against rounding error.
_STEP_POWER = {"central": 1 / 3, "forward": 1 / 2, "five_point": 1 / 5, "complex": 2.0}
# Relative accuracy a stencil reaches at its best step, as a power of eps_machine; used for
# the error floor relative to sum_j |v_j J_jk| (cancellation in the vector-Jacobian product).
_ACCURACY_POWER = {"central": 2 / 3, "forward": 1 / 2, "five_point": 4 / 5, "complex": 1.0}
# Default rtol by the dtype of the analytical gradient, and by the numerics' dtype and method.
_RTOL_ANALYTICAL = {
    torch.float64: 1e-6,
    torch.float32: 1e-3,
    torch.float16: 2e-2,
    torch.bfloat16: 5e-2,
}
_RTOL_NUMERICAL = {
    "central": 1e-6,
    "forward": 1e-5,
    "five_point": 1e-7,
    "complex": 1e-9,
}
# Elements whose gradient is below this fraction of the pair's largest value are compared
# in absolute terms (at rtol times this fraction of the largest value).
_ATOL_FRACTION = {torch.float64: 1e-3, torch.float32: 1e-2, torch.float16: 5e-2}
# The differences are reduced once this many output numbers are pending.
_BATCH_BUDGET = 1 << 22
# One batched call perturbs at most about this many numbers (rows x (input + outputs)),
# 256 KB of float64: larger calls were slower (about 10% of a full check of a 548-element
# MLP, whose 256 weight rows in one call cost ~400 page faults per check), as their
# intermediates leave the cache and freeing them returns memory to the OS that the next
# call has to fault in again.
_CALL_BUDGET = 1 << 15
# Up to this many perturbed rows go in one call with every input batched.
_SMALL_BATCH = 128
# An input whose perturbations need at most this many rows joins the previous input's call.
_TINY_ROWS = 16
# A one-sided-difference spread above this fraction of sum_j |v_j J_jk| is a kink.
_KINK_SPREAD = 0.1
# The report's text lines (diagnoses, problems, notes) wrap at this width.
_REPORT_WIDTH = 100


class GradientCheckError(AssertionError):
    """Raised by :func:`assert_gradients`; the message is the report's table.

    The :class:`GradientReport` itself is kept as ``.report``.
    """

    def __init__(self, report: GradientReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass(frozen=True)
class WorstElement:
    """The element with the largest relative error in a gradient check.

    Attributes
    ----------
    input : str
        Name of the input (``"input 0"``, or a parameter name from :func:`check_module`).
    output : str
        Name of the output (``"output"``, ``"output 0"``, ...).
    index : tuple of int
        Index of the element in the input tensor.
    analytical : float
        The value of :math:`(v^T J)_k` from the backward.
    numerical : float
        The same value from finite differences.
    abs_error : float
        :math:`|a - n|`.
    rel_error : float
        The relative error, with its floor.
    """

    input: str
    output: str
    index: tuple[int, ...]
    analytical: float
    numerical: float
    abs_error: float
    rel_error: float

    def __str__(self) -> str:
        return (
            f"{self.input} {_fmt_index(self.index)} wrt {self.output}: analytical "
            f"{self.analytical:.6g}, numerical {self.numerical:.6g} "
            f"(abs err {self.abs_error:.2e}, rel err {self.rel_error:.2e})"
        )


@dataclass(frozen=True)
class PairResult:
    """The comparison for one (input, output) pair.

    Attributes
    ----------
    input : str
        Name of the input.
    output : str
        Name of the output.
    shape : tuple of int
        Shape of the input.
    max_abs_error : float
        Largest :math:`|a_k - n_k|` over the elements that are not kinks.
    max_rel_error : float
        Largest relative error over the elements that are not kinks (in fast mode:
        the errors of the random projection :math:`u^T J^T v`).
    worst : WorstElement or None
        The element with the largest relative error (None in a passing fast check,
        which never forms the full Jacobian).
    n_off : int
        Elements whose relative error exceeds ``rtol`` and that are not kinks.
    n_elements : int
        Number of elements in the input.
    n_kinks : int
        Elements where the left and right one-sided differences disagree.
    verdict : str
        One of ``"exact to rounding"``, ``"good"``, ``"kink"``, ``"suspicious"``,
        ``"wrong"``.
    diagnosis : str or None
        The likely mistake, where the pattern is clear.
    """

    input: str
    output: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst: WorstElement | None
    n_off: int
    n_elements: int
    n_kinks: int
    verdict: str
    diagnosis: str | None = None

    @property
    def ok(self) -> bool:
        """True when no element is off (kinks do not count as off)."""
        return self.n_off == 0


@dataclass
class GradientReport:
    """What a gradient check found; ``str(report)`` is a short table.

    Attributes
    ----------
    pairs : list of PairResult
        One row per (input, output) pair.
    problems : list of str
        Findings that fail the check whatever the numbers say: inputs mutated in
        place, a non-deterministic forward or backward, a backward that does not vanish
        for a zero upstream gradient, a backward that raised, NaN or inf.
    method : str
        The finite-difference method.
    numerics : str
        The dtype the numerical side used, and whether it was upcast.
    rtol : float
        The relative tolerance.
    atol : str
        How the absolute floor was chosen.
    evaluation : str
        ``"vmap"`` (batched) or ``"loop"`` (one call per perturbation).
    fast : bool
        Whether the check used random projections only.
    notes : list of str
        Extra information (a fast check that fell back to the full Jacobian, ...).
    """

    pairs: list[PairResult]
    problems: list[str]
    method: str
    numerics: str
    rtol: float
    atol: str
    evaluation: str
    fast: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every pair is within tolerance and no problem was found."""
        return not self.problems and all(p.ok for p in self.pairs)

    @property
    def worst(self) -> WorstElement | None:
        """The element with the largest relative error over all pairs (None if none)."""
        found = [p.worst for p in self.pairs if p.worst is not None]
        if not found:
            return None
        return max(found, key=lambda w: _rank(w.rel_error))

    @property
    def bands(self) -> dict[str, float]:
        """Upper thresholds of the verdict bands, in relative error."""
        return _bands(self.rtol)

    def __repr__(self) -> str:
        worst = self.worst
        tail = f", worst={worst}" if worst is not None and not self.ok else ""
        return f"GradientReport(ok={self.ok}, pairs={len(self.pairs)}{tail})"

    def __str__(self) -> str:
        head = "gradient check PASSED" if self.ok else "gradient check FAILED"
        mode = "fast (random projections)" if self.fast else "full"
        lines = _wrap(
            f"{head}: {mode}, {self.method} differences, numerics in {self.numerics}, "
            f"evaluated by {self.evaluation}",
            indent="",
        )
        header = ("input", "output", "max abs err", "max rel err", "worst at", "analytical")
        header += ("numerical", "off", "verdict")
        rows = [header]
        for p in self.pairs:
            w = p.worst
            rows.append(
                (
                    p.input,
                    p.output,
                    f"{p.max_abs_error:.2e}",
                    f"{p.max_rel_error:.2e}",
                    _fmt_index(w.index) if w is not None else "-",
                    f"{w.analytical:.6g}" if w is not None else "-",
                    f"{w.numerical:.6g}" if w is not None else "-",
                    f"{p.n_off}/{p.n_elements}",
                    p.verdict,
                )
            )
        if len(rows) > 1:
            widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
            for r in rows:
                lines.append(
                    "  " + "  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)).rstrip()
                )
        for p in self.pairs:
            if p.diagnosis:
                lines += _wrap(f"diagnosis ({p.input}, {p.output}): {p.diagnosis}")
        for problem in self.problems:
            lines += _wrap(f"problem: {problem}")
        for note in self.notes:
            lines += _wrap(f"note: {note}")
        if not self.pairs:
            lines.append("  no comparison: the backward could not be evaluated")
            return "\n".join(lines)
        b = self.bands
        head = "  bands (relative error): "
        lines.append(
            f"{head}exact to rounding <= {b['exact to rounding']:.0e} < good <= {b['good']:.0e} "
            "(rtol)"
        )
        lines.append(" " * len(head) + f"< suspicious <= {b['suspicious']:.0e} < wrong")
        lines += _wrap(f"absolute floor: {self.atol}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# small helpers


def _wrap(text: str, indent: str = "  ") -> list[str]:
    """A report line, wrapped to _REPORT_WIDTH (readable on a docs page, no sideways scroll)."""
    return textwrap.wrap(
        text,
        width=_REPORT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _rank(x: float) -> float:
    return math.inf if math.isnan(x) else x


def _bands(rtol: float) -> dict[str, float]:
    return {
        "exact to rounding": rtol * 1e-3,
        "good": rtol,
        "suspicious": max(1e-2, 10 * rtol),
    }


def _fmt_index(index: tuple[int, ...]) -> str:
    if len(index) == 1:
        return f"[{index[0]}]"
    return "[" + ", ".join(str(k) for k in index) + "]"


def _unravel(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        flat_index, k = divmod(int(flat_index), size)
        index.append(k)
    return tuple(reversed(index))


def _generator(seed: int, stream: int = 0) -> torch.Generator:
    """A generator whose draws differ from ``torch.manual_seed(seed)``'s.

    Users often build their inputs right after ``torch.manual_seed(0)``; drawing the
    upstream gradient from the same stream would make it equal to an input (a symmetric
    ``v^T x`` hides a transposed gradient).
    """
    mixed = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019 + stream) % (1 << 63)
    return torch.Generator().manual_seed(mixed)


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def _as_tensor_tuple(inputs: object, name: str) -> tuple[tuple[torch.Tensor, ...], bool]:
    """Normalise a tensor or a sequence of tensors to a tuple; say if it was a sequence."""
    if isinstance(inputs, torch.Tensor):
        return (inputs,), False
    if isinstance(inputs, (tuple, list)):
        if not inputs:
            raise ValueError(f"{name} must hold at least one tensor, got an empty sequence")
        for k, x in enumerate(inputs):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"{name}[{k}] must be a torch.Tensor, got {type(x).__name__}")
        return tuple(inputs), True
    raise TypeError(f"{name} must be a tensor or a tuple of tensors, got {type(inputs).__name__}")


def _outputs_of(result: object) -> tuple[tuple[torch.Tensor, ...], bool]:
    """Normalise what fn returned to a tuple of tensors, with a clear error otherwise."""
    if isinstance(result, torch.Tensor):
        return (result,), False
    if result is None:
        raise TypeError("fn must return a tensor or a tuple of tensors, got None (missing return?)")
    if isinstance(result, (tuple, list)) and result:
        for k, y in enumerate(result):
            if not isinstance(y, torch.Tensor):
                raise TypeError(
                    f"fn must return a tensor or a tuple of tensors, got a "
                    f"{type(result).__name__} whose element {k} is a {type(y).__name__}"
                )
        return tuple(result), True
    raise TypeError(f"fn must return a tensor or a tuple of tensors, got {type(result).__name__}")


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise-equal values, with NaN equal to NaN."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return bool(torch.equal(a, b))


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    d = (a.double() - b.double()).abs()
    return float(d.nan_to_num(nan=math.inf).max()) if d.numel() else 0.0


def _validate_options(eps, atol, rtol, method, seed, fast) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a float or None, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0 or (name != "atol" and value == 0):
            sign = "non-negative" if name == "atol" else "positive"
            raise ValueError(f"{name} must be a finite {sign} float, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not isinstance(fast, bool):
        raise TypeError(f"fast must be a bool, got {type(fast).__name__}")


# ---------------------------------------------------------------------------------------
# batched evaluation of fn at perturbed inputs


class _Evaluator:
    """Evaluates ``fn`` at batches of perturbed inputs, with vmap when it can.

    The first batched call also evaluates the unperturbed inputs and compares them with
    a direct call: a function that vmap changes (or cannot run) falls back to a loop.
    """

    def __init__(self, fn: Callable, base: list[torch.Tensor], fresh_copies: bool) -> None:
        self.fn = fn
        self.base = base
        self.fresh_copies = fresh_copies  # fn mutates its inputs: give every call copies
        self.mode = "vmap"
        self.verified = False
        self.step_cache: dict[tuple, torch.Tensor] = {}
        with torch.no_grad():
            args = [a.clone() for a in base] if fresh_copies else base
            self.f0, self.out_tuple = _outputs_of(fn(*args))

    def _direct(self, args: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if self.fresh_copies:
            args = [a.clone() for a in args]
        return _outputs_of(self.fn(*args))[0]

    def _vmapped(self, batched: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        keys = list(batched)

        def call(*rows: torch.Tensor):
            args = list(self.base)
            for i, r in zip(keys, rows, strict=True):
                args[i] = r
            return self.fn(*args)

        with warnings.catch_warnings():
            # vmap warns when an op has no batching rule and it loops itself: still correct
            warnings.filterwarnings("ignore", message=".*performance drop.*")
            out = torch.func.vmap(call)(*batched.values())
        return _outputs_of(out)[0]

    def _looped(self, batched: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        n_rows = next(iter(batched.values())).shape[0]
        outs = []
        for r in range(n_rows):
            args = list(self.base)
            for i, rows in batched.items():
                args[i] = rows[r]
            outs.append(self._direct(args))
        return tuple(torch.stack([o[j] for o in outs]) for j in range(len(outs[0])))

    def small(self, batched: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Like calling the evaluator, for a few rows: plain calls cost less than vmap."""
        with torch.no_grad():
            return self._looped(batched)

    def __call__(self, batched: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Outputs of fn with ``batched[i]`` (B, *shape_i) in place of input i: (B, *out_j)."""
        with torch.no_grad():
            if self.mode == "vmap":
                try:
                    if self.verified:
                        return self._vmapped(batched)
                    with_base = {
                        i: torch.cat([self.base[i].unsqueeze(0), r]) for i, r in batched.items()
                    }
                    out = self._vmapped(with_base)
                    if not self._agrees(tuple(o[0] for o in out)):
                        raise RuntimeError("vmap changed the function's value")
                    self.verified = True
                    return tuple(o[1:] for o in out)
                except Exception:  # anything vmap cannot run falls back to plain calls
                    self.mode = "loop"
            return self._looped(batched)

    def _agrees(self, out: tuple[torch.Tensor, ...]) -> bool:
        if len(out) != len(self.f0):
            return False
        for y, y0 in zip(out, self.f0, strict=True):
            if y.shape != y0.shape or y.dtype != y0.dtype:
                return False
            if not (y0.is_floating_point() or y0.is_complex()):
                if not torch.equal(y, y0):
                    return False
                continue
            scale = float(y0.abs().nan_to_num(0.0, 0.0, 0.0).max()) if y0.numel() else 0.0
            tol = 64 * _eps(y0.real.dtype) * (y0.abs() + scale)
            close = ((y - y0).abs() <= tol) | (torch.isnan(y) & torch.isnan(y0)) | (y == y0)
            if not bool(close.all()):
                return False
        return True


def _steps(x: torch.Tensor, method: str, eps: float | None) -> torch.Tensor:
    """Step per element: eps, or eps_machine**p * max(1, |x|) rounded down to a power of 2."""
    real = x.real if x.is_complex() else x
    if eps is not None:
        return torch.full_like(real, float(eps))
    p = _STEP_POWER[method]
    # A power of two keeps x + h exact far more often, so the step taken is the step meant.
    e = torch.frexp(real.abs().clamp(min=1.0))[1] - 1  # floor(log2 max(1, |x|))
    return torch.ldexp(torch.ones_like(real), e + math.floor(p * math.log2(_eps(real.dtype))))


@dataclass
class _Numerics:
    """Per output, sums over the output's elements, for each perturbed unit k.

    Float64 NumPy arrays (the comparison slices them per input: cheaper than tensors).
    """

    n: np.ndarray  # (v^T J)_k numerically
    s_abs: np.ndarray  # sum_j |v_j J_jk|: the size of the terms before they cancel
    floor: np.ndarray  # error bound of n_k: stencil accuracy and rounding
    n_ones: np.ndarray  # (1^T J)_k: what a backward that ignores grad_output returns
    lo: np.ndarray  # smallest sum_j v_j D_jk over left/right one-sided derivatives (NaN: none)
    hi: np.ndarray  # largest one
    s_one_sided: np.ndarray

    def update(self, units: np.ndarray, other: _Numerics) -> None:
        """Replace the values at ``units`` by those of a finer pass over them."""
        for name in self.__dataclass_fields__:
            getattr(self, name)[units] = getattr(other, name)

    def part(self, start: int, stop: int) -> _Numerics:
        return _Numerics(**{k: getattr(self, k)[start:stop] for k in self.__dataclass_fields__})


@dataclass
class _Units:
    """The input elements to perturb, across inputs: unit u is element elem[u] of input
    inputs[pos[u]]."""

    inputs: list[int]
    pos: torch.Tensor  # (N,) position in ``inputs``
    elem: torch.Tensor  # (N,) flat index in that input

    @classmethod
    def all_of(cls, ev: _Evaluator, inputs: list[int]) -> _Units:
        sizes = [ev.base[i].numel() for i in inputs]
        pos = torch.repeat_interleave(torch.arange(len(inputs)), torch.tensor(sizes))
        elem = torch.cat([torch.arange(n) for n in sizes])
        return cls(inputs, pos, elem)

    def subset(self, which: torch.Tensor) -> _Units:
        return _Units(self.inputs, self.pos[which], self.elem[which])


def _numerical_pass(
    ev: _Evaluator,
    units: _Units,
    method: str,
    eps: float | None,
    vs: Sequence[torch.Tensor | None],
    *,
    jacobians: dict[tuple[int, int], torch.Tensor] | None = None,
    screen: bool = False,
) -> list[_Numerics | None]:
    """Run the perturbations of ``units`` through fn in batches and reduce the results.

    ``vs[j]`` is the upstream gradient for output j (None: skip that output). When
    ``jacobians`` is a dict, entry (j, i) is filled with the Jacobian of output j wrt
    input i, shape (out_numel, in_numel). With ``screen``, the forward differences get the
    error floor that central differences would have, so that a unit passes the screen
    only where central differences would pass it too.
    """
    flats = [ev.base[i].reshape(-1) for i in units.inputs]
    sizes = [f.numel() for f in flats]
    first = torch.tensor([0] + sizes).cumsum(0)
    where = first[units.pos] + units.elem  # (N,) position of each unit among all elements

    def steps_for(kind: str) -> torch.Tensor:
        key = (tuple(units.inputs), kind, eps)
        if key not in ev.step_cache:  # the screen and the refinement share the steps
            ev.step_cache[key] = _steps(torch.cat(flats), kind, eps)  # elementwise
        return ev.step_cache[key][where]

    x_all = torch.cat(flats)[where]  # (N,)
    h_all = steps_for(method)  # (N,)
    h_central = steps_for("central") if screen else None
    n_units = where.numel()
    offsets = _OFFSETS[method]
    m = len(offsets)
    f0 = [y.reshape(-1) for y in ev.f0]
    out_numel = sum(y.numel() for y in f0)
    num_dtype = x_all.real.dtype
    # the value after each step, (m, N): exactly what the perturbed rows hold
    if method == "complex":
        stepped = x_all + 1j * h_all.unsqueeze(0)
    else:
        stepped = x_all + torch.tensor(offsets, dtype=num_dtype).unsqueeze(1) * h_all
        for p, f in enumerate(flats):
            if f.dtype != num_dtype:  # mixed dtypes: round as the rows of input p will
                mine = units.pos == p
                stepped[:, mine] = stepped[:, mine].to(f.dtype).to(num_dtype)
    # units are sorted by input: input p owns units starts[p]:starts[p + 1]
    counts = torch.bincount(units.pos, minlength=len(units.inputs)).tolist()
    starts = [0]
    for n in counts:
        starts.append(starts[-1] + n)

    pieces: list[tuple[int, int]] = []
    if m * n_units <= _SMALL_BATCH:
        # few rows: one call with every input batched beats one call per input
        pieces.append((0, n_units))
    else:
        # one input per call: vmap over one batched input lets fn reuse whatever does not
        # depend on it (batching every input at once is several times slower for an MLP)
        for p in range(len(units.inputs)):
            if 0 < m * counts[p] <= _TINY_ROWS and pieces and pieces[-1][1] == starts[p]:
                # a few rows ride along with the previous call: cheaper than a call of their own
                pieces[-1] = (pieces[-1][0], starts[p + 1])
                continue
            # equal calls of at most _CALL_BUDGET numbers each
            n_calls = -(-m * counts[p] * max(1, sizes[p] + out_numel) // _CALL_BUDGET)
            chunk = max(1, -(-counts[p] // max(1, n_calls)))
            pieces += [
                (k, min(k + chunk, starts[p + 1])) for k in range(starts[p], starts[p + 1], chunk)
            ]

    results: list[list[dict[str, torch.Tensor]]] = [[] for _ in vs]  # fields of _Numerics
    pending: list[tuple[int, int, tuple[torch.Tensor, ...]]] = []
    pending_size = 0
    for a, b in pieces:
        c = b - a
        batched = {}
        for p, i in enumerate(units.inputs):
            lo, hi = max(a, starts[p]), min(b, starts[p + 1])
            if lo >= hi:
                continue
            # every row a copy of input i; row (o, u - a) perturbs unit u by offset o
            rows = flats[p].expand(m, c, sizes[p]).clone()  # (m, c, n_i)
            if method == "complex":
                rows = rows.to(torch.promote_types(num_dtype, torch.complex64))
            elem = units.elem[lo:hi].expand(m, hi - lo).unsqueeze(2)  # (m, hi - lo, 1)
            rows[:, lo - a : hi - a].scatter_(2, elem, stepped[:, lo:hi].unsqueeze(2))
            batched[i] = rows.reshape(m * c, *ev.base[i].shape)
        pending.append((a, b, ev(batched)))
        pending_size += m * c * max(1, out_numel)
        if pending_size >= _BATCH_BUDGET or b == n_units:
            # reduce the pieces so far together: a few large ops instead of many small ones
            _reduce(pending, units, starts, method, h_all, h_central, x_all, stepped, f0, vs,
                    results, jacobians)  # fmt: skip
            pending, pending_size = [], 0
    out: list[_Numerics | None] = []
    for j, v in enumerate(vs):
        if v is None:
            out.append(None)
        else:
            fields = _Numerics.__dataclass_fields__
            out.append(
                _Numerics(
                    **{k: torch.cat([r[k] for r in results[j]]).double().numpy() for k in fields}
                )
            )
    return out


def _reduce(
    pending, units, starts, method, h_all, h_central, x_all, stepped_all, f0, vs, results, jacobians
):
    """Difference quotients and their sums over output elements, for consecutive pieces."""
    a0, b1 = pending[0][0], pending[-1][1]
    c = b1 - a0
    m = len(_OFFSETS[method])
    h, xs = h_all[a0:b1], x_all[a0:b1]
    num_dtype = xs.real.dtype
    eps_num = _eps(num_dtype)
    screen = h_central is not None
    accuracy = 10 * eps_num ** _ACCURACY_POWER["central" if screen else method]
    stepped = stepped_all[:, a0:b1]  # (m, c)
    for j, (v, y0) in enumerate(zip(vs, f0, strict=True)):
        if v is None and jacobians is None:
            continue
        # the rows of offset o, over all pieces: (c, out_j) each
        ys = [
            torch.cat(
                [
                    p[2][j].reshape(m * (p[1] - p[0]), -1)[
                        o * (p[1] - p[0]) : (o + 1) * (p[1] - p[0])
                    ]
                    for p in pending
                ]
            )  # fmt: skip
            for o in range(m)
        ]
        vf = None if v is None else v.reshape(-1).to(y0.real.dtype)  # (out_j,)
        av = None if v is None else vf.abs()
        Dp = Dm = None
        if method == "complex":
            # Im f(x + i h e_k) / h: no subtraction, so no cancellation error
            D = ys[0].imag / h[:, None]  # (c, out_j)
            bound = None if v is None else eps_num * (ys[0].abs() @ av)
        elif method == "forward":
            dx = stepped[0] - xs  # the step actually taken, (c,)
            D = (ys[0] - y0) / dx[:, None]
            if v is None:
                bound = None
            elif screen:  # the rounding central differences would have
                bound = eps_num * float(y0.abs() @ av) / h_central[a0:b1]
            else:
                bound = eps_num * (ys[0].abs() @ av + float(y0.abs() @ av)) / dx.abs()
        else:
            five = method == "five_point"
            yp, ym = (ys[1], ys[2]) if five else (ys[0], ys[1])
            dp = (stepped[1] if five else stepped[0]) - xs  # the steps actually taken, (c,)
            dm = xs - (stepped[2] if five else stepped[1])
            if five:  # rows are +2h, +h, -h, -2h
                D = (-ys[0] + 8 * yp - 8 * ym + ys[3]) / (12 * h[:, None])
            else:
                D = (yp - ym) / (dp + dm)[:, None]
            Dp = (yp - y0) / dp[:, None]
            Dm = (y0 - ym) / dm[:, None]
            weight = 1.5 if five else 1.0  # sum of |stencil coefficients| * h / 2
            bound = (
                None
                if v is None
                else weight * eps_num * (yp.abs() @ av + ym.abs() @ av) / (dp + dm).abs()
            )
        if jacobians is not None:
            for p, i in enumerate(units.inputs):
                lo, hi = max(a0, starts[p]), min(b1, starts[p + 1])
                if lo < hi:
                    jacobians[(j, i)][:, units.elem[lo:hi]] = D[lo - a0 : hi - a0].T
        if v is None:
            continue
        s_abs = D.abs() @ av
        if Dp is not None:
            A, B = Dp * vf, Dm * vf  # (c, out_j)
            lo_, hi_ = torch.minimum(A, B).sum(1), torch.maximum(A, B).sum(1)
            s1 = (0.5 * (Dp.abs() + Dm.abs())) @ av
        else:
            lo_ = hi_ = s1 = torch.full((c,), math.nan, dtype=D.dtype)
        results[j].append(
            {
                "n": D @ vf,
                "s_abs": s_abs,
                "floor": accuracy * s_abs + 4 * bound,
                "n_ones": D.sum(1),
                "lo": lo_,
                "hi": hi_,
                "s_one_sided": s1,
            }
        )


# ---------------------------------------------------------------------------------------
# numerical_jacobian


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
        not it requires grad); the numbers are computed in the inputs' own dtype.
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
    _validate_options(eps, None, None, method, 0, False)
    tensors, inputs_tuple = _as_tensor_tuple(inputs, "inputs")
    base = [t.detach() for t in tensors]
    if method == "complex":
        base = [t.to(torch.promote_types(t.dtype, torch.complex64)) if t.is_floating_point()
                else t for t in base]  # fmt: skip
    ev = _Evaluator(fn, base, fresh_copies=True)
    outs, out_tuple = ev.f0, ev.out_tuple
    floating = [i for i, t in enumerate(tensors) if t.is_floating_point()]
    jac = {
        (j, i): torch.zeros(y.numel(), tensors[i].numel(), dtype=y.real.dtype)
        for j, y in enumerate(outs)
        for i in floating
    }
    if floating:
        _numerical_pass(ev, _Units.all_of(ev, floating), method, eps, [None] * len(outs),
                        jacobians=jac)  # fmt: skip
    per_input: list[list[torch.Tensor] | None] = [
        [jac[(j, i)].reshape(*y.shape, *t.shape).to(t.dtype) for j, y in enumerate(outs)]
        if i in floating
        else None
        for i, t in enumerate(tensors)
    ]
    table = [
        tuple(None if p is None else p[j] for p in per_input) for j in range(len(outs))
    ]  # [output][input]
    if not out_tuple:
        return table[0] if inputs_tuple else table[0][0]
    if not inputs_tuple:
        return tuple(row[0] for row in table)
    return tuple(table)


# ---------------------------------------------------------------------------------------
# the comparison


@dataclass
class _Errors:
    """The element-wise comparison, as NumPy arrays (fast for small vectors).

    The inputs lie one after another; :meth:`part` cuts out one input's elements.
    """

    a: np.ndarray  # analytical, flat float64
    n: np.ndarray  # numerical
    err: np.ndarray  # |a - n| (inf where either is not finite)
    rel: np.ndarray  # relative error with the floor
    tiny: np.ndarray  # the floor tau_k
    noise: np.ndarray  # absolute error bound of the comparison
    atol: np.ndarray  # the absolute tolerance of the element's input

    def part(self, start: int, stop: int) -> _Errors:
        return _Errors(**{k: getattr(self, k)[start:stop] for k in self.__dataclass_fields__})


def _errors(
    a: np.ndarray,
    num: _Numerics,
    bounds: Sequence[int],
    an_dtypes: Sequence[torch.dtype],
    rtol: float,
    atol: float | None,
) -> _Errors:
    """Relative errors |a - n| / max(|a|, |n|, tau) with the floor tau per element.

    ``a`` (float64) and ``num`` hold every input's elements: input p owns
    ``bounds[p]:bounds[p + 1]``, and its analytical gradient has dtype ``an_dtypes[p]``.
    """
    n = num.n
    sizes = np.diff(bounds)
    with np.errstate(all="ignore"):
        finite = np.isfinite(a) & np.isfinite(n)
        both = np.maximum(np.abs(a), np.abs(n))
        finite_both = np.where(finite, both, 0.0)
        # the largest finite value of each input's gradient, per element
        spans = zip(bounds[:-1], bounds[1:], strict=True)
        scale = np.repeat([finite_both[a0:a1].max(initial=0.0) for a0, a1 in spans], sizes)
        eps_an = np.repeat([_eps(d) for d in an_dtypes], sizes)
        # the floor below which a value counts as zero: atol, the rounding of the analytical
        # side, and the accuracy of the numerical one, relative to the terms of v^T J before
        # they cancel (a sum of large terms that nearly cancel is only known to that precision)
        noise = 16 * eps_an * num.s_abs + num.floor
        if atol is None:
            fraction = np.repeat([_ATOL_FRACTION.get(d, 1e-1) for d in an_dtypes], sizes)
            atol_eff = fraction * rtol * scale
        else:
            atol_eff = np.full(a.shape, float(atol))
        tiny = np.maximum((atol_eff + noise) / rtol, np.finfo(np.float64).tiny)
        err = np.abs(a - n)
        rel = err / np.maximum(both, tiny)
    return _Errors(a, n, np.where(finite, err, np.inf), np.where(finite, rel, np.inf), tiny,
                   noise, atol_eff)  # fmt: skip


def _pair_result(
    errors: _Errors,
    num: _Numerics,
    *,
    name_in: str,
    name_out: str,
    shape: tuple[int, ...],
    rtol: float,
    random_v: bool,
) -> PairResult:
    """Verdict, worst element and diagnosis for one (input, output) pair."""
    a, n, err, rel, tiny = errors.a, errors.n, errors.err, errors.rel, errors.tiny
    off = rel > rtol
    lo, hi = num.lo, num.hi
    with np.errstate(all="ignore"):
        # a kink: the left and right one-sided differences disagree by much more than the
        # curvature of a smooth function could make them, and the analytical value lies
        # between them
        spread = hi - lo
        kink_like = np.isfinite(spread) & (
            spread > _KINK_SPREAD * num.s_one_sided + errors.noise + errors.atol
        )
        slack = rtol * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), tiny)
        kinks = kink_like & (a >= lo - slack) & (a <= hi + slack) & np.isfinite(a)
    wrong = off & ~kinks
    n_off = int(wrong.sum())
    n_kinks = int(kinks.sum())

    smooth = ~kinks
    if smooth.any():
        k = int(np.argmax(np.where(smooth, rel, -1.0)))
        worst = WorstElement(
            input=name_in,
            output=name_out,
            index=_unravel(k, shape),
            analytical=float(a[k]),
            numerical=float(n[k]),
            abs_error=float(err[k]),
            rel_error=float(rel[k]),
        )
        max_abs = float(np.where(smooth, err, 0.0).max())
        max_rel = float(np.where(smooth, rel, 0.0).max())
    else:
        worst, max_abs, max_rel = None, 0.0, 0.0

    bands = _bands(rtol)
    if n_off:
        verdict = "wrong" if max_rel > bands["suspicious"] else "suspicious"
    elif n_kinks:
        verdict = "kink"
    elif max_rel <= bands["exact to rounding"]:
        verdict = "exact to rounding"
    else:
        verdict = "good"

    diagnosis = None
    if n_off:
        with np.errstate(all="ignore"):
            diagnosis = _diagnose(a, n, num.n_ones, wrong, tiny, rtol, shape, random_v)
    elif n_kinks:
        k = int(np.flatnonzero(kinks)[0])
        diagnosis = (
            f"kink at {n_kinks} element(s), first at {_fmt_index(_unravel(k, shape))}: the "
            f"one-sided differences give {float(lo[k]):.4g} and {float(hi[k]):.4g}, "
            f"the analytical {float(a[k]):.4g} lies between them: a non-differentiable point "
            "(relu, abs, max at a tie), not a wrong gradient"
        )
    return PairResult(
        input=name_in,
        output=name_out,
        shape=shape,
        max_abs_error=max_abs,
        max_rel_error=max_rel,
        worst=worst,
        n_off=n_off,
        n_elements=a.size,
        n_kinks=n_kinks,
        verdict=verdict,
        diagnosis=diagnosis,
    )


def _matches(b: np.ndarray, n: np.ndarray, tiny: np.ndarray, rtol: float) -> bool:
    """True when ``b`` agrees with ``n`` everywhere, with the comparison's floor."""
    rel = np.abs(b - n) / np.maximum(np.maximum(np.abs(b), np.abs(n)), tiny)
    return bool((rel <= max(rtol, 1e-6)).all())


def _diagnose(
    a: np.ndarray,
    n: np.ndarray,
    n_ones: np.ndarray,
    wrong: np.ndarray,
    tiny: np.ndarray,
    rtol: float,
    shape: tuple[int, ...],
    random_v: bool,
) -> str:
    """The likely mistake behind a failing pair, from the pattern of the errors."""
    total = a.size
    bad_a = ~np.isfinite(a)
    if bad_a.any():
        k = int(np.flatnonzero(bad_a)[0])
        return (
            f"the analytical gradient has {int(bad_a.sum())} NaN/inf value(s), first at "
            f"{_fmt_index(_unravel(k, shape))} (numerical {float(n[k]):.4g})"
        )
    bad_n = ~np.isfinite(n)
    if bad_n.any():
        k = int(np.flatnonzero(bad_n)[0])
        return (
            f"the numerical gradient has NaN/inf at {_fmt_index(_unravel(k, shape))}: fn is "
            "not finite near the inputs (a step crosses a singularity?)"
        )
    significant = np.abs(n) > 10 * tiny
    if (a == 0).all() and significant.any():
        return (
            "the analytical gradient is all zero: the backward returns zeros (or None) for "
            "this input, or the input is detached inside fn"
        )
    if significant.any():
        c = float(np.median(a[significant] / n[significant]))
        if c != 0 and _matches(a, c * n, tiny, 1e-3):
            return _ratio_text(c)
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
        if _matches(a.reshape(shape).T.reshape(-1), n, tiny, rtol):
            return "the analytical gradient is the transpose of the numerical one"
    if total > 2:
        for s in (1, -1):
            if _matches(np.roll(a, s), n, tiny, rtol):
                return (
                    f"the analytical gradient is the numerical one shifted by {-s} element "
                    "(an off-by-one index?)"
                )
    if random_v and _matches(a, n_ones, tiny, rtol):
        return "the backward ignores grad_output: it equals the gradient for grad_output = ones"
    n_wrong = int(wrong.sum())
    if n_wrong <= max(1, total // 10) and n_wrong < total:
        where = [_fmt_index(_unravel(int(k), shape)) for k in np.flatnonzero(wrong)[:5]]
        more = ", ..." if n_wrong > 5 else ""
        return f"error confined to {n_wrong} of {total} elements: {', '.join(where)}{more}"
    return (
        f"{n_wrong} of {total} elements off with no simple pattern (a missing term, e.g. "
        "of the product rule, or a wrong formula)"
    )


def _ratio_text(c: float) -> str:
    if abs(c + 1) < 1e-3:
        return "sign flip: analytical = -1 x numerical (a minus sign lost or added)"
    for k in range(2, 1025):
        for sign, word in ((1, ""), (-1, "-")):
            if abs(c - sign * k) < 1e-3 * k:
                return f"constant ratio: analytical = {word}{k} x numerical (a factor {k} off)"
            if abs(c - sign / k) < 1e-3 / k:
                extra = " (a mean where a sum belongs?)" if k > 2 else ""
                return (
                    f"constant ratio: analytical = {word}1/{k} x numerical (a factor {k} "
                    f"missing){extra}"
                )
    return f"constant ratio: analytical = {c:.4g} x numerical"


# ---------------------------------------------------------------------------------------
# check_gradients


@dataclass
class _Analytical:
    outputs: tuple[torch.Tensor, ...]
    checked: list[int]  # indices of the outputs that are compared
    vs: list[torch.Tensor | None]  # upstream gradient per output (None: not checked)
    per_output: dict[int, tuple[torch.Tensor, ...]]  # output j -> grads per diff input
    problems: list[str]


def _analytical_pass(
    fn: Callable,
    tensors: tuple[torch.Tensor, ...],
    diff: list[int],
    names: list[str],
    grad_outputs: object,
    seed: int,
) -> _Analytical:
    originals = [t.detach().clone() for t in tensors]
    work = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors]
    with torch.enable_grad():
        outputs, _ = _outputs_of(fn(*work))
    problems: list[str] = []
    checked = []
    for j, y in enumerate(outputs):
        if y.is_complex():
            raise TypeError(f"fn returned a complex output {j}; only real outputs are supported")
        if not y.is_floating_point():
            continue  # integer outputs (indices, counts) carry no gradient
        if not y.requires_grad:
            raise ValueError(
                f"output {j} of fn does not depend on any input that requires grad "
                "(computed from constants, or detached inside fn)"
            )
        checked.append(j)
    if not checked:
        raise ValueError("fn returned no floating-point output to check")
    for i, (w, o) in enumerate(zip(work, originals, strict=True)):
        if not _same(w.detach(), o):
            problems.append(
                f"fn mutated {names[i]} in place (max change {_max_diff(w.detach(), o):.3g})"
            )
    # what the backward must leave unchanged (the originals, unless the forward mutated them)
    after_forward = [w.detach().clone() for w in work] if problems else originals

    vs: list[torch.Tensor | None] = [None] * len(outputs)
    if grad_outputs is None:
        gen = _generator(seed)
        for j in checked:
            y = outputs[j]
            # drawn in float64 then cast, so the same seed gives the same v in every dtype
            vs[j] = torch.randn(y.shape, generator=gen, dtype=torch.float64).to(y.dtype)
    else:
        given, _ = _as_tensor_tuple(grad_outputs, "grad_outputs")
        if len(given) != len(outputs):
            raise ValueError(
                f"grad_outputs must hold one tensor per output of fn ({len(outputs)}), "
                f"got {len(given)}"
            )
        for j, (g, y) in enumerate(zip(given, outputs, strict=True)):
            if g.shape != y.shape:
                raise ValueError(
                    f"grad_outputs[{j}] must have the shape of output {j}, {tuple(y.shape)}, "
                    f"got {tuple(g.shape)}"
                )
            if j in checked:
                vs[j] = g.detach().to(y.dtype)

    xs = [work[i] for i in diff]
    ys = [outputs[j] for j in checked]
    v_list = [vs[j] for j in checked]

    def vjp(targets, grads):
        got = torch.autograd.grad(targets, xs, grads, retain_graph=True, allow_unused=True)
        return tuple(
            torch.zeros_like(x) if g is None else g.detach() for g, x in zip(got, xs, strict=True)
        )

    def mutated_by_backward() -> None:
        for i, (w, before) in enumerate(zip(work, after_forward, strict=True)):
            text = f"the backward mutated {names[i]} in place"
            if not _same(w.detach(), before) and not any(p.startswith(text) for p in problems):
                problems.append(f"{text} (max change {_max_diff(w.detach(), before):.3g})")

    def raised(err: RuntimeError) -> None:
        text = str(err).split("\n")[0]
        hint = ""
        if "invalid gradient" in text and "shape" in text:
            hint = " (the backward returned a gradient of the wrong shape: a transpose?)"
        problems.append(f"the backward raised RuntimeError: {text}{hint}")

    per_output: dict[int, tuple[torch.Tensor, ...]] = {}
    try:
        first = vjp(ys, v_list)
    except RuntimeError as err:
        raised(err)
        return _Analytical(outputs, checked, vs, {}, problems)
    mutated_by_backward()
    try:
        second = vjp(ys, v_list)
        zero = vjp(ys, [torch.zeros_like(v) for v in v_list])
        if len(checked) > 1:
            for j in checked:
                per_output[j] = vjp(outputs[j], vs[j])
    except RuntimeError as err:  # e.g. a saved tensor the first backward modified
        mutated_by_backward()
        raised(err)
        if len(checked) > 1:
            return _Analytical(outputs, checked, vs, {}, problems)
        second = zero = None
    if len(checked) == 1:
        per_output[checked[0]] = first

    for pos, i in enumerate(diff):
        if second is not None and not _same(first[pos], second[pos]):
            problems.append(
                f"the backward is not deterministic: two calls with the same grad_outputs "
                f"differ by up to {_max_diff(first[pos], second[pos]):.3g} for {names[i]}"
            )
        if zero is not None and bool(zero[pos].any()):  # any nonzero (NaN included)
            problems.append(
                f"a zero grad_output gave a nonzero gradient for {names[i]} (max |g| = "
                f"{float(zero[pos].abs().nan_to_num(nan=math.inf).max()):.3g}): the backward "
                "has a term that does not scale with grad_output (or ignores it)"
            )
    mutated_by_backward()
    for j in checked:
        if not bool(torch.isfinite(outputs[j]).all()):
            problems.append(f"output {j} of fn has NaN/inf at the given inputs")
    return _Analytical(outputs, checked, vs, per_output, problems)


def _choose_numerics(
    fn: Callable,
    tensors: tuple[torch.Tensor, ...],
    diff: list[int],
    an: _Analytical,
    method: str,
    fresh_copies: bool,
) -> tuple[_Evaluator, str, list[str]]:
    """Evaluate the numerical side in float64 when fn allows it, else in the input dtype."""
    problems: list[str] = []
    native = [t.detach() for t in tensors]
    low = sorted({str(tensors[i].dtype).replace("torch.", "") for i in diff})
    wide = torch.complex128 if method == "complex" else torch.float64
    needs_upcast = any(tensors[i].dtype != torch.float64 for i in diff)

    def convert(ts, dtype):
        return [t.to(dtype) if t.is_floating_point() else t for t in ts]

    if needs_upcast:
        try:
            ev = _Evaluator(fn, convert(native, wide), fresh_copies)
            if _consistent(ev.f0, an, wide):
                return ev, f"float64 (upcast from {', '.join(low)})", problems
        except Exception:  # fn does not run in float64 (a float32 constant inside, ...)
            pass
    if method == "complex":
        cdtype = {torch.float64: torch.complex128}.get(tensors[diff[0]].dtype, torch.complex64)
        try:
            ev = _Evaluator(fn, convert(native, cdtype), fresh_copies)
        except Exception as err:
            raise ValueError(
                "method='complex' needs fn to accept complex inputs (an analytic function); "
                f"calling it with complex inputs raised {type(err).__name__}: {err}"
            ) from err
        if not all(ev.f0[j].is_complex() for j in an.checked):
            raise ValueError(
                "method='complex' needs fn to return complex outputs for complex inputs "
                "(fn takes .real or abs somewhere?)"
            )
        return ev, f"{str(cdtype).replace('torch.', '')} (complex step)", problems
    ev = _Evaluator(fn, native, fresh_copies)
    for j in an.checked:
        if not _same(ev.f0[j], an.outputs[j].detach()):
            problems.append(
                f"fn is not deterministic: two calls at the same inputs give output {j} "
                f"values that differ by up to {_max_diff(ev.f0[j], an.outputs[j].detach()):.3g}"
            )
            break
    kind = ", ".join(low) if needs_upcast else "float64"
    note = " (fn does not run in float64; step and tolerance chosen for the dtype)"
    return ev, kind + (note if needs_upcast else ""), problems


def _consistent(f0: tuple[torch.Tensor, ...], an: _Analytical, wide: torch.dtype) -> bool:
    """The float64 outputs are those of the original dtype, up to its rounding."""
    if len(f0) != len(an.outputs):
        return False
    for j in an.checked:
        y, ref = f0[j], an.outputs[j].detach()
        if y.dtype != wide or y.shape != ref.shape:
            return False
        y = y.real if y.is_complex() else y
        scale = float(y.abs().nan_to_num(0.0, 0.0, 0.0).max()) if y.numel() else 0.0
        tol = 256 * _eps(ref.dtype) * (y.abs() + scale)
        diff = (y - ref.to(y.dtype)).abs()
        if not bool(((diff <= tol) | (torch.isnan(y) & torch.isnan(ref))).all()):
            return False
    return True


def _default_rtol(diff_dtypes: Sequence[torch.dtype], num_dtype: torch.dtype, method: str):
    worst_an = max(_RTOL_ANALYTICAL.get(d, 1e-1) for d in diff_dtypes)
    if num_dtype in (torch.float64, torch.complex128):
        numeric = _RTOL_NUMERICAL[method]
    else:
        # the numerics run in a narrow dtype: the stencil reaches eps**accuracy at best
        numeric = 30 * _eps(num_dtype) ** _ACCURACY_POWER[method]
    return max(worst_an, numeric)


def _check(
    fn: Callable,
    inputs: object,
    *,
    grad_outputs: object,
    eps: float | None,
    atol: float | None,
    rtol: float | None,
    method: str,
    fast: bool,
    seed: int,
    names: list[str] | None = None,
) -> GradientReport:
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _validate_options(eps, atol, rtol, method, seed, fast)
    tensors, _ = _as_tensor_tuple(inputs, "inputs")
    for k, t in enumerate(tensors):
        if t.requires_grad and not t.is_floating_point():
            raise TypeError(
                f"inputs[{k}] requires grad but has dtype {t.dtype}; only floating-point "
                "tensors can be checked"
            )
    diff = [k for k, t in enumerate(tensors) if t.requires_grad]
    if not diff:
        integer = [k for k, t in enumerate(tensors) if not t.is_floating_point()]
        hint = (
            f" (inputs {integer} are integer or bool: convert them with .double() first)"
            if integer
            else ""
        )
        raise ValueError(
            "no input requires grad: mark the tensors to check with requires_grad=True" + hint
        )
    names = names or [f"input {k}" for k in range(len(tensors))]

    an = _analytical_pass(fn, tensors, diff, names, grad_outputs, seed)
    problems = list(an.problems)
    out_names = {j: ("output" if len(an.outputs) == 1 else f"output {j}") for j in an.checked}
    mutates = any("mutated" in p for p in problems)
    if not an.per_output:  # the backward raised: nothing to compare
        return GradientReport([], problems, method, "-", rtol or 0.0, "-", "-", fast)

    ev, numerics, more = _choose_numerics(fn, tensors, diff, an, method, mutates)
    problems += more
    num_dtype = ev.base[diff[0]].real.dtype
    diff_dtypes = [tensors[i].dtype for i in diff]
    rtol_eff = rtol if rtol is not None else _default_rtol(diff_dtypes, num_dtype, method)
    atol_text = (
        f"{atol:g}" if atol is not None else "rtol x fraction of the largest gradient + rounding"
    )
    random_v = grad_outputs is None
    vs_num = [None if v is None else v.to(num_dtype) for v in an.vs]
    notes: list[str] = []

    if fast:
        fast_pairs = _fast_pairs(ev, an, diff, names, out_names, method, eps, rtol_eff, seed)
        if all(p.ok for p in fast_pairs):
            return GradientReport(
                fast_pairs, problems, method, numerics, rtol_eff, atol_text, ev.mode, True
            )
        notes.append("the fast check failed; the full Jacobian was formed to find the worst")

    # For float64 numerics with the default step, a forward-difference screen (one call per
    # element) accepts the elements it can vouch for at central-difference tolerance; the
    # rest are re-evaluated with central differences (two calls each, and kink detection).
    screen = method == "central" and eps is None and num_dtype == torch.float64
    units = _Units.all_of(ev, diff)
    bounds = [0] + torch.tensor([tensors[i].numel() for i in diff]).cumsum(0).tolist()
    stats = _numerical_pass(ev, units, "forward" if screen else method, eps, vs_num, screen=screen)

    an_flat = {
        j: torch.cat([g.reshape(-1).double() for g in an.per_output[j]]).numpy() for j in an.checked
    }  # output j -> (sum of input numels,)

    def errors_of(j: int) -> _Errors:
        return _errors(an_flat[j], stats[j], bounds, diff_dtypes, rtol_eff, atol)

    errors = {j: errors_of(j) for j in an.checked}
    n_refined = 0
    if screen:
        # an element is suspect when it is off for any output
        suspect = np.any([errors[j].rel > rtol_eff for j in an.checked], axis=0)
        which = np.flatnonzero(suspect)
        n_refined = which.size
        if n_refined:
            finer = _numerical_pass(
                ev, units.subset(torch.from_numpy(which)), "central", None, vs_num
            )
            for j in an.checked:
                stats[j].update(which, finer[j])
                errors[j] = errors_of(j)
    pairs: list[PairResult] = []
    for pos, i in enumerate(diff):
        for j in an.checked:
            start, stop = bounds[pos], bounds[pos + 1]
            pairs.append(
                _pair_result(
                    errors[j].part(start, stop),
                    stats[j].part(start, stop),
                    name_in=names[i],
                    name_out=out_names[j],
                    shape=tuple(tensors[i].shape),
                    rtol=rtol_eff,
                    random_v=random_v,
                )
            )
    if screen:
        notes.append(
            f"forward-difference screen; {n_refined} element(s) re-checked with central differences"
        )
    return GradientReport(
        pairs, problems, method, numerics, rtol_eff, atol_text, ev.mode, fast, notes
    )


def _fast_pairs(ev, an, diff, names, out_names, method, eps, rtol, seed) -> list[PairResult]:
    """Compare u^T (J^T v) with v^T (J u) for one random direction u per input."""
    gen = _generator(seed, stream=1)
    method_fd = "central" if method == "complex" else method
    pairs = []
    for pos, i in enumerate(diff):
        x = ev.base[i]
        xr = x.real if x.is_complex() else x
        u = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(xr.dtype)
        u = u / u.abs().max().clamp(min=1e-300)
        h = eps if eps is not None else float(_steps(xr.abs().max(), method_fd, None))
        if x.is_complex():
            ys = ev.small({i: torch.stack([x + 1j * h * u])})
            d = [y[0].imag / h for y in ys]
        else:
            offs = _OFFSETS[method_fd]
            ys = ev.small({i: torch.stack([x + o * h * u for o in offs])})  # (m, *out_j)
            if method_fd == "central":
                d = [(y[0] - y[1]) / (2 * h) for y in ys]
            elif method_fd == "forward":
                d = [(y[0] - y0) / h for y, y0 in zip(ys, ev.f0, strict=True)]
            else:
                d = [(-y[0] + 8 * y[1] - 8 * y[2] + y[3]) / (12 * h) for y in ys]
        for j in an.checked:
            g = an.per_output[j][pos].double()
            a_val = float((g * u.double()).sum())
            v = an.vs[j].double()
            dj = d[j].double()
            n_val = float((v * dj).sum())
            s_abs = float((g * u.double()).abs().sum() + (v * dj).abs().sum())
            eps_n = _eps(xr.dtype)
            noise = (
                16 * _eps(an.outputs[j].dtype) * s_abs
                + 10 * eps_n ** _ACCURACY_POWER[method_fd] * s_abs
                + 4 * eps_n * float((v.abs() * ev.f0[j].abs().double()).sum()) / h
            )
            both = max(abs(a_val), abs(n_val))
            tiny = max(noise / rtol, 1e-300)
            err = abs(a_val - n_val)
            rel = err / max(both, tiny) if math.isfinite(err) else math.inf
            off = not rel <= rtol
            verdict = (
                "good"
                if not off
                else ("wrong" if rel > _bands(rtol)["suspicious"] else "suspicious")
            )
            if not off and rel <= _bands(rtol)["exact to rounding"]:
                verdict = "exact to rounding"
            pairs.append(
                PairResult(
                    input=names[i],
                    output=out_names[j],
                    shape=tuple(x.shape),
                    max_abs_error=err,
                    max_rel_error=rel,
                    worst=None,
                    n_off=int(off),
                    n_elements=x.numel(),
                    n_kinks=0,
                    verdict=verdict,
                )
            )
    return pairs


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
    return _check(
        fn,
        inputs,
        grad_outputs=grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        method=method,
        fast=fast,
        seed=seed,
    )


def assert_gradients(
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
    """Like :func:`check_gradients`, but raise :class:`GradientCheckError` on failure.

    Returns the report when the check passes. The exception's message is the
    report's table, and the report is kept as ``error.report``.

    Raises
    ------
    GradientCheckError
        When ``report.ok`` is False.
    """
    report = check_gradients(
        fn,
        inputs,
        grad_outputs=grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        method=method,
        fast=fast,
        seed=seed,
    )
    if not report.ok:
        raise GradientCheckError(report)
    return report


def check_module(
    module: torch.nn.Module,
    *inputs: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    method: str = "central",
    fast: bool = False,
    seed: int = 0,
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
    eps, atol, rtol, method, fast, seed
        As in :func:`check_gradients`.

    Returns
    -------
    GradientReport
        Pairs are named by parameter name (``"0.weight"``) and ``"input k"``.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable or None, got {type(loss_fn).__name__}")
    for k, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"inputs[{k}] must be a torch.Tensor, got {type(x).__name__}")
    params = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    buffers = list(module.named_buffers())
    n_p, n_b = len(params), len(buffers)
    if n_p == 0 and not any(x.requires_grad for x in inputs):
        raise ValueError("module has no parameter that requires grad, and no input requires it")

    def loss(*flat: torch.Tensor) -> torch.Tensor:
        state = {name: t for (name, _), t in zip(params + buffers, flat[: n_p + n_b], strict=True)}
        out = torch.func.functional_call(module, state, tuple(flat[n_p + n_b :]))
        value = out.sum() if loss_fn is None else loss_fn(out)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"loss_fn must return a scalar tensor, got {got}")
        return value

    flat_inputs = (
        [p.detach().clone().requires_grad_(True) for _, p in params]
        + [b.detach().clone() for _, b in buffers]
        + list(inputs)
    )
    names = (
        [name for name, _ in params]
        + [f"buffer {name}" for name, _ in buffers]
        + [f"input {k}" for k in range(len(inputs))]
    )
    return _check(
        loss,
        tuple(flat_inputs),
        grad_outputs=None,
        eps=eps,
        atol=atol,
        rtol=rtol,
        method=method,
        fast=fast,
        seed=seed,
        names=names,
    )
