"""Tests for gradbook.gradcheck.check_gradgrad: backwards right to first order and wrong
to second, correct functions in float32 and float64, and the argument checks."""

from __future__ import annotations

import pytest
import torch
from test_gradcheck import mlp, rand, text_of  # pytest puts tests/ on sys.path
from torch.autograd.function import once_differentiable

from gradbook.gradcheck import (
    GradientCheckError,
    assert_gradgrad,
    check_gradgrad,
    check_gradients,
)

F64 = torch.float64


# ---------------------------------------------------------------------------------------
# The zoo: each backward is right to first order and wrong to second.


class DetachedCube(torch.autograd.Function):
    """x**3 whose backward detaches its result."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (3 * x**2 * g).detach()


class NoGradCube(torch.autograd.Function):
    """x**3 whose backward runs under torch.no_grad."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with torch.no_grad():
            return 3 * x**2 * g


class OnceCube(torch.autograd.Function):
    """x**3 with a correct backward marked once_differentiable."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class HalfSquare(torch.autograd.Function):
    """x**2 whose backward is half the truth: only ever called inside a backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return x * g  # should be 2 x g


class CubeThroughWrongFunction(torch.autograd.Function):
    """x**3 whose backward, 3 x**2 g, squares x with a Function whose backward is wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * HalfSquare.apply(x) * g


class ProductLosingCrossTerm(torch.autograd.Function):
    """x * y whose backward holds the other factor as a constant: d(grad_x)/dy is lost."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y.detach(), g * x.detach()


class CubeHalfDetached(torch.autograd.Function):
    """x**3 whose backward, 3 x x g, detaches one of the two x factors."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x.detach() * g


NOT_TWICE = [DetachedCube.apply, NoGradCube.apply, OnceCube.apply]
WRONG_SECOND = [
    (CubeThroughWrongFunction.apply, (rand(3, 4),)),
    (ProductLosingCrossTerm.apply, (rand(3, 4, seed=1), rand(3, 4, seed=2))),
    (CubeHalfDetached.apply, (rand(5, seed=3),)),
]


@pytest.mark.parametrize("fn", NOT_TWICE, ids=lambda f: f.__self__.__name__)
def test_a_backward_autograd_cannot_differentiate_passes_first_order_and_is_named(fn):
    """Detached, no_grad and once_differentiable backwards pass the first-order check, and
    the second-order report names the reason as a 'not twice differentiable' problem."""
    x = rand(3, 4)
    assert check_gradients(fn, x).ok
    report = check_gradgrad(fn, x)
    assert not report.ok
    assert [p.kind for p in report.problems] == ["not twice differentiable"]


def test_once_differentiable_is_named_in_words():
    """A once_differentiable backward gets a report that says @once_differentiable."""
    text = text_of(check_gradgrad(OnceCube.apply, rand(4)))
    assert "marked @once_differentiable" in text and "could not be differentiated" in text


@pytest.mark.parametrize("fn", [DetachedCube.apply, NoGradCube.apply], ids=["detach", "no_grad"])
def test_a_detached_backward_is_named_in_words(fn):
    """A backward whose result leaves autograd's graph is reported as detached."""
    text = text_of(check_gradgrad(fn, rand(4)))
    assert "detached from autograd's graph" in text


@pytest.mark.parametrize("fn, inputs", WRONG_SECOND, ids=["wrong-inner", "cross-term", "half"])
def test_a_backward_wrong_to_second_order_passes_first_and_fails_second(fn, inputs):
    """The first-order check passes; the second-order one fails on its numbers (no
    problem record: the backward is differentiable, just wrong)."""
    assert check_gradients(fn, inputs).ok
    report = check_gradgrad(fn, inputs)
    assert not report.ok and not report.problems
    assert any(p.verdict == "wrong" for p in report.pairs)


def test_a_lost_factor_is_diagnosed_as_a_constant_ratio():
    """3 x x.detach() g loses half of the second derivative: the diagnosis says 1/2."""
    report = check_gradgrad(CubeHalfDetached.apply, rand(5, seed=3))
    pair = next(p for p in report.pairs if p.input == "input 0")
    assert "analytical = 1/2 x numerical" in pair.diagnosis


def test_the_lost_cross_term_is_the_pair_that_fails():
    """For x * y with the other factor held constant, d(grad of x)/dy is the wrong pair,
    and the pairs against the upstream gradient (first-order values) are good."""
    fn, inputs = WRONG_SECOND[1]
    report = check_gradgrad(fn, inputs)
    verdicts = {(p.input, p.output): p.verdict for p in report.pairs}
    assert verdicts[("input 1", "grad 0")] == "wrong"
    assert verdicts[("input 0", "grad 1")] == "wrong"
    assert verdicts[("grad_output 0", "grad 0")] != "wrong"


# ---------------------------------------------------------------------------------------
# Correct functions: no false alarm in float64 or float32.


class StableSoftplus(torch.autograd.Function):
    """softplus with a backward built from differentiable torch operations."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.softplus(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.sigmoid(x)


CORRECT = {
    "tanh": (torch.tanh, [(3, 4)]),
    "softplus Function": (StableSoftplus.apply, [(6,)]),
    "log_softmax": (lambda x: torch.log_softmax(x, dim=1), [(3, 5)]),
    "product": (lambda x, y: x * y.sin(), [(3, 4), (3, 4)]),
    "two outputs": (lambda x: (x.exp(), x.sin().sum()), [(4,)]),
    "mlp": (mlp, [(5, 3), (4, 3), (4,), (2, 4), (2,)]),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_functions_pass_in_float64_and_float32(name, dtype):
    """Every correct function passes, float32 included (no false alarm)."""
    fn, shapes = CORRECT[name]
    inputs = tuple(rand(*s, seed=k, dtype=dtype) for k, s in enumerate(shapes))
    report = check_gradgrad(fn, inputs)
    assert report.ok, str(report)


def test_the_pairs_cover_every_input_and_every_upstream_gradient():
    """For fn(x, y) with one output, the pairs are (input 0, input 1, grad_output 0) x
    (grad 0, grad 1)."""
    fn, _ = CORRECT["product"]
    report = check_gradgrad(fn, (rand(2, 3), rand(2, 3, seed=1)))
    pairs = {(p.input, p.output) for p in report.pairs}
    rows = {"input 0", "input 1", "grad_output 0"}
    assert pairs == {(r, c) for r in rows for c in ("grad 0", "grad 1")}


def test_an_input_that_does_not_require_grad_is_a_constant():
    """Only inputs with requires_grad are differentiated: y constant gives no grad 1."""
    fn, _ = CORRECT["product"]
    report = check_gradgrad(fn, (rand(2, 3), rand(2, 3, seed=1, grad=False)))
    assert report.ok
    assert {p.output for p in report.pairs} == {"grad 0"}


def test_given_grad_outputs_are_used():
    """With grad_outputs given, the pair against it compares J u at that v (here the
    check passes, and a wrong-shaped v is refused with the argument's name)."""
    x = rand(3)
    assert check_gradgrad(torch.sin, x, grad_outputs=torch.ones(3, dtype=F64)).ok
    with pytest.raises(ValueError, match="grad_outputs"):
        check_gradgrad(torch.sin, x, grad_outputs=torch.ones(4, dtype=F64))


def test_the_report_says_second_order():
    """str(report) starts with 'second-order gradient check' and report.order is 2."""
    report = check_gradgrad(torch.tanh, rand(3))
    assert str(report).startswith("second-order gradient check PASSED")
    assert report.order == 2


def test_assert_gradgrad_raises_with_the_report():
    """assert_gradgrad raises GradientCheckError holding the failing report, and returns
    the report when the check passes."""
    assert assert_gradgrad(torch.tanh, rand(3)).ok
    with pytest.raises(GradientCheckError) as info:
        assert_gradgrad(CubeHalfDetached.apply, rand(5))
    assert not info.value.report.ok


def test_the_inputs_are_not_modified():
    """The check works on copies: the inputs keep their values and get no .grad."""
    x = rand(3, 4)
    before = x.detach().clone()
    check_gradgrad(torch.tanh, x)
    assert torch.equal(x.detach(), before) and x.grad is None


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: check_gradgrad("tanh", rand(3)), "fn"),
        (lambda: check_gradgrad(torch.tanh, rand(3, grad=False)), "requires_grad"),
        (lambda: check_gradgrad(torch.tanh, [1.0]), r"inputs\[0\]"),
        (lambda: check_gradgrad(torch.tanh, rand(3), rtol=-1), "rtol"),
        (lambda: check_gradgrad(torch.tanh, rand(3), seed=1.5), "seed"),
    ],
    ids=["fn", "no-grad", "not-tensor", "rtol", "seed"],
)
def test_bad_arguments_name_the_argument(call, match):
    """Bad arguments raise TypeError/ValueError naming the argument."""
    with pytest.raises((TypeError, ValueError), match=match):
        call()
