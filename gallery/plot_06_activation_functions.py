r"""
Activation functions and their derivatives
==========================================

Backpropagation multiplies by the derivative of every activation it passes through, so
an activation is only as good as its derivative. You will compute the derivatives of
sigmoid, tanh, ReLU, Leaky ReLU and GELU with autograd, check each against its closed
form, see why the sigmoid's derivative never exceeds :math:`\tfrac14`, and watch what that
bound does to the gradient of a 20-layer network compared with ReLU.
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
    """f'(x) at every entry of x, for an elementwise f, by one vector-Jacobian product."""
    (dfdx,) = torch.autograd.grad(f(x), x, grad_outputs=torch.ones_like(x))
    return dfdx  # (T,)


# %%
# Sigmoid and tanh
# ----------------
# The logistic sigmoid and the hyperbolic tangent have derivatives that can be written
# with the function's own value:
#
# .. math::
#
#    \sigma(x) = \frac{1}{1 + e^{-x}}, \quad \sigma'(x) = \sigma(x)\,\big(1 - \sigma(x)\big);
#    \qquad
#    \tanh'(x) = 1 - \tanh^2(x).
#
# Autograd agrees with both to float64 rounding.
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
print(
    f"max sigmoid'(x) = {d_sigmoid.max().item():.6f} at x = {x[d_sigmoid.argmax()].item():.2f}"
)
print(
    f"max tanh'(x)    = {d_tanh.max().item():.6f} at x = {x[d_tanh.argmax()].item():.2f}"
)
# sphinx_gallery_start_ignore
assert d_sigmoid.max().item() == 0.25
assert x[d_sigmoid.argmax()].item() == 0.0
assert d_tanh.max().item() <= 1.0
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
# so every layer multiplies the gradient by the activation's derivative. With the
# sigmoid, that factor is at most :math:`\tfrac14` per layer, and 20 layers can shrink
# the gradient by a factor of :math:`4^{19} \approx 3 \times 10^{11}`. We compare
# 20 hidden layers of width 64 with sigmoid (Xavier initialisation), tanh (Xavier) and
# ReLU (He, see :ref:`sphx_glr_auto_examples_plot_05_linear_layers.py`), and record the
# norm of the gradient of an MSE loss with respect to each hidden layer's activations.
from gradbook.models import MLP
from gradbook.plotting import plot_layer_statistics
from torch import nn

torch.manual_seed(0)
width, depth = 64, 20
X = torch.randn(256, width)  # (N, d)
y = torch.randn(256, 1)  # (N, 1)


def activation_gradient_norms(model: MLP) -> list[float]:
    """Norm of dL/dh for the activations h after each hidden layer of ``model``."""
    hidden, h = [], X
    for module in model.layers:
        h = module(h)  # (N, width), then (N, 1) after the output layer
        if not isinstance(module, nn.Linear):
            hidden.append(h)
    loss = F.mse_loss(h, y)
    grads = torch.autograd.grad(loss, hidden)
    return [g.norm().item() for g in grads]


grad_norms = {}
for activation, init, label in (
    ("sigmoid", "xavier", "sigmoid, Xavier init"),
    ("tanh", "xavier", "tanh, Xavier init"),
    ("relu", "he", "ReLU, He init"),
):
    model = MLP([width] * (depth + 1) + [1], activation=activation, init=init)
    grad_norms[label] = activation_gradient_norms(model)

for name, norms in grad_norms.items():
    print(
        f"{name:20s} |dL/dh| at layer 1: {norms[0]:.2e}, at layer {depth}: {norms[-1]:.2e}"
    )
ax = plot_layer_statistics(
    grad_norms,
    logy=True,
    xlabel="hidden layer (1 = next to the input)",
    ylabel=r"gradient norm $\|\partial L / \partial h\|$",
    title=f"Backpropagated gradient, {depth} layers of width {width}",
)

# %%
# The sigmoid network's first layer receives a gradient about twelve orders of magnitude
# smaller than its last: its early layers barely learn. The measured shrink factor per
# layer is below the :math:`\tfrac14` bound, while ReLU with He initialisation passes the
# gradient back at a roughly constant size.
norms = grad_norms["sigmoid, Xavier init"]
factor = (norms[0] / norms[-1]) ** (1 / (depth - 1))
print(
    f"sigmoid: gradient norm shrinks by a factor {factor:.3f} per layer on average"
)
relu = grad_norms["ReLU, He init"]
print(
    f"ReLU:    largest / smallest gradient norm over the layers = {max(relu) / min(relu):.2f}"
)
# sphinx_gallery_start_ignore
assert factor < 0.3
assert norms[0] / norms[-1] < 1e-9
assert max(relu) / min(relu) < 4.0
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# With linear layers and activations in hand, the next tutorial,
# :ref:`sphx_glr_auto_examples_plot_07_mlp.py`, stacks them into a multi-layer
# perceptron. The vector-Jacobian products used above are on :doc:`/theory/jacobians`.
#
# API used here: :class:`gradbook.models.MLP`,
# :func:`gradbook.plotting.plot_function_and_derivative`,
# :func:`gradbook.plotting.plot_layer_statistics`.
