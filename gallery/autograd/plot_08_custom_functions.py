r"""
Custom autograd.Function
========================

When autograd's gradient of a formula is ``nan``, or just wrong, you can write
the backward pass yourself. You will watch the naive softplus
:math:`\log(1 + e^x)` return ``inf`` and a ``nan`` gradient at large inputs,
write a :class:`torch.autograd.Function` with a stable forward and a
hand-written backward (``ctx``, ``save_for_backward``, ``needs_input_grad``),
check it with :func:`gradbook.gradcheck.check_gradients`, see what
``once_differentiable`` does to second derivatives, and make the backward
differentiable so that :func:`gradbook.gradcheck.check_gradgrad` passes too.
"""

# %%
# The naive softplus overflows
# ----------------------------
# Softplus, :math:`s(x) = \log(1 + e^x)`, is a smooth ReLU; its derivative is
# the sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`. Written as it reads, it
# breaks in float32 past :math:`x \approx 88.7`, where :math:`e^x` exceeds the
# largest float32 (about :math:`3.4 \times 10^{38}`) and becomes ``inf``. The
# value is then ``inf``, and the gradient ``nan``: the backward of ``log``
# multiplies by :math:`1 / (1 + e^x) = 0`, the backward of ``exp`` by
# :math:`e^x = \infty`, and :math:`0 \cdot \infty` is ``nan``. (At
# :math:`x = -20` the value is lost too: :math:`1 + e^{-20}` rounds to 1.)
import torch


def softplus_naive(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 + torch.exp(x))


x = torch.tensor([-20.0, 0.0, 20.0, 88.0, 89.0, 100.0], requires_grad=True)
y = softplus_naive(x)
y.sum().backward()
for xi, yi, gi in zip(x.tolist(), y.tolist(), x.grad.tolist(), strict=True):
    print(f"x = {xi:6.1f}   s(x) = {yi:10.4g}   gradient = {gi:.4g}")
# sphinx_gallery_start_ignore
assert y[0] == 0  # 1 + exp(-20) rounds to 1 in float32
assert torch.isinf(y[-2:]).all() and torch.isnan(x.grad[-2:]).all()
assert torch.isfinite(x.grad[:-2]).all()
# sphinx_gallery_end_ignore

# %%
# Rearranging the formula is not enough
# -------------------------------------
# The same function can be written so that nothing overflows,
#
# .. math::
#
#    s(x) = \max(x, 0) + \log\left(1 + e^{-|x|}\right),
#
# since :math:`e^{-|x|} \le 1`. The values are now right everywhere, but
# autograd differentiates the *formula*, not the function: at :math:`x = 0`,
# ``relu`` and ``abs`` have kinks where PyTorch picks the slope 0, so the
# gradient there comes out 0 instead of :math:`\sigma(0) = 1/2`, although
# softplus is perfectly smooth.


def softplus_rearranged(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x) + torch.log1p(torch.exp(-x.abs()))


x = torch.tensor([0.0, 100.0], requires_grad=True)
softplus_rearranged(x).sum().backward()
print(f"autograd gradient at x = 0, 100: {x.grad.tolist()}")
print(f"sigmoid(x)       at x = 0, 100: {torch.sigmoid(x).tolist()}")
# sphinx_gallery_start_ignore
assert x.grad.tolist() == [0.0, 1.0]
# sphinx_gallery_end_ignore

# %%
# A Function: forward, backward and ``ctx``
# -----------------------------------------
# A :class:`torch.autograd.Function` pairs a forward with the backward we write
# ourselves. We add a sharpness :math:`\beta` (as :class:`torch.nn.Softplus`
# has), :math:`s_\beta(x) = s(\beta x) / \beta`, so that there are two inputs:
#
# .. math::
#
#    \frac{\partial s_\beta}{\partial x} = \sigma(\beta x), \qquad
#    \frac{\partial s_\beta}{\partial \beta}
#    = \frac{x \, \sigma(\beta x) - s_\beta(x)}{\beta}.
#
# - ``forward(ctx, x, beta)`` runs on plain tensors (autograd does not record
#   inside it). ``ctx.save_for_backward`` keeps the tensors the backward needs;
#   PyTorch checks that they were not changed in place in between, and frees
#   them once the backward has run.
# - ``backward(ctx, grad_output)`` gets :math:`\partial L / \partial y` and
#   returns one gradient per input of ``forward``, or ``None``.
#   ``ctx.needs_input_grad`` says which inputs need one, so that the work for
#   the others is skipped.
# - ``@once_differentiable`` declares that the backward itself cannot be
#   differentiated: here it multiplies in place (``mul_``) to save a buffer.
from torch.autograd.function import once_differentiable


class Softplus(torch.autograd.Function):
    """s(beta x) / beta, stable for any x; first derivatives only."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        z = beta * x
        y = (torch.relu(z) + torch.log1p(torch.exp(-z.abs()))) / beta
        ctx.save_for_backward(x, beta, y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        x, beta, y = ctx.saved_tensors
        s = torch.sigmoid(beta * x)  # ds/dx: never overflows
        grad_x = grad_beta = None
        if ctx.needs_input_grad[1]:  # beta is a scalar: sum over the elements
            grad_beta = (grad_output * (x * s - y) / beta).sum()
        if ctx.needs_input_grad[0]:
            grad_x = s.mul_(grad_output)  # in place: s is not needed after
        return grad_x, grad_beta


# %%
# With :math:`\beta = 1` (a constant that does not require grad) the Function
# agrees with :func:`torch.nn.functional.softplus`, and its gradient is the
# sigmoid at every input, 0 and 100 included. The node it leaves in the graph
# keeps ``needs_input_grad``: a gradient for ``x`` only.
import torch.nn.functional as F

x = torch.tensor([-20.0, 0.0, 20.0, 88.0, 89.0, 100.0], requires_grad=True)
beta = torch.tensor(1.0)
y = Softplus.apply(x, beta)
y.sum().backward()
for xi, yi, gi in zip(x.tolist(), y.tolist(), x.grad.tolist(), strict=True):
    print(f"x = {xi:6.1f}   s(x) = {yi:10.4g}   gradient = {gi:.4g}")
print(f"needs_input_grad (x, beta): {y.grad_fn.needs_input_grad}")
torch.testing.assert_close(y, F.softplus(x))
torch.testing.assert_close(x.grad, torch.sigmoid(x.detach()))
# sphinx_gallery_start_ignore
assert y.grad_fn.needs_input_grad == (True, False) and beta.grad is None
# sphinx_gallery_end_ignore

# %%
# Over the whole range, in float32, against the exact values (computed in
# float64 by :func:`torch.nn.functional.softplus` and :func:`torch.sigmoid`):
# the naive value loses all its digits below :math:`x \approx -17`, where
# :math:`1 + e^x` rounds to 1, and both of its curves stop at the overflow
# (``inf`` and ``nan`` leave gaps). The Function stays at float32's rounding
# error everywhere. Errors that are exactly 0 are drawn at :math:`10^{-9}`.
import math

from gradbook.plotting import plot_lines, subplots, use_style

use_style()
grid = torch.linspace(-80, 100, 361, requires_grad=True)  # (361,), float32
exact = {
    "value": F.softplus(grid.detach().double()),  # (361,), float64
    "gradient": torch.sigmoid(grid.detach().double()),
}
errors = {"value": {}, "gradient": {}}
for name, fn in [("naive", softplus_naive), ("Function", Softplus.apply)]:
    out = fn(grid) if name == "naive" else fn(grid, torch.tensor(1.0))
    (slope,) = torch.autograd.grad(out.sum(), grid)
    for kind, got in [("value", out.detach()), ("gradient", slope)]:
        rel = (got.double() - exact[kind]).abs() / exact[kind]
        errors[kind][name] = rel.clamp(min=1e-9)  # nan and inf stay

fig, axes = subplots(1, 2, sharey=True)
overflow = math.log(torch.finfo(torch.float32).max)  # 88.72
for ax, kind in zip(axes, ["value", "gradient"], strict=True):
    title = f"softplus {kind}, float32"
    plot_lines(grid.detach(), errors[kind], ax=ax, logy=True, title=title)
    ax.set_ylabel("relative error")
    ax.axvspan(overflow, 100, color="gray", alpha=0.2, label="exp(x) = inf")
    ax.text(94, 1e-4, "naive: inf / nan", rotation=90, ha="center")
    ax.legend(loc="center left")
# sphinx_gallery_start_ignore
naive_value, naive_grad = errors["value"]["naive"], errors["gradient"]["naive"]
assert (
    torch.isinf(naive_value[-20:]).all()
    and torch.isnan(naive_grad[-20:]).all()
)
assert (naive_value[grid.detach() < -17] == 1).all()
for kind in errors:
    assert errors[kind]["Function"].max() < 1e-6, kind
# sphinx_gallery_end_ignore

# %%
# Checking the first derivatives
# ------------------------------
# The hand-written backward is exactly the kind of code that can be wrong and
# still run. :func:`gradbook.gradcheck.check_gradients` compares it with
# finite differences, for both inputs, here in float64 with :math:`\beta`
# requiring grad, at inputs from :math:`-30` to :math:`40`:
from gradbook.gradcheck import check_gradients

x64 = torch.tensor([-30.0, -2.0, -0.25, 0.5, 3.0, 40.0], dtype=torch.float64)
x64.requires_grad_(True)
beta64 = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
report = check_gradients(Softplus.apply, (x64, beta64))
print(report)
assert report.ok

# %%
# Second derivatives: what ``once_differentiable`` does
# -----------------------------------------------------
# Ask for the gradient with ``create_graph=True``, as for a Hessian (see
# :ref:`sphx_glr_auto_examples_autograd_plot_10_higher_order_gradients.py`).
# ``once_differentiable`` attaches an error node to the gradient only when the
# upstream gradient itself requires grad; here it is a constant (the ones of
# ``.sum()``), so the gradient comes back with no graph at all, and
# differentiating it fails with an error that does not say why.
(g,) = torch.autograd.grad(
    Softplus.apply(x64, beta64).sum(), x64, create_graph=True
)
print(f"gradient has a graph: {g.requires_grad}")
try:
    g.sum().backward()
except RuntimeError as err:
    print(f"RuntimeError:\n  {err}")
else:
    raise AssertionError("the second backward should have failed")
# sphinx_gallery_start_ignore
# With an upstream gradient that requires grad, the error node is attached.
v = torch.ones_like(x64, requires_grad=True)
(g,) = torch.autograd.grad(
    Softplus.apply(x64, beta64), x64, v, create_graph=True
)
try:
    g.sum().backward()
except RuntimeError as err:
    assert "once_differentiable" in str(err)
else:
    raise AssertionError("the error node should have raised")
# sphinx_gallery_end_ignore

# %%
# :func:`gradbook.gradcheck.check_gradgrad` checks the backward's own
# derivatives, and says in words what stops them:
from gradbook.gradcheck import check_gradgrad

report = check_gradgrad(Softplus.apply, (x64, beta64))
print(report)
assert not report.ok and "once_differentiable" in str(report)

# %%
# (PyTorch's :func:`torch.autograd.gradgradcheck` sees the same Function as
# second derivatives of zero, and reports a mismatch of numbers:)
try:
    torch.autograd.gradgradcheck(Softplus.apply, (x64, beta64))
except RuntimeError as err:
    print(f"{type(err).__name__}: {str(err).splitlines()[0]}")
else:
    raise AssertionError("gradgradcheck should have failed")

# %%
# A backward that autograd can differentiate
# ------------------------------------------
# The fix is to write the backward with out-of-place torch operations and drop
# the decorator. Autograd then records the backward like any other code (with
# ``create_graph=True``), including the saved output ``y``, whose own gradient
# comes from this Function's backward again. The report pairs each input of
# the backward, :math:`x` (``input 0``), :math:`\beta` (``input 1``) and the
# upstream gradient :math:`v` (``grad_output 0``), with each gradient it
# returns (``grad 0`` for :math:`x`, ``grad 1`` for :math:`\beta`).


class SoftplusTwice(Softplus):
    """The same forward; a backward that can be differentiated."""

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        x, beta, y = ctx.saved_tensors
        s = torch.sigmoid(beta * x)
        grad_x = grad_beta = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output * s
        if ctx.needs_input_grad[1]:
            grad_beta = (grad_output * (x * s - y) / beta).sum()
        return grad_x, grad_beta


report = check_gradgrad(SoftplusTwice.apply, (x64, beta64))
print(f"check_gradgrad passed: {report.ok}")
for p in report.pairs:  # d(grad k)/d(input i): one row per pair
    error = f"rel err {p.max_rel_error:.1e}, {p.verdict}"
    print(f"  d({p.output})/d({p.input}): {error}")
assert report.ok
# sphinx_gallery_start_ignore
assert check_gradients(SoftplusTwice.apply, (x64, beta64)).ok
# sphinx_gallery_end_ignore

# %%
# Now a second derivative can be taken, and it matches the formula
# :math:`\partial^2 s_\beta / \partial x^2 = \beta \, \sigma(\beta x)
# (1 - \sigma(\beta x))`:
(g,) = torch.autograd.grad(
    SoftplusTwice.apply(x64, beta64).sum(), x64, create_graph=True
)
(g2,) = torch.autograd.grad(g.sum(), x64)
sig = torch.sigmoid(beta64 * x64).detach()
formula = beta64.detach() * sig * (1 - sig)
print(f"max |d2s/dx2 - formula|: {(g2 - formula).abs().max():.1e}")
torch.testing.assert_close(g2, formula)

# %%
# Where next
# ----------
# A Function replaces a whole backward; a hook changes or reads one gradient as
# it flows past. That is the next page,
# :ref:`sphx_glr_auto_examples_autograd_plot_09_hooks.py`.
#
# API used here: :class:`torch.autograd.Function`,
# :func:`torch.autograd.function.once_differentiable`,
# :func:`gradbook.gradcheck.check_gradients`,
# :func:`gradbook.gradcheck.check_gradgrad`,
# :class:`gradbook.gradcheck.GradientReport`,
# :func:`gradbook.plotting.plot_lines`, :func:`gradbook.plotting.subplots`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **08.1** Write a :class:`torch.autograd.Function` ``LogSumExp``:
# :math:`\log \sum_j e^{x_j}` over the last dimension, finite for inputs
# around 1000, with a hand-written backward
# (:math:`\partial / \partial x_j` is the softmax of :math:`x`). The
# checker tests the forward on large inputs and the backward with
# :func:`gradbook.gradcheck.check_gradients`.
from gradbook.exercises import check


class LogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # stable: subtract the max first

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


print(check("08.1", LogSumExp))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 08.1</summary>


class LogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        m = x.max(dim=-1, keepdim=True).values  # every exponent <= 0
        out = m.squeeze(-1) + torch.log(torch.exp(x - m).sum(dim=-1))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        x, out = ctx.saved_tensors
        softmax = torch.exp(x - out.unsqueeze(-1))
        return softmax * grad_output.unsqueeze(-1)  # one v per row


print(check("08.1", LogSumExp))
# sphinx_gallery_start_ignore
assert check("08.1", LogSumExp).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **08.2** Write a Function ``SiLU``, :math:`x \, \sigma(x)`, whose
# backward autograd can differentiate again, so that
# :func:`gradbook.gradcheck.check_gradgrad` passes as well as
# :func:`gradbook.gradcheck.check_gradients`.


class SiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


print(check("08.2", SiLU))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 08.2</summary>


class SiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)  # out-of-place ops, no once_differentiable
        return grad_output * (s + x * s * (1 - s))  # the product rule


print(check("08.2", SiLU))
# sphinx_gallery_start_ignore
assert check("08.2", SiLU).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
