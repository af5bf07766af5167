"""Tests for gradbook.gradcheck: a zoo of wrong backwards, correct functions, kinks, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbook.gradcheck import (
    GradientCheckError,
    GradientReport,
    assert_gradients,
    check_gradients,
    check_module,
    numerical_jacobian,
)

F64 = torch.float64


def rand(*shape, seed=0, dtype=F64, grad=True):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype).requires_grad_(grad)


def text_of(report) -> str:
    """The report's text with its line wrapping undone, for phrase searches."""
    return " ".join(str(report).split())


# ---------------------------------------------------------------------------------------
# The zoo: each a torch.autograd.Function whose backward has one kind of mistake.


class DoubledSin(torch.autograd.Function):
    """sin with a backward twice too large."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x.cos()


class SignFlippedCos(torch.autograd.Function):
    """cos whose backward lost the minus sign."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.cos()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.sin()


class TransposedMatmul(torch.autograd.Function):
    """x @ W.T (W square) whose grad for W is transposed."""

    @staticmethod
    def forward(ctx, x, W):
        ctx.save_for_backward(x, W)
        return x @ W.T

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        return g @ W, (g.T @ x).T


class TransposedRectMatmul(TransposedMatmul):
    """The same bug with a rectangular W: autograd itself rejects the shape."""


class IgnoresGradOutput(torch.autograd.Function):
    """exp whose backward forgets to multiply by grad_output."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y


class ZeroGrad(torch.autograd.Function):
    """x**2 with a backward that returns zeros."""

    @staticmethod
    def forward(ctx, x):
        return x**2

    @staticmethod
    def backward(ctx, g):
        return torch.zeros_like(g)


class NoneForSecond(torch.autograd.Function):
    """x * y whose backward returns None for y."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, None


class ShiftedGrad(torch.autograd.Function):
    """x**3 whose gradient is shifted by one element (an off-by-one index)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return torch.roll(3 * x**2 * g, 1)


class OneElementWrong(torch.autograd.Function):
    """tanh whose gradient is wrong at one element."""

    @staticmethod
    def forward(ctx, x):
        y = x.tanh()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        grad = g * (1 - y**2)
        grad.view(-1)[3] += 0.5
        return grad


class WrongForSecondInput(torch.autograd.Function):
    """x * y**2 whose grad for y uses x*y instead of 2*x*y."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y**2

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y**2, g * x * y


class MissingProductTerm(torch.autograd.Function):
    """x * sin(x) with the product rule's sin(x) term missing."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * x.cos()


class MutatesInputForward(torch.autograd.Function):
    """2x that scales its input in place in forward."""

    @staticmethod
    def forward(ctx, x):
        x.mul_(1.5)
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return 2 * g


class MutatesInputBackward(torch.autograd.Function):
    """x**2 whose backward zeroes the saved input in place after using it."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        grad = 2 * g * x
        x.zero_()
        return grad


class NoisyBackward(torch.autograd.Function):
    """sin whose backward adds tiny random noise: non-deterministic."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos() + 1e-13 * torch.rand_like(x)


class NaNBackward(torch.autograd.Function):
    """x**2 whose backward divides 0 by 0 at x = 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x**2 / x


class ConstantTerm(torch.autograd.Function):
    """3x whose backward adds a constant that does not scale with grad_output."""

    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        return 3 * g + 1e-3


class MeanInsteadOfSum(torch.autograd.Function):
    """x + b (b broadcast over rows) whose grad for b is a mean over rows, not a sum."""

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g.mean(0)


class SigmoidUsesInput(torch.autograd.Function):
    """sigmoid whose backward uses x where the output y belongs."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sigmoid()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * (1 - x)


class SwappedGrads(torch.autograd.Function):
    """x * y**2 whose backward returns the two gradients in swapped order."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y**2

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * 2 * x * y, g * y**2


class Stateful(torch.autograd.Function):
    """sin whose backward drifts with every call (a counter kept across calls)."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        Stateful.calls += 1
        return g * x.cos() * (1 + 1e-9 * Stateful.calls)


def x0_with_zero():
    x = rand(3, 4, seed=3).detach()
    x.view(-1)[5] = 0.0
    return x.requires_grad_()


# name -> (fn, inputs factory, words expected in the report)
ZOO = {
    "factor 2": (DoubledSin.apply, lambda: (rand(3, 4),), "2 x numerical"),
    "sign flip": (SignFlippedCos.apply, lambda: (rand(3, 4),), "sign flip"),
    "transpose": (TransposedMatmul.apply, lambda: (rand(5, 4), rand(4, 4, seed=1)), "transpose"),
    "transpose, rectangular": (
        TransposedRectMatmul.apply,
        lambda: (rand(5, 3), rand(4, 3, seed=1)),
        "wrong shape",
    ),
    "ignores grad_output": (IgnoresGradOutput.apply, lambda: (rand(3, 4),), "ignores grad_output"),
    "zero": (ZeroGrad.apply, lambda: (rand(3, 4),), "all zero"),
    "None for one input": (
        NoneForSecond.apply,
        lambda: (rand(3, 4), rand(3, 4, seed=1)),
        "all zero",
    ),
    "off by one": (ShiftedGrad.apply, lambda: (rand(10),), "shifted by"),
    "one element": (OneElementWrong.apply, lambda: (rand(4, 5),), "confined to 1 of 20"),
    "wrong for second input": (
        WrongForSecondInput.apply,
        lambda: (rand(3, 4), rand(3, 4, seed=1)),
        "1/2 x numerical",
    ),
    "missing product term": (MissingProductTerm.apply, lambda: (rand(3, 4),), "no simple pattern"),
    "mutates input in forward": (MutatesInputForward.apply, lambda: (rand(3, 4),), "mutated"),
    "mutates input in backward": (MutatesInputBackward.apply, lambda: (rand(3, 4),), "mutated"),
    "non-deterministic": (NoisyBackward.apply, lambda: (rand(3, 4),), "not deterministic"),
    "NaN": (NaNBackward.apply, lambda: (x0_with_zero(),), "NaN"),
    "constant term": (ConstantTerm.apply, lambda: (rand(3, 4),), "zero grad_output"),
    "mean instead of sum": (
        MeanInsteadOfSum.apply,
        lambda: (rand(6, 4), rand(4, seed=1)),
        "1/6 x numerical",
    ),
    "uses input not output": (SigmoidUsesInput.apply, lambda: (rand(3, 4),), "off"),
    "swapped grads": (SwappedGrads.apply, lambda: (rand(3, 4), rand(3, 4, seed=1)), "off"),
    "stateful": (Stateful.apply, lambda: (rand(3, 4),), "not deterministic"),
}


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_bug_is_caught(name):
    """Every wrong backward in the zoo fails the check, and the report says what it is."""
    fn, make, words = ZOO[name]
    report = check_gradients(fn, make())
    assert not report.ok
    assert words in text_of(report), str(report)


@pytest.mark.parametrize("name", ["factor 2", "sign flip", "one element", "wrong for second input"])
def test_zoo_bug_is_caught_in_float32(name):
    """The same bugs are caught with float32 inputs, and the report says what they are."""
    fn, make, words = ZOO[name]
    inputs = tuple(t.detach().float().requires_grad_() for t in make())
    report = check_gradients(fn, inputs)
    assert not report.ok
    assert words in text_of(report), str(report)


@pytest.mark.parametrize("name", ["factor 2", "transpose", "one element", "ignores grad_output"])
def test_fast_mode_catches_and_falls_back(name):
    """fast=True catches the bug, then forms the full Jacobian to point at the worst."""
    fn, make, words = ZOO[name]
    report = check_gradients(fn, make(), fast=True)
    assert not report.ok
    assert report.worst is not None
    assert any("fast check failed" in n for n in report.notes)
    assert words in text_of(report)


def test_torch_misses_what_ones_upstream_hides():
    """A backward ignoring grad_output is invisible to a scalar loss; random v catches it."""
    x = rand(5)
    assert not check_gradients(lambda t: IgnoresGradOutput.apply(t) * 3.0, (x,)).ok


# ---------------------------------------------------------------------------------------
# correct functions: no false alarms


def mlp(x, W1, b1, W2, b2):
    return torch.tanh(x @ W1.T + b1) @ W2.T + b2


class CorrectSin(torch.autograd.Function):
    """A correct hand-written backward (vmap cannot run it: the loop path)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos()


CORRECT = {
    "tanh(x W^T)": (lambda x, W: torch.tanh(x @ W.T), [(8, 6), (5, 6)]),
    "mlp": (mlp, [(16, 8), (32, 8), (32,), (4, 32), (4,)]),
    "sigmoid": (torch.sigmoid, [(4, 5)]),
    "softmax": (lambda x: torch.softmax(x, dim=-1), [(4, 7)]),
    "log_softmax": (lambda x: torch.log_softmax(x, dim=-1), [(4, 7)]),
    "logsumexp": (lambda x: torch.logsumexp(x, dim=0), [(6, 3)]),
    "product and quotient": (lambda x, y: x * y / (1 + y**2), [(3, 4), (3, 4)]),
    "exp and log": (lambda x: torch.log1p(torch.exp(x)), [(10,)]),
    "layer norm": (lambda x: torch.nn.functional.layer_norm(x, (6,)), [(4, 6)]),
    "cumsum and pow": (lambda x: torch.cumsum(x, 0) ** 2, [(9,)]),
    "two outputs": (lambda x, y: (x @ y, (x * 2).sum()), [(3, 4), (4, 2)]),
    "custom Function": (CorrectSin.apply, [(3, 4)]),
    "mse loss": (lambda x, t: ((x - t) ** 2).mean(), [(5, 3), (5, 3)]),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_function_passes(name, dtype):
    """Correct functions pass in float64 and float32: no false alarms."""
    fn, shapes = CORRECT[name]
    inputs = tuple(rand(*s, seed=k, dtype=dtype) for k, s in enumerate(shapes))
    report = check_gradients(fn, inputs)
    assert report.ok, str(report)
    if dtype == torch.float32:
        assert "float64 (upcast from float32)" in report.numerics


def test_float32_tanh_layer_where_torch_false_alarms():
    """A correct float32 tanh(x W^T) passes here, where torch.autograd.gradcheck fails it."""
    x, W = rand(6, 4, dtype=torch.float32), rand(6, 4, seed=1, dtype=torch.float32)
    fn = CORRECT["tanh(x W^T)"][0]
    assert check_gradients(fn, (x, W)).ok
    with pytest.warns(UserWarning, match="double precision"):
        assert not torch.autograd.gradcheck(fn, (x, W), raise_exception=False)


def test_float32_without_float64_numerics():
    """A function with a float32 constant inside cannot be upcast: float32 numerics pass."""
    W = rand(4, 6, seed=1, dtype=torch.float32, grad=False)
    x = rand(3, 6, dtype=torch.float32)
    report = check_gradients(lambda t: torch.tanh(t @ W.T), x)
    assert report.ok, str(report)
    assert "does not run in float64" in report.numerics
    assert not check_gradients(lambda t: DoubledSin.apply(t @ W.T), x).ok


def test_float16_correct_and_wrong():
    """float16: a correct function passes and a factor-2 bug fails."""
    x = rand(4, 5, dtype=torch.float16)
    assert check_gradients(torch.tanh, x).ok
    assert not check_gradients(DoubledSin.apply, x).ok


@pytest.mark.parametrize("method", ["central", "forward", "five_point", "complex"])
def test_every_method_passes_correct_and_fails_wrong(method):
    """Each stencil passes a correct function and catches a factor-2 bug."""
    x, W = rand(5, 4), rand(3, 4, seed=1)
    assert check_gradients(lambda a, b: torch.tanh(a @ b.T), (x, W), method=method).ok
    assert not check_gradients(DoubledSin.apply, x, method=method).ok


def test_complex_step_needs_complex_friendly_fn():
    """method='complex' on a function that drops the imaginary part is a clear ValueError."""
    with pytest.raises(ValueError, match="complex"):
        check_gradients(lambda t: t.abs() ** 2, rand(3), method="complex")


def test_fast_mode_passes_correct_mlp():
    """fast=True passes a correct MLP without forming the full Jacobian."""
    shapes = CORRECT["mlp"][1]
    inputs = tuple(rand(*s, seed=k) for k, s in enumerate(shapes))
    report = check_gradients(mlp, inputs, fast=True)
    assert report.ok and report.fast
    assert report.worst is None


# ---------------------------------------------------------------------------------------
# kinks


@pytest.mark.parametrize("fn", [torch.relu, torch.abs, lambda t: torch.clamp(t, max=0.0)])
def test_kink_is_reported_as_kink(fn):
    """relu / abs / clamp(max=0) at exactly 0 are kinks, not wrong gradients."""
    x = torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=F64, requires_grad=True)
    report = check_gradients(fn, x)
    assert report.ok, str(report)
    assert report.pairs[0].verdict == "kink"
    assert report.pairs[0].n_kinks == 1
    assert "kink" in str(report) and "[1]" in str(report)


def test_one_sided_kink_gradient_passes():
    """clamp(min=0) at 0 takes the right-hand derivative: a valid choice, so it passes."""
    x = torch.tensor([-1.0, 0.0, 0.5], dtype=F64, requires_grad=True)
    report = check_gradients(lambda t: torch.clamp(t, min=0.0), x)
    assert report.ok and report.pairs[0].n_off == 0


def test_max_tie_is_a_kink():
    """torch.maximum at a tie is a kink for both inputs."""
    a = torch.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True)
    b = torch.tensor([0.0, 2.0, 4.0], dtype=F64, requires_grad=True)
    report = check_gradients(torch.maximum, (a, b))
    assert report.ok
    assert [p.n_kinks for p in report.pairs] == [1, 1]


def test_wrong_gradient_at_kink_input_is_still_wrong():
    """A doubled gradient beside a kink is still reported wrong."""
    x = torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=F64, requires_grad=True)
    report = check_gradients(lambda t: DoubledSin.apply(torch.relu(t)), x)
    assert not report.ok


# ---------------------------------------------------------------------------------------
# the report


def test_report_contents_for_factor_two():
    """The report names the input, the worst element, both values and the factor."""
    x = rand(3, 4)
    report = check_gradients(DoubledSin.apply, x)
    worst = report.worst
    pair = report.pairs[0]
    assert worst.input == "input 0"
    a, n = worst.analytical, worst.numerical
    assert a == pytest.approx(2 * n, rel=1e-6)
    assert worst.rel_error == pytest.approx(0.5, rel=1e-6)
    assert pair.n_off == 12 and pair.n_elements == 12
    assert pair.verdict == "wrong"
    assert "2 x numerical" in pair.diagnosis
    text = str(report)
    assert "FAILED" in text and "input 0" in text and f"{a:.5g}" in text
    assert "suspicious" in text and "1e-06" in text  # the band thresholds are printed
    assert "GradientReport(ok=False" in repr(report)


@pytest.mark.parametrize(
    "make_report",
    [
        pytest.param(lambda: check_gradients(DoubledSin.apply, rand(3, 4)), id="wrong"),
        pytest.param(
            lambda: check_gradients(torch.relu, torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)),
            id="float32 kink",
        ),
        pytest.param(
            lambda: check_gradients(lambda t: t * (1 + 1e-3 * torch.rand(())), rand(5)),
            id="problem",
        ),
    ],
)
def test_report_lines_fit_a_docs_page(make_report):
    """No line of the report is wider than 100 characters; the bands and floor are printed."""
    text = str(make_report())
    assert max(len(line) for line in text.splitlines()) <= 100, text
    assert any(line.strip().startswith("bands (relative error)") for line in text.splitlines())
    assert "< suspicious <= 1e-02 < wrong" in text
    assert "absolute floor:" in text


def test_report_points_at_the_wrong_input_only():
    """With two inputs, only the pair of the wrong one fails."""
    fn, make, _ = ZOO["wrong for second input"]
    report = check_gradients(fn, make())
    assert [p.ok for p in report.pairs] == [True, False]
    assert report.worst.input == "input 1"


def test_one_element_report_has_its_index():
    """An error confined to one element points at that element."""
    report = check_gradients(OneElementWrong.apply, rand(4, 5))
    assert report.worst.index == (0, 3)
    assert report.pairs[0].n_off == 1


def test_passing_report_band():
    """A correct float64 check is 'exact' (to rounding) or 'good', never worse."""
    report = check_gradients(torch.sin, rand(6))
    assert report.ok
    assert report.pairs[0].verdict in ("exact", "good")
    assert report.pairs[0].max_rel_error <= report.rtol


def test_assert_gradients_raises_with_report():
    """assert_gradients raises GradientCheckError whose message is the report."""
    with pytest.raises(GradientCheckError) as info:
        assert_gradients(DoubledSin.apply, rand(3))
    assert isinstance(info.value.report, GradientReport)
    assert str(info.value) == str(info.value.report)
    assert assert_gradients(torch.sin, rand(3)).ok


def test_inputs_are_not_modified():
    """The check works on copies: the caller's tensors keep their values and no .grad."""
    x = rand(3, 4)
    before = x.detach().clone()
    check_gradients(MutatesInputForward.apply, x)
    assert torch.equal(x.detach(), before) and x.grad is None


def test_user_grad_outputs_are_used():
    """With all-ones grad_outputs the comparison cannot see an ignored grad_output; the
    zero-upstream check still does."""
    x = rand(4)
    ones = torch.ones(4, dtype=F64)
    report = check_gradients(IgnoresGradOutput.apply, x, grad_outputs=ones)
    assert report.pairs[0].ok  # exp' = exp: with v = 1 the values agree
    assert not report.ok
    assert "zero grad_output" in text_of(report)
    assert check_gradients(torch.exp, x, grad_outputs=ones).ok


def test_nan_in_forward_is_a_problem():
    """A forward that is not finite at the inputs fails with a problem line."""
    x = torch.tensor([1.0, -1.0], dtype=F64, requires_grad=True)
    report = check_gradients(torch.sqrt, x)
    assert not report.ok
    assert "NaN" in str(report)


def test_non_deterministic_forward():
    """A random forward is reported as not deterministic."""
    x = rand(5)
    report = check_gradients(lambda t: t * (1 + 1e-3 * torch.rand(())), x)
    assert not report.ok
    assert "not deterministic" in text_of(report)


def test_integer_outputs_are_ignored():
    """Integer outputs (like indices from max) are skipped."""
    x = rand(3, 4)
    report = check_gradients(lambda t: torch.max(t, dim=1), x)
    assert report.ok and len(report.pairs) == 1


# ---------------------------------------------------------------------------------------
# numerical_jacobian


def test_numerical_jacobian_matches_autograd():
    """numerical_jacobian agrees with torch.autograd.functional.jacobian, laid out the same."""
    x, W = rand(3, 4, grad=False), rand(2, 4, seed=1, grad=False)

    def fn(a, b):
        return torch.tanh(a @ b.T)

    expected = torch.autograd.functional.jacobian(fn, (x, W))
    for method in ("central", "five_point", "complex", "forward"):
        got = numerical_jacobian(fn, (x, W), method=method)
        tol = 1e-6 if method == "forward" else 1e-9
        for e, g in zip(expected, got, strict=True):
            assert g.shape == e.shape
            torch.testing.assert_close(g, e, rtol=tol, atol=tol)
    single = numerical_jacobian(torch.sin, x)
    assert single.shape == (3, 4, 3, 4)
    torch.testing.assert_close(single, torch.autograd.functional.jacobian(torch.sin, x))


def test_numerical_jacobian_default_step_scales_with_x():
    """The default step grows with |x|: a large-magnitude input is differentiated accurately."""
    x = torch.tensor([1e6, 1.0], dtype=F64)
    J = numerical_jacobian(lambda t: t**2, x)
    torch.testing.assert_close(torch.diagonal(J), 2 * x, rtol=1e-9, atol=0)


def test_numerical_jacobian_with_eps():
    """An explicit eps is used as the step: forward differences err by about eps * f''/2."""
    x = torch.tensor([1.0], dtype=F64)
    J = numerical_jacobian(lambda t: t**2, x, eps=1e-3, method="forward")
    assert float(J) == pytest.approx(2.001, rel=1e-9)


# ---------------------------------------------------------------------------------------
# check_module


def test_check_module_passes_linear_stack():
    """A correct module passes; pairs are named by parameter."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    x = torch.randn(6, 4)
    report = check_module(model, x, loss_fn=lambda out: (out**2).mean())
    assert report.ok, str(report)
    assert [p.input for p in report.pairs] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert "float64" in report.numerics


def test_check_module_catches_wrong_layer():
    """A module using a buggy Function fails on its parameter."""

    class Bad(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(3, dtype=F64))

        def forward(self, x):
            return DoubledSin.apply(self.w) * x

    report = check_module(Bad(), torch.ones(3, dtype=F64))
    assert not report.ok
    assert report.worst.input == "w"


# ---------------------------------------------------------------------------------------
# errors at the public API


def test_error_non_tensor_input():
    """A non-tensor input is a TypeError naming its position."""
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a torch.Tensor, got float"):
        check_gradients(torch.add, (rand(2), 1.0))


def test_error_no_input_requires_grad():
    """No input requiring grad is a ValueError; integer inputs get a hint."""
    with pytest.raises(ValueError, match="no input requires grad"):
        check_gradients(torch.sin, rand(3, grad=False))
    with pytest.raises(ValueError, match="integer or bool"):
        check_gradients(lambda t: t * 2, torch.arange(3))


def test_error_integer_tensor_requiring_grad():
    """An integer tensor that claims to require grad is a TypeError (torch forbids it too)."""

    class Fake(torch.Tensor):
        @property
        def requires_grad(self):
            return True

    fake = torch.arange(3).as_subclass(Fake)
    with pytest.raises(TypeError, match="floating-point"):
        check_gradients(lambda t: t * 2, fake)


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda t: None, "got None"),
        (lambda t: 3.0, "got float"),
        (lambda t: (t, "x"), r"fn\(\*inputs\)\[1\] must be a torch.Tensor, got str"),
    ],
)
def test_error_fn_returns_non_tensor(fn, match):
    """fn returning a non-tensor or None is a TypeError."""
    with pytest.raises(TypeError, match=match):
        check_gradients(fn, rand(3))


def test_error_output_independent_of_inputs():
    """An output that does not depend on any input is a ValueError naming it."""
    with pytest.raises(ValueError, match="output 1 of fn does not depend"):
        check_gradients(lambda t: (t * 2, torch.ones(3)), rand(3))


def test_error_grad_outputs_shape():
    """grad_outputs of the wrong shape is a ValueError with both shapes."""
    with pytest.raises(ValueError, match=r"grad_outputs\[0\].*\(3,\).*\(4,\)"):
        check_gradients(torch.sin, rand(3), grad_outputs=torch.ones(4, dtype=F64))
    with pytest.raises(ValueError, match="one tensor per output"):
        check_gradients(torch.sin, rand(3), grad_outputs=(torch.ones(3), torch.ones(3)))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"method": "backward"}, ValueError, "method must be one of"),
        ({"eps": -1.0}, ValueError, r"eps must be a finite number > 0, got -1.0"),
        ({"rtol": "1e-3"}, TypeError, "rtol must be a real number or None, got str"),
        ({"atol": math.nan}, ValueError, "atol must be a finite number >= 0, got nan"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"fast": 1}, TypeError, "fast must be True or False, got int: 1"),
    ],
)
def test_error_bad_options(kwargs, exc, match):
    """Bad options are rejected with a message naming the option."""
    with pytest.raises(exc, match=match):
        check_gradients(torch.sin, rand(3), **kwargs)


def test_error_check_module_arguments():
    """check_module rejects a non-module and a non-scalar loss."""
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        check_module(torch.sin, rand(3))
    with pytest.raises(ValueError, match="scalar"):
        check_module(torch.nn.Linear(3, 2), torch.randn(4, 3), loss_fn=lambda out: out)


# ---------------------------------------------------------------------------------------
# property tests: random smooth compositions pass, and doubling their gradient fails

UNARY = {
    "tanh": torch.tanh,
    "sin": torch.sin,
    "sigmoid": torch.sigmoid,
    "softplus": torch.nn.functional.softplus,
    "square": torch.square,
    "exp_half": lambda t: torch.exp(0.5 * t),
    "atan": torch.atan,
}


class Doubler(torch.autograd.Function):
    """Identity whose backward doubles the gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return 2 * g


def compose(ops, mix_seed):
    W = rand(4, 4, seed=mix_seed, grad=False) / 2

    def fn(x, y):
        h = x * y
        for k, name in enumerate(ops):
            h = UNARY[name](h)
            if k % 2 == 0:
                h = h @ W.to(h.dtype) + y
        return h

    return fn


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    ops=st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=4),
    seed=st.integers(0, 1000),
    dtype=st.sampled_from([torch.float64, torch.float32]),
)
def test_property_smooth_compositions_pass(ops, seed, dtype):
    """Random smooth compositions pass in float64 and float32."""
    x, y = rand(3, 4, seed=seed, dtype=dtype), rand(3, 4, seed=seed + 1, dtype=dtype)
    report = check_gradients(compose(ops, seed), (x, y), seed=seed)
    assert report.ok, str(report)


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(
    ops=st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=3), seed=st.integers(0, 99)
)
def test_property_doubled_gradient_fails(ops, seed):
    """Doubling the gradient anywhere in a composition fails the check."""
    fn = compose(ops, seed)
    x, y = rand(3, 4, seed=seed), rand(3, 4, seed=seed + 1)
    assert not check_gradients(lambda a, b: fn(Doubler.apply(a), b), (x, y)).ok


def test_check_module_names_inputs_the_module_cannot_take():
    """An integer input into a float64 layer is a ValueError naming inputs and the fix."""
    layer = torch.nn.Linear(3, 1).double()
    with pytest.raises(ValueError, match=r"inputs\[0\] is torch.int64.*\.double\(\)"):
        check_module(layer, torch.tensor([[1, 2, 3]]))


def test_nan_input_is_not_blamed_on_the_zero_upstream_check():
    """A NaN in the input fails the check as NaN, without a false zero-grad_output claim."""
    x = torch.tensor([1.0, float("nan")], dtype=torch.float64, requires_grad=True)
    report = check_gradients(torch.sin, x)
    assert not report.ok
    text = str(report)
    assert "NaN" in text
    assert "zero grad_output" not in text


def test_numerical_jacobian_checks_fn_is_callable():
    """numerical_jacobian(5, x) is a TypeError naming fn."""
    with pytest.raises(TypeError, match="fn must be callable"):
        numerical_jacobian(5, torch.zeros(2, dtype=torch.float64))


# ---------------------------------------------------------------------------------------
# compare_tensors: the same comparison for a tensor against a reference.


@pytest.mark.parametrize(
    "mistake, words",
    [
        (lambda r: 2 * r, "answer = 2 x reference"),
        (lambda r: -r, "sign flip"),
        (lambda r: r.T, "transpose of the reference"),
        (lambda r: r / 8, "a factor 8 missing"),
    ],
    ids=["factor", "sign", "transpose", "mean-for-sum"],
)
def test_compare_tensors_diagnoses_the_mistake_in_its_own_words(mistake, words):
    """A tensor off from its reference in a simple pattern fails with that pattern named,
    in words about an answer and a reference (not analytical / numerical)."""
    from gradbook.gradcheck import compare_tensors

    ref = rand(4, 4, grad=False)
    pair = compare_tensors(mistake(ref), ref)
    assert not pair.ok and words in pair.diagnosis
    assert "analytical" not in pair.diagnosis and "numerical" not in pair.diagnosis


def test_compare_tensors_passes_a_float32_copy_and_refuses_another_shape():
    """A float32 copy of the reference is within float32's tolerance; a shape mismatch
    is a ValueError that shows both shapes."""
    from gradbook.gradcheck import compare_tensors

    ref = rand(3, 5, grad=False)
    assert compare_tensors(ref.float(), ref).ok
    with pytest.raises(ValueError, match=r"\(5, 3\), expected \(3, 5\)"):
        compare_tensors(ref.T, ref)


@pytest.mark.parametrize("fn", [lambda t: t**2, torch.cos], ids=["square", "cos"])
def test_a_zero_of_a_smooth_derivative_is_not_a_kink(fn):
    """x**2 and cos at 0 have one-sided differences of opposite sign (the curvature
    times the step), yet no kink: the verdict is not 'kink' and no element is one."""
    x = torch.tensor([0.0, 1.0, 2.0], dtype=F64, requires_grad=True)
    pair = check_gradients(fn, x).pairs[0]
    assert pair.n_kinks == 0 and pair.verdict in ("exact", "good")


def test_a_two_input_second_order_report_fits_79_columns():
    """The report of a passing float32 check of two inputs, and of its second order,
    has no line over 79 characters (a docs page shows about 80)."""
    from gradbook.gradcheck import check_gradgrad

    x, y = rand(3, 4, dtype=torch.float32), rand(3, 4, seed=1, dtype=torch.float32)
    for report in (check_gradients(torch.mul, (x, y)), check_gradgrad(torch.mul, (x, y))):
        assert max(map(len, str(report).splitlines())) <= 79, str(report)
