r"""The exercises of part 2, networks (tutorials 12 to 16).

One section per tutorial, in reading order; each checker is registered on ``PART`` with
its record. The references are PyTorch's own layers and losses, and autograd for the
hand-written backward passes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gradbook._validation import type_name
from gradbook.models import MLP, count_parameters

from ._feedback import Wrong
from ._grading import Grader, Part

__all__ = ["PART"]

PART = Part("networks")


def _leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().requires_grad_(True)


def _vjp(f, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """v^T J of f at x, by autograd: the reference of every manual backward."""
    x = _leaf(x)
    (g,) = torch.autograd.grad(f(x), x, v)
    return g


# --------------------------------------------------------------------------------------
# 12 Linear layers and initialisation
# --------------------------------------------------------------------------------------


@PART.exercise("12.1")
def _linear_forward(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, d_in, d_out in ((5, 3, 2), (4, 4, 4), (1, 6, 3)):
        X, W, b = grader.randn(n, d_in), grader.randn(d_out, d_in), grader.randn(d_out)
        got = grader.call(fn, X, W, b, gives="a tensor (N, d_out)", errors=[(
            "mat1 and mat2", "W is (d_out, d_in): the batch product is X @ W.T")])  # fmt: skip
        mistakes = {"add the bias b: it broadcasts over the rows": X @ W.T}
        if d_in == d_out:  # then X @ W runs, and is wrong
            mistakes["W is (d_out, d_in): the batch product is X @ W.T, not X @ W"] = X @ W + b
        what = f"the output, X {n} x {d_in}, W {d_out} x {d_in}"
        grader.compare(got, F.linear(X, W, b), what, mistakes=mistakes)
    grader.passed("nn.Linear's output for 3 shapes, square W included")


def _kurtosis(w: torch.Tensor) -> float:
    z = (w - w.mean()) / w.std()
    return float((z**4).mean())


@PART.exercise("12.2")
def _he_normal(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for d_out, d_in in ((128, 512), (512, 64)):  # every candidate variance differs
        w = grader.call(fn, d_out, d_in, gives="a weight tensor")
        w = grader.tensor(w, (d_out, d_in), f"he_normal({d_out}, {d_in})").double()
        if torch.equal(w, grader.tensor(grader.call(fn, d_out, d_in), w.shape, "a 2nd call")):
            raise Wrong("two calls gave the same weights", "draw them at random: torch.randn")
        var, mean = float(w.var()), float(w.mean())
        if abs(mean) > 5 * math.sqrt(var / w.numel()) + 1e-12:
            raise Wrong(f"the mean is {mean:.3g}, not 0", "draw the weights around 0")
        candidates = {
            2 / d_in: None,
            2 / d_out: "He uses the fan-in, d_in = weight.shape[1], not d_out",
            2 / (d_in + d_out): "that is Xavier's variance 2 / (d_in + d_out), for tanh",
            1 / d_in: "a factor 2 missing: ReLU zeroes half of its inputs, so He doubles 1/d_in",
            4 / d_in**2: "2 / d_in is the variance: the std is its square root, sqrt(2 / d_in)",
        }
        name = f"he_normal({d_out}, {d_in})"
        if not math.isclose(var, 2 / d_in, rel_tol=0.05):
            hint = next((h for v, h in candidates.items() if h and math.isclose(var, v,
                        rel_tol=0.05)), "the variance must be 2 / d_in")  # fmt: skip
            raise Wrong(f"{name}: variance {var:.3g}, expected 2 / d_in = {2 / d_in:.3g}", hint)
        if not 2.8 < _kurtosis(w) < 3.2:
            raise Wrong(f"{name}: the values are not normally distributed",
                        "draw from a normal distribution: torch.randn(...) * std")  # fmt: skip
    grader.passed("shape (d_out, d_in), mean 0, variance 2 / d_in, normal, for 2 shapes")


@PART.exercise("12.3")
def _xavier_relu(answer, grader: Grader) -> None:
    grader.number(answer, 0.5, "the factor per layer", mistakes={
        "that is He's factor: Xavier's variance is 1/d on square layers, and ReLU keeps "
        "half of the second moment": 1.0,
        "the variance is d sigma_w^2 E[x^2] = d (1/d) (Var / 2): no more factors of 2": 0.25,
    })  # fmt: skip
    grader.passed("1/2: d_in (1/d_in) times ReLU's 1/2")


# --------------------------------------------------------------------------------------
# 13 Activation functions
# --------------------------------------------------------------------------------------


def _backward_cases(grader: Grader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x = [grader.randn(6), 3 * grader.randn(2, 5), torch.tensor([-2.0, 0.0, 0.0, 1.5]).double()]
    return [(t, grader.randn(*t.shape)) for t in x]


@PART.exercise("13.1")
def _tanh_backward(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for x, g in _backward_cases(grader):
        got = grader.call(fn, x, g, gives="dL/dx, a tensor like x")
        t = torch.tanh(x)
        grader.compare(got, _vjp(torch.tanh, x, g), f"dL/dx, shape {tuple(x.shape)}", mistakes={
            "multiply by grad_output: the chain rule passes the upstream gradient on": 1 - t**2,
            "the derivative is written with tanh(x), not x: 1 - tanh(x)**2": g * (1 - x**2),
            "square it: 1 - tanh(x)**2": g * (1 - t),
        })  # fmt: skip
    grader.passed("dL/dx = grad_output * (1 - tanh(x)**2), for 3 shapes")


@PART.exercise("13.2")
def _gelu_derivative(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    for x, _ in _backward_cases(grader):
        got = grader.call(fn, x, gives="GELU'(x), a tensor like x")
        cdf, pdf = normal.cdf(x), normal.log_prob(x).exp()
        grader.compare(got, _vjp(F.gelu, x, torch.ones_like(x)), f"GELU' at shape "
                       f"{tuple(x.shape)}", mistakes={
            "the product rule: d(x Phi(x)) = Phi(x) + x phi(x), the second term is missing":
            cdf,
            "the product rule: d(x Phi(x)) = Phi(x) + x phi(x), the first term is missing":
            x * pdf,
        })  # fmt: skip
    grader.passed("Phi(x) + x phi(x), autograd's derivative of F.gelu")


@PART.exercise("13.3")
def _leaky_backward(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for (x, g), alpha in zip(_backward_cases(grader), (0.1, 0.01, 0.2), strict=True):
        got = grader.call(fn, x, g, alpha, gives="dL/dx, a tensor like x")
        expected = _vjp(lambda t, a=alpha: F.leaky_relu(t, a), x, g)
        one = torch.ones_like(x)
        grader.compare(got, expected, f"dL/dx, alpha = {alpha}", mistakes={
            "at x = 0 PyTorch takes the slope alpha: the test is x > 0, not x >= 0":
            g * torch.where(x >= 0, one, alpha * one),
            "the slope is 1 for x > 0 and alpha below": g * torch.where(x > 0, alpha * one, one),
            "multiply by grad_output": torch.where(x > 0, one, alpha * one),
        })  # fmt: skip
    grader.passed("grad_output times 1 or alpha, with alpha at x = 0, as PyTorch does")


# --------------------------------------------------------------------------------------
# 14 Writing a module
# --------------------------------------------------------------------------------------


def _residual_reference(state: dict, x: torch.Tensor) -> torch.Tensor:
    h = torch.relu(F.linear(x, state["linear1.weight"], state["linear1.bias"]))
    return x + F.linear(h, state["linear2.weight"], state["linear2.bias"])


@PART.exercise("14.1")
def _residual(answer, grader: Grader) -> None:
    cls = grader.subclass(answer, nn.Module, "torch.nn.Module")
    for d in (4, 7):
        block = grader.call(cls, d, what=f"ResidualBlock({d})", gives="a module", errors=[
            ("before Module.__init__", "call super().__init__() first in __init__"),
        ])  # fmt: skip
        names = {k: tuple(v.shape) for k, v in block.state_dict().items()}
        wanted = {f"linear{i}.{p}": (d, d) if p == "weight" else (d,)
                  for i in (1, 2) for p in ("weight", "bias")}  # fmt: skip
        if names != wanted:
            hint = (
                (
                    "a plain list hides its layers: keep each as an attribute (or in an "
                    "nn.ModuleList)"
                )
                if not names
                else "name them linear1 and linear2"
            )
            raise Wrong(f"ResidualBlock({d}) holds {names or 'no parameters'}, expected "
                        f"{wanted}", hint)  # fmt: skip
        state = {k: grader.randn(*s, dtype=torch.float32) for k, s in wanted.items()}
        block.load_state_dict(state)
        x = grader.randn(5, d, dtype=torch.float32)
        got = grader.call(block, x, what="forward", gives="a tensor")
        h = torch.relu(F.linear(x, state["linear1.weight"], state["linear1.bias"]))
        no_skip = F.linear(h, state["linear2.weight"], state["linear2.bias"])
        grader.compare(got, _residual_reference(state, x), f"the output for d = {d}", mistakes={
            "add the input back: the skip connection is x + ...": no_skip,
            "no ReLU after the sum: x + linear2(relu(linear1(x)))": torch.relu(x + no_skip),
        })  # fmt: skip
    grader.passed("four registered parameters named linear1.*, linear2.*")
    grader.passed("the forward x + linear2(relu(linear1(x))), for d = 4 and 7")


@PART.exercise("14.2")
def _freeze(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for sizes in ([4, 8, 8, 3], [2, 5, 1]):
        model = MLP(sizes)
        last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        grader.call(fn, model, gives=None)
        trainable = count_parameters(model, trainable_only=True)
        expected = count_parameters(last)
        if trainable == count_parameters(model):
            hint = (
                (
                    "eval() changes what dropout and batch norm compute, not which parameters "
                    "train: use requires_grad_(False)"
                )
                if not model.training
                else ("set requires_grad_(False) on every parameter but the last layer's")
            )
            raise Wrong(f"MLP {sizes}: all {trainable} parameters are still trainable", hint)
        if trainable == 0:
            raise Wrong(f"MLP {sizes}: nothing is trainable",
                        "the last layer stays trainable")  # fmt: skip
        if trainable != expected or not all(p.requires_grad for p in last.parameters()):
            raise Wrong(f"MLP {sizes}: {trainable} trainable parameters, expected the last "
                        f"layer's {expected}", "freeze every layer before the last")  # fmt: skip
        if not model.training:
            raise Wrong("the model was switched to eval mode", "freezing needs no eval()")
    grader.passed("only the last layer's weight and bias are trainable, for 2 MLPs")


@PART.exercise("14.3")
def _collapse(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for d_in, d_hidden, d_out in ((4, 6, 3), (3, 3, 3)):
        first, second = nn.Linear(d_in, d_hidden), nn.Linear(d_hidden, d_out)
        one = grader.call(
            fn,
            first,
            second,
            gives="an nn.Linear",
            errors=[(phrase, "the weight of second(first(x)) is W2 @ W1, second's first, "
                      "of shape (d_out, d_in)") for phrase in ("mat1 and mat2", "must match")],
        )  # fmt: skip
        if not isinstance(one, nn.Linear):
            raise Wrong(f"expected an nn.Linear, got {type_name(one)}",
                        "return nn.Linear(d_in, d_out) with the weights copied in")  # fmt: skip
        x = grader.randn(5, d_in, dtype=torch.float32)
        got = grader.call(one, x, what="the collapsed layer", gives="a tensor")
        with torch.no_grad():
            expected = second(first(x))
            no_b1 = x @ (second.weight @ first.weight).T + second.bias
            mistakes = {"the bias is W2 b1 + b2": no_b1}
            if d_in == d_hidden == d_out:  # then W1 @ W2 runs, and is wrong
                bias = second.weight @ first.bias + second.bias
                swapped = x @ (first.weight @ second.weight).T + bias
                mistakes["the weight of second(first(x)) is W2 @ W1, second's first"] = swapped
        grader.compare(got, expected, f"the output, {d_in} -> {d_hidden} -> {d_out}",
                       mistakes=mistakes)  # fmt: skip
    grader.passed("one Linear with weight W2 W1 and bias W2 b1 + b2, for 2 shapes")


# --------------------------------------------------------------------------------------
# 15 A multi-layer perceptron
# --------------------------------------------------------------------------------------


@PART.exercise("15.1")
def _parameter_count(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for sizes in ([4, 10, 3], [2, 8, 8, 1], [5, 1], [3, 7, 7, 7, 2]):
        pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
        got = grader.call(fn, list(sizes), gives="a number")
        grader.number(got, sum(a * b + b for a, b in pairs), f"the count for {sizes}", mistakes={
            "each layer also holds a bias, d_out numbers": sum(a * b for a, b in pairs),
            "a layer's bias has d_out entries, one per output": sum(a * b + a for a, b in pairs),
        })  # fmt: skip
    grader.passed("the count for 4 networks, SimpleNet's 83 included")


def _mlp(X, weights, biases):
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        X = F.linear(X, W, b)
        X = torch.relu(X) if i < len(weights) - 1 else X
    return X


@PART.exercise("15.2")
def _mlp_forward(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for sizes in ([3, 5, 4, 2], [2, 3]):
        weights = [grader.randn(b, a) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
        biases = [grader.randn(b) for b in sizes[1:]]
        X = grader.randn(6, sizes[0])
        got = grader.call(fn, X, list(weights), list(biases), gives="a tensor")
        linear_only = X
        for W, b in zip(weights, biases, strict=True):
            linear_only = F.linear(linear_only, W, b)
        grader.compare(got, _mlp(X, weights, biases), f"the output of MLP {sizes}", mistakes={
            "no ReLU after the last layer: its outputs are the scores": torch.relu(
                _mlp(X, weights, biases)),
            "a ReLU between the layers: without it they collapse into one affine map":
            linear_only,
        })  # fmt: skip
    grader.passed("the output of 2 networks, with and without hidden layers")


# --------------------------------------------------------------------------------------
# 16 Loss functions
# --------------------------------------------------------------------------------------


def _classification(grader: Grader):
    for n, k in ((5, 3), (8, 4), (1, 2)):
        yield n, k, grader.randn(n, k), grader.randint(k, n)


@PART.exercise("16.1")
def _ce_backward(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, k, z, labels in _classification(grader):
        got = grader.call(fn, z, labels, gives="dL/dlogits, a tensor (N, K)")
        p, onehot = z.softmax(1), F.one_hot(labels, k).double()
        expected = _vjp(lambda t, c=labels: F.cross_entropy(t, c), z, torch.tensor(1.0).double())
        mistakes = {"softmax runs over the classes, dim=1": (z.softmax(0) - onehot) / n,
                    "subtract 1 at the target class: p - onehot": p / n}  # fmt: skip
        factors = (
            {
                n: f"forgot to divide by the batch size N = {n}: the loss is a mean",
                -1: "p - onehot, not onehot - p",
            }
            if n > 1
            else {-1: "p - onehot"}
        )
        grader.compare(got, expected, f"dL/dz, N = {n}, K = {k}", mistakes=mistakes,
                       factors=factors)  # fmt: skip
    grader.passed("(p - onehot) / N for 3 batches, one of a single sample")


@PART.exercise("16.2")
def _cross_entropy(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, _k, z, labels in _classification(grader):
        for scale in (1.0, 1000.0):
            logits = z * scale
            got = grader.call(fn, logits, labels, gives="the loss, a 0-d tensor")
            what = f"the loss, N = {n}" + (", logits x 1000" if scale > 1 else "")
            if scale > 1 and isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
                raise Wrong(
                    f"{what} is not finite",
                    "exp(1000) overflows: subtract each "
                    "row's max first, log p = z - m - log(sum(exp(z - m)))",
                )
            factors = {n: f"a mean over the N = {n} samples, not a sum"} if n > 1 else {}
            grader.compare(got, F.cross_entropy(logits, labels), what, factors=factors)
    grader.passed("the loss of 3 batches, finite and right for logits of 1000")


@PART.exercise("16.3")
def _mse_backward(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for shape in ((8, 1), (5, 3), (4,)):
        y_hat, y = grader.randn(*shape), grader.randn(*shape)
        got = grader.call(fn, y_hat, y, gives="dL/dprediction, a tensor")
        expected = _vjp(lambda t, y=y: F.mse_loss(t, y), y_hat, torch.tensor(1.0).double())
        n = y.numel()
        grader.compare(got, expected, f"dL/dprediction, shape {shape}", factors={
            0.5: "d(u**2)/du = 2u: the factor 2 is missing",
            n: f"divide by the number of elements, {n}: nn.MSELoss takes the mean of all",
            n / 2: f"the factor is 2 / N, N = {n} elements: 2 (y_hat - y) / N",
            -1: "(prediction - target), not (target - prediction)",
        })  # fmt: skip
    grader.passed("2 (y_hat - y) / N, N counting every element, for 3 shapes")
