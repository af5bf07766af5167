"""What a gradient check returns: the report and its text table.

Holds :class:`GradientCheckError`, :class:`WorstElement`, :class:`PairResult`,
:class:`GradientReport` (``str(report)`` is the table), the verdict bands, and the
index formatting the report's text shares with the diagnoses.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

__all__ = ["GradientCheckError", "GradientReport", "PairResult", "WorstElement"]
__all__ += ["bands", "ensure_ok", "fmt_index"]  # shared with the diagnoses and the API

# The report's text lines wrap at this width, and the table of a one-output check fits
# in it: a docs page (about 80 monospace columns) shows them without a sideways scroll.
_REPORT_WIDTH = 79
_HEADER = ("input", "output", "rel err", "at", "analytical", "numerical", "off", "verdict")


def bands(rtol: float) -> dict[str, float]:
    """Upper thresholds of the verdict bands, in relative error."""
    return {"exact": rtol * 1e-3, "good": rtol, "suspicious": max(1e-2, 10 * rtol)}


def fmt_index(index: tuple[int, ...]) -> str:
    """``(2, 1)`` as ``[2, 1]``."""
    return "[" + ", ".join(str(k) for k in index) + "]"


def _wrap(text: str, pad: str = "  ") -> list[str]:
    return textwrap.wrap(text, _REPORT_WIDTH, initial_indent=pad, subsequent_indent=pad + "  ")


class GradientCheckError(AssertionError):
    """Raised by :func:`assert_gradients`; the message is the report's table.

    The :class:`GradientReport` itself is kept as ``.report``.
    """

    def __init__(self, report: GradientReport) -> None:
        super().__init__(str(report))
        self.report = report

    def __reduce__(self):
        # an exception pickles its message by default; keep the report instead
        return (type(self), (self.report,))


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
        at = f"{self.input} {fmt_index(self.index)} wrt {self.output}"
        values = f"analytical {self.analytical:.6g}, numerical {self.numerical:.6g}"
        return f"{at}: {values} (abs err {self.abs_error:.2e}, rel err {self.rel_error:.2e})"


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
        One of ``"exact"`` (to rounding), ``"good"``, ``"kink"``, ``"suspicious"``,
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
    problems : list
        Findings that fail the check whatever the numbers say: inputs mutated in
        place, a non-deterministic forward or backward, a backward that does not vanish
        for a zero upstream gradient, a backward that raised, NaN or inf. Each has a
        ``kind`` and prints as a sentence.
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
    order : int
        1 for a check of the gradient, 2 for a check of the gradient's gradient
        (:func:`~gradbook.gradcheck.check_gradgrad`).
    """

    pairs: list[PairResult]
    problems: list
    method: str
    numerics: str
    rtol: float
    atol: str
    evaluation: str
    fast: bool = False
    notes: list[str] = field(default_factory=list)
    order: int = 1

    @property
    def ok(self) -> bool:
        """True when every pair is within tolerance and no problem was found."""
        return not self.problems and all(p.ok for p in self.pairs)

    @property
    def worst(self) -> WorstElement | None:
        """The element with the largest relative error over all pairs (None if none)."""
        found = [p.worst for p in self.pairs if p.worst is not None]
        # NaN ranks above every number: a NaN error is the worst there is
        return max(found, key=lambda w: (math.isnan(w.rel_error), w.rel_error), default=None)

    @property
    def bands(self) -> dict[str, float]:
        """Upper thresholds of the verdict bands, in relative error."""
        return bands(self.rtol)

    def __repr__(self) -> str:
        tail = f", worst={self.worst}" if self.worst is not None and not self.ok else ""
        return f"GradientReport(ok={self.ok}, pairs={len(self.pairs)}{tail})"

    def __str__(self) -> str:
        head = "gradient check" if self.order == 1 else "second-order gradient check"
        mode = "fast (random projections)" if self.fast else "full"
        head = f"{head} {'PASSED' if self.ok else 'FAILED'}: {mode}, {self.method} differences"
        lines = _wrap(head, pad="")
        if self.pairs:
            lines += _wrap(f"numerics in {self.numerics}, evaluated by {self.evaluation}")
        lines += _table(self.pairs)
        texts = [f"worst: {self.worst} (rtol {self.rtol:g})"] if self.worst and not self.ok else []
        diagnosed = [p for p in self.pairs if p.diagnosis]
        texts += [f"diagnosis ({p.input}, {p.output}): {p.diagnosis}" for p in diagnosed]
        texts += [f"problem: {x}" for x in self.problems] + [f"note: {x}" for x in self.notes]
        lines += [line for text in texts for line in _wrap(text)]
        if not self.pairs:
            what = "evaluated" if self.order == 1 else "differentiated"
            return "\n".join(lines + [f"  no comparison: the backward could not be {what}"])
        exact, good, suspicious = self.bands.values()
        lines.append(f"  bands (relative error): exact <= {exact:.0e} < good <= {good:.0e} (rtol)")
        lines.append(f"    < suspicious <= {suspicious:.0e} < wrong")
        return "\n".join(lines + _wrap(f"absolute floor: {self.atol}"))


def _table(pairs: list[PairResult]) -> list[str]:
    """One row per pair, columns padded to their widest entry."""
    rows = [_HEADER]
    for p in pairs:
        w = p.worst
        at = (fmt_index(w.index), f"{w.analytical:.5g}", f"{w.numerical:.5g}") if w else ("-",) * 3
        error = f"{p.max_rel_error:.2e}"
        rows.append((p.input, p.output, error, *at, f"{p.n_off}/{p.n_elements}", p.verdict))
    widths = [max(len(r[c]) for r in rows) for c in range(len(_HEADER))]
    lines = ["  " + "  ".join(s.ljust(w) for s, w in zip(r, widths, strict=True)) for r in rows]
    return [line.rstrip() for line in lines] if pairs else []


def ensure_ok(report: GradientReport) -> GradientReport:
    """The report, or :class:`GradientCheckError` holding it when the check failed (the
    ``assert_*`` functions)."""
    if not report.ok:
        raise GradientCheckError(report)
    return report
