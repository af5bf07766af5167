r"""
A multi-layer perceptron
========================

Stack two linear layers with a nonlinearity between them and you have a multi-layer
perceptron (MLP), the network behind most of deep learning's first successes. In this
tutorial you will build the notebook's ``SimpleNet``, count its 83 parameters with a
formula and check the count, push a batch through it, draw the graph autograd records
for it, and then see what the hidden layer buys: an MLP learns to separate three
interleaved spirals, which no linear model can do.
"""

# %%
# The notebook's ``SimpleNet``
# ----------------------------
# :class:`gradbook.models.SimpleNet` is the notebook's network exactly: a linear layer
# from :math:`d` inputs to :math:`h` hidden units, a ReLU, and a linear layer to
# :math:`k` outputs,
#
# .. math::
#
#    f(\vx) = \mW_2 \, \mathrm{ReLU}(\mW_1 \vx + \vb_1) + \vb_2,
#    \qquad \mW_1 \in \R^{h \times d}, \; \mW_2 \in \R^{k \times h}.
#
# With :math:`d = 4` features, :math:`h = 10` hidden units and :math:`k = 3` classes:
import torch
from gradbook.models import SimpleNet

torch.manual_seed(42)
model = SimpleNet(input_size=4, hidden_size=10, output_size=3)
print(model)

# %%
# Counting the parameters
# -----------------------
# Each layer holds a weight matrix and a bias vector: :math:`hd + h` numbers in the
# first layer and :math:`kh + k` in the second, so in total
#
# .. math::
#
#    h(d + k) + (h + k) = 10 \cdot (4 + 3) + (10 + 3) = 70 + 13 = 83.
#
# :func:`gradbook.models.count_parameters` counts what the model really holds and
# :func:`gradbook.models.mlp_parameter_count` evaluates the formula; they agree:
from gradbook.models import count_parameters, mlp_parameter_count

d, h, k = 4, 10, 3
for name, p in model.named_parameters():
    shape = str(tuple(p.shape))
    print(f"{name:<15} shape {shape:<8} {p.numel():3d} numbers")
print(f"count_parameters(model)         = {count_parameters(model)}")
print(f"mlp_parameter_count([4, 10, 3]) = {mlp_parameter_count([d, h, k])}")
print(f"h(d + k) + (h + k)              = {h * (d + k) + (h + k)}")
assert (
    count_parameters(model)
    == mlp_parameter_count([d, h, k])
    == h * (d + k) + (h + k)
    == 83
)

# %%
# A batch through the network
# ---------------------------
# PyTorch layers take a batch: the rows of :math:`\mX \in \R^{N \times d}` are samples,
# and each layer computes :math:`\mX \mW\T + \vb` (see
# :ref:`sphx_glr_auto_examples_networks_plot_12_linear_layers.py`). Eight samples of four
# features give eight rows of three scores (logits), one per class:
X_batch = torch.randn(8, 4)  # (N, d)
logits = model(X_batch)  # (N, k)
print(f"input  {tuple(X_batch.shape)} -> output {tuple(logits.shape)}")
assert logits.shape == (8, 3)

# The network is the formula above, applied row by row.
W1, b1 = model.linear1.weight, model.linear1.bias  # (h, d), (h,)
W2, b2 = model.linear2.weight, model.linear2.bias  # (k, h), (k,)
torch.testing.assert_close(logits, torch.relu(X_batch @ W1.T + b1) @ W2.T + b2)

# %%
# The graph autograd records
# --------------------------
# Calling the model records one backward node per operation.
# :func:`gradbook.graph.draw_autograd_graph` draws what PyTorch recorded for the batch:
# each weight enters through a transpose (``TBackward0``, the :math:`\mW\T`), each
# layer is one fused multiply-add (``AddmmBackward0``: :math:`\vb + \mX \mW\T`), and
# the four parameter leaves are where ``backward()`` deposits the gradients. The input
# batch is not in the graph: it does not require a gradient.
from gradbook.graph import autograd_graph, draw_autograd_graph

graph = autograd_graph(
    logits, names=dict(model.named_parameters())
)  # a networkx.DiGraph
ax = draw_autograd_graph(graph)
ax.set_title("Autograd graph of SimpleNet(4, 10, 3) on a batch of 8")
leaves = sorted(
    data["name"]
    for _, data in graph.nodes(data=True)
    if data["kind"] == "leaf"
)
print(f"{graph.number_of_nodes()} nodes")
print(f"leaves: {leaves}")
assert leaves == sorted(name for name, _ in model.named_parameters())

# %%
# Spirals: a problem for a hidden layer
# -------------------------------------
# The *universal approximation theorem* says that one hidden layer is enough in
# principle: with enough units it approximates any continuous function on a
# compact (closed and bounded) set as closely as you like, as long as the
# activation is not a polynomial (ReLU, tanh and the sigmoid all qualify; with a
# polynomial activation the network is itself a polynomial of bounded degree). It
# says nothing about how many units that takes, or whether training finds them.
# Our test is :func:`gradbook.data.make_spirals`: 300 points on three interleaved
# spiral arms, one class per arm, inside the square :math:`[-1, 1]^2`.
from gradbook.data import make_spirals

X, y = make_spirals(n_samples=300, n_classes=3, seed=0)  # (300, 2), (300,)
print(f"X: {tuple(X.shape)}, classes: {y.unique().tolist()}")
print(f"per class: {y.bincount().tolist()}")
# sphinx_gallery_start_ignore
assert X.abs().max() <= 1.0
# With the activation z**2, a hidden layer of any width computes a polynomial
# of degree 2 in its input: its third derivative vanishes everywhere.
gen = torch.Generator().manual_seed(0)
W_in, b_in = torch.randn(1, 64, generator=gen), torch.randn(64, generator=gen)
W_out = torch.randn(64, 1, generator=gen)
t = torch.linspace(-1, 1, 9).reshape(-1, 1).requires_grad_()  # (T, 1)
d = (((t @ W_in + b_in) ** 2) @ W_out).sum()
for _ in range(3):
    (d,) = torch.autograd.grad(d, t, create_graph=True)
    d = d.sum()
assert d.abs().item() < 1e-3, d
# sphinx_gallery_end_ignore

# %%
# Training an MLP and a linear model
# ----------------------------------
# We train three models with the same loss (cross-entropy), optimizer (Adam,
# learning rate 0.02) and budget (150 full-batch epochs) using
# :func:`gradbook.train.fit`. ``nn.Linear(2, 3)`` has no hidden layer: the affine map
# :math:`\vx \mapsto \mW \vx + \vb`, one score per class. ``SimpleNet(2, 10, 3)``
# is the notebook's network resized to two features and three classes: ten ReLU
# units are too few for three arms in this budget. So the model we study is an
# :class:`~gradbook.models.MLP`, the general version of ``SimpleNet`` (any list of
# layer sizes), with two hidden layers of 32 tanh units. A small callback keeps
# each epoch's predicted classes, for the loss curve below.
from gradbook.models import MLP
from gradbook.train import Callback, fit
from torch import nn


class RecordClasses(Callback):
    """A fit callback: the predicted class of every point, after each epoch."""

    def on_train_begin(self, model: nn.Module, history) -> None:
        self.classes = []

    def on_epoch_end(self, model: nn.Module, history) -> bool:
        with torch.no_grad():
            self.classes.append(model(X).argmax(dim=1))  # (N,)
        return False  # never stop training


def train(model: nn.Module) -> tuple[list[float], float, RecordClasses]:
    """Train on the spirals; return the losses, the accuracy, the classes."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    recorder = RecordClasses()
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        (X, y),
        epochs=150,
        progress=False,
        callbacks=recorder,
    )
    accuracy = (recorder.classes[-1] == y).float().mean().item()
    return history.train_loss, accuracy, recorder


torch.manual_seed(0)
mlp = MLP([2, 32, 32, 3], activation="tanh")
linear = nn.Linear(2, 3)
simple = SimpleNet(input_size=2, hidden_size=10, output_size=3)
mlp_loss, mlp_accuracy, mlp_classes = train(mlp)
linear_loss, linear_accuracy, linear_classes = train(linear)
simple_loss, simple_accuracy, _ = train(simple)
for name, trained, accuracy in [
    ("MLP 2 -> 32 -> 32 -> 3", mlp, mlp_accuracy),
    ("SimpleNet(2, 10, 3)", simple, simple_accuracy),
    ("linear 2 -> 3", linear, linear_accuracy),
]:
    n = count_parameters(trained)
    print(f"{name:<22} {n:5d} parameters, accuracy {accuracy:.3f}")
assert mlp_accuracy >= 0.95
assert simple_accuracy < 0.6 and linear_accuracy < 0.6  # chance is 1/3

# %%
# The linear model's loss levels off early, a little below :math:`\ln 3 \approx
# 1.10` (the loss of guessing each class with probability 1/3): it has found the
# best straight cuts, and they are not good. For its first 50 or so epochs the MLP
# sits on the same plateau, and it even predicts mostly what the linear model
# predicts. Its small initial weights keep the tanh units in their nearly linear
# range (:math:`\tanh z \approx z` for small :math:`z`), so at first it *is*
# nearly a linear model. Adam slowly grows the weights, the units start to bend,
# and from about epoch 60 the loss falls fast as the boundaries wrap around the
# arms.
import math

from gradbook.plotting import plot_loss_curves, use_style

agree = (mlp_classes.classes[39] == linear_classes.classes[-1]).float().mean()
print(
    f"MLP loss at epoch 1: {mlp_loss[0]:.3f}, at epoch 50: {mlp_loss[49]:.3f}"
    f", at epoch 150: {mlp_loss[-1]:.3f}"
)
print(
    f"at epoch 40 the MLP predicts what the linear model does on {agree:.0%}"
    " of the points"
)
use_style()
ax = plot_loss_curves(
    {
        "MLP 2 -> 32 -> 32 -> 3 (tanh)": mlp_loss,
        "SimpleNet(2, 10, 3)": simple_loss,
        "linear 2 -> 3": linear_loss,
    },
    title="Training loss on the spirals (cross-entropy, Adam, full batch)",
)
ax.axhline(math.log(3), color="gray", linestyle=":", label=r"chance, $\ln 3$")
ax.legend()
# sphinx_gallery_start_ignore
assert mlp_loss[-1] < 0.2 < linear_loss[-1]
assert linear_loss[-1] < math.log(3) < linear_loss[0]
assert all(loss > 1.0 for loss in mlp_loss[:50])  # the plateau
assert mlp_loss[79] < 0.95  # ... and the fall
assert agree > 0.8
# The same initial MLP again: its tanh units start with small inputs, and
# training grows the weights severalfold.
torch.manual_seed(0)
mlp_start = MLP([2, 32, 32, 3], activation="tanh")
h = X
with torch.no_grad():
    for layer in mlp_start.layers:
        if isinstance(layer, nn.Tanh):
            assert h.abs().mean() < 0.5, h.abs().mean()
        h = layer(h)
size_start = sum(p.norm() ** 2 for p in mlp_start.parameters()).sqrt()
size_end = sum(p.norm() ** 2 for p in mlp.parameters()).sqrt()
assert size_end > 3 * size_start
# sphinx_gallery_end_ignore

# %%
# Decision boundaries
# -------------------
# :func:`gradbook.plotting.plot_decision_boundary` colours the plane by the class each
# model predicts. A linear classifier with three classes splits the plane into three
# convex wedges (where one of three affine scores is the largest), so it must cut
# through every arm; the MLP's regions follow the spirals.
from gradbook.plotting import plot_decision_boundary, subplots

fig, (ax_mlp, ax_linear) = subplots(1, 2)
plot_decision_boundary(
    mlp,
    X,
    y,
    ax=ax_mlp,
    padding=0.2,
    title=f"MLP: accuracy {mlp_accuracy:.1%}",
)
plot_decision_boundary(
    linear,
    X,
    y,
    ax=ax_linear,
    padding=0.2,
    title=f"Linear: accuracy {linear_accuracy:.1%}",
)
# One legend for both panels, outside the data (the spirals fill the square).
handles, labels = ax_mlp.get_legend_handles_labels()
fig.legend(handles, labels, loc="outside right center", markerscale=1.5)
for ax in (ax_mlp, ax_linear):
    ax.get_legend().remove()

# %%
# Where next
# ----------
# The MLP's output is a row of logits; how they become a loss, and why that loss
# wants logits rather than probabilities, is
# :ref:`sphx_glr_auto_examples_networks_plot_16_loss_functions.py`. API used:
# :class:`gradbook.models.SimpleNet`, :class:`gradbook.models.MLP`,
# :func:`gradbook.models.count_parameters`, :func:`gradbook.models.mlp_parameter_count`,
# :func:`gradbook.graph.draw_autograd_graph`, :func:`gradbook.data.make_spirals`,
# :func:`gradbook.train.fit`, :func:`gradbook.plotting.plot_decision_boundary`. The
# affine maps behind each layer are on :doc:`/theory/foundations`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **15.1** Write ``answer_15_1(sizes)``: the number of parameters of a
# fully connected network with layer sizes ``sizes`` (``[4, 10, 3]`` is
# SimpleNet), from the formula, without building the network.
from gradbook.exercises import check


def answer_15_1(sizes: list) -> int:
    raise NotImplementedError


print(check("15.1", answer_15_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 15.1</summary>


def answer_15_1(sizes: list) -> int:
    pairs = zip(sizes[:-1], sizes[1:], strict=True)  # (d_in, d_out) a layer
    return sum(d_in * d_out + d_out for d_in, d_out in pairs)


print(check("15.1", answer_15_1))
# sphinx_gallery_start_ignore
assert check("15.1", answer_15_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **15.2** Write ``answer_15_2(X, weights, biases)``: the output of the
# MLP whose layers have those weights (each (d_out, d_in)) and biases,
# with a ReLU between the layers and none after the last.


def answer_15_2(X: torch.Tensor, weights: list, biases: list):
    raise NotImplementedError


print(check("15.2", answer_15_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 15.2</summary>


def answer_15_2(X: torch.Tensor, weights: list, biases: list):
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        X = X @ W.T + b  # (N, d_out)
        if i < len(weights) - 1:  # the last layer gives the scores
            X = torch.relu(X)
    return X


print(check("15.2", answer_15_2))
# sphinx_gallery_start_ignore
assert check("15.2", answer_15_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
