r"""
Linear layers and their initialisation
======================================

``nn.Linear`` is the affine map :math:`y = W x + b`. You will check its shapes and its
formula, one sample and a whole batch at a time, find out how PyTorch fills :math:`W`
by default, and then push data through a 20-layer stack to see why the scale of the
initial weights decides whether a signal survives depth: zeros kill it, Xavier suits
tanh, and He keeps a ReLU network's activations at a constant size, as a two-line
variance calculation predicts.
"""

# %%
# One sample: :math:`y = W x + b`
# -------------------------------
# A linear layer with :math:`d_{in}` inputs and :math:`d_{out}` outputs holds a weight
# matrix :math:`W \in \mathbb{R}^{d_{out} \times d_{in}}` and a bias
# :math:`b \in \mathbb{R}^{d_{out}}`. For a column vector :math:`x \in \mathbb{R}^{d_{in}}`,
#
# .. math::
#
#    y = W x + b \in \mathbb{R}^{d_{out}}.
#
# PyTorch stores :math:`W` with the *output* dimension first, so ``nn.Linear(3, 2)`` has a
# weight of shape ``[2, 3]``.
import torch
from torch import nn

torch.manual_seed(0)

layer = nn.Linear(3, 2)
print(f"weight shape: {list(layer.weight.shape)}")
print(f"bias shape:   {list(layer.bias.shape)}")

x = torch.randn(3)  # (d_in,)
y = layer(x)  # (d_out,)
by_formula = layer.weight @ x + layer.bias  # (d_out,)
print(f"layer(x)  = {[f'{v:.4f}' for v in y.tolist()]}")
print(f"W x + b   = {[f'{v:.4f}' for v in by_formula.tolist()]}")
# sphinx_gallery_start_ignore
assert list(layer.weight.shape) == [2, 3] and list(layer.bias.shape) == [2]
torch.testing.assert_close(y, layer.weight @ x + layer.bias)
# sphinx_gallery_end_ignore

# %%
# A batch: :math:`Y = X W^T + b`
# ------------------------------
# A batch stacks :math:`N` samples as the *rows* of :math:`X \in \mathbb{R}^{N \times d_{in}}`.
# Transposing :math:`y = W x + b` row by row gives
#
# .. math::
#
#    Y = X W^T + b \in \mathbb{R}^{N \times d_{out}},
#
# with :math:`b` added to every row (broadcasting). A batch of 5 gives 5 rows of 2.
X = torch.randn(5, 3)  # (N, d_in)
Y = layer(X)  # (N, d_out)
print(f"output shape: {list(Y.shape)}")
torch.testing.assert_close(Y, X @ layer.weight.T + layer.bias)
print("layer(X) equals X @ W.T + b")
# sphinx_gallery_start_ignore
assert list(Y.shape) == [5, 2]
# Row n of the batch is the single-sample formula applied to sample n.
for n in range(5):
    torch.testing.assert_close(Y[n], layer.weight @ X[n] + layer.bias)
# sphinx_gallery_end_ignore

# %%
# How PyTorch initialises ``nn.Linear``
# -------------------------------------
# By default ``nn.Linear`` calls ``kaiming_uniform_(weight, a=math.sqrt(5))``. That draws
# from :math:`\mathcal{U}(-c, c)` with :math:`c = \mathrm{gain} \sqrt{3 / d_{in}}` and
# :math:`\mathrm{gain} = \sqrt{2 / (1 + a^2)} = \sqrt{1/3}`, so
#
# .. math::
#
#    W_{ij} \sim \mathcal{U}\Big(-\frac{1}{\sqrt{d_{in}}}, \frac{1}{\sqrt{d_{in}}}\Big),
#    \qquad \mathrm{Var}(W_{ij}) = \frac{1}{3 d_{in}},
#
# and the bias is drawn from the same interval. We check the bounds on a wide layer,
# where the largest of 65,536 draws comes close to the bound.
wide = nn.Linear(256, 256)
bound = 1 / 256**0.5
w_max = wide.weight.abs().max().item()
print(f"bound 1/sqrt(d_in) = {bound:.5f}, largest |W_ij| = {w_max:.5f}")
w_var = wide.weight.var().item()
print(f"Var(W) = {w_var:.3e}, 1/(3 d_in) = {1 / (3 * 256):.3e}")
# sphinx_gallery_start_ignore
assert w_max <= bound and w_max > 0.99 * bound
assert wide.bias.abs().max().item() <= bound
assert abs(wide.weight.var().item() * 3 * 256 - 1) < 0.05
# sphinx_gallery_end_ignore

# %%
# Why the scale matters: a variance calculation
# ---------------------------------------------
# Take one layer :math:`z = W x` (bias zero) with independent weights of mean 0 and
# variance :math:`\sigma_w^2`, independent of the inputs. Each output is a sum of
# :math:`d_{in}` independent terms, so
#
# .. math::
#
#    \mathrm{Var}(z_i) = d_{in} \, \sigma_w^2 \, \mathbb{E}[x_j^2].
#
# If :math:`x = \mathrm{ReLU}(z')` and the previous pre-activation :math:`z'` is symmetric
# around zero, ReLU keeps half of its second moment: :math:`\mathbb{E}[x_j^2] =
# \tfrac{1}{2}\mathrm{Var}(z')`. Hence
#
# .. math::
#
#    \mathrm{Var}(z) = \tfrac{1}{2} \, d_{in} \, \sigma_w^2 \, \mathrm{Var}(z').
#
# * **He** (Kaiming) initialisation chooses :math:`\sigma_w^2 = 2 / d_{in}`: the factor is
#   1 and the variance stays the same through any depth.
# * **Xavier** (Glorot) chooses :math:`\sigma_w^2 = 2 / (d_{in} + d_{out})`, which is
#   :math:`1/d` for square layers: right for tanh, which near zero passes its input
#   through (:math:`\tanh z \approx z`), but with ReLU the factor is :math:`\tfrac12`, so
#   the variance *halves at every layer*.
# * **Zeros**: every output is 0 whatever the input, and all units of a layer get the same
#   gradient, so they can never become different.

# %%
# Activations through 20 layers
# -----------------------------
# We build 20 hidden layers of width 256 with :class:`gradbook.models.MLP`, whose ``init``
# argument re-draws every weight with :func:`gradbook.models.init_weights` (biases zero),
# feed a batch of 512 standard-normal inputs, and record the standard deviation of the
# activations after every hidden layer. With zero weights every activation is exactly
# 0 from the first layer on (the table shows it), which a log axis cannot draw: the
# figure shows Xavier and He.
from gradbook.models import MLP
from gradbook.plotting import plot_layer_statistics, subplots, use_style

use_style()
width, depth = 256, 20
X = torch.randn(512, width)  # (N, d)


def activation_stds(model: MLP, X: torch.Tensor) -> list[float]:
    """The std of the activations after each hidden layer of ``model``."""
    stds, h = [], X
    with torch.no_grad():
        for module in model.layers:
            h = module(h)  # (N, width)
            if not isinstance(module, nn.Linear):
                stds.append(h.std().item())
    return stds


stats = {}
for activation in ("tanh", "relu"):
    for init in ("zeros", "xavier", "he"):
        # `depth` hidden layers plus an output layer: depth + 2 widths.
        model = MLP([width] * (depth + 2), activation=activation, init=init)
        stats[activation, init] = activation_stds(model, X)

print("std after layer     1       5      10      20")
for (activation, init), s in stats.items():
    print(
        f"{activation:5s} {init:7s}  "
        + "  ".join(f"{s[i]:.4f}" for i in (0, 4, 9, 19))
    )

labels = {"xavier": "Xavier", "he": "He"}
fig, axes = subplots(1, 2, sharey=True)
for ax, activation, name in zip(
    axes, ("tanh", "relu"), ("tanh", "ReLU"), strict=True
):
    plot_layer_statistics(
        {label: stats[activation, init] for init, label in labels.items()},
        ax=ax,
        logy=True,
        title=f"{name}: {depth} layers of width {width}",
    )
    ax.text(
        0.03,
        0.3,
        "zeros: every activation is 0\n(nothing to draw on a log axis)",
        transform=ax.transAxes,
        color="gray",
    )
# sphinx_gallery_start_ignore
assert all(len(s) == depth for s in stats.values())
assert all(v == 0.0 for act in ("tanh", "relu") for v in stats[act, "zeros"])
# sphinx_gallery_end_ignore

# %%
# The prediction, measured
# ------------------------
# The average factor by which the activation variance changes from one layer to the next
# is the geometric mean of the ratios, :math:`(\mathrm{Var}_{20} / \mathrm{Var}_1)^{1/19}`.
# The calculation above predicts 1 for He and :math:`\tfrac12` for Xavier with ReLU.
# (With tanh, Xavier's activations still shrink slowly in the figure: :math:`\tanh z
# \approx z` only near zero, and larger values are squashed. He's larger weights hold the
# tanh stack at a steady scale instead, but push more units toward saturation, where
# :math:`\tanh'` is small.)
for init in ("he", "xavier"):
    s = stats["relu", init]
    factor = (s[-1] ** 2 / s[0] ** 2) ** (1 / (depth - 1))
    print(f"ReLU + {init:6s}: variance factor per layer {factor:.3f}")
    assert abs(factor - (1.0 if init == "he" else 0.5)) < 0.1
# sphinx_gallery_start_ignore
# With He the ReLU stack's activation scale stays within a factor of 2 at every layer.
he = stats["relu", "he"]
assert max(he) / min(he) < 2.0
# With Xavier it has shrunk by about 2**-(19/2) ~ 1e-3 after 20 layers.
xav = stats["relu", "xavier"]
assert 1e-4 < xav[-1] / xav[0] < 1e-2
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# The nonlinearity between the layers changes these numbers through its derivative; the
# next tutorial, :ref:`sphx_glr_auto_examples_networks_plot_13_activation_functions.py`, looks at
# activation functions and their gradients. Affine maps and their Jacobians are on
# :doc:`/theory/foundations` and :doc:`/theory/jacobians`.
#
# API used here: :class:`gradbook.models.MLP`, :func:`gradbook.models.init_weights`,
# :func:`gradbook.plotting.plot_layer_statistics`, :func:`gradbook.plotting.subplots`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **12.1** Write a linear layer's forward pass for a batch,
# ``answer_12_1(X, W, b)``, with ``W`` stored as ``nn.Linear`` stores it,
# (d_out, d_in). The checker compares it with
# :func:`torch.nn.functional.linear`.
from gradbook.exercises import check


def answer_12_1(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor):
    raise NotImplementedError  # (N, d_out)


print(check("12.1", answer_12_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 12.1</summary>


def answer_12_1(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor):
    return X @ W.T + b  # (N, d_in) @ (d_in, d_out), b on every row


print(check("12.1", answer_12_1))
# sphinx_gallery_start_ignore
assert check("12.1", answer_12_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **12.2** Write He initialisation: ``answer_12_2(d_out, d_in)`` returns a
# random weight of shape (d_out, d_in), drawn from a normal distribution
# with mean 0 and the variance that keeps a ReLU network's activations at
# a steady size. The checker measures mean, variance and shape on large
# layers.
import math


def answer_12_2(d_out: int, d_in: int) -> torch.Tensor:
    raise NotImplementedError


print(check("12.2", answer_12_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 12.2</summary>


def answer_12_2(d_out: int, d_in: int) -> torch.Tensor:
    return torch.randn(d_out, d_in) * math.sqrt(2 / d_in)  # Var = 2 / d_in


print(check("12.2", answer_12_2))
# sphinx_gallery_start_ignore
assert check("12.2", answer_12_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **12.3** From the variance calculation on this page: by what factor does
# the activation variance change from one layer to the next in a ReLU
# network of square layers with Xavier weights? Give a number.

answer_12_3 = None  # a factor, e.g. 2.0

print(check("12.3", answer_12_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 12.3</summary>

# d_in * sigma_w^2 * 1/2 = d * (1 / d) * 1/2: ReLU keeps half the moment.
answer_12_3 = 0.5

print(check("12.3", answer_12_3))
# sphinx_gallery_start_ignore
assert check("12.3", answer_12_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
