r"""
Writing a module
================

Every PyTorch model is a subclass of :class:`torch.nn.Module`, and writing one takes
two methods. In this tutorial you will write out the class body of the notebook's
``SimpleNet`` and check that it is :class:`gradbook.models.SimpleNet`; see why
``super().__init__()`` comes first and why layers kept in a plain Python list go
missing; list and count the parameters, freeze a layer and watch the trainable count
drop from 83; build the same model as an ``nn.Sequential``; switch Dropout between
``train()`` and ``eval()``; and check why linear layers stacked without an activation
collapse into one.
"""

# %%
# The class body
# --------------
# ``__init__`` builds the layers and keeps each one as an attribute; ``forward``
# says how an input flows through them. ``super().__init__()`` runs first: it sets
# up the registries that the attributes below are filed into.
import torch
from torch import nn


class SimpleNet(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear1(x)  # (N, hidden_size)
        out = self.relu(out)
        out = self.linear2(out)  # (N, output_size)
        return out


torch.manual_seed(0)
model = SimpleNet(4, 10, 3)
print(model)

# %%
# The same network as gradbook's
# ------------------------------
# :class:`gradbook.models.SimpleNet` adds argument checks and a docstring to this
# body, nothing else. Both hold the same tensors under the same names, and with the
# same weights loaded they compute the same outputs. Calling ``model(X)`` runs
# ``forward`` (through ``nn.Module.__call__``, which also runs any hooks).
from gradbook import models

reference = models.SimpleNet(4, 10, 3)
shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
assert shapes == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
assert repr(model) == repr(reference)  # the same printout, layer by layer

reference.load_state_dict(model.state_dict())
X = torch.randn(8, 4)  # (N, d)
torch.testing.assert_close(reference(X), model(X))
torch.testing.assert_close(model(X), model.forward(X))
print(f"both state_dicts: {', '.join(shapes)}")
print("same names, same shapes, same outputs")

# %%
# What ``super().__init__()`` sets up
# -----------------------------------
# ``nn.Module`` watches attribute assignment: a module goes into the registry
# ``_modules``, a parameter into ``_parameters``. That is how ``model.parameters()``
# later finds every weight without being told. Assign a layer before the registries
# exist and PyTorch stops you:
print(f"registered submodules: {[name for name, _ in model.named_children()]}")


class Forgetful(nn.Module):
    def __init__(self):
        self.linear = nn.Linear(4, 3)  # before super().__init__(): too early


try:
    Forgetful()
except AttributeError as error:
    message = str(error)
print(f"AttributeError: {message}")
assert message == "cannot assign module before Module.__init__() call"

# %%
# A plain list hides its layers
# -----------------------------
# Only attributes that *are* modules (or parameters) are registered. A network
# that keeps its layers in a Python list still computes, but to PyTorch it holds
# nothing: no parameters, an empty ``state_dict`` (a checkpoint would save nothing),
# and an optimizer that refuses to start. :class:`torch.nn.ModuleList` is the list
# that registers what it holds. The same class, built once with each:
from gradbook.models import count_parameters


class ListNet(nn.Module):
    def __init__(self, sizes: list[int], layer_list: type = list):
        super().__init__()
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        self.layers = layer_list(nn.Linear(a, b) for a, b in pairs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


hidden = ListNet([4, 10, 3], layer_list=list)
found = ListNet([4, 10, 3], layer_list=nn.ModuleList)
n_hidden = count_parameters(hidden)
print(f"plain list: output {tuple(hidden(X).shape)}, {n_hidden} parameters")
try:
    torch.optim.SGD(hidden.parameters(), lr=0.1)
except ValueError as error:
    sgd_message = str(error)
print(f"  torch.optim.SGD(...) raises ValueError: {sgd_message}")
print(f"ModuleList: {count_parameters(found)} parameters, saved under")
print(f"  {', '.join(found.state_dict())}")
assert n_hidden == 0 and hidden.state_dict() == {}
assert count_parameters(found) == 83

# %%
# ``parameters()`` and ``named_parameters()``
# -------------------------------------------
# ``parameters()`` walks the registered submodules and yields every parameter
# tensor: it is what you hand to an optimizer. ``named_parameters()`` yields the
# same tensors with their dotted names, the keys of the ``state_dict``.
for name, p in model.named_parameters():
    print(f"{name:<15} {str(tuple(p.shape)):<8} {p.numel():3d} numbers")
params = list(model.parameters())
assert [p for _, p in model.named_parameters()] == params
assert params[0] is model.linear1.weight

# %%
# Counting trainable parameters
# -----------------------------
# The optimizer only changes tensors with ``requires_grad=True``, so counting
# trainable parameters is a filter on ``requires_grad``. All 83 are trainable at
# first. ``requires_grad_(False)`` on ``linear1`` freezes its 40 weights and 10
# biases, and the count drops to 33; :func:`gradbook.models.count_parameters` with
# ``trainable_only=True`` agrees. After a backward pass the frozen layer's
# ``.grad`` is still ``None``: there is nothing for an optimizer to apply.


def n_trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


print(f"trainable before freezing:        {n_trainable(model)}")
model.linear1.requires_grad_(False)
print(f"trainable after freezing linear1: {n_trainable(model)}")
trainable = count_parameters(model, trainable_only=True)
total = count_parameters(model)
print(f"count_parameters(model, trainable_only=True) = {trainable}")
print(f"count_parameters(model)                      = {total}")
model(X).sum().backward()
print(f"after backward: linear1.weight.grad is {model.linear1.weight.grad}")
assert trainable == n_trainable(model) == 33 and total == 83
assert model.linear2.weight.grad is not None
model.requires_grad_(True)  # unfreeze everything again
model.zero_grad()

# %%
# The same model as ``nn.Sequential``
# -----------------------------------
# When ``forward`` only passes the input through the layers in order,
# :class:`torch.nn.Sequential` writes the class for you. Its layers are named by
# position (``0``, ``1``, ``2``; the ReLU has no parameters, so no ``1.weight``).
# Given an ``OrderedDict``, it takes names instead, and then its ``state_dict`` is
# SimpleNet's: the weights load directly and the outputs agree. A ``forward`` that
# is not a chain (a skip connection, two inputs) needs the class.
from collections import OrderedDict

by_position = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 3))
by_name = nn.Sequential(
    OrderedDict(
        linear1=nn.Linear(4, 10), relu=nn.ReLU(), linear2=nn.Linear(10, 3)
    )
)
print(f"by position: {', '.join(by_position.state_dict())}")
print(f"by name:     {', '.join(by_name.state_dict())}")
by_name.load_state_dict(model.state_dict())
torch.testing.assert_close(by_name(X), model(X))
print("by_name(X) equals model(X)")

# %%
# ``train()`` and ``eval()``: Dropout
# -----------------------------------
# Some layers behave differently while training. ``nn.Dropout(p)`` zeroes each
# hidden value with probability :math:`p` and scales the survivors by
# :math:`1 / (1 - p)`, with a fresh random mask for every sample of every call; in
# evaluation it does nothing. ``model.train()`` and ``model.eval()`` set the
# ``training`` flag on every submodule at once. On a 1-D input, three calls in train
# mode give three different noisy curves; in eval mode every call gives the same
# curve, that of the same layers without the Dropout. The scaling keeps the average
# right: the mean of 1,000 train-mode calls lies close to the eval curve.
from gradbook.plotting import plot_lines, use_style

torch.manual_seed(0)
dropout_net = nn.Sequential(
    nn.Linear(1, 64), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(64, 1)
)
x = torch.linspace(-3, 3, 61).unsqueeze(1)  # (61, 1)

with torch.no_grad():  # no training here: no graph needed
    dropout_net.train()
    train_calls = [dropout_net(x).squeeze(1) for _ in range(3)]  # 3 x (61,)
    mean_call = torch.stack([dropout_net(x) for _ in range(1000)]).mean(0)
    dropout_net.eval()
    eval_calls = [dropout_net(x).squeeze(1) for _ in range(2)]  # 2 x (61,)
    # The same layers with the Dropout left out:
    without = nn.Sequential(dropout_net[0], dropout_net[1], dropout_net[3])
    no_dropout = without(x).squeeze(1)
print(f"training flags after eval(): {[m.training for m in dropout_net]}")
print(f"train mode, two calls equal? {torch.equal(*train_calls[:2])}")
print(f"eval mode,  two calls equal? {torch.equal(*eval_calls)}")
assert not torch.equal(train_calls[0], train_calls[1])
torch.testing.assert_close(eval_calls[0], eval_calls[1], rtol=0, atol=0)
torch.testing.assert_close(eval_calls[0], no_dropout)
use_style()
curves = {f"train mode, call {i + 1}": c for i, c in enumerate(train_calls)}
curves["mean of 1,000 train-mode calls"] = mean_call.squeeze(1)
curves["eval mode (every call)"] = eval_calls[0]
ax = plot_lines(
    x.squeeze(1),
    curves,
    xlabel="input x",
    ylabel="network output",
    title="Dropout(p = 0.5): random in train(), fixed in eval()",
)
for line in ax.lines[:3]:
    line.set(linewidth=1.0, alpha=0.6)
ax.lines[3].set(linestyle=":", linewidth=3.0, zorder=3)  # on top
ax.lines[4].set(color="black")
ax.legend()
# sphinx_gallery_start_ignore
gap = (mean_call.squeeze(1) - eval_calls[0]).abs().max().item()
spread = (train_calls[0] - eval_calls[0]).abs().max().item()
assert gap < spread / 5, (gap, spread)
# sphinx_gallery_end_ignore

# %%
# Stacked linear layers collapse
# ------------------------------
# Take the ReLU out of SimpleNet and what is left is one affine map:
#
# .. math::
#
#    \mW_2 (\mW_1 \vx + \vb_1) + \vb_2 = (\mW_2 \mW_1) \vx + (\mW_2 \vb_1 + \vb_2).
#
# A single ``nn.Linear(4, 3)`` built from :math:`\mW_2 \mW_1` and
# :math:`\mW_2 \vb_1 + \vb_2` computes the same outputs with 15 parameters instead
# of 83: depth without a nonlinearity buys nothing.
W1, b1 = model.linear1.weight, model.linear1.bias  # (10, 4), (10,)
W2, b2 = model.linear2.weight, model.linear2.bias  # (3, 10), (3,)
collapsed = nn.Linear(4, 3)
with torch.no_grad():
    collapsed.weight.copy_(W2 @ W1)  # (3, 4)
    collapsed.bias.copy_(W2 @ b1 + b2)  # (3,)
stacked_out = model.linear2(model.linear1(X))  # (8, 3): no ReLU between
torch.testing.assert_close(stacked_out, collapsed(X))
n_stacked, n_collapsed = count_parameters(model), count_parameters(collapsed)
print(
    f"stacked: {n_stacked} parameters, collapsed: {n_collapsed}, same outputs"
)
assert (n_stacked, n_collapsed) == (83, 15)

# %%
# On a 1-D input the collapse is visible: two stacked linear layers with 16 hidden
# units draw a straight line, exactly the single ``Linear(1, 1)`` built from their
# weights, while the same weights with a ReLU between them bend.
torch.manual_seed(0)
first, second = nn.Linear(1, 16), nn.Linear(16, 1)
single = nn.Linear(1, 1)
with torch.no_grad():
    single.weight.copy_(second.weight @ first.weight)  # (1, 1)
    single.bias.copy_(second.weight @ first.bias + second.bias)  # (1,)
    stacked_1d = second(first(x))  # (61, 1)
    single_1d = single(x)  # (61, 1)
    relu_1d = second(first(x).relu())  # (61, 1)
ax = plot_lines(
    x.squeeze(1),
    {
        "Linear(16, 1) after Linear(1, 16)": stacked_1d.squeeze(1),
        "one Linear(1, 1) from their weights": single_1d.squeeze(1),
        "the same two layers, ReLU between": relu_1d.squeeze(1),
    },
    xlabel="input x",
    ylabel="output",
    title="Without an activation, two linear layers are one",
)
ax.lines[1].set(linestyle="--", color="black")
ax.legend()
torch.testing.assert_close(stacked_1d, single_1d)

# %%
# Where next
# ----------
# With the nonlinearity back in, the stack is a multi-layer perceptron:
# :ref:`sphx_glr_auto_examples_networks_plot_15_mlp.py` counts SimpleNet's 83
# parameters from a formula, draws its autograd graph and trains an MLP on spirals.
#
# API used here: :class:`gradbook.models.SimpleNet`,
# :func:`gradbook.models.count_parameters`, :func:`gradbook.plotting.plot_lines`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **14.1** Write a module ``ResidualBlock(d)`` with two layers
# ``linear1`` and ``linear2``, each ``nn.Linear(d, d)``, whose forward is
# :math:`\vx + \mathrm{linear2}(\mathrm{ReLU}(\mathrm{linear1}(\vx)))`. The
# checker builds it, loads weights into it by name and compares outputs.
from gradbook.exercises import check


class ResidualBlock(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        raise NotImplementedError  # the two layers, as attributes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


print(check("14.1", ResidualBlock))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 14.1</summary>


class ResidualBlock(nn.Module):
    def __init__(self, d: int):
        super().__init__()  # first: it sets up the registries
        self.linear1 = nn.Linear(d, d)
        self.linear2 = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.linear2(torch.relu(self.linear1(x)))  # the skip


print(check("14.1", ResidualBlock))
# sphinx_gallery_start_ignore
assert check("14.1", ResidualBlock).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **14.2** Write ``answer_14_2(model)`` that freezes a network for
# fine-tuning: every parameter stops requiring gradients except those of
# its last ``nn.Linear``. The checker counts the trainable parameters of
# two :class:`gradbook.models.MLP` networks.


def answer_14_2(model: nn.Module) -> None:
    raise NotImplementedError


print(check("14.2", answer_14_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 14.2</summary>


def answer_14_2(model: nn.Module) -> None:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    model.requires_grad_(False)  # every parameter
    linears[-1].requires_grad_(True)  # but the last layer's


print(check("14.2", answer_14_2))
# sphinx_gallery_start_ignore
assert check("14.2", answer_14_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **14.3** Write ``answer_14_3(first, second)``: one ``nn.Linear`` that
# computes ``second(first(x))`` for two linear layers, as the cell on
# stacked layers did for SimpleNet's.


def answer_14_3(first: nn.Linear, second: nn.Linear) -> nn.Linear:
    raise NotImplementedError


print(check("14.3", answer_14_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 14.3</summary>


def answer_14_3(first: nn.Linear, second: nn.Linear) -> nn.Linear:
    one = nn.Linear(first.in_features, second.out_features)
    with torch.no_grad():
        one.weight.copy_(second.weight @ first.weight)  # W2 W1
        one.bias.copy_(second.weight @ first.bias + second.bias)  # W2 b1 + b2
    return one


print(check("14.3", answer_14_3))
# sphinx_gallery_start_ignore
assert check("14.3", answer_14_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
