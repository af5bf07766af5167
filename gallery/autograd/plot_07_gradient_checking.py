r"""
Checking gradients
==================

A hand-written backward pass can be wrong and still run: the shapes fit, training
even makes some progress, and nothing says the gradient is off by a factor of 2. The
cure is to compare it with a derivative computed a completely different way: by
finite differences. In this tutorial you will derive the forward, central and
complex-step differences, see on a log-log plot why their error has a V shape and
where its best step lies, then use :func:`gradbook.gradcheck.check_gradients` to catch
two deliberately wrong backward passes, read what it says about each, and see how it
tells a kink (ReLU at 0) from a bug.
"""

# %%
# Three finite differences
# ------------------------
# Taylor's theorem gives :math:`f(x \pm h)` in terms of the derivatives at :math:`x`:
#
# .. math::
#
#    f(x \pm h) = f(x) \pm h f'(x) + \frac{h^2}{2} f''(x) \pm \frac{h^3}{6} f'''(x)
#    + O(h^4).
#
# Solving for :math:`f'(x)` gives three estimates. The forward difference keeps the
# :math:`h f''` term, so its error is :math:`O(h)`:
#
# .. math::
#
#    \frac{f(x + h) - f(x)}{h} = f'(x) + \frac{h}{2} f''(x) + O(h^2).
#
# The central difference cancels the even terms, so its error is :math:`O(h^2)`:
#
# .. math::
#
#    \frac{f(x + h) - f(x - h)}{2h} = f'(x) + \frac{h^2}{6} f'''(x) + O(h^4).
#
# The complex step evaluates :math:`f` at :math:`x + ih` (for a function that extends
# to complex numbers, as most formulas do); the real and imaginary parts separate, and
# the derivative sits alone in the imaginary part, with an :math:`O(h^2)` error:
#
# .. math::
#
#    f(x + ih) = f(x) - \frac{h^2}{2} f''(x)
#    + i \left( h f'(x) - \frac{h^3}{6} f'''(x) \right) + O(h^4),
#
# .. math::
#
#    \frac{\operatorname{Im} f(x + ih)}{h} = f'(x) - \frac{h^2}{6} f'''(x) + O(h^4).
#
# The truncation error shrinks with :math:`h`, but the first two subtract two nearly
# equal numbers. Each value of :math:`f` carries a rounding error of about
# :math:`\epsilon |f|` (:math:`\epsilon = 2^{-52} \approx 2.2 \times 10^{-16}` in
# float64), and dividing the difference by :math:`h` turns it into an error of about
# :math:`\epsilon |f| / h`, which *grows* as :math:`h` shrinks. Balancing the two terms
# gives the best step (when :math:`f` and its derivatives are of order 1):
#
# .. math::
#
#    \text{forward: } \frac{h}{2}|f''| \approx \frac{\epsilon |f|}{h}
#    \;\Rightarrow\; h^\ast \sim \epsilon^{1/2} \approx 1.5 \times 10^{-8},
#
# .. math::
#
#    \text{central: } \frac{h^2}{6}|f'''| \approx \frac{\epsilon |f|}{h}
#    \;\Rightarrow\; h^\ast \sim \epsilon^{1/3} \approx 6 \times 10^{-6}.
#
# The complex step subtracts nothing: the derivative sits alone in the imaginary part,
# so there is no cancellation and :math:`h` can be as small as we like.

# %%
# Error against step size: the V
# ------------------------------
# We differentiate :math:`f(x) = e^x \sin x` at :math:`x = 1`, whose derivative
# :math:`f'(x) = e^x (\sin x + \cos x)` we know exactly, in float64, with 151 steps from
# :math:`10^{-16}` to :math:`10^{-1}` evaluated at once as a vector.
import math

import torch


def f(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(x) * torch.sin(x)  # real or complex


x0 = 1.0
exact = math.exp(x0) * (math.sin(x0) + math.cos(x0))

h = torch.logspace(-16, -1, 151, dtype=torch.float64)  # (151,) step sizes
x = torch.full_like(h, x0)  # (151,)
estimates = {
    "forward difference": (f(x + h) - f(x)) / h,
    "central difference": (f(x + h) - f(x - h)) / (2 * h),
    "complex step": f(torch.complex(x, h)).imag / h,
}
errors = {
    name: (d - exact).abs() / abs(exact) for name, d in estimates.items()
}

eps = torch.finfo(torch.float64).eps
predicted = {
    "forward difference": eps ** (1 / 2),
    "central difference": eps ** (1 / 3),
}
print("                    best h   its error  predicted best h")
for name, err in errors.items():
    k = int(err.argmin())
    note = f"{predicted[name]:.1e}" if name in predicted else "-"
    print(f"{name:<19} {h[k]:.1e}   {err[k]:.1e}    {note}")

# The minima sit within a factor of 10 of eps^(1/2) and eps^(1/3) ...
for name, h_star in predicted.items():
    h_best = h[int(errors[name].argmin())].item()
    assert h_star / 10 < h_best < h_star * 10, (name, h_best)
# ... and the complex step stays at rounding level from h = 1e-8 to 1e-16.
assert errors["complex step"][h <= 1e-8].max() < 4 * eps

# %%
# On a log-log plot each difference quotient draws a V: truncation error on the right
# (slope 1 for forward, slope 2 for central), rounding error on the left (slope -1),
# and the best step at the bottom. The complex step has no left arm: its error falls
# to machine precision and stays there. (Errors that are exactly 0 are drawn at
# :math:`10^{-17}` so that the log axis can show them.)
from gradbook.plotting import plot_lines, use_style

use_style()
ax = plot_lines(
    h,
    {name: err.clamp(min=1e-17) for name, err in errors.items()},
    logx=True,
    logy=True,
    xlabel="step size h",
    ylabel="relative error of f'(1)",
    title=r"Finite-difference error for $f(x) = e^x \sin x$ at $x = 1$"
    " (float64)",
)
lines = {line.get_label(): line for line in ax.get_lines()}
# The complex step's right arm lies on the central difference's (both are
# h^2 |f'''| / 6): dash it so that both stay visible.
lines["complex step"].set_linestyle("--")
ax.set_ylim(5e-18, 5)
ax.legend(loc="upper right")
ax.axhline(eps, color="gray", linestyle="--", linewidth=1)
ax.text(1.5e-16, eps * 2, r"machine $\epsilon$", color="gray")
for name, h_star, text, side in [
    (
        "forward difference",
        eps**0.5,
        r"best $h \approx \epsilon^{1/2}$ ",
        "right",
    ),
    (
        "central difference",
        eps ** (1 / 3),
        r" best $h \approx \epsilon^{1/3}$",
        "left",
    ),
]:
    color = lines[name].get_color()
    ax.axvline(h_star, color=color, linestyle=":", linewidth=1.5)
    ax.text(h_star, 1e-14, text, color=color, fontsize=11, ha=side)

# %%
# Checking a correct gradient
# ---------------------------
# :func:`gradbook.gradcheck.check_gradients` does this for every element of every input
# of a function: it computes the vector-Jacobian product :math:`\vv\T \mJ` with
# autograd (for a random upstream gradient :math:`\vv`, so that a backward that ignores
# its ``grad_output`` is caught too), computes the same product by finite
# differences, and compares them element by element. Inputs should be float64: in
# float32, :math:`\epsilon^{2/3} \approx 10^{-5}` is the best relative accuracy a
# central difference can reach, too coarse to see small mistakes.
#
# Which differences run? The default method is central, and the report's first line
# names it. When the numbers are float64 and no step ``eps`` is given, the check
# first saves work with a
# *forward* difference for every element (one extra call of the function each
# instead of two), and re-computes with central differences only the elements the
# forward difference cannot vouch for. The ``note:`` line says on how many elements
# central differences ran.
#
# A correct function, one dense layer :math:`\vy = \tanh(\mW \vx)`, passes, and the
# report says by how much. Here no element needed the central re-check:
from gradbook.gradcheck import check_gradients

torch.manual_seed(0)
W = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)  # (3, 4)
x = torch.randn(4, dtype=torch.float64, requires_grad=True)  # (4,)


def layer(W: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(W @ x)  # (3,)


report = check_gradients(layer, (W, x))
print(report)
assert report.ok
# sphinx_gallery_start_ignore
assert report.notes[0].startswith("central differences ran on 0 of 16")
# sphinx_gallery_end_ignore

# %%
# The numbers behind the check are a finite-difference Jacobian, available on its own
# as :func:`gradbook.gradcheck.numerical_jacobian` (laid out like
# :func:`torch.autograd.functional.jacobian`, which computes it with autograd):
from gradbook.gradcheck import numerical_jacobian

J_numerical = numerical_jacobian(
    lambda x: layer(W.detach(), x), x.detach()
)  # (3, 4)
J_autograd = torch.autograd.functional.jacobian(
    lambda x: layer(W.detach(), x), x.detach()
)
difference = (J_numerical - J_autograd).abs().max()
print(f"largest |difference| between the two Jacobians: {difference:.1e}")
torch.testing.assert_close(J_numerical, J_autograd, rtol=1e-8, atol=1e-10)


# %%
# A backward that forgot a factor of 2
# ------------------------------------
# Now a bug. A custom :class:`torch.autograd.Function` computes :math:`x^2` but its
# backward returns :math:`x` instead of :math:`2x`, times the upstream gradient. It
# runs without complaint; the check fails, shows the worst element with both values
# (entries of :math:`\vv\T \mJ` for the random :math:`\vv`, so not simply :math:`x`
# and :math:`2x`), and names the pattern. All four elements fail the forward-difference
# screen, so central differences ran on all four:
class SquareForgotTwo(torch.autograd.Function):
    """x ** 2, with a bug in the backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad_output * x  # BUG: d(x^2)/dx is 2x


x = torch.tensor(
    [0.5, -1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True
)
report = check_gradients(SquareForgotTwo.apply, x)
print(report)
assert not report.ok
assert "factor 2" in report.pairs[0].diagnosis
# sphinx_gallery_start_ignore
assert report.notes[0].startswith("central differences ran on 4 of 4")
# sphinx_gallery_end_ignore


# %%
# A transposed gradient
# ---------------------
# For :math:`\vy = \mW \vx` the gradient with respect to the matrix is the outer
# product :math:`\partial L / \partial \mW = \vv \vx\T` (upstream gradient times
# input). Writing the outer product the other way round, :math:`\vx \vv\T`, is a
# classic slip: for a square matrix the shapes still match. The check pins the bug on
# the matrix, passes the vector, and recognises the transpose:
class MatVecTransposed(torch.autograd.Function):
    """W @ x, with the gradient for W transposed."""

    @staticmethod
    def forward(ctx, W: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(W, x)
        return W @ x  # (n,)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        W, x = ctx.saved_tensors
        grad_W = torch.outer(
            x, grad_output
        )  # BUG: should be outer(grad_output, x)
        grad_x = W.T @ grad_output  # (n,): correct
        return grad_W, grad_x


W_square = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)  # (3, 3)
x3 = torch.randn(3, dtype=torch.float64, requires_grad=True)  # (3,)
report = check_gradients(MatVecTransposed.apply, (W_square, x3))
print(report)
assert not report.ok
assert not report.pairs[0].ok and report.pairs[1].ok
assert "transpose" in report.pairs[0].diagnosis

# %%
# A kink is not a bug
# -------------------
# :math:`\mathrm{ReLU}(x) = \max(0, x)` has no derivative at :math:`x = 0`: the slope is
# 0 on the left and 1 on the right, and PyTorch picks 0. A central difference there
# gives the average, :math:`1/2`, which disagrees with any choice autograd could make.
# The check looks at the two one-sided differences separately: when they disagree
# and the analytical value lies between them, the element is a *kink*, reported but
# not failed. (The one-sided slopes it prints are 0 and 1 times the random upstream
# gradient at that element.)
x_kink = torch.tensor(
    [-1.0, 0.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True
)
report = check_gradients(torch.relu, x_kink)
print(report)
pair = report.pairs[0]
assert report.ok and pair.verdict == "kink" and pair.n_kinks == 1
assert "kink at 1 element(s), first at [1]" in pair.diagnosis

# %%
# What ``torch.autograd.gradcheck`` says
# --------------------------------------
# PyTorch ships a gradient checker too. On the factor-2 bug it returns ``False`` (or,
# by default, raises with both Jacobians in full: fine for four elements, hard to
# read for four thousand, and with no word on the pattern):
passed = torch.autograd.gradcheck(
    SquareForgotTwo.apply, (x,), raise_exception=False
)
print(f"gradcheck(SquareForgotTwo): {passed}")
assert not passed
try:
    torch.autograd.gradcheck(SquareForgotTwo.apply, (x,))
except RuntimeError as err:
    print(f"{type(err).__name__}: {err}")

# %%
# And at the ReLU kink it cannot tell a non-differentiable point from a wrong
# gradient, so a correct function fails:
relu_ok = torch.autograd.gradcheck(
    torch.relu, (x_kink,), raise_exception=False
)
print(f"gradcheck(relu at 0): {relu_ok}")
assert not relu_ok

# %%
# Where next
# ----------
# The two bugs above sat in hand-written ``backward`` methods. The next tutorial,
# :ref:`sphx_glr_auto_examples_autograd_plot_08_custom_functions.py`, writes custom
# :class:`torch.autograd.Function` classes on purpose, and checks them to first and
# second order. The checker is :func:`gradbook.gradcheck.check_gradients` (and
# :func:`gradbook.gradcheck.assert_gradients` to raise,
# :func:`gradbook.gradcheck.check_module` for a model's parameters), its result a
# :class:`gradbook.gradcheck.GradientReport`; the vector-Jacobian products it
# compares are explained on :doc:`/theory/jacobians`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **07.1** Write ``answer_07_1(f, x, h)``: the gradient of a scalar
# function ``f`` at ``x`` (a float64 tensor of any shape) by central
# differences, one element at a time, shaped like ``x``. The checker calls
# it with :math:`h = 10^{-3}`, where a forward difference's :math:`O(h)`
# error shows.
from gradbook.exercises import check


def answer_07_1(f, x: torch.Tensor, h: float) -> torch.Tensor:
    raise NotImplementedError  # (f(x + h e_k) - f(x - h e_k)) / 2h for each k


print(check("07.1", answer_07_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 07.1</summary>


def answer_07_1(f, x: torch.Tensor, h: float) -> torch.Tensor:
    grad = torch.zeros_like(x)
    for k in range(x.numel()):
        e_k = torch.zeros_like(x)
        e_k.view(-1)[k] = h  # a step along element k only
        grad.view(-1)[k] = (f(x + e_k) - f(x - e_k)) / (2 * h)
    return grad


print(check("07.1", answer_07_1))
# sphinx_gallery_start_ignore
assert check("07.1", answer_07_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **07.2** Write the backward of :math:`\vy = \mW \vx` by hand:
# ``answer_07_2(W, x, grad_output)`` returns ``(grad_W, grad_x)``, the
# gradients of :math:`L` for the upstream gradient
# :math:`\vv = \partial L / \partial \vy`. The checker compares them with
# autograd, for square and rectangular ``W``.


def answer_07_2(W, x, grad_output):
    raise NotImplementedError  # return grad_W, grad_x


print(check("07.2", answer_07_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 07.2</summary>


def answer_07_2(W, x, grad_output):
    grad_W = torch.outer(grad_output, x)  # v x^T, shaped like W
    grad_x = W.T @ grad_output  # W^T v, shaped like x
    return grad_W, grad_x


print(check("07.2", answer_07_2))
# sphinx_gallery_start_ignore
assert check("07.2", answer_07_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **07.3** Without looking at the figure: roughly what step :math:`h` makes
# a central difference most accurate in float64, for a function whose
# values and derivatives are of order 1? A number within a factor of 10
# passes.

answer_07_3 = None  # a step, e.g. 1e-3

print(check("07.3", answer_07_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 07.3</summary>

# Truncation h**2 / 6 meets rounding eps / h at h = eps ** (1 / 3).
answer_07_3 = torch.finfo(torch.float64).eps ** (1 / 3)

print(check("07.3", answer_07_3))
# sphinx_gallery_start_ignore
assert check("07.3", answer_07_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
