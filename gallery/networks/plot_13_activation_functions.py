r"""
Activation functions and their derivatives
==========================================

Backpropagation multiplies by the derivative of every activation it passes through, so
an activation is only as good as its derivative. You will compute the derivatives of
sigmoid, tanh, ReLU, Leaky ReLU and GELU with autograd, check each against its closed
form, see why the sigmoid's derivative never exceeds :math:`\tfrac14` and why tanh's
zero-centred outputs help the next layer, and watch what that bound, together with
the weights, does to the gradient of a 20-layer network compared with ReLU.
"""

# %%
# Derivatives of elementwise functions with autograd
# --------------------------------------------------
# An activation :math:`f` acts on each entry separately, so its Jacobian is diagonal,
# :math:`J = \mathrm{diag}(f'(x_1), \dots, f'(x_n))`. One vector-Jacobian product with
# :math:`v = \mathbf{1}` therefore returns every derivative at once:
# :math:`v^T J = (f'(x_1), \dots, f'(x_n))`. That is ``grad_outputs=torch.ones_like(x)``
# (see :doc:`/theory/jacobians`).
import torch
import torch.nn.functional as F

# A grid on [-4, 4] in steps of 0.01 that contains 0 exactly.
x = (
    torch.arange(-400, 401, dtype=torch.float64) / 100
).requires_grad_()  # (T,)


def autograd_derivative(f, x: torch.Tensor) -> torch.Tensor:
    """f'(x) at every entry of x, for an elementwise f, by one VJP."""
    (dfdx,) = torch.autograd.grad(f(x), x, grad_outputs=torch.ones_like(x))
    return dfdx  # (T,)


# %%
# Sigmoid and tanh
# ----------------
# The logistic sigmoid squashes a number into :math:`(0, 1)`; the hyperbolic tangent
# is the same S-shaped curve stretched to :math:`(-1, 1)` and centred at 0:
#
# .. math::
#
#    \sigma(x) = \frac{1}{1 + e^{-x}}, \qquad
#    \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = 2\,\sigma(2x) - 1 .
#
# Both have derivatives that can be written with the function's own value,
#
# .. math::
#
#    \sigma'(x) = \sigma(x)\,\big(1 - \sigma(x)\big), \qquad
#    \tanh'(x) = 1 - \tanh^2(x),
#
# and autograd agrees with both to float64 rounding.
t = x.detach()
torch.testing.assert_close(torch.tanh(t), 2 * torch.sigmoid(2 * t) - 1)
torch.testing.assert_close(
    torch.tanh(t), (t.exp() - (-t).exp()) / (t.exp() + (-t).exp())
)

closed_forms = {
    "sigmoid": (
        torch.sigmoid,
        lambda t: torch.sigmoid(t) * (1 - torch.sigmoid(t)),
    ),
    "tanh": (torch.tanh, lambda t: 1 - torch.tanh(t) ** 2),
}
for name, (f, df) in closed_forms.items():
    error = (autograd_derivative(f, x) - df(x)).abs().max().item()
    print(f"{name:8s} max |autograd - closed form| = {error:.1e}")
    torch.testing.assert_close(
        autograd_derivative(f, x), df(x), rtol=0, atol=1e-15
    )

# %%
# Both saturate: for large :math:`|x|` the function flattens and its derivative falls to
# zero. The dashed black lines are the closed forms, drawn over the autograd curves.
from gradbook.plotting import plot_function_and_derivative, use_style

use_style()
fig = plot_function_and_derivative(
    {name: f for name, (f, _) in closed_forms.items()},
    x.detach(),
    closed_form={name: df for name, (_, df) in closed_forms.items()},
)

# %%
# Why :math:`\sigma'(x) \le \tfrac14`
# -----------------------------------
# With :math:`p = \sigma(x) \in (0, 1)`, the derivative is :math:`p(1 - p)`, a downward
# parabola in :math:`p` whose top is at :math:`p = \tfrac12`, that is :math:`x = 0`:
#
# .. math::
#
#    \sigma'(x) = p(1-p) = \tfrac14 - \big(p - \tfrac12\big)^2 \le \tfrac14 .
#
# By the same argument :math:`\tanh'(x) = 1 - \tanh^2(x) \le 1`, with equality at 0.
d_sigmoid = autograd_derivative(torch.sigmoid, x)
d_tanh = autograd_derivative(torch.tanh, x)
for name, d in (("sigmoid'", d_sigmoid), ("tanh'", d_tanh)):
    at = x[d.argmax()].item()
    print(f"max {name + '(x)':11s} = {d.max().item():.6f} at x = {at:.2f}")
# sphinx_gallery_start_ignore
assert d_sigmoid.max().item() == 0.25
assert x[d_sigmoid.argmax()].item() == 0.0
assert d_tanh.max().item() <= 1.0
# sphinx_gallery_end_ignore

# %%
# Why zero-centred outputs help
# -----------------------------
# The sigmoid's outputs are all positive, tanh's have both signs. That matters to
# the *next* layer. For one sample, a unit :math:`z_i = \mathbf{w}_i^T h + b_i`
# receives the weight gradient
#
# .. math::
#
#    \frac{\partial L}{\partial w_{ij}} = \delta_i \, h_j, \qquad
#    \delta_i = \frac{\partial L}{\partial z_i},
#
# so when every input :math:`h_j` is positive, all weights of the unit share the
# sign of :math:`\delta_i`: one sample's step moves them all up or all down, and
# reaching weights of mixed signs takes a zigzag of such steps. With tanh's inputs
# of both signs each weight moves its own way. We feed the same pre-activations
# through each function into a linear layer and print the signs of the rows of
# :math:`\partial L / \partial W` that autograd returns for one sample:
from torch import nn

torch.manual_seed(0)
z_prev = torch.randn(8)  # (d,): one sample's pre-activations
delta = torch.tensor([0.5, -1.0, 2.0])  # (k,): an upstream gradient dL/dz
next_layer = nn.Linear(8, 3)
for name, f in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
    h = f(z_prev)  # (d,)
    (grad_W,) = torch.autograd.grad(
        (delta * next_layer(h)).sum(), next_layer.weight
    )  # (k, d)
    signs = ["".join("+" if g > 0 else "-" for g in row) for row in grad_W]
    print(
        f"{name:8s} inputs {h.min():+.2f} to {h.max():+.2f}, "
        f"rows of dL/dW: {' '.join(signs)}"
    )
# sphinx_gallery_start_ignore
# Over many samples: sigmoid inputs always give one-signed rows, tanh rarely.
Z = torch.randn(500, 8)  # (N, d)
D = torch.randn(500, 3)  # (N, k)
for f, expected in ((torch.sigmoid, 1.0), (torch.tanh, 0.05)):
    rows = (
        D[:, :, None] * f(Z)[:, None, :]
    )  # (N, k, d): delta_i h_j per sample
    one_sign = ((rows > 0).all(-1) | (rows < 0).all(-1)).float().mean()
    assert one_sign == 1.0 if expected == 1.0 else one_sign < expected
torch.testing.assert_close(grad_W, delta[:, None] * torch.tanh(z_prev))
# sphinx_gallery_end_ignore

# %%
# ReLU, Leaky ReLU and GELU
# -------------------------
# The rectifiers do not saturate for positive inputs:
#
# .. math::
#
#    \mathrm{ReLU}'(x) = \begin{cases} 1 & x > 0 \\ 0 & x < 0 \end{cases}, \qquad
#    \mathrm{LeakyReLU}'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x < 0 \end{cases}, \qquad
#    \mathrm{GELU}'(x) = \Phi(x) + x\,\varphi(x),
#
# where :math:`\mathrm{GELU}(x) = x\,\Phi(x)` with :math:`\Phi` and :math:`\varphi` the
# standard normal CDF and density. At the kink :math:`x = 0` ReLU has no derivative;
# PyTorch returns 0 there (a valid subgradient), and so does our step function. We use
# :math:`\alpha = 0.1` rather than PyTorch's default 0.01 so that the slope shows in the
# figure.
alpha = 0.1
normal = torch.distributions.Normal(0.0, 1.0)
rectifiers = {
    "ReLU": (F.relu, lambda t: (t > 0).to(t.dtype)),
    "Leaky ReLU": (
        lambda t: F.leaky_relu(t, negative_slope=alpha),
        lambda t: torch.where(
            t > 0, torch.ones_like(t), torch.full_like(t, alpha)
        ),
    ),
    "GELU": (F.gelu, lambda t: normal.cdf(t) + t * normal.log_prob(t).exp()),
}
for name, (f, df) in rectifiers.items():
    error = (autograd_derivative(f, x) - df(x)).abs().max().item()
    print(f"{name:10s} max |autograd - closed form| = {error:.1e}")
    torch.testing.assert_close(
        autograd_derivative(f, x), df(x), rtol=0, atol=1e-12
    )

zero = torch.zeros(1, dtype=torch.float64, requires_grad=True)
print(f"ReLU'(0) in PyTorch = {autograd_derivative(F.relu, zero).item():.1f}")
# sphinx_gallery_start_ignore
assert autograd_derivative(F.relu, zero).item() == 0.0
# sphinx_gallery_end_ignore

# %%
# GELU is a smooth ReLU: its derivative rises from 0 to 1 around the origin and even
# dips slightly below 0 for negative inputs.
fig = plot_function_and_derivative(
    {name: f for name, (f, _) in rectifiers.items()},
    x.detach(),
    closed_form={name: df for name, (_, df) in rectifiers.items()},
)
# sphinx_gallery_start_ignore
assert autograd_derivative(F.gelu, x).min().item() < 0
# sphinx_gallery_end_ignore

# %%
# Vanishing gradients through a deep stack
# ----------------------------------------
# Backpropagation through layer :math:`l`, with :math:`h_l = f(z_l)` and
# :math:`z_l = W_l h_{l-1} + b_l`, is the vector-Jacobian product
#
# .. math::
#
#    \frac{\partial L}{\partial h_{l-1}}^T
#    = \frac{\partial L}{\partial h_l}^T \, \mathrm{diag}\big(f'(z_l)\big) \, W_l ,
#
# so every layer multiplies the gradient by the matrix
# :math:`\mathrm{diag}(f'(z_l))\, W_l`: the activation's derivatives *and* the
# weights. The sigmoid's derivatives are at most :math:`\tfrac14` and shrink it, but
# :math:`W_l` can stretch it. What one layer can do to the gradient's norm is
# bounded by
#
# .. math::
#
#    \big\| \mathrm{diag}\big(f'(z_l)\big)\, W_l \big\|_2
#    \le \max_i |f'(z_{l,i})| \; \|W_l\|_2 \le \tfrac14 \|W_l\|_2 ,
#
# where :math:`\|W_l\|_2`, the largest factor by which :math:`W_l` stretches a
# vector, is about 2 for a random :math:`64 \times 64` matrix with Xavier's variance
# :math:`1/64`. So a sigmoid layer keeps at most about half of the gradient, and 19
# such layers at most about :math:`2^{-19} \approx 2 \times 10^{-6}` of it. We
# compare 20 hidden layers of width 64 with sigmoid (Xavier initialisation), tanh
# (Xavier) and ReLU (He, see
# :ref:`sphx_glr_auto_examples_networks_plot_12_linear_layers.py`), and record the
# norm of the gradient of an MSE loss with respect to each hidden layer's
# activations.
from gradbook.models import MLP
from gradbook.plotting import plot_layer_statistics

torch.manual_seed(0)
width, depth = 64, 20
X = torch.randn(256, width)  # (N, d)
y = torch.randn(256, 1)  # (N, 1)


def activation_gradient_norms(model: MLP) -> list[float]:
    """Norm of dL/dh for the activations h after each hidden layer."""
    hidden, h = [], X
    for module in model.layers:
        h = module(h)  # (N, width), then (N, 1) after the output layer
        if not isinstance(module, nn.Linear):
            hidden.append(h)
    loss = F.mse_loss(h, y)
    grads = torch.autograd.grad(loss, hidden)
    return [g.norm().item() for g in grads]


grad_norms, models = {}, {}
for activation, init, label in (
    ("sigmoid", "xavier", "sigmoid, Xavier init"),
    ("tanh", "xavier", "tanh, Xavier init"),
    ("relu", "he", "ReLU, He init"),
):
    model = MLP([width] * (depth + 1) + [1], activation=activation, init=init)
    grad_norms[label] = activation_gradient_norms(model)
    models[label] = model

print(f"{'|dL/dh| at layer':20s} {1:>9d} {depth:>9d}")
for name, norms in grad_norms.items():
    print(f"{name:20s} {norms[0]:9.2e} {norms[-1]:9.2e}")
ax = plot_layer_statistics(
    grad_norms,
    logy=True,
    xlabel="hidden layer (1 = next to the input)",
    ylabel=r"gradient norm $\|\partial L / \partial h\|$",
    title=f"Backpropagated gradient, {depth} layers of width {width}",
)

# %%
# The sigmoid network's first layer receives a gradient about twelve orders of
# magnitude smaller than its last: its early layers barely learn. Each layer's
# measured factor stays below its bound :math:`\tfrac14 \|W_l\|_2`, and well below
# it: a typical gradient is not stretched along :math:`W_l`'s largest direction.
# ReLU with He initialisation passes the gradient back at a roughly constant size.
norms = grad_norms["sigmoid, Xavier init"]
factor = (norms[0] / norms[-1]) ** (1 / (depth - 1))
linears = [
    m
    for m in models["sigmoid, Xavier init"].layers
    if isinstance(m, nn.Linear)
]
# Layer l + 1's weights carry the gradient from h_{l+1} back to h_l.
bounds = [
    torch.linalg.matrix_norm(m.weight, ord=2).item() / 4
    for m in linears[1:depth]
]
measured = [norms[l] / norms[l + 1] for l in range(depth - 1)]
print(
    f"sigmoid: factor per layer {min(measured):.3f} to {max(measured):.3f}"
    f" (mean {factor:.3f}),"
)
print(f"         bound 1/4 ||W||_2 {min(bounds):.3f} to {max(bounds):.3f}")
relu = grad_norms["ReLU, He init"]
print(
    f"ReLU:    largest / smallest gradient norm = {max(relu) / min(relu):.2f}"
)
# sphinx_gallery_start_ignore
assert all(m <= b for m, b in zip(measured, bounds, strict=True))
assert all(1.7 < 4 * b < 2.3 for b in bounds)  # ||W||_2 is about 2
import math

assert 1e-7 < math.prod(bounds) < 1e-5  # about 2**-19 over 19 layers
assert factor < 0.3
assert norms[0] / norms[-1] < 1e-9
assert max(relu) / min(relu) < 4.0
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# With linear layers and activations in hand, the next tutorial,
# :ref:`sphx_glr_auto_examples_networks_plot_14_writing_a_module.py`, packages
# them in a module of your own: ``nn.Module``, its parameters, ``train()`` and
# ``eval()``. Then :ref:`sphx_glr_auto_examples_networks_plot_15_mlp.py` stacks
# them into a multi-layer perceptron. The vector-Jacobian products used above are
# on :doc:`/theory/jacobians`.
#
# API used here: :class:`gradbook.models.MLP`,
# :func:`gradbook.plotting.plot_function_and_derivative`,
# :func:`gradbook.plotting.plot_layer_statistics`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **13.1** Write tanh's backward by hand: ``answer_13_1(x, grad_output)``
# returns :math:`\partial L / \partial x` for :math:`y = \tanh(x)` and the
# upstream gradient :math:`\partial L / \partial y` = ``grad_output``. The
# checker compares it with autograd, tensor by tensor.
from gradbook.exercises import check


def answer_13_1(x: torch.Tensor, grad_output: torch.Tensor):
    raise NotImplementedError


print(check("13.1", answer_13_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 13.1</summary>


def answer_13_1(x: torch.Tensor, grad_output: torch.Tensor):
    return grad_output * (1 - torch.tanh(x) ** 2)  # upstream times tanh'


print(check("13.1", answer_13_1))
# sphinx_gallery_start_ignore
assert check("13.1", answer_13_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **13.2** Write ``answer_13_2(x)``, the derivative of
# :math:`\mathrm{GELU}(x) = x \, \Phi(x)` at every entry of ``x``, from
# :math:`\Phi` and :math:`\varphi` (``normal.cdf`` and
# ``normal.log_prob(x).exp()`` of the ``normal`` above).


def answer_13_2(x: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError


print(check("13.2", answer_13_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 13.2</summary>


def answer_13_2(x: torch.Tensor) -> torch.Tensor:
    # the product rule on x * Phi(x): Phi(x) + x * phi(x)
    return normal.cdf(x) + x * normal.log_prob(x).exp()


print(check("13.2", answer_13_2))
# sphinx_gallery_start_ignore
assert check("13.2", answer_13_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **13.3** Write Leaky ReLU's backward, ``answer_13_3(x, grad_output,
# alpha)``, with the slope PyTorch uses at :math:`x = 0` (the checker's
# inputs include exact zeros).


def answer_13_3(x: torch.Tensor, grad_output: torch.Tensor, alpha: float):
    raise NotImplementedError


print(check("13.3", answer_13_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 13.3</summary>


def answer_13_3(x: torch.Tensor, grad_output: torch.Tensor, alpha: float):
    slope = torch.where(x > 0, 1.0, alpha)  # alpha at x = 0, as PyTorch
    return grad_output * slope


print(check("13.3", answer_13_3))
# sphinx_gallery_start_ignore
assert check("13.3", answer_13_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
