r"""
From Value to a network
=======================

A neural network is nothing but arithmetic on numbers, so the scalar engine of the
previous tutorial can already train one. Here you will build micrograd's three small
classes, a ``Neuron``, a ``Layer`` and an ``MLP``, on top of
:class:`gradbook.autodiff.Value`, train the network on two interleaved moons with
full-batch gradient descent, and check that a PyTorch network of the same shape,
started from the same weights, follows the same loss curve and ends at the same
weights to float tolerance: the engine you can read in one sitting computes what
PyTorch computes.
"""

# %%
# A neuron
# --------
# A neuron holds one weight per input and a bias, and computes
# :math:`\tanh(\mathbf{w} \cdot \vx + b)`. Its weights start uniform in
# :math:`[-1, 1]` and its bias at 0, as in micrograd's ``nn.py``. The neuron of the
# last layer leaves out the :math:`\tanh`: its output is a score, and the loss
# decides what it means. ``parameters()`` lists the values that training changes.
import math
import random

from gradbook.autodiff import Value


class Neuron:
    def __init__(self, n_in: int, nonlinear: bool = True) -> None:
        self.w = [Value(random.uniform(-1, 1)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.nonlinear = nonlinear

    def __call__(self, x: list) -> Value:
        pairs = zip(self.w, x, strict=True)
        act = sum((wi * xi for wi, xi in pairs), self.b)  # w . x + b
        return act.tanh() if self.nonlinear else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


random.seed(0)
neuron = Neuron(2)
out = neuron([0.5, -1.0])
w1, w2 = (w.data for w in neuron.w)
print(f"weights ({w1:.4f}, {w2:.4f}), bias {neuron.b.data:.1f}")
print(f"neuron([0.5, -1.0]) = {out.data:.4f}")
assert out.data == math.tanh(0.5 * w1 - 1.0 * w2)

# %%
# A layer and a network
# ---------------------
# A layer is a list of neurons that all read the same inputs; a network is a list
# of layers, each reading the outputs of the one before. Neither adds any
# arithmetic: they only organise neurons, and collect their parameters.


class Layer:
    def __init__(self, n_in: int, n_out: int, nonlinear: bool = True) -> None:
        self.neurons = [Neuron(n_in, nonlinear) for _ in range(n_out)]

    def __call__(self, x: list) -> list[Value]:
        return [neuron(x) for neuron in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP:
    def __init__(self, sizes: list[int]) -> None:
        n = len(sizes) - 1  # layers; the last one has no tanh
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlinear=i < n - 1)
            for i in range(n)
        ]

    def __call__(self, x: list) -> list[Value]:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]


# %%
# Two inputs, two hidden layers of 8 neurons and one output score:
# :math:`(2 \cdot 8 + 8) + (8 \cdot 8 + 8) + (8 \cdot 1 + 1) = 105` parameters,
# which :func:`gradbook.models.mlp_parameter_count` confirms.
from gradbook.models import mlp_parameter_count

sizes = [2, 8, 8, 1]
random.seed(0)
mlp = MLP(sizes)
n_params = len(mlp.parameters())
print(f"MLP {sizes}: {n_params} parameters")
assert n_params == mlp_parameter_count(sizes) == 105

# %%
# The data and the loss
# ---------------------
# 100 points from :func:`gradbook.data.make_moons`, with the labels recoded from
# 0/1 to :math:`y_n = \pm 1`. The loss is micrograd's hinge loss, the mean of
#
# .. math::
#
#    \ell_n = \max(0, 1 - y_n s_n),
#
# where :math:`s_n` is the score of point :math:`n`: zero once a point is on the
# right side with a margin of 1, growing linearly otherwise. It is written with
# ``relu``, whose derivative at 0 is 0 in the engine and in PyTorch alike. The
# engine is pure Python, so the data stays small: one forward pass over the 100
# points already builds a graph of about twenty thousand values. As in micrograd's
# demo, the inputs are wrapped in values once, up front (their gradients are
# computed and never used).
from gradbook.data import make_moons

X, y = make_moons(100, noise=0.1, seed=0)  # (100, 2) float32, (100,) 0 or 1
points = [[Value(v) for v in row] for row in X.tolist()]  # 100 pairs
labels = (2 * y - 1).tolist()  # 100 labels, -1 or +1


def hinge_loss(model: MLP) -> tuple[Value, float]:
    """The mean hinge loss over the data set, and the accuracy."""
    scores = [model(x)[0] for x in points]
    pairs = list(zip(labels, scores, strict=True))
    margins = [(1 - yn * sn).relu() for yn, sn in pairs]
    hits = sum((sn.data > 0) == (yn > 0) for yn, sn in pairs)
    return sum(margins) * (1 / len(points)), hits / len(points)


loss, accuracy = hinge_loss(mlp)
n_nodes = len(loss.topological_order())
print(f"initial loss {loss.data:.4f}, accuracy {accuracy:.2f}")
print(f"the graph of one loss holds {n_nodes} values")
# sphinx_gallery_start_ignore
assert 15_000 < n_nodes < 30_000
# sphinx_gallery_end_ignore

# %%
# The same network in PyTorch
# ---------------------------
# Before training, we copy the starting weights into a PyTorch network of the same
# shape: ``Linear`` layers with a ``Tanh`` between them, in float64 (a Python float
# is a float64). Row :math:`j` of a layer's weight matrix is the weight list of its
# neuron :math:`j`. Both networks give the same score on every point.
import torch
from torch import nn


def to_torch(model: MLP) -> nn.Sequential:
    """A float64 nn.Sequential holding the current weights of ``model``."""
    modules = []
    for layer in model.layers:
        neurons = layer.neurons
        W = [[w.data for w in n.w] for n in neurons]  # (n_out, n_in)
        b = [n.b.data for n in neurons]  # (n_out,)
        linear = nn.Linear(len(W[0]), len(W), dtype=torch.float64)
        with torch.no_grad():  # filling in weights is not part of any graph
            linear.weight.copy_(torch.tensor(W, dtype=torch.float64))
            linear.bias.copy_(torch.tensor(b, dtype=torch.float64))
        modules += [linear, nn.Tanh()]
    return nn.Sequential(*modules[:-1])  # no tanh after the last layer


net = to_torch(mlp)
X64, y_pm = X.double(), (2 * y - 1).double()  # (100, 2), (100,)
scores_value = [mlp(x)[0].data for x in points]  # 100 floats
scores_value = torch.tensor(scores_value, dtype=torch.float64)  # (100,)
torch.testing.assert_close(net(X64).squeeze(1), scores_value)
print(net)

# %%
# Training both
# -------------
# Full-batch gradient descent on the engine: zero the parameters' gradients (the
# engine accumulates, like PyTorch), build the loss, ``backward()``, and step every
# parameter against its gradient. Each step builds a fresh graph from the updated
# weights.
lr, steps = 0.5, 20
value_losses, accuracies = [], []
for _ in range(steps):
    loss, accuracy = hinge_loss(mlp)
    for p in mlp.parameters():
        p.grad = 0.0
    loss.backward()
    for p in mlp.parameters():
        p.data -= lr * p.grad
    value_losses.append(loss.data)
    accuracies.append(accuracy)
print(f"Value MLP: loss {value_losses[0]:.4f} -> {value_losses[-1]:.4f}")
print(f"           accuracy {accuracies[0]:.2f} -> {accuracies[-1]:.2f}")
# sphinx_gallery_start_ignore
assert value_losses[-1] < 0.5 * value_losses[0]
assert accuracies[-1] >= 0.85
# sphinx_gallery_end_ignore

# %%
# The PyTorch twin runs the same loop on the same loss written with tensors: zero
# the gradients, forward, ``backward()``, and the update
# :math:`p \leftarrow p - \eta \, \partial L / \partial p` on every parameter
# (under :func:`torch.no_grad`, so that autograd does not record the update).


def train_torch(net: nn.Sequential, steps: int) -> list[float]:
    """Full-batch gradient descent on the hinge loss; the loss at each step."""
    losses = []
    for _ in range(steps):
        net.zero_grad()
        scores = net(X64).squeeze(1)  # (100,)
        loss = torch.relu(1 - y_pm * scores).mean()
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    return losses


torch_losses = train_torch(net, steps)
print(f"PyTorch:   loss {torch_losses[0]:.4f} -> {torch_losses[-1]:.4f}")

# %%
# The same curve, the same weights
# --------------------------------
# Step by step, the two losses agree to float64 rounding, and so do the 105 final
# weights: the engine's ``backward()`` computed the gradients PyTorch computed.
from gradbook.plotting import plot_loss_curves, use_style

curves = torch.tensor([value_losses, torch_losses], dtype=torch.float64)
final = to_torch(mlp).state_dict()  # the engine's weights after training
gaps = [(final[k] - v).abs().max() for k, v in net.state_dict().items()]
curve_gap = (curves[0] - curves[1]).abs().max().item()
print(f"largest loss difference over {steps} steps: {curve_gap:.1e}")
print(f"largest final weight difference:     {max(gaps).item():.1e}")

use_style()
ax = plot_loss_curves(
    {
        "Value MLP (gradbook.autodiff)": value_losses,
        "PyTorch twin": torch_losses,
    },
    logy=False,
    xlabel="step",
    ylabel="mean hinge loss",
    title="2-8-8-1 tanh MLP on moons, gradient descent, lr = 0.5",
)
ax.lines[1].set(linestyle="--", marker="o", markerfacecolor="none")
ax.legend()
torch.testing.assert_close(curves[0], curves[1])
torch.testing.assert_close(final, net.state_dict())

# %%
# What the network learned
# ------------------------
# The twin holds the engine's weights, so
# :func:`gradbook.plotting.plot_decision_boundary` can shade the engine's decision
# over the plane through it (PyTorch scores the 40,000 grid points in one call; the
# engine would build a graph for each). After 20 steps the boundary is still almost
# a straight line: gradient descent was stopped early, because the engine builds
# and walks twenty thousand Python objects per step. A copy of the twin, trained
# for 200 more steps, bends the boundary around the moons and classifies every
# point correctly.
import copy

from gradbook.plotting import plot_decision_boundary, subplots


def accuracy_of(net: nn.Sequential) -> float:
    """The fraction of the 100 points on the right side of the boundary."""
    with torch.no_grad():
        return ((net(X64).squeeze(1) > 0) == (y == 1)).double().mean().item()


longer = copy.deepcopy(net)  # a separate copy: net keeps the 20-step weights
train_torch(longer, 200)

fig, (left, right) = subplots(1, 2, sharey=True)
plot_decision_boundary(net, X64, y, ax=left, title="20 steps (engine = twin)")
plot_decision_boundary(
    longer, X64, y, ax=right, title="220 steps (the twin, 200 more)"
)
right.set_ylabel("")
fig.suptitle("Decision boundary of the 2-8-8-1 MLP on moons")
print(f"accuracy after  20 steps: {accuracy_of(net):.2f}")
print(f"accuracy after 220 steps: {accuracy_of(longer):.2f}")
assert accuracy_of(longer) == 1.0

# %%
# Where next
# ----------
# The engine's gradients matched PyTorch's here; for a new operation with a
# hand-written derivative that is worth checking on its own, against finite
# differences. :ref:`sphx_glr_auto_examples_autograd_plot_07_gradient_checking.py`
# shows how, and how to read a failed check.
#
# API used here: :class:`gradbook.autodiff.Value`,
# :func:`gradbook.data.make_moons`, :func:`gradbook.models.mlp_parameter_count`,
# :func:`gradbook.plotting.plot_loss_curves`,
# :func:`gradbook.plotting.plot_decision_boundary`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **06.1** The network above was trained on a hinge loss. Write
# ``answer_06_1(scores, targets)``, the mean squared error
# :math:`\frac1N \sum_n (s_n - t_n)^2` of a list of
# :class:`~gradbook.autodiff.Value` scores against a list of floats, as a
# ``Value``. The checker compares it, and the scores' gradients after
# ``backward()``, with PyTorch.
from gradbook.exercises import check


def answer_06_1(scores: list, targets: list) -> Value:
    raise NotImplementedError  # a Value, built with Value operations


print(check("06.1", answer_06_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 06.1</summary>


def answer_06_1(scores: list, targets: list) -> Value:
    pairs = zip(scores, targets, strict=True)
    return sum((s - t) ** 2 for s, t in pairs) * (1 / len(scores))


print(check("06.1", answer_06_1))
# sphinx_gallery_start_ignore
assert check("06.1", answer_06_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **06.2** Write the neuron of this page as a function:
# ``answer_06_2(w, b, x, nonlinear)`` returns
# :math:`\tanh(\mathbf{w} \cdot \vx + b)`, or :math:`\mathbf{w} \cdot \vx
# + b` when ``nonlinear`` is False, for a list of weight values ``w``, a
# bias value ``b`` and a list of floats ``x``.


def answer_06_2(w: list, b: Value, x: list, nonlinear: bool) -> Value:
    raise NotImplementedError


print(check("06.2", answer_06_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 06.2</summary>


def answer_06_2(w: list, b: Value, x: list, nonlinear: bool) -> Value:
    act = sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)  # w . x + b
    return act.tanh() if nonlinear else act


print(check("06.2", answer_06_2))
# sphinx_gallery_start_ignore
assert check("06.2", answer_06_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
