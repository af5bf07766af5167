r"""Comparison and diagnosis: analytical against numerical, element by element.

Holds:

- :class:`Problem`: a finding that fails a check whatever the numbers say, with a
  ``kind`` from ``PROBLEM_KINDS`` (what code looks at) and a sentence (what people read);
- :func:`compare`: one (input, output) pair, from the analytical values and the
  :class:`~gradbook.gradcheck._numerics.Numerical` results, to a
  :class:`~gradbook.gradcheck._report.PairResult`: the relative errors

  .. math::

      r_k = \frac{|a_k - n_k|}{\max(|a_k|, |n_k|, \tau_k)}

  with a floor :math:`\tau_k` below which a value counts as zero (:func:`relative_errors`),
  kinks (non-differentiable points), the verdict band, and the likely mistake
  (:func:`diagnose`);
- :func:`unravel`: a flat element's index in its tensor.

The comparison knows nothing of how either side was computed, so a second-order check can
reuse it with the gradient of a vector-Jacobian product on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ._numerics import Numerical
from ._report import PairResult, WorstElement, bands, fmt_index

__all__ = ["PROBLEM_KINDS", "Errors", "Problem", "compare", "compare_tensors", "diagnose"]
__all__ += ["relative_errors"]

# What went wrong: fn or its backward changed an input in place; two calls disagree; a zero
# grad_output gave a nonzero gradient; ...; the backward is once_differentiable or detached.
PROBLEM_KINDS = ("mutated input", "non-deterministic forward", "non-deterministic backward",
                 "zero upstream", "backward raised", "non-finite output",
                 "not twice differentiable")  # fmt: skip
# Elements whose gradient is below this fraction of the pair's largest value are compared
# in absolute terms (at rtol times this fraction of the largest value).
_ATOL_FRACTION = {torch.float64: 1e-3, torch.float32: 1e-2, torch.float16: 5e-2}
# A one-sided-difference spread above this fraction of sum_j |v_j J_jk| is a kink.
_KINK_SPREAD = 0.1


@dataclass(frozen=True)
class Problem:
    """A finding that fails the check; ``str(problem)`` is its sentence."""

    kind: str  # one of PROBLEM_KINDS
    text: str

    def __post_init__(self) -> None:
        if self.kind not in PROBLEM_KINDS:
            raise ValueError(f"kind must be one of {PROBLEM_KINDS}, got {self.kind!r}")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Errors:
    """The element-wise comparison of one pair (float64 NumPy arrays)."""

    a: np.ndarray  # analytical
    n: np.ndarray  # numerical
    err: np.ndarray  # |a - n| (inf where either is not finite)
    rel: np.ndarray  # relative error with the floor
    tiny: np.ndarray  # the floor tau_k
    noise: np.ndarray  # absolute error bound of the comparison
    atol: np.ndarray  # the absolute tolerance


def relative_errors(a: np.ndarray, num: Numerical, an_dtype, rtol: float, atol) -> Errors:
    """|a - n| / max(|a|, |n|, tau) with the floor tau per element."""
    n = num.value
    with np.errstate(all="ignore"):
        finite = np.isfinite(a) & np.isfinite(n)
        both = np.maximum(np.abs(a), np.abs(n))
        # the floor holds atol, the rounding of the analytical side and the accuracy of the
        # numerical one, relative to the terms of v^T J before they cancel (a sum of large
        # terms that nearly cancel is only known to that precision)
        noise = 16 * torch.finfo(an_dtype).eps * num.scale + num.floor
        if atol is None:
            atol = _ATOL_FRACTION.get(an_dtype, 1e-1) * rtol * np.where(finite, both, 0).max()
        tiny = np.maximum((atol + noise) / rtol, np.finfo(np.float64).tiny)
        err = np.where(finite, np.abs(a - n), np.inf)
        rel = np.where(finite, err / np.maximum(both, tiny), np.inf)
    return Errors(a, n, err, rel, tiny, noise, np.full(a.shape, float(atol)))


def _kinks(e: Errors, num: Numerical, rtol: float) -> np.ndarray:
    """Where the left and right one-sided differences disagree by much more than the
    curvature of a smooth function could make them, and the analytical value lies between."""
    lo, hi = num.lo, num.hi
    if np.isnan(lo).all():  # no one-sided differences (forward ones, the fast check): no kink
        return np.zeros(lo.shape, dtype=bool)
    with np.errstate(all="ignore"):
        spread = hi - lo  # sum_j |v_j| |D_right_j - D_left_j|, as a share of the one-sided sizes
        kink_like = spread > _KINK_SPREAD * (num.scale + spread / 2) + e.noise + e.atol
        # where the gradient is 0 the one-sided differences of a smooth function differ by
        # the curvature times the step: a kink there must show a jump of the pair's size,
        # or be the reason the element is off (x**2 at 0 is no kink; relu at 0 is)
        largest = np.where(np.isfinite(num.scale), num.scale, 0).max(initial=0.0)
        jump = (spread > _KINK_SPREAD * largest) | (e.rel > rtol)
        slack = rtol * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), e.tiny)
        between = (e.a >= lo - slack) & (e.a <= hi + slack)
        return kink_like & jump & between & np.isfinite(e.a)


def unravel(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index in a tensor of ``shape`` of its flat element k."""
    return tuple(int(i) for i in np.unravel_index(k, shape))


def _verdict(max_rel: float, n_off: int, n_kinks: int, rtol: float) -> str:
    exact, _, suspicious = bands(rtol).values()
    if n_off:
        return "wrong" if max_rel > suspicious else "suspicious"
    return "kink" if n_kinks else ("exact" if max_rel <= exact else "good")


def compare(a, num: Numerical, *, an_dtype, rtol, atol, names, shape, random_v) -> PairResult:
    """Verdict, worst element and diagnosis for one (input, output) pair.

    ``a`` is the analytical :math:`v^T J` (flat, float64) in dtype ``an_dtype``, ``num``
    the finite differences of the same elements, ``names`` (input, output), ``shape`` the
    input's shape, ``random_v`` whether v was drawn at random (not given).
    """
    e = relative_errors(a, num, an_dtype, rtol, atol)
    kinks = _kinks(e, num, rtol)
    wrong = (e.rel > rtol) & ~kinks
    n_off, n_kinks = int(wrong.sum()), int(kinks.sum())
    worst, max_abs, max_rel, diagnosis = None, 0.0, 0.0, None
    if not kinks.all():
        k = int(np.argmax(np.where(kinks, -1.0, e.rel)))
        values = (float(t[k]) for t in (a, e.n, e.err, e.rel))
        worst = WorstElement(*names, unravel(k, shape), *values)
        max_abs, max_rel = float(e.err[~kinks].max()), float(e.rel[~kinks].max())
    if n_off:
        diagnosis = diagnose(e, num.ones, wrong, rtol, shape, random_v)
    elif n_kinks:
        k = int(np.flatnonzero(kinks)[0])
        sides = f"the one-sided differences give {num.lo[k]:.4g} and {num.hi[k]:.4g}"
        why = "a non-differentiable point (relu, abs, max at a tie), not a wrong gradient"
        first = f"kink at {n_kinks} element(s), first at {fmt_index(unravel(k, shape))}"
        diagnosis = f"{first}: {sides}, the analytical {a[k]:.4g} lies between them: {why}"
    verdict = _verdict(max_rel, n_off, n_kinks, rtol)
    counts = (n_off, a.size, n_kinks)
    return PairResult(*names, shape, max_abs, max_rel, worst, *counts, verdict, diagnosis)


def _matches(b: np.ndarray, n: np.ndarray, tiny: np.ndarray, rtol: float) -> bool:
    """True when ``b`` agrees with ``n`` everywhere, with the comparison's floor."""
    rel = np.abs(b - n) / np.maximum(np.maximum(np.abs(b), np.abs(n)), tiny)
    return bool((rel <= max(rtol, 1e-6)).all())


@np.errstate(all="ignore")
def diagnose(e: Errors, ones: np.ndarray, wrong: np.ndarray, rtol, shape, random_v) -> str:
    """The likely mistake behind a failing pair, from the pattern of the errors.

    ``ones`` is the numerical gradient for an all-ones upstream gradient.
    """
    a, n, tiny, total = e.a, e.n, e.tiny, e.a.size
    if not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a))
        where = f"first at {fmt_index(unravel(bad[0], shape))} (numerical {n[bad[0]]:.4g})"
        return f"the analytical gradient has {bad.size} NaN/inf value(s), {where}"
    if not np.isfinite(n).all():
        where = fmt_index(unravel(np.flatnonzero(~np.isfinite(n))[0], shape))
        why = "fn is not finite near the inputs (a step crosses a singularity?)"
        return f"the numerical gradient has NaN/inf at {where}: {why}"
    significant = np.abs(n) > 10 * tiny
    if (a == 0).all() and significant.any():
        why = "the backward returns zeros (or None) for this input, or the input is detached"
        return f"the analytical gradient is all zero: {why} inside fn"
    if significant.any():
        c = float(np.median(a[significant] / n[significant]))
        if c != 0 and _matches(a, c * n, tiny, 1e-3):
            return _ratio_text(c)
    if len(shape) == 2 and shape[0] == shape[1] > 1:
        if _matches(a.reshape(shape).T.reshape(-1), n, tiny, rtol):
            return "the analytical gradient is the transpose of the numerical one"
    for s in (1, -1) if total > 2 else ():
        if _matches(np.roll(a, s), n, tiny, rtol):
            shift = f"the numerical one shifted by {-s} element"
            return f"the analytical gradient is {shift} (an off-by-one index?)"
    if random_v and _matches(a, ones, tiny, rtol):
        return "the backward ignores grad_output: it equals the gradient for grad_output = ones"
    n_wrong = int(wrong.sum())
    if n_wrong <= max(1, total // 10) and n_wrong < total:
        where = [fmt_index(unravel(int(k), shape)) for k in np.flatnonzero(wrong)[:5]]
        more = ", ..." if n_wrong > 5 else ""
        return f"error confined to {n_wrong} of {total} elements: {', '.join(where)}{more}"
    why = "(a missing term, e.g. of the product rule, or a wrong formula)"
    return f"{n_wrong} of {total} elements off with no simple pattern {why}"


def _ratio_text(c: float) -> str:
    """The words for analytical = c x numerical: a sign, a whole factor, or 1 / a factor."""
    if abs(c + 1) < 1e-3:
        return "sign flip: analytical = -1 x numerical (a minus sign lost or added)"
    sign = "-" if c < 0 else ""
    k = round(abs(c))
    if 2 <= k <= 1024 and abs(abs(c) - k) < 1e-3 * k:
        return f"constant ratio: analytical = {sign}{k} x numerical (a factor {k} off)"
    k = round(1 / abs(c))
    if 2 <= k <= 1024 and abs(abs(c) - 1 / k) < 1e-3 / k:
        extra = " (a mean where a sum belongs?)" if k > 2 else ""
        return f"constant ratio: analytical = {sign}1/{k} x numerical (a factor {k} missing){extra}"
    return f"constant ratio: analytical = {c:.4g} x numerical"


def compare_tensors(got, expected, *, rtol: float | None = None, name: str = "answer"):
    """Compare a tensor with a reference, element by element, with the diagnoses of a
    gradient check (a constant factor, a sign flip, a transpose, a shift, an error
    confined to a few elements) worded for the two tensors.

    Returns a :class:`~gradbook.gradcheck.PairResult`: ``.ok``, ``.verdict``, ``.worst``
    and ``.diagnosis``. ``rtol`` defaults to the check's tolerance for the dtype of
    ``got`` (1e-6 for float64, 1e-3 for float32). The shapes must match.
    """
    if tuple(got.shape) != tuple(expected.shape):
        raise ValueError(f"got has shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    dtype = got.dtype if got.is_floating_point() else torch.float64
    rtol = rtol if rtol is not None else {torch.float64: 1e-6}.get(dtype, 1e-3)
    a, ref = (t.detach().reshape(-1).double().cpu().numpy() for t in (got, expected))
    nan = np.full(ref.shape, np.nan)
    num = Numerical(ref, np.abs(ref), np.zeros_like(ref), nan, nan, nan)
    pair = compare(a, num, an_dtype=dtype, rtol=rtol, atol=None, names=(name, "reference"),
                   shape=tuple(got.shape), random_v=False)  # fmt: skip
    if pair.diagnosis:  # the check's words, for two tensors
        text = pair.diagnosis.replace("the analytical gradient", "your answer")
        for old, new in (("the numerical one", "the reference"), ("analytical", "answer")):
            text = text.replace(old, new)
        pair = replace(pair, diagnosis=text.replace("numerical", "reference"))
    return pair
