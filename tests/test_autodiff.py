"""Tests for gradbook.autodiff: the scalar engine, with float64 PyTorch as the oracle."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gradbook.autodiff import Value

# ---------------------------------------------------------------------------------------
# Helpers: each expression is written once and run on both backends (Value and tensor).
# ---------------------------------------------------------------------------------------


def t64(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def close(ours: float, theirs: float, tol: float = 1e-9) -> bool:
    return math.isclose(ours, theirs, rel_tol=tol, abs_tol=tol)


def grads_of(fn, *xs: float) -> tuple[tuple[float, ...], tuple[float, ...], float, float]:
    """Run ``fn`` on Values and on float64 tensors; return both grads and both outputs."""
    values = [Value(x) for x in xs]
    out = fn(*values)
    out.backward()
    tensors = [t64(x) for x in xs]
    ref = fn(*tensors)
    ref.backward()
    theirs = tuple(0.0 if t.grad is None else t.grad.item() for t in tensors)
    return tuple(v.grad for v in values), theirs, out.data, ref.item()


# Unary and binary building blocks for random graphs. Each is valid on its whole input
# domain (log and division get a positive argument by construction), so every generated
# graph can be differentiated.
UNARY = {
    "neg": lambda a: -a,
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "sqrt": lambda a: (a * a + 1.0) ** 0.5,
    "recip": lambda a: 1.0 / (a * a + 1.0),
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: (a * a + 0.5).log(),
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "sigmoid": lambda a: a.sigmoid(),
    "rpow": lambda a: 2.0 ** a.tanh(),
    "affine": lambda a: 3.0 - 0.5 * a,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
}

step = st.one_of(
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 99), st.just(0)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 99), st.integers(0, 99)),
)


def run_program(program, leaves):
    """Apply each (op, i, j) step to earlier nodes; the output sums the last three nodes."""
    nodes = list(leaves)
    for op, i, j in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        nodes.append(UNARY[op](a) if op in UNARY else BINARY[op](a, b))
    out = nodes[-1]
    for node in nodes[-3:-1]:
        out = out + node
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    xs=st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=1, max_size=4),
    program=st.lists(step, min_size=1, max_size=14),
)
def test_random_graphs_match_torch_float64(xs, program):
    """Gradients of random expression DAGs (with shared subexpressions) equal PyTorch's."""
    leaves = [Value(x) for x in xs]
    out = run_program(program, leaves)
    assume(abs(out.data) < 1e6)
    out.backward()
    tensors = [t64(x) for x in xs]
    ref = run_program(program, tensors)
    ref.backward()
    assert close(out.data, ref.item())
    for leaf, tensor in zip(leaves, tensors, strict=True):
        expected = 0.0 if tensor.grad is None else tensor.grad.item()
        assert close(leaf.grad, expected), (leaf.grad, expected)


# ---------------------------------------------------------------------------------------
# Each operation's derivative, including edge values.
# ---------------------------------------------------------------------------------------

OPS = {
    "add": (lambda a, b: a + b, [(1.5, -2.0), (0.0, 0.0)]),
    "mul": (lambda a, b: a * b, [(1.5, -2.0), (0.0, 3.0)]),
    "sub": (lambda a, b: a - b, [(1.5, -2.0)]),
    "div": (lambda a, b: a / b, [(1.5, -2.0), (0.0, 0.25)]),
    "rsub": (lambda a: 2.0 - a, [(0.7,)]),
    "rdiv": (lambda a: 2.0 / a, [(0.7,), (-3.0,)]),
    "radd_rmul": (lambda a: 2.0 + 3.0 * a, [(0.7,)]),
    "neg": (lambda a: -a, [(0.7,)]),
    "pow2": (lambda a: a**2, [(-1.5,), (0.0,)]),
    "pow_neg": (lambda a: a**-2.5, [(1.5,)]),
    "pow_half": (lambda a: a**0.5, [(2.0,), (0.0,)]),
    "pow_zero": (lambda a: a**0, [(0.0,), (-2.0,)]),
    "pow_int_negative_base": (lambda a: a**3, [(-2.0,)]),
    "rpow": (lambda a: 3.0**a, [(0.5,), (-2.0,)]),
    "rpow_zero_base": (lambda a: 0.0**a, [(2.0,)]),
    "exp": (lambda a: a.exp(), [(0.3,), (-700.0,)]),
    "log": (lambda a: a.log(), [(0.3,), (1e-300,)]),
    "tanh": (lambda a: a.tanh(), [(0.3,), (25.0,), (-1000.0,), (0.0,)]),
    "relu": (lambda a: a.relu(), [(0.3,), (-0.3,), (0.0,)]),
    "sigmoid": (lambda a: a.sigmoid(), [(0.3,), (-745.0,), (1000.0,), (-1000.0,), (0.0,)]),
}


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        pytest.param(fn, args, id=f"{name}{args}")
        for name, (fn, cases) in OPS.items()
        for args in cases
    ],
)
def test_each_operation_matches_torch(fn, args):
    """Every operation's value and derivative equal float64 PyTorch's, at edge values too."""
    ours, theirs, out, ref = grads_of(fn, *args)
    assert close(out, ref) or (math.isinf(out) and out == ref)
    for g, h in zip(ours, theirs, strict=True):
        assert close(g, h) or (math.isinf(g) and g == h), (ours, theirs)


def test_relu_derivative_at_zero_is_zero():
    """relu'(0) is 0, as in PyTorch (not 1 and not undefined)."""
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("x", [800.0, -800.0, 1e308, -1e308])
def test_sigmoid_and_tanh_extremes_do_not_overflow(x):
    """sigmoid and tanh saturate at huge inputs with derivative exactly 0 and no error."""
    s, t = Value(x), Value(x)
    s.sigmoid().backward()
    t.tanh().backward()
    assert s.grad == 0.0 and t.grad == 0.0
    assert Value(x).sigmoid().data == (1.0 if x > 0 else 0.0)
    assert Value(x).tanh().data == math.copysign(1.0, x)


def test_exp_overflows_to_inf_like_torch():
    """exp of a huge number is inf (as torch.exp), not an OverflowError."""
    assert Value(1000.0).exp().data == math.inf == torch.tensor(1000.0).exp().item()


# ---------------------------------------------------------------------------------------
# Accumulation: the micrograd `=` vs `+=` bug, and PyTorch's accumulation across calls.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "expected"),
    [(lambda a: a + a, 2.0), (lambda a: a * a, 6.0), (lambda a: a * a * a + a, 28.0)],
    ids=["a+a", "a*a", "a*a*a+a"],
)
def test_value_used_twice_receives_both_contributions(fn, expected):
    """A value used more than once gets the sum of the gradients of its uses."""
    a = Value(3.0)
    fn(a).backward()
    assert a.grad == expected


def test_gradients_accumulate_across_backward_calls_like_torch():
    """Two backward calls add up, and intermediate grads are not propagated twice."""
    x = Value(1.5)
    y = x * x  # an intermediate node
    z = y * 3.0 + y.tanh()
    z.backward()
    once = x.grad
    z.backward()
    xt = t64(1.5)
    zt = (xt * xt) * 3.0 + (xt * xt).tanh()
    zt.backward(retain_graph=True)
    zt.backward()
    assert close(x.grad, 2 * once)
    assert close(x.grad, xt.grad.item())


def test_zero_grad_clears_the_whole_graph():
    """zero_grad resets every node the value depends on, so the next backward starts fresh."""
    a, b = Value(2.0), Value(-1.0)
    c = (a * b).relu() + a.exp()
    c.backward()
    c.zero_grad()
    assert all(v.grad == 0.0 for v in c.topological_order())
    c.backward()
    assert close(a.grad, math.exp(2.0))  # relu branch is off: d/da = e**a only


# ---------------------------------------------------------------------------------------
# Graph structure and depth.
# ---------------------------------------------------------------------------------------


def test_parents_are_an_ordered_tuple_and_values_use_slots():
    """Parents keep argument order (not a set), and Value has no per-instance __dict__."""
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    assert (b * a).parents == (b, a)
    assert (b * a).local_grads == (1.0, 2.0)  # d(ba)/db = a, d(ba)/da = b
    assert not hasattr(a, "__dict__")


def test_topological_order_puts_parents_first():
    """Each value appears after all of its parents, the output last, each node once."""
    a = Value(0.5)
    b = a * a
    c = b + a.exp()
    d = c * b
    order = d.topological_order()
    assert order[-1] is d and len(order) == len({id(v) for v in order})
    index = {id(v): i for i, v in enumerate(order)}
    for v in order:
        assert all(index[id(p)] < index[id(v)] for p in v.parents)


def test_chain_100000_deep_runs_backward():
    """A chain of 100,000 operations backpropagates (no RecursionError), in seconds."""
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    start = time.perf_counter()
    y.backward()
    elapsed = time.perf_counter() - start
    assert close(x.grad, 1.00001**100_000, tol=1e-6)
    assert elapsed < 30.0  # generous: a loose sanity bound, the benchmark reports timings


# ---------------------------------------------------------------------------------------
# Errors and conveniences.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "name"),
    [("2", "str"), (None, "NoneType"), (torch.tensor(1.0), "Tensor"), (True, "bool")],
)
@pytest.mark.parametrize(
    "op",
    [
        lambda v, o: v + o,
        lambda v, o: o + v,
        lambda v, o: v * o,
        lambda v, o: o * v,
        lambda v, o: v - o,
        lambda v, o: o - v,
        lambda v, o: v / o,
        lambda v, o: o / v,
        lambda v, o: v**o,
    ],
    ids=["add", "radd", "mul", "rmul", "sub", "rsub", "div", "rdiv", "pow"],
)
def test_non_numeric_operand_raises_type_error_naming_it(bad, name, op):
    """A non-number operand (bool included) raises TypeError naming its type."""
    with pytest.raises(TypeError, match=name):
        op(Value(1.0), bad)


@pytest.mark.parametrize("bad", ["1", None, True, [1.0]])
def test_constructor_rejects_non_numbers(bad):
    """Value() takes a real number only."""
    with pytest.raises(TypeError, match="data must be a real number"):
        Value(bad)


@pytest.mark.parametrize(
    "make",
    [lambda: Value(math.nan), lambda: Value(1.0) * math.nan, lambda: math.nan + Value(1.0)],
    ids=["data", "operand", "reflected operand"],
)
def test_nan_is_rejected_with_value_error(make):
    """A NaN given as data or as an operand raises ValueError instead of spreading."""
    with pytest.raises(ValueError, match="must be a number, got nan"):
        make()


def test_label_must_be_a_string():
    """A label that is not a str is a TypeError naming label."""
    with pytest.raises(TypeError, match="label must be a str or None, got int"):
        Value(1.0, label=3)


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda: Value(0.0).log(), "log needs a positive argument, got 0"),
        (lambda: Value(-1.0).log(), "log needs a positive argument, got -1"),
        (lambda: Value(0.0) ** -1, "0 \\*\\* -1 is undefined"),
        (lambda: Value(1.0) / Value(0.0), "0 \\*\\* -1 is undefined"),
        (lambda: 1.0 / Value(0.0), "0 \\*\\* -1 is undefined"),
        (lambda: Value(-8.0) ** (1 / 3), "not a real number"),
        (lambda: (-2.0) ** Value(1.0), "base >= 0"),
        (lambda: 0.0 ** Value(-1.0), "undefined"),
    ],
)
def test_domain_errors_raise_value_error(fn, match):
    """Outside an operation's domain the engine raises ValueError with the offending value."""
    with pytest.raises(ValueError, match=match):
        fn()


def test_value_exponent_is_rejected_with_a_hint():
    """Value ** Value is not a primitive; the error says how to write it."""
    with pytest.raises(TypeError, match=r"\.log\(\)\)\.exp\(\)"):
        Value(2.0) ** Value(3.0)


def test_numpy_scalars_work_on_both_sides():
    """NumPy scalars are real numbers: they combine with Values from either side."""
    v = Value(2.0)
    out = np.float64(3.0) * v + v * np.int64(2)
    assert isinstance(out, Value) and out.data == 10.0


def test_repr_reads_as_the_value():
    """repr shows data and grad, and the label when there is one."""
    x = Value(2.0, label="x")
    y = x * x
    y.backward()
    assert repr(y) == "Value(data=4.0, grad=1.0)"
    assert repr(x) == "Value(data=2.0, grad=4.0, label='x')"
    assert y.op == "*" and x.op == ""
