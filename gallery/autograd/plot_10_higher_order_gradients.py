r"""
Higher-order gradients
======================

Autograd can differentiate its own backward pass, and that gives second
derivatives. You will take a second derivative with ``create_graph=True`` and
check it against the formula, build a full Hessian with
:func:`torch.autograd.functional.hessian`, compute a Hessian-vector product by
a second backward pass without ever forming the Hessian, check both against
finite differences of the gradient, measure how their cost grows with the
number of inputs :math:`n`, and use the Hessian for Newton's method, which
solves an ill-conditioned quadratic in one step where gradient descent crawls.
"""

# %%
# A second derivative with ``create_graph=True``
# ----------------------------------------------
# :func:`torch.autograd.grad` returns the gradient as a plain tensor: the
# backward pass that produced it is not recorded, so it cannot be differentiated
# again. With ``create_graph=True`` autograd records the backward pass as a graph
# of its own, and the gradient can be differentiated like any other output. For
# :math:`f(x) = \tanh x`,
#
# .. math::
#
#    f'(x) = 1 - \tanh^2 x, \qquad f''(x) = -2 \tanh x \, (1 - \tanh^2 x).
import torch

x = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
y = torch.tanh(x)  # (61,)

# The points are independent, so the gradient of the sum is f' at each point.
(d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)  # (61,)
(d2,) = torch.autograd.grad(d1.sum(), x)  # (61,)

t = torch.tanh(x.detach())
print(f"f' has a graph       : {d1.grad_fn is not None}")
print(f"max |f' - formula|   : {(d1 - (1 - t**2)).abs().max():.1e}")
print(f"max |f'' - formula|  : {(d2 + 2 * t * (1 - t**2)).abs().max():.1e}")
torch.testing.assert_close(d1.detach(), 1 - t**2)
torch.testing.assert_close(d2, -2 * t * (1 - t**2))

# Without create_graph the gradient is a constant: no graph to differentiate.
(d1_plain,) = torch.autograd.grad(torch.tanh(x).sum(), x)
print(f"without create_graph : {d1_plain.grad_fn is not None}")
# sphinx_gallery_start_ignore
assert d1_plain.grad_fn is None and not d1_plain.requires_grad
# sphinx_gallery_end_ignore

# %%
# The three curves, all from autograd:
from gradbook.plotting import plot_lines, use_style

use_style()
ax = plot_lines(
    x.detach(),
    {"f(x) = tanh x": y.detach(), "f'(x)": d1.detach(), "f''(x)": d2},
    xlabel="x",
    ylabel="value",
    title="tanh and its first two derivatives, by autograd",
)

# %%
# The Hessian
# -----------
# For a scalar function of a vector, :math:`f : \R^n \to \R`, the second
# derivatives form the :math:`n \times n` Hessian
# :math:`H_{ij} = \partial^2 f / \partial x_i \partial x_j`, the Jacobian of the
# gradient. We use the :math:`n`-dimensional Rosenbrock function,
#
# .. math::
#
#    f(\vx) = \sum_{i=1}^{n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2,
#
# where each term couples two neighbours, so the Hessian is tridiagonal.
# :func:`torch.autograd.functional.hessian` builds it: it differentiates the
# gradient once more, with ``vectorize=True`` for all :math:`n` rows in one
# batched backward pass.
from torch.autograd.functional import hessian


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


torch.manual_seed(0)
x5 = torch.randn(5, dtype=torch.float64)  # (5,)
H = hessian(rosenbrock, x5, vectorize=True)  # (5, 5)
for row in H:
    print(" ".join(f"{h:9.1f}" for h in row.tolist()))
# sphinx_gallery_start_ignore
torch.testing.assert_close(H, H.T)  # symmetric
assert torch.count_nonzero(torch.triu(H, diagonal=2)) == 0  # tridiagonal
# sphinx_gallery_end_ignore

# %%
# The Hessian is the Jacobian of the gradient, so central differences of the
# gradient, column by column, must reproduce it.
# :func:`gradbook.gradcheck.numerical_jacobian` takes those differences for us,
# applied to a function that returns the gradient:
from gradbook.gradcheck import numerical_jacobian


def gradient(f, x: torch.Tensor) -> torch.Tensor:
    """The gradient of f at x, as a plain tensor (no graph is kept)."""
    with torch.enable_grad():  # numerical_jacobian calls us under no_grad
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x), x)
    return g


H_fd = numerical_jacobian(lambda x: gradient(rosenbrock, x), x5)  # (5, 5)
rel = (H - H_fd).abs().max() / H.abs().max()
print(f"Hessian vs differences of the gradient: relative error {rel:.1e}")
torch.testing.assert_close(H, H_fd, rtol=1e-8, atol=1e-6)

# %%
# Hessian-vector products by double backward
# ------------------------------------------
# Many methods (Newton-CG, curvature estimates, influence functions) need only
# :math:`H \vv` for a few vectors :math:`\vv`. Since
# :math:`H \vv = \nabla_{\vx} \left( \nabla f(\vx)\T \vv \right)`, it takes two
# backward passes: one for the gradient, recorded with ``create_graph=True``, and
# one through the scalar :math:`\nabla f\T \vv`. Each pass costs a small multiple
# of evaluating :math:`f`, so :math:`H \vv` costs :math:`O(n)` for this
# :math:`f`, while the Hessian has :math:`n^2` entries to compute and store.


def hvp(f, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H(x) @ v by two backward passes; the Hessian is never formed."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)  # (n,), a graph
    (Hv,) = torch.autograd.grad(g, x, grad_outputs=v)  # d(g . v)/dx
    return Hv


v5 = torch.randn(5, dtype=torch.float64)  # (5,)
Hv = hvp(rosenbrock, x5, v5)
h = 1e-5  # central difference of the gradient along v
g_plus = gradient(rosenbrock, x5 + h * v5)  # (5,)
g_minus = gradient(rosenbrock, x5 - h * v5)  # (5,)
Hv_fd = (g_plus - g_minus) / (2 * h)
print(f"max |Hv - H @ v|         : {(Hv - H @ v5).abs().max():.1e}")
print(f"max |Hv - differences|   : {(Hv - Hv_fd).abs().max():.1e}")
print(f"largest |Hv|             : {Hv.abs().max():.1e}")
torch.testing.assert_close(Hv, H @ v5)
torch.testing.assert_close(Hv, Hv_fd, rtol=1e-7, atol=1e-6)

# %%
# The product with the unit vector :math:`\mathbf{e}_k` is column :math:`k` of
# the Hessian, so :math:`n` products rebuild it: the full Hessian is :math:`n`
# times the work of one product.
eye = torch.eye(5, dtype=torch.float64)
H_cols = torch.stack([hvp(rosenbrock, x5, e) for e in eye], dim=1)  # (5, 5)
torch.testing.assert_close(H_cols, H)
print("5 Hessian-vector products with e_k rebuild the 5 x 5 Hessian")

# %%
# Cost as :math:`n` grows
# -----------------------
# We time the full Hessian and one Hessian-vector product for :math:`n` from 16
# to 1024, on one thread, the best of five runs each. The times are only drawn:
# they differ from machine to machine. At small :math:`n` both are dominated by
# the fixed cost of a call into PyTorch; past that, the Hessian's time grows
# towards :math:`n^2` while the product stays cheap: more than ten times
# cheaper at :math:`n = 1024`.
import time


def best_time(fn, *args, repeats: int = 5, **kwargs) -> float:
    """The shortest of ``repeats`` wall-clock times of fn(*args, **kwargs)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times)


sizes = [16, 32, 64, 128, 256, 512, 1024]
t_hessian, t_hvp = [], []
threads = torch.get_num_threads()
torch.set_num_threads(1)  # count work, not how well it spreads over cores
try:
    for n in sizes:
        xn = torch.randn(n, dtype=torch.float64)  # (n,)
        vn = torch.randn(n, dtype=torch.float64)  # (n,)
        t_hessian.append(best_time(hessian, rosenbrock, xn, vectorize=True))
        t_hvp.append(best_time(hvp, rosenbrock, xn, vn))
finally:
    torch.set_num_threads(threads)

ax = plot_lines(
    sizes,
    {
        "full Hessian (vectorized)": t_hessian,
        "Hessian-vector product (double backward)": t_hvp,
    },
    logx=True,
    logy=True,
    marker="o",
    xlabel="number of inputs n",
    ylabel="time (s), best of 5",
    title="Cost of second-order information on Rosenbrock in n dimensions",
)
n_ref = torch.tensor(sizes[-3:], dtype=torch.float64)
ax.plot(
    n_ref,
    t_hessian[-1] * (n_ref / sizes[-1]) ** 2,
    color="gray",
    linestyle=":",
    label=r"slope 2 ($\propto n^2$)",
)
ax.legend()
# sphinx_gallery_start_ignore
# Measured on a busy 2-core machine (5 runs): the product 140 to 220 x faster
# at n = 1024, and the Hessian 16 to 36 x slower at n = 1024 than at n = 256.
assert t_hessian[-1] > 10 * t_hvp[-1], (t_hessian[-1], t_hvp[-1])
assert t_hessian[-1] > 2 * t_hessian[sizes.index(256)], t_hessian
# sphinx_gallery_end_ignore

# %%
# Newton's method on an ill-conditioned quadratic
# -----------------------------------------------
# Gradient descent steps along :math:`-\nabla f`; Newton's method rescales the
# step by the inverse Hessian,
#
# .. math::
#
#    \vx_{k+1} = \vx_k - H(\vx_k)^{-1} \nabla f(\vx_k).
#
# On a quadratic :math:`f(\vx) = \tfrac12 \vx\T A \vx - \vb\T \vx` the Hessian is
# :math:`A` and the minimum is :math:`\vx^\ast = A^{-1} \vb`, so one Newton step
# lands on it from anywhere. We take a quadratic whose curvatures are 1 and 30
# (condition number 30), with its axes rotated, and compare with gradient descent
# at the step size 0.05 (steps above :math:`2/30 \approx 0.067` diverge along
# the steep axis).
import math

angle = math.pi / 6
R = torch.tensor(
    [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
    dtype=torch.float64,
)
A = R @ torch.diag(torch.tensor([1.0, 30.0], dtype=torch.float64)) @ R.T
b = torch.tensor([1.0, 2.0], dtype=torch.float64)
x_star = torch.linalg.solve(A, b)  # (2,)


def quadratic(p: torch.Tensor) -> torch.Tensor:
    """0.5 p^T A p - b^T p; p[0], p[1] may be grids (for the contour plot)."""
    Ap = (A[0, 0] * p[0] + A[0, 1] * p[1], A[1, 0] * p[0] + A[1, 1] * p[1])
    return 0.5 * (p[0] * Ap[0] + p[1] * Ap[1]) - b[0] * p[0] - b[1] * p[1]


x0 = torch.tensor([-2.0, 2.5], dtype=torch.float64)
H0 = hessian(quadratic, x0)  # (2, 2), equal to A
step = torch.linalg.solve(H0, gradient(quadratic, x0))  # H^-1 grad f
newton = [x0, x0 - step]

gd, lr = [x0], 0.05
for _ in range(50):
    gd.append(gd[-1] - lr * gradient(quadratic, gd[-1]))

f_star = quadratic(x_star).item()
points = {"start": x0, "Newton, 1 step": newton[1], "GD, 50 steps": gd[-1]}
for name, p in points.items():
    gap = abs(quadratic(p).item() - f_star)
    print(
        f"{name:15s}: |x - x*| = {(p - x_star).norm():.2e}, f - f* = {gap:.2e}"
    )
torch.testing.assert_close(newton[1], x_star)
# sphinx_gallery_start_ignore
assert quadratic(gd[-1]).item() - f_star > 1e-3
# sphinx_gallery_end_ignore

# %%
# The two paths over the contours of :math:`f`: gradient descent zig-zags down
# the steep walls and then creeps along the flat valley floor; Newton's single
# step goes straight to the minimum, because the Hessian undoes the stretching.
#
# Beyond quadratics Newton's step is exact only for the local quadratic model,
# so it takes several steps. For large :math:`n`, Newton-CG solves
# :math:`H \vp = -\nabla f` by conjugate gradients, with Hessian-vector
# products only: never the :math:`n \times n` matrix.
from gradbook.plotting import plot_contour_with_paths

ax = plot_contour_with_paths(
    quadratic,
    {
        "gradient descent, lr = 0.05, 50 steps": torch.stack(gd),
        "Newton's method, 1 step": torch.stack(newton),
    },
    xlim=(-3.0, 3.0),
    ylim=(-2.5, 3.0),
    minimum=tuple(x_star.tolist()),
    title="Ill-conditioned quadratic (condition number 30)",
)

# %%
# Where next
# ----------
# Second derivatives, custom Functions and hooks each bring errors of their
# own. The next page,
# :ref:`sphx_glr_auto_examples_autograd_plot_11_autograd_errors.py`, raises the
# common autograd errors for real, with the cause and the fix of each.
#
# API used here: :func:`torch.autograd.grad` (with ``create_graph=True``),
# :func:`torch.autograd.functional.hessian`,
# :func:`gradbook.gradcheck.numerical_jacobian`,
# :func:`gradbook.plotting.plot_lines`,
# :func:`gradbook.plotting.plot_contour_with_paths`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **10.1** Write ``answer_10_1(f, x)``: the second derivative
# :math:`f''(x)` of an element-wise function ``f`` at every entry of ``x``,
# by autograd. The checker tries ``tanh``, ``sin`` and :math:`x^3`.
from gradbook.exercises import check


def answer_10_1(f, x: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # differentiate the derivative


print(check("10.1", answer_10_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 10.1</summary>


def answer_10_1(f, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_()
    (d1,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)  # a graph
    (d2,) = torch.autograd.grad(d1.sum(), x)  # entries are independent
    return d2


print(check("10.1", answer_10_1))
# sphinx_gallery_start_ignore
assert check("10.1", answer_10_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **10.2** Write ``answer_10_2(f, x, v)``: the Hessian-vector product
# :math:`H(\vx) \vv` of a scalar function ``f``, by two backward passes
# and without forming :math:`H`.


def answer_10_2(f, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError


print(check("10.2", answer_10_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 10.2</summary>


def answer_10_2(f, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (Hv,) = torch.autograd.grad(g, x, grad_outputs=v)  # d(g . v)/dx
    return Hv


print(check("10.2", answer_10_2))
# sphinx_gallery_start_ignore
assert check("10.2", answer_10_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **10.3** Write ``answer_10_3(f, x)``: one step of Newton's method,
# :math:`\vx - H(\vx)^{-1} \grad f(\vx)`, with the Hessian from
# :func:`torch.autograd.functional.hessian`. On a quadratic it must land
# on the minimum.


def answer_10_3(f, x: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError


print(check("10.3", answer_10_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 10.3</summary>


def answer_10_3(f, x: torch.Tensor) -> torch.Tensor:
    H = torch.autograd.functional.hessian(f, x)  # (n, n)
    x_leaf = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x_leaf), x_leaf)  # (n,)
    return x - torch.linalg.solve(H, g)  # solve H p = g: no inverse


print(check("10.3", answer_10_3))
# sphinx_gallery_start_ignore
assert check("10.3", answer_10_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
