r"""
Turning gradients off
=====================

You will switch off autograd's recording in each of the ways PyTorch offers
and see what each one stops. :func:`torch.no_grad` and
:func:`torch.inference_mode` record nothing (and an inference tensor raises an
error when it meets autograd later), ``detach()`` cuts one path, and
``requires_grad_(False)`` freezes a layer, while ``model.eval()`` turns none
of this off. You will measure what each mode records, and check that the
manual update ``with torch.no_grad(): w -= lr * w.grad`` is one SGD step.
"""

# %%
# Recording is on by default
# --------------------------
# A small regression network with dropout, on 256 samples with 4 features.
# The inputs do not require gradients, but the parameters do, so the output
# carries a ``grad_fn``: the last node of the graph autograd recorded.
# :func:`gradbook.graph.autograd_graph` walks that graph.
import torch
from gradbook.data import make_regression
from gradbook.graph import autograd_graph
from torch import nn

X, y = make_regression(256, [2.0, -1.0, 0.5, 3.0])  # (256, 4), (256, 1)
torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 1)
)
out = model(X)  # (256, 1)
print(f"out.requires_grad = {out.requires_grad}")
print(f"out.grad_fn       = {out.grad_fn.name()}")
print(f"graph nodes       = {len(autograd_graph(out))}")

# %%
# ``torch.no_grad()``: same numbers, no graph
# -------------------------------------------
# Inside ``with torch.no_grad():`` nothing is recorded: the output has no
# ``grad_fn`` and nothing is kept for a backward pass. The values are the same
# (with the same dropout mask). It is a *mode*, not a property of the tensors:
# the parameters still have ``requires_grad=True`` inside it. It also works as
# a decorator, on a function that only predicts.
torch.manual_seed(1)
out = model(X)
torch.manual_seed(1)  # the same dropout mask
with torch.no_grad():
    out_no_grad = model(X)
    weight_flag = model[0].weight.requires_grad
print(f"requires_grad = {out_no_grad.requires_grad}")
print(f"grad_fn       = {out_no_grad.grad_fn}")
print(f"inside no_grad, weight.requires_grad = {weight_flag}")
print(f"same values: {torch.equal(out, out_no_grad)}")


@torch.no_grad()
def predict(inputs: torch.Tensor) -> torch.Tensor:
    return model(inputs)


predicted = predict(X)
print(f"predict(X).grad_fn = {predicted.grad_fn}")
# sphinx_gallery_start_ignore
assert out_no_grad.grad_fn is None and not out_no_grad.requires_grad
assert weight_flag and torch.equal(out, out_no_grad)
# not predict(X) again: in training mode its dropout would draw a mask
assert predicted.grad_fn is None
# sphinx_gallery_end_ignore

# %%
# With no graph there is nothing to differentiate, and ``backward()`` says so.
# :func:`gradbook.utils.show_error` runs a block that must fail and prints
# torch's message in full, wrapped at spaces to the page; the build fails if
# torch rewords it.
import contextlib

from gradbook.utils import show_error

loss_fn = nn.MSELoss()
with show_error("element 0 of tensors does not require grad"):
    loss_fn(out_no_grad, y).backward()

# %%
# ``torch.inference_mode()``: no graph, and tensors marked for good
# -----------------------------------------------------------------
# :func:`torch.inference_mode` goes further than ``no_grad``: it also skips
# the bookkeeping autograd needs to check later in-place changes, and every
# tensor made inside is an *inference tensor*, marked as such for life.
# Suppose we compute features once with the first layer, then train a new head
# on them. The head has to save its input for the backward pass, and an
# inference tensor cannot be saved:
with torch.inference_mode():
    features = model[:2](X)  # Linear + ReLU, (256, 32)
print(f"features.is_inference() = {features.is_inference()}")
# sphinx_gallery_start_ignore
with contextlib.suppress(RuntimeError):  # no version counter to check with
    features._version
    raise AssertionError("an inference tensor has a version counter")
# sphinx_gallery_end_ignore

head = nn.Linear(32, 1)
with show_error("Inference tensors cannot be saved for backward"):
    head(features)

# %%
# The fixes are the ones the message gives: a ``clone()`` made outside
# inference mode is a normal tensor, or compute the features under
# ``no_grad``, whose outputs are normal tensors. Either way the head trains.
with torch.no_grad():
    features_no_grad = model[:2](X)  # (256, 32), a normal tensor
fixes = {"clone()": features.clone(), "no_grad": features_no_grad}
for fix, feats in fixes.items():
    head.zero_grad(set_to_none=True)
    loss_fn(head(feats), y).backward()
    assert head.weight.grad is not None  # the head has its gradient
    print(f"{fix:8s}: is_inference() = {feats.is_inference()}, head trains")

# %%
# ``detach()``: cut one path
# --------------------------
# ``t.detach()`` returns a tensor that shares ``t``'s memory but has no
# history: gradients stop there, while the rest of the graph stays recorded.
# In :math:`z = \sum_i x_i \cdot \mathrm{sg}(x_i)`, with :math:`\mathrm{sg}`
# a stop-gradient, one factor counts as a constant, so the gradient is
# :math:`x`, not the :math:`2x` of :math:`\sum_i x_i^2`.
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
x_const = x.detach()
(x * x_const).sum().backward()
print(f"x.grad = {x.grad.tolist()}   (2x would be {(2 * x).tolist()})")
print(f"x.detach() shares x's memory: {x_const.data_ptr() == x.data_ptr()}")
# sphinx_gallery_start_ignore
assert x.grad.tolist() == x.tolist() and x_const.data_ptr() == x.data_ptr()
# sphinx_gallery_end_ignore

# %%
# Freezing a layer: ``requires_grad_(False)``
# -------------------------------------------
# To keep a layer fixed while training the rest (fine-tuning a pretrained
# network), switch its parameters off. Autograd then builds no path to them:
# their ``.grad`` stays ``None``, and an optimizer skips a parameter without a
# gradient, so they do not move.
from gradbook.models import count_parameters

model[0].requires_grad_(False)
total = count_parameters(model)
trainable = count_parameters(model, trainable_only=True)
print(f"parameters: {total}, trainable: {trainable}")

optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
frozen_before = model[0].weight.clone()  # (32, 4)
loss_fn(model(X), y).backward()
optimizer.step()
print(f"layer 1 weight.grad: {model[0].weight.grad}")
print(f"layer 2 weight.grad: shape {tuple(model[3].weight.grad.shape)}")
unchanged = torch.equal(model[0].weight, frozen_before)
print(f"layer 1 unchanged by step(): {unchanged}")
model[0].requires_grad_(True)  # unfreeze for the rest of the page
# sphinx_gallery_start_ignore
assert (total, trainable) == (4 * 32 + 32 + 32 + 1, 32 + 1) and unchanged
assert model[0].weight.grad is None and model[3].weight.grad is not None
# sphinx_gallery_end_ignore

# %%
# ``model.eval()`` is not ``no_grad``
# -----------------------------------
# ``eval()`` changes what some layers *compute*: dropout stops dropping (and
# batch norm uses its running statistics). It does not touch recording: in
# eval mode the output still has a ``grad_fn`` and ``backward()`` still fills
# every gradient. To evaluate a model you want both, ``eval()`` for the right
# outputs and ``no_grad()`` to record nothing; :func:`gradbook.train.evaluate`
# does both, and puts the model back in its previous mode.
from gradbook.train import evaluate

model.eval()
out_eval = model(X)  # (256, 1)
model.zero_grad()
loss_fn(out_eval, y).backward()
filled = all(p.grad is not None for p in model.parameters())
print(f"eval mode: grad_fn = {out_eval.grad_fn.name()}, all grads: {filled}")
deterministic = torch.equal(model(X), out_eval)
print(f"eval mode is deterministic: {deterministic}")
with torch.no_grad():
    val_loss = loss_fn(model(X), y).item()
model.train()
by_gradbook = evaluate(model, loss_fn, (X, y))
print(f"eval + no_grad: {val_loss:.4f}, evaluate(): {by_gradbook:.4f}")
# sphinx_gallery_start_ignore
assert out_eval.grad_fn is not None and filled and deterministic
assert abs(by_gradbook - val_loss) < 1e-6 and model.training
# sphinx_gallery_end_ignore

# %%
# What each mode records
# ----------------------
# For one forward pass we count the nodes of the graph and the activation
# memory autograd keeps for the backward pass (a
# :class:`torch.autograd.graph.saved_tensors_hooks` sees every tensor saved;
# the parameters, kept anyway, are not counted). Eval mode records less only
# because dropout is skipped; with layer 1 frozen nothing before layer 2
# requires grad, so only layer 2 is recorded.
from gradbook.plotting import subplots, use_style

param_ptrs = {p.data_ptr() for p in model.parameters()}
contexts = {"no_grad()": torch.no_grad}
contexts["inference_mode()"] = torch.inference_mode
modes = ["train()", "eval()", "layer 1 frozen", *contexts]


def recorded(mode: str) -> tuple[int, float]:
    """Graph nodes and saved activation KiB of one forward pass in ``mode``."""
    saved = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in param_ptrs:
            saved.append(t.nelement() * t.element_size())
        return t

    model.train(mode != "eval()")
    model[0].requires_grad_(mode != "layer 1 frozen")
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with contexts.get(mode, contextlib.nullcontext)():
            out = model(X)
    model.train()
    model[0].requires_grad_(True)
    nodes = 0 if out.grad_fn is None else len(autograd_graph(out))
    return nodes, sum(saved) / 1024


counts = {mode: recorded(mode) for mode in modes}
for mode, (nodes, kib) in counts.items():
    print(f"{mode:17s} {nodes:3d} graph nodes, {kib:6.1f} KiB saved")

use_style()
fig, (ax_nodes, ax_kib) = subplots(1, 2, sharey=True)
axes = {ax_nodes: "graph nodes recorded", ax_kib: "activations saved (KiB)"}
for column, (ax, label) in enumerate(axes.items()):
    bars = ax.barh(modes, [counts[m][column] for m in modes])
    ax.bar_label(bars, fmt="%g", padding=3)  # the zeros get a label too
    ax.set_xlabel(label)
    ax.margins(x=0.15)
ax_nodes.invert_yaxis()
ax_nodes.set_ylabel("mode")
ax_nodes.set_title("Autograd graph, one forward pass")
ax_kib.set_title("Memory kept for backward")
# sphinx_gallery_start_ignore
assert counts["no_grad()"] == counts["inference_mode()"] == (0, 0.0)
for i in (0, 1):  # nodes, then KiB: frozen < eval < train
    assert 0 < counts["layer 1 frozen"][i] < counts["eval()"][i]
    assert counts["eval()"][i] < counts["train()"][i]
# sphinx_gallery_end_ignore

# %%
# The manual update: why it needs ``no_grad``
# -------------------------------------------
# The d2l book updates parameters by hand with ``w -= lr * w.grad``. Recorded,
# that line would be an in-place change to a leaf that requires grad, which
# autograd refuses (it would rewrite the tensor the gradient is taken with
# respect to):
import copy

torch.manual_seed(0)
net = nn.Linear(4, 1)
nets = {name: copy.deepcopy(net) for name in ["torch", "gradbook"]}
lr = 0.1
for each in [net, *nets.values()]:  # the same gradient in each copy
    loss_fn(each(X), y).backward()
with show_error("a leaf Variable that requires grad is being used"):
    net.weight -= lr * net.weight.grad  # recorded: refused

# %%
# Under ``no_grad`` the update is not recorded and is allowed. It is one
# step of plain SGD, :math:`\theta \leftarrow \theta - \eta \,
# \nabla_\theta \loss`: from the same weights and gradients, it gives the
# numbers of one :class:`torch.optim.SGD` step and one
# :class:`gradbook.optim.SGD` step, up to float32 rounding: both optimizers
# compute it as one operation, ``p.add_(g, alpha=-lr)``, where the line by
# hand takes two. d2l divides by the batch size because its loss is a sum;
# ours is a mean.
import gradbook.optim

before, grad_before = net.weight.clone(), net.weight.grad.clone()  # (1, 4)
with torch.no_grad():
    for p in net.parameters():
        p -= lr * p.grad
        p.grad.zero_()  # as d2l does: the next backward starts from zero
torch.optim.SGD(nets["torch"].parameters(), lr=lr).step()
gradbook.optim.SGD(nets["gradbook"].parameters(), lr=lr).step()
for name, other in nets.items():
    diff = (other.weight - net.weight).abs().max().item()
    print(f"by hand vs {name:8s} SGD step: max |difference| = {diff:.1e}")
    torch.testing.assert_close(other.weight, net.weight)
    torch.testing.assert_close(other.bias, net.bias)
# sphinx_gallery_start_ignore
assert net.weight.is_leaf and net.weight.grad.abs().sum() == 0
assert not torch.equal(net.weight, before)
one_op = before.add(grad_before, alpha=-lr)
assert torch.equal(nets["torch"].weight, one_op)
assert torch.equal(nets["gradbook"].weight, one_op)
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# So far every ``backward()`` started from a scalar loss. The next tutorial,
# :ref:`sphx_glr_auto_examples_autograd_plot_04_non_scalar_outputs.py`, starts
# it from a vector: vector-Jacobian products, whole Jacobians and per-sample
# gradients. The graph that ``no_grad`` switches off is drawn in
# :ref:`sphx_glr_auto_examples_autograd_plot_01_autograd_basics.py`.
#
# API used here: :func:`gradbook.data.make_regression`,
# :func:`gradbook.graph.autograd_graph`,
# :func:`gradbook.models.count_parameters`, :func:`gradbook.train.evaluate`,
# :class:`gradbook.optim.SGD`, :func:`gradbook.plotting.subplots`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **03.1** Write d2l's manual update as ``answer_03_1(params, lr)``: for
# each parameter ``p`` of the list, take the step
# :math:`p \leftarrow p - \eta \, \partial L / \partial p` in place, then
# zero ``p.grad``. The checker compares the result with a
# :class:`torch.optim.SGD` step from the same weights and gradients.
from gradbook.exercises import check


def answer_03_1(params, lr):
    raise NotImplementedError  # update each p in place, then zero p.grad


print(check("03.1", answer_03_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 03.1</summary>


def answer_03_1(params, lr):
    with torch.no_grad():  # an update is not part of the model
        for p in params:
            p -= lr * p.grad  # in place: p stays the same leaf
            p.grad.zero_()


print(check("03.1", answer_03_1))
# sphinx_gallery_start_ignore
assert check("03.1", answer_03_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **03.2** Write ``answer_03_2(model, X)`` that returns the model's
# predictions as they should be for evaluation: dropout switched off, no
# graph recorded, and the model handed back in the mode it came in
# (training or eval). The checker tries a model with dropout in both modes.


def answer_03_2(model, X):
    raise NotImplementedError  # eval() and no_grad(), then restore the mode


print(check("03.2", answer_03_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 03.2</summary>


def answer_03_2(model, X):
    was_training = model.training
    model.eval()  # dropout off
    with torch.no_grad():  # nothing recorded
        out = model(X)
    model.train(was_training)
    return out


print(check("03.2", answer_03_2))
# sphinx_gallery_start_ignore
assert check("03.2", answer_03_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **03.3** With ``x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)``,
# predict ``x.grad`` after ``(x * x.detach() ** 2).sum().backward()``.
# Write it as a list of three numbers.

answer_03_3 = None  # your prediction of x.grad, e.g. [0.0, 0.0, 0.0]

print(check("03.3", answer_03_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 03.3</summary>

# x.detach() ** 2 is a constant c, so the gradient of sum(x * c) is c = x**2.
answer_03_3 = [1.0, 4.0, 9.0]

print(check("03.3", answer_03_3))
# sphinx_gallery_start_ignore
assert check("03.3", answer_03_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
