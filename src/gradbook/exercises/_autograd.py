r"""The exercises of part 1, autograd (tutorials 01 to 11), and :func:`value_node`.

One section per tutorial, in reading order; each checker is registered on ``PART`` with
its record. A checker builds fresh inputs, runs the answer, and compares with a
reference computed by autograd itself (or by the engine, for the ``Value`` exercises),
naming the typical mistakes it recognises. :func:`value_node` is what the ``Value``
exercises build their results with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gradbook._validation import check_instance, check_real, type_name
from gradbook.autodiff import Value
from gradbook.gradcheck import check_gradgrad, check_gradients

from ._feedback import Wrong
from ._grading import Grader, Part

__all__ = ["PART", "value_node"]

PART = Part("autograd")


def _leaf(t: torch.Tensor) -> torch.Tensor:
    """A fresh leaf that requires grad, with ``t``'s values."""
    return t.detach().clone().requires_grad_(True)


def _grads(loss: torch.Tensor, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(loss, inputs)


# --------------------------------------------------------------------------------------
# 01 Autograd and the chain rule
# --------------------------------------------------------------------------------------


@PART.exercise("01.1")
def _predict_x_grad(answer, grader: Grader) -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor([3.0, -1.0], requires_grad=True)
    (x**3 + x * y).sum().backward()
    mistakes = {
        "x * y depends on x too: its derivative with respect to x is y": [3.0, 12.0],
        "that is y.grad: the derivative of x * y with respect to y is x": [1.0, 2.0],
        "the derivative of x**3 is 3 x**2, not 3 x": [6.0, 5.0],
    }
    grader.number(answer, x.grad.tolist(), "x.grad", mistakes=mistakes)
    grader.passed("x.grad = 3 x**2 + y, element by element")


@PART.exercise("01.2")
def _chain_rule(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for shape in ((3,), (2, 4), (5,)):
        x, y = _leaf(grader.randn(*shape)), _leaf(grader.randn(*shape))
        dx, dy = _grads(torch.sin(x**2 * y).sum(), x, y)
        got = grader.call(fn, x.detach(), y.detach(), gives="a pair (dL/dx, dL/dy)")
        if not (isinstance(got, tuple | list) and len(got) == 2):
            raise Wrong(f"expected a pair (dL/dx, dL/dy), got {type_name(got)}",
                        "return both gradients: return dL_dx, dL_dy")  # fmt: skip
        c = torch.cos(x**2 * y).detach()
        inner = "the chain rule: multiply cos(x**2 y) by the inner derivative"
        grader.compare(got[0], dx, f"dL/dx for shape {shape}", mistakes={
            f"{inner}, d(x**2 y)/dx = 2 x y": c, "that is dL/dy: the pair is (dL/dx, dL/dy)": dy,
        }, factors={-1: "the derivative of sin is cos, with a plus sign"})  # fmt: skip
        grader.compare(got[1], dy, f"dL/dy for shape {shape}", mistakes={
            f"{inner}, d(x**2 y)/dy = x**2": c, "that is dL/dx: the pair is (dL/dx, dL/dy)": dx,
        }, factors={-1: "the derivative of sin is cos, with a plus sign"})  # fmt: skip
    grader.passed("both gradients match autograd for 3 shapes")


# --------------------------------------------------------------------------------------
# 02 Gradient accumulation and zeroing
# --------------------------------------------------------------------------------------


@PART.exercise("02.1")
def _two_backwards(answer, grader: Grader) -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x**2).sum().backward()
    (3 * x).sum().backward()
    mistakes = {
        "backward() adds into x.grad: the first call's 2x is still there": [3.0, 3.0],
        "the second backward() added its gradient, 3, to each element": [2.0, 4.0],
    }
    grader.number(answer, x.grad.tolist(), "x.grad", mistakes=mistakes)
    grader.passed("x.grad = 2x + 3: the second gradient was added to the first")


def _micro_reference(model, loss_fn, X, y, chunks, weighting) -> list[torch.Tensor]:
    """The gradients of model's parameters accumulated over chunks, each loss weighted."""
    params = list(model.parameters())
    total = [torch.zeros_like(p) for p in params]
    for X_m, y_m in chunks:
        w = weighting(len(X_m))
        for t, g in zip(total, _grads(w * loss_fn(model(X_m), y_m), *params), strict=True):
            t += g
    return total


@PART.exercise("02.2")
def _micro_batches(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    loss_fn = nn.MSELoss()
    for n, m in ((8, 4), (10, 4), (7, 3)):
        model = nn.Linear(3, 1).double()
        X, y = grader.randn(n, 3), grader.randn(n, 1)
        chunks = list(zip(X.chunk(m), y.chunk(m), strict=True))
        full = _grads(loss_fn(model(X), y), *model.parameters())
        for p in model.parameters():
            p.grad = torch.ones_like(p)  # a stale gradient: it must not survive
        calls = []
        handle = model.weight.register_hook(lambda g, calls=calls: calls.append(1))
        grader.call(fn, model, loss_fn, X, y, m, gives=None)
        handle.remove()
        case = f"model.weight.grad, {n} samples in {m} micro-batches"
        stale = [g + 1 for g in full]
        mistakes = {
            "zero the gradients first: .grad held an old gradient, and backward() adds "
            "to it": stale[0],
            "weight each micro-batch's loss by its share of the samples, len(X_m) / N: "
            "with unequal micro-batches 1/M does not give the full-batch mean":
            _micro_reference(model, loss_fn, X, y, chunks, lambda k, m=m: 1 / m)[0],
        }  # fmt: skip
        factors = {m: f"scale each micro-batch's loss before backward(): {m} unscaled means "
                   f"add up to {m} times the full-batch gradient"}  # fmt: skip
        grader.compare(model.weight.grad, full[0], case, mistakes=mistakes, factors=factors)
        grader.compare(model.bias.grad, full[1], f"model.bias.grad, {n} in {m}")
        if len(calls) != m:
            raise Wrong(f"{len(calls)} backward() call(s) reached the weight for {m} "
                        "micro-batches", "call backward() once per micro-batch, on its "
                        "scaled loss")  # fmt: skip
    grader.passed("the full-batch gradient, one backward() per micro-batch, for 3 splits")


# --------------------------------------------------------------------------------------
# 03 Turning gradients off
# --------------------------------------------------------------------------------------


@PART.exercise("03.1")
def _manual_sgd(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for lr in (0.1, 0.03):
        model = nn.Linear(4, 2).double()
        nn.MSELoss()(model(grader.randn(6, 4)), grader.randn(6, 2)).backward()
        before = [p.detach().clone() for p in model.parameters()]
        twin = nn.Linear(4, 2).double()
        twin.load_state_dict(model.state_dict())
        for p, q in zip(twin.parameters(), model.parameters(), strict=True):
            p.grad = q.grad.clone()
        torch.optim.SGD(twin.parameters(), lr=lr).step()
        grader.call(fn, list(model.parameters()), lr, gives=None)
        for p, q, old in zip(model.parameters(), twin.parameters(), before, strict=True):
            grader.compare(p, q, f"the parameter after one step, lr = {lr}", mistakes={
                "p = p - lr * p.grad makes a new tensor and leaves the parameter as it "
                "was: update in place, p -= lr * p.grad": old,
                "step against the gradient: p -= lr * p.grad": 2 * old - q.detach(),
            })  # fmt: skip
            if not p.is_leaf:
                raise Wrong("the parameter is no longer a leaf", "update it in place")
            if p.grad is not None and p.grad.abs().max() > 0:
                raise Wrong(
                    "the gradients were not zeroed after the step",
                    "zero each one, p.grad.zero_(): the next backward() adds to it",
                )
    grader.passed("the step of torch.optim.SGD, for 2 learning rates")
    grader.passed("the parameters stay leaves and their gradients are zeroed")


@PART.exercise("03.2")
def _predict(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for training in (True, False):
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
        model.train(training)
        X = grader.randn(32, 4, dtype=torch.float32)
        model.eval()
        with torch.no_grad():
            expected = model(X)
        model.train(training)
        got = grader.call(fn, model, X, gives="the outputs, a tensor")
        mode = "training" if training else "eval"
        if isinstance(got, torch.Tensor) and got.requires_grad:
            raise Wrong(
                f"the outputs have a graph (grad_fn {type(got.grad_fn).__name__})",
                "eval() does not stop recording: compute them under torch.no_grad()",
            )
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            grader.tensor(got, expected.shape, "the outputs")  # names what came back
        if not torch.allclose(got.detach().float(), expected, atol=1e-6):
            raise Wrong(f"the outputs differ from the model's own in eval mode ({mode} mode "
                        "at the start)", "no_grad() does not switch dropout off: call "
                        "model.eval() first")  # fmt: skip
        if model.training != training:
            raise Wrong(f"a model in {mode} mode came back in "
                        f"{'training' if model.training else 'eval'} mode",
                        "remember model.training first, and put it back at the end")  # fmt: skip
    grader.passed("eval-mode outputs (no dropout) with no graph")
    grader.passed("the model's mode is restored, training or eval")


@PART.exercise("03.3")
def _detached_factor(answer, grader: Grader) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x.detach() ** 2).sum().backward()
    mistakes = {
        "x.detach() is a constant to autograd: only the first factor x is "
        "differentiated, so the gradient is x.detach()**2": [3.0, 12.0, 27.0],
        "the first factor x is not detached: the gradient flows through it": [0.0] * 3,
    }
    grader.number(answer, x.grad.tolist(), "x.grad", mistakes=mistakes)
    grader.passed("the gradient stops at x.detach(): x.grad = x**2")


# --------------------------------------------------------------------------------------
# 04 Non-scalar outputs
# --------------------------------------------------------------------------------------


def _vector_functions(grader: Grader) -> list[tuple[str, Callable, torch.Tensor]]:
    """Functions R^n -> R^m with an input each: a square matrix, a wide one, a softmax."""
    A, B = grader.randn(4, 4), grader.randn(3, 5)
    return [
        ("x -> A x, A 4 x 4", lambda x: A @ x, grader.randn(4)),
        ("x -> tanh(B x), B 3 x 5", lambda x: torch.tanh(B @ x), grader.randn(5)),
        ("x -> (x1**2 x2, 5 x1 + x2 x3)",
         lambda x: torch.stack([x[0] ** 2 * x[1], 5 * x[0] + x[1] * x[2]]), grader.randn(3)),
    ]  # fmt: skip


@PART.exercise("04.1")
def _vjp(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for name, f, x in _vector_functions(grader):
        J = torch.autograd.functional.jacobian(f, x)  # (m, n)
        v = grader.randn(J.shape[0])
        got = grader.call(fn, f, x.clone(), v.clone(), gives="v^T J, a tensor like x")
        mistakes = {"you used v = ones: pass it, y.backward(gradient=v)": J.sum(0)}
        if J.shape[0] == J.shape[1]:
            mistakes["that is J v: backward gives v^T J, the product from the left"] = J @ v
        grader.compare(got, v @ J, f"v^T J for {name}", mistakes=mistakes)
    grader.passed("v^T J for 3 functions, square, wide and nonlinear")


@PART.exercise("04.2")
def _jacobian_rows(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for name, f, x in _vector_functions(grader):
        J = torch.autograd.functional.jacobian(f, x)
        got = grader.call(fn, f, x.clone(), gives="the Jacobian, a tensor")
        grader.compare(got, J, f"J of {name}", mistakes={
            "x.grad accumulates over backward() calls: each row came out as the sum of the "
            "rows so far (set x.grad = None before each, or use torch.autograd.grad)":
            J.cumsum(0),
        })  # fmt: skip
    grader.passed("the Jacobian of 3 functions, row by row")


@PART.exercise("04.3")
def _per_sample(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, d_in, d_out in ((6, 3, 2), (4, 5, 1)):
        model = nn.Linear(d_in, d_out).double()
        X, y = grader.randn(n, d_in), grader.randn(n, d_out)
        rows = [_grads(F.mse_loss(model(X[i : i + 1]), y[i : i + 1]), model.weight)[0]
                for i in range(n)]  # fmt: skip
        expected = torch.stack(rows)  # (N, d_out, d_in)
        (batch,) = _grads(F.mse_loss(model(X), y), model.weight)
        got = grader.call(fn, model, X, y, gives="a tensor (N, d_out, d_in)")
        factors = {1 / n: f"each gradient is of one sample's own loss: you took its share of "
                   f"the batch mean (a factor 1/N = 1/{n})"}  # fmt: skip
        grader.compare(got, expected, f"the per-sample gradients, N = {n}", mistakes={
            "that is the batch gradient repeated: one backward per sample (or vmap of grad)":
            batch.expand_as(expected),
        }, factors=factors)  # fmt: skip
    grader.passed("each sample's own gradient, for 2 models")


# --------------------------------------------------------------------------------------
# 05 Reverse-mode autodiff from scratch: the Value engine
# --------------------------------------------------------------------------------------


def value_node(
    data: float, parents: Sequence[Value], local_grads: Sequence[float], op: str = ""
) -> Value:
    r"""A new :class:`~gradbook.autodiff.Value`, the result of an operation you write.

    This is how a new operation joins the engine: its forward value, the values it was
    computed from, and its local gradients
    :math:`\partial\,\text{out} / \partial\,\text{parent}`, one per parent in the same
    order, evaluated at the forward values. :meth:`~gradbook.autodiff.Value.backward`
    then applies the chain rule through it like through any built-in operation.

    Parameters
    ----------
    data : float
        The result of the forward rule.
    parents : sequence of gradbook.autodiff.Value
        The inputs of the operation.
    local_grads : sequence of float
        :math:`\partial\,\text{out} / \partial\,\text{parent}` for each parent.
    op : str, optional
        The operation's name, shown in graphs.

    Examples
    --------
    >>> import math
    >>> from gradbook.autodiff import Value
    >>> a = Value(0.5)
    >>> out = value_node(math.exp(a.data), (a,), (math.exp(a.data),), op="exp")
    >>> out.backward()
    >>> round(a.grad, 4)
    1.6487
    """
    x = check_real(data, "data", finite=False)
    check_instance(parents, "parents", tuple | list, "a tuple of Value")
    check_instance(local_grads, "local_grads", tuple | list, "a tuple of numbers")
    check_instance(op, "op", str, "a str")
    for i, parent in enumerate(parents):
        check_instance(parent, f"parents[{i}]", Value, "a Value")
    if len(local_grads) != len(parents):
        raise ValueError(
            f"local_grads must hold one number per parent: {len(parents)} parent(s), got "
            f"{len(local_grads)} local gradient(s)"
        )
    local = tuple(
        check_real(g, f"local_grads[{i}]", finite=False) for i, g in enumerate(local_grads)
    )
    return Value._result(x, op, tuple(parents), local)


def _value_result(grader: Grader, fn, *args: Value, what: str) -> Value:
    out = grader.call(fn, *args, what=what, gives="a Value")
    if not isinstance(out, Value):
        raise Wrong(f"{what} returned {type_name(out)}, expected a Value",
                    "return value_node(data, parents, local_grads)")  # fmt: skip
    return out


def _check_node(grader: Grader, out: Value, args, data: float, local, mistakes, what) -> None:
    """The forward value, the parents and the local gradients of one result."""
    if not math.isclose(out.data, data, rel_tol=1e-9, abs_tol=1e-12):
        raise Wrong(f"{what}: data {out.data:.6g}, expected {data:.6g}", "check the forward rule")
    if tuple(map(id, out.parents)) != tuple(map(id, args)):
        raise Wrong(f"{what}: parents {out.parents}, expected the inputs in order",
                    "pass parents=(the inputs, in argument order)")  # fmt: skip
    got = tuple(out.local_grads)
    if _all_close(got, local):
        return
    shown = ", ".join(f"{g:.4g}" for g in got)
    for hint, wrong in mistakes.items():
        if _all_close(got, wrong):
            raise Wrong(f"{what}: local gradients ({shown})", hint)
    raise Wrong(
        f"{what}: local gradients ({shown}) are not the derivatives",
        "each local gradient is d(out)/d(parent), evaluated at the forward values",
    )


@PART.exercise("05.1")
def _value_sin(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for a0 in grader.randn(3).tolist():
        a = Value(a0)
        out = _value_result(grader, fn, a, what=f"value_sin(Value({a0:.3f}))")
        c, s = math.cos(a0), math.sin(a0)
        _check_node(grader, out, (a,), s, (c,), {
            "the derivative of sin is +cos": (-c,),
            "the local gradient is the derivative, cos(a), not sin(a) again": (s,),
            "local_grads hold d(out)/d(a) only: backward() multiplies by out.grad": (0.0,),
        }, f"value_sin(Value({a0:.3f}))")  # fmt: skip
    grader.passed("the forward value, the parent and the local gradient cos(a)")
    x, y = Value(0.7), Value(-1.3)
    loss = _value_result(grader, fn, x * y, what="value_sin(x * y)") * x
    loss.backward()
    x_t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y_t = torch.tensor(-1.3, dtype=torch.float64, requires_grad=True)
    (torch.sin(x_t * y_t) * x_t).backward()
    if not (math.isclose(x.grad, x_t.grad.item()) and math.isclose(y.grad, y_t.grad.item())):
        raise Wrong("the gradients of sin(x y) x differ from PyTorch's", "check the local grad")
    grader.passed("backward() through sin(x y) * x gives PyTorch's gradients")


@PART.exercise("05.2")
def _value_div(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for a0, b0 in grader.randn(3, 2).tolist():
        a, b = Value(a0), Value(b0)
        what = f"value_div(Value({a0:.3f}), Value({b0:.3f}))"
        out = _value_result(grader, fn, a, b, what=what)
        da, db = 1 / b0, -a0 / b0**2
        _check_node(grader, out, (a, b), a0 / b0, (da, db), {
            "d(a / b)/db = -a / b**2: the minus sign is missing": (da, -db),
            "local_grads are in the order of the parents: (d/da, d/db)": (db, da),
            "d(a / b)/db = -a / b**2: the factor a is missing": (da, -1 / b0**2),
        }, what)  # fmt: skip
    grader.passed("the quotient and its local gradients (1/b, -a/b**2), in order")
    a = Value(1.5)
    _value_result(grader, fn, a, a, what="value_div(a, a)").backward()
    if abs(a.grad) > 1e-12:
        raise Wrong(f"d(a / a)/da came out {a.grad:.4g}, not 0", "check the two local grads")
    grader.passed("a / a has gradient 0: both uses of a add up")


def _buggy_backward(root: Value, *, assign=False, forward=False, seed=True) -> None:
    """The typical mistakes of a hand-written backward loop."""
    order = root.topological_order()
    for v in order:
        v.grad = 0.0
    root.grad = 1.0 if seed else 0.0
    for node in order if forward else reversed(order):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            parent.grad = local * node.grad if assign else parent.grad + local * node.grad


def _leaf_grads(build: Callable, start: list[float], run: Callable) -> list[float]:
    """The leaves' gradients after ``run(root)`` on a fresh graph ``build(leaves)``, and the
    root's own last (1 when the pass was seeded)."""
    leaves = [Value(s) for s in start]
    root = build(leaves)
    root.zero_grad()
    run(root)
    return [v.grad for v in leaves] + [root.grad]


def _all_close(got: Sequence[float], expected: Sequence[float]) -> bool:
    pairs = zip(got, expected, strict=True)
    return all(math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-12) for g, e in pairs)


def _graphs(grader: Grader) -> list[tuple[str, Callable[[list[Value]], Value]]]:
    return [
        ("a * b + a * a", lambda v: v[0] * v[1] + v[0] * v[0]),
        ("tanh(a * b) * (a + c)", lambda v: (v[0] * v[1]).tanh() * (v[0] + v[2])),
        ("(a + b) * (a + b) * c", lambda v: (v[0] + v[1]) * (v[0] + v[1]) * v[2]),
    ]


@PART.exercise("05.3")
def _backward_loop(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for name, build in _graphs(grader):
        start = grader.randn(3).tolist()
        expected = _leaf_grads(build, start, lambda r: r.backward())
        got = _leaf_grads(build, start, lambda r: grader.call(fn, r, gives=None))
        if _all_close(got, expected):
            continue
        shown = ", ".join(f"{g:.4g}" for g in got)
        for hint, kwargs in {
            "a value used twice must get both contributions: parent.grad += ..., not =":
            {"assign": True},
            "walk the order backwards, from the root to the leaves: reversed(order)":
            {"forward": True},
            "seed the root first: root.grad = 1.0": {"seed": False},
        }.items():  # fmt: skip
            wrong = _leaf_grads(build, start, lambda r, kw=kwargs: _buggy_backward(r, **kw))
            if _all_close(got, wrong):
                raise Wrong(f"the gradients of a, b, c and the root for {name}: {shown}", hint)
        raise Wrong(
            f"the gradients of a, b, c and the root for {name}: {shown}, not the engine's",
            "parent.grad += local * node.grad, for each node in reversed order",
        )
    grader.passed("the engine's gradients on 3 graphs where a value is used twice")


# --------------------------------------------------------------------------------------
# 06 From Value to a network
# --------------------------------------------------------------------------------------


def _values(xs: Sequence[float]) -> list[Value]:
    return [Value(x) for x in xs]


def _compare_values(grader: Grader, got: Value, ref: torch.Tensor, what, mistakes) -> None:
    """A Value result against a torch scalar: the data, then (after backward) the leaves."""
    if not isinstance(got, Value):
        raise Wrong(f"{what} returned {type_name(got)}, expected a Value",
                    "build it from Values: an operation on a Value is a Value")  # fmt: skip
    grader.compare(torch.tensor(got.data, dtype=torch.float64), ref.detach(), what,
                   mistakes=mistakes)  # fmt: skip


@PART.exercise("06.1")
def _value_mse(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n in (1, 4, 7):
        s0, t0 = grader.randn(n), grader.randn(n)
        scores = _values(s0.tolist())
        got = grader.call(fn, scores, t0.tolist(), gives="a Value")
        s = _leaf(s0)
        ref = ((s - t0) ** 2).mean()
        mistakes = {"divide by the number of samples: a mean, not a sum":
                    ((s0 - t0) ** 2).sum()}  # fmt: skip
        _compare_values(grader, got, ref, f"the loss of {n} sample(s)", mistakes)
        got.backward()
        (expected,) = _grads(ref, s)
        grader.compare(torch.tensor([v.grad for v in scores], dtype=torch.float64), expected,
                       f"the scores' gradients, {n} samples")  # fmt: skip
    grader.passed("the mean squared error and its gradients, for 1, 4 and 7 samples")


@PART.exercise("06.2")
def _neuron(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, nonlinear in ((1, True), (3, False), (5, True)):
        w0, b0, x0 = grader.randn(n), grader.randn(), grader.randn(n)
        w, b = _values(w0.tolist()), Value(b0.item())
        got = grader.call(fn, w, b, x0.tolist(), nonlinear, gives="a Value")
        w_t, b_t = _leaf(w0), _leaf(b0)
        act = w_t @ x0 + b_t
        ref = torch.tanh(act) if nonlinear else act
        no_bias = w0 @ x0
        what = f"neuron with {n} input(s), nonlinear={nonlinear}"
        _compare_values(grader, got, ref, what, {
            "add the bias b": torch.tanh(no_bias) if nonlinear else no_bias,
            "tanh only when nonlinear is True": act.detach() if nonlinear else torch.tanh(act),
        })  # fmt: skip
        got.backward()
        gw, gb = _grads(ref, w_t, b_t)
        got_w = torch.tensor([v.grad for v in w], dtype=torch.float64)
        grader.compare(got_w, gw, f"the weights' gradients, {what}")
        grader.compare(torch.tensor(b.grad, dtype=torch.float64), gb, f"the bias gradient, {what}")
    grader.passed("the output and the gradients of w and b, with and without tanh")


# --------------------------------------------------------------------------------------
# 07 Checking gradients
# --------------------------------------------------------------------------------------


def _scalar_functions() -> list[tuple[str, Callable]]:
    return [
        ("sum(x sin x)", lambda x: (x * torch.sin(x)).sum()),
        ("logsumexp(x)", lambda x: torch.logsumexp(x.flatten(), 0)),
        ("sum(x**3) / 3", lambda x: (x**3).sum() / 3),
    ]


@PART.exercise("07.1")
def _central_difference(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    h = 1e-3  # large enough that a forward difference's O(h) error shows
    for (name, f), shape in zip(_scalar_functions(), ((4,), (2, 3), (5,)), strict=True):
        x = grader.randn(*shape)
        x_leaf = _leaf(x)
        (expected,) = _grads(f(x_leaf), x_leaf)
        got = grader.call(fn, f, x.clone(), h, gives="a tensor shaped like x")
        flat, forward = x.flatten(), torch.empty(x.numel(), dtype=x.dtype)
        for k in range(x.numel()):
            step = torch.zeros_like(flat)
            step[k] = h
            forward[k] = (f((flat + step).reshape(shape)) - f(x)) / h
        grader.compare(got, expected, f"the gradient of {name}, shape {shape}", mistakes={
            "that is the forward difference, with an O(h) error: use (f(x + h) - f(x - h)) "
            "/ 2h": forward.reshape(shape),
        }, factors={2: "the central difference divides by 2h, not h"}, rtol=1e-5)  # fmt: skip
    grader.passed("autograd's gradient to O(h**2), for 3 functions and shapes, h = 1e-3")


@PART.exercise("07.2")
def _matvec_backward(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for m, n in ((3, 4), (3, 3), (2, 5)):
        W, x, v = _leaf(grader.randn(m, n)), _leaf(grader.randn(n)), grader.randn(m)
        gW, gx = torch.autograd.grad(W @ x, (W, x), v)
        got = grader.call(fn, W.detach(), x.detach(), v, gives="a pair (grad_W, grad_x)")
        if not (isinstance(got, tuple | list) and len(got) == 2):
            raise Wrong(f"expected a pair (grad_W, grad_x), got {type_name(got)}",
                        "return both: return grad_W, grad_x")  # fmt: skip
        outer = "dL/dW = v x^T, torch.outer(grad_output, x): the upstream gradient first"
        grader.compare(got[0], gW, f"grad_W, W {m} x {n}", mistakes={outer: gW.T} if m == n
                       else {})  # fmt: skip
        grader.compare(got[1], gx, f"grad_x, W {m} x {n}")
    grader.passed("both gradients match autograd, for square and rectangular W")


@PART.exercise("07.3")
def _best_step(answer, grader: Grader) -> None:
    eps = torch.finfo(torch.float64).eps
    best = eps ** (1 / 3)
    if isinstance(answer, int | float) and not isinstance(answer, bool) and answer > 0:
        if best / 10 <= answer <= best * 10:
            grader.passed(f"h near eps**(1/3) = {best:.1e}: truncation h**2 meets rounding "
                          "eps / h")  # fmt: skip
            return
        if eps**0.5 / 10 <= answer <= eps**0.5 * 10:
            hint = (
                "that is the forward difference's best step, eps**(1/2): the central "
                "difference's error is O(h**2), so its best h is larger"
            )
        elif answer < best:
            hint = "smaller is worse below the best step: the rounding error grows as eps / h"
        else:
            hint = "larger is worse above the best step: the truncation error grows as h**2"
        raise Wrong(f"h = {answer:.1e} is not near the best step", hint)
    grader.number(answer, best, "h")  # names what came back; a number here is not near


# --------------------------------------------------------------------------------------
# 08 Custom autograd.Function
# --------------------------------------------------------------------------------------


def _report_wrong(report, what: str, hints: dict[str, str]) -> None:
    """Fail with a gradient check's finding, and the hint of the first phrase it holds."""
    if report.ok:
        return
    findings = [str(p) for p in report.problems] + [
        p.diagnosis or p.verdict for p in report.pairs if not p.ok
    ]
    text = "; ".join(findings) or "the check failed"
    hint = next((h for phrase, h in hints.items() if phrase in text), None)
    raise Wrong(f"{what}: {text}", hint or "compare your backward with the derivative")


@PART.exercise("08.1")
def _logsumexp(answer, grader: Grader) -> None:
    fn = grader.subclass(answer, torch.autograd.Function, "torch.autograd.Function")
    for shape in ((3, 5), (2, 2, 4)):
        x = grader.randn(*shape)
        for shift in (0.0, 1000.0):
            got = grader.call(fn.apply, x + shift, what="LogSumExp.apply", gives="a tensor")
            if shift and isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
                raise Wrong(
                    "the forward is not finite at x + 1000",
                    "exp(1000) overflows: "
                    "subtract each row's max m first, m + log(sum(exp(x - m)))",
                )
            what = f"the forward on shape {shape}" + (", x + 1000" if shift else "")
            grader.compare(got, torch.logsumexp(x + shift, -1), what)
    grader.passed("the forward: log-sum-exp over the last dim, finite at x + 1000")
    x = _leaf(grader.randn(3, 4))
    report = check_gradients(fn.apply, x)
    _report_wrong(report, "check_gradients", {
        "ignores grad_output": "multiply by grad_output, unsqueezed over the last dim",
        "zero upstream": "multiply by grad_output, unsqueezed over the last dim",
        "must match the size": "grad_output has one entry per row: grad_output.unsqueeze(-1)",
        "backward raised": "the backward raised: run it by hand on a small input",
    })  # fmt: skip
    grader.passed("check_gradients passes: the backward is softmax(x) * grad_output")


@PART.exercise("08.2")
def _silu(answer, grader: Grader) -> None:
    fn = grader.subclass(answer, torch.autograd.Function, "torch.autograd.Function")
    x = grader.randn(6)
    got = grader.call(fn.apply, x, what="SiLU.apply", gives="a tensor")
    grader.compare(got, F.silu(x), "the forward")
    x = _leaf(x)
    product = "the product rule: d(x sigmoid(x)) = sigmoid(x) + x sigmoid(x)(1 - sigmoid(x))"
    _report_wrong(check_gradients(fn.apply, x), "check_gradients", {
        "": product,
    })  # fmt: skip
    grader.passed("check_gradients passes: the first derivative is right")
    _report_wrong(check_gradgrad(fn.apply, x), "check_gradgrad", {
        "once_differentiable": "drop @once_differentiable: autograd must record the backward",
        "detach": "do not detach inside the backward: autograd must see the saved x",
        "": "the backward's own derivative is off: write it with differentiable torch ops",
    })  # fmt: skip
    grader.passed("check_gradgrad passes: the backward can be differentiated")


# --------------------------------------------------------------------------------------
# 09 Hooks and gradient flow
# --------------------------------------------------------------------------------------


@PART.exercise("09.1")
def _clip_hook(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for bound in (1.0, 0.25):
        hook = grader.call(fn, bound, what=f"clip_hook({bound})", gives="a hook function")
        if not callable(hook):
            raise Wrong(f"clip_hook({bound}) returned {type_name(hook)}, not a function",
                        "return a function of the gradient: def hook(grad): ...")  # fmt: skip
        x = _leaf(grader.randn(6))
        h = 3 * x
        handle = h.register_hook(hook)
        grader.call(lambda h=h: (h**2).sum().backward(), what="backward through your hook",
                    gives=None)  # fmt: skip
        handle.remove()
        g = 2 * h.detach()
        grader.compare(x.grad, 3 * g.clamp(-bound, bound), f"x.grad with bound {bound}",
                       mistakes={
            "a hook changes the gradient only by returning the new one": 3 * g,
            "clamp to [-bound, bound], both sides": 3 * g.clamp(0, bound),
        })  # fmt: skip
    grader.passed("the clamped gradient flows on to x, for 2 bounds")


@PART.exercise("09.2")
def _grad_norms(answer, grader: Grader) -> None:
    from gradbook.models import MLP

    fn = grader.function(answer)
    for sizes in ([4, 8, 8, 2], [3, 6, 1]):
        model = MLP(sizes).double()
        # X requires grad: a full backward hook on the first layer wants a grad_input
        X, y = grader.randn(16, sizes[0]).requires_grad_(), grader.randn(16, sizes[-1])
        outs, norms = [], []
        handles = [m.register_forward_hook(lambda m, i, o, outs=outs: outs.append(o))
                   for m in model.modules() if isinstance(m, nn.Linear)]  # fmt: skip
        for out in [*_grads(F.mse_loss(model(X), y), *outs)]:
            norms.append(out.norm().item())
        for handle in handles:
            handle.remove()
        got = grader.listed(grader.call(fn, model, X, y, gives="a list of norms"), float,
                            f"a list of {len(norms)} numbers",
                            "return [norm, norm, ...], one per nn.Linear")  # fmt: skip
        expected = torch.tensor(norms, dtype=torch.float64)
        grader.compare(torch.tensor(got, dtype=torch.float64), expected,
                       f"the norms for MLP {sizes}", mistakes={
            "backward hooks fire from the last layer to the first: reverse the list":
            expected.flip(0),
        })  # fmt: skip
        if any(m._backward_hooks or m._forward_hooks for m in model.modules()):
            raise Wrong("the model still has hooks", "remove each one: handle.remove()")
    grader.passed("one norm per layer, in forward order, for 2 networks; no hook left")


# --------------------------------------------------------------------------------------
# 10 Higher-order gradients
# --------------------------------------------------------------------------------------


@PART.exercise("10.1")
def _second_derivative(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    cases = [
        ("tanh", torch.tanh, lambda t: -2 * torch.tanh(t) * (1 - torch.tanh(t) ** 2)),
        ("sin", torch.sin, lambda t: -torch.sin(t)),
        ("x**3", lambda t: t**3, lambda t: 6 * t),
    ]
    for name, f, d2 in cases:
        x = grader.randn(7)
        x_leaf = _leaf(x)
        (d1,) = _grads(f(x_leaf).sum(), x_leaf)
        got = grader.call(fn, f, x.clone(), gives="f''(x), a tensor shaped like x",
                          errors=[("does not require grad", "pass create_graph=True to the "
                                   "first grad, so that its result has a graph")])  # fmt: skip
        grader.compare(got, d2(x), f"f'' for f = {name}", mistakes={
            "that is f'(x): differentiate the gradient once more": d1,
        })  # fmt: skip
    grader.passed("f'' of tanh, sin and x**3")


def _hessian_functions() -> list[tuple[str, Callable]]:
    return [
        ("Rosenbrock", lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()),
        ("sum(x**4) + x . roll(x)", lambda x: (x**4).sum() + (x * x.roll(1)).sum()),
    ]


@PART.exercise("10.2")
def _hvp(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for name, f in _hessian_functions():
        x, v = grader.randn(5), grader.randn(5)
        H = torch.autograd.functional.hessian(f, x)
        x_leaf = _leaf(x)
        (g,) = _grads(f(x_leaf), x_leaf)
        got = grader.call(fn, f, x.clone(), v.clone(), gives="H v, a tensor like x")
        grader.compare(got, H @ v, f"H v for {name}", mistakes={
            "multiply by v: the second grad needs grad_outputs=v (or differentiate g . v)":
            H.sum(1),
            "that is the gradient: differentiate g . v once more": g,
        })  # fmt: skip
    grader.passed("H v for 2 functions, against the full Hessian")


@PART.exercise("10.3")
def _newton(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    M = grader.randn(4, 4)
    A, b = M @ M.T + 4 * torch.eye(4, dtype=torch.float64), grader.randn(4)
    cases = [("a quadratic", lambda p: 0.5 * p @ A @ p - b @ p),
             ("sum(x**4 + x**2)", lambda p: (p**4 + p**2).sum())]  # fmt: skip
    for name, f in cases:
        x = grader.randn(4)
        H = torch.autograd.functional.hessian(f, x)
        x_leaf = _leaf(x)
        (g,) = _grads(f(x_leaf), x_leaf)
        step = torch.linalg.solve(H, g)
        got = grader.call(fn, f, x.clone(), gives="the new point, a tensor like x")
        grader.compare(got, x - step, f"the Newton step on {name}", mistakes={
            "solve H p = grad f (torch.linalg.solve): multiplying by H goes the wrong way":
            x - H @ g,
            "step against: x - H^-1 grad f": x + step,
            "that is a gradient step: scale the gradient by H^-1": x - g,
        })  # fmt: skip
    grader.passed("one step lands on the minimum of a quadratic, and matches elsewhere")


# --------------------------------------------------------------------------------------
# 11 Autograd errors, explained: fix each error
# --------------------------------------------------------------------------------------


@PART.exercise("11.1")
def _two_steps(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    halved = {0.5: "two backward() calls: w.grad holds the sum of both gradients"}
    for _ in range(2):  # two scalars w: 3 * exp(w) is a scalar to backward() from
        w = _leaf(grader.randn())
        got = grader.call(fn, w, gives="w.grad, a tensor", errors=[(
            "second time", "compute h = w.exp() inside the loop: the first backward() "
            "freed the graph it came from")])  # fmt: skip
        what = f"w.grad at w = {float(w.detach()):.4g}"
        grader.compare(got, 6 * w.detach().exp(), what, factors=halved)
    grader.passed("w.grad = 2 * 3 exp(w), with no error")


@PART.exercise("11.2")
def _doubled_sigmoid(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n in (3, 5):
        x = _leaf(grader.randn(n))
        got = grader.call(fn, x, gives="x.grad, a tensor")
        s = torch.sigmoid(x.detach())
        grader.compare(got, 2 * s * (1 - s), f"x.grad for {n} inputs", factors={
            0.5: "the factor 2 got lost: y = x.sigmoid() * 2",
        })  # fmt: skip
    grader.passed("x.grad = 2 s (1 - s), with no error")


@PART.exercise("11.3")
def _dtype(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, d in ((5, 3), (2, 4)):
        layer = nn.Linear(d, 2)
        data = grader.randn(n, d).numpy()  # float64, as NumPy makes it
        with torch.no_grad():
            expected = layer(torch.as_tensor(data, dtype=torch.float32))
        got = grader.call(fn, layer, data, gives="the output, a tensor", errors=[(
            "must have the same dtype", "convert the data to the layer's float32: "
            "torch.as_tensor(data, dtype=torch.float32)")])  # fmt: skip
        if layer.weight.dtype != torch.float32:
            raise Wrong(
                f"the layer was converted to {layer.weight.dtype}",
                "convert the data, not the model: the model's dtype is a choice",
            )
        grader.compare(got, expected, f"the output for {n} x {d} data")
        if got.dtype != torch.float32:
            raise Wrong(f"the output is {got.dtype}", "convert the data to float32")
    grader.passed("float32 outputs, the layer left in float32")


@PART.exercise("11.4")
def _ce_targets(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, k in ((4, 3), (6, 5)):
        logits = grader.randn(n, k)
        labels = grader.randint(k, n)
        column = labels.double().reshape(n, 1)  # (N, 1) floats, as a data file gives them
        got = grader.call(fn, logits, column.clone(), gives="the loss, a tensor", errors=[
            ("0D or 1D target", "flatten the column: labels.squeeze(1)"),
            ("expected target dtype", "class indices are integers: labels.long()"),
            ("class probabilities", "class indices are integers: labels.long()"),
        ])  # fmt: skip
        grader.compare(got, F.cross_entropy(logits, labels), f"the loss, N = {n}")
    grader.passed("the cross-entropy of the class indices, with no error")
