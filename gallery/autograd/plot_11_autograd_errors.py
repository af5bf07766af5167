r"""
Autograd errors, explained
==========================

A reference page: each error that autograd (and the layers and losses built on it)
commonly raises is raised here for real, its full message printed exactly as the
installed torch prints it (only wrapped at spaces to fit the page), followed by what
causes it and the fix, which runs and is checked. Paste a message into the site search
to land on its section, or pick it from the list below.
"""

# %%
# The messages on this page
# -------------------------
# Each entry is a message's key phrase, the title of its section, and the usual
# cause.
#
# - :ref:`autograd-error-backward-twice`: a forward result reused by two steps
# - :ref:`autograd-error-scalar-outputs`: ``backward()`` on a vector
# - :ref:`autograd-error-no-grad-fn`: the loss computed under ``no_grad``
# - :ref:`autograd-error-integer-requires-grad`: ``torch.tensor([1, 2], requires_grad=True)``
# - :ref:`autograd-error-leaf-inplace`: ``w -= lr * w.grad`` outside ``no_grad``
# - :ref:`autograd-error-modified-inplace`: a tensor saved for backward changed in place
# - :ref:`autograd-error-non-leaf-grad`: ``.grad`` read on a computed tensor
# - :ref:`autograd-error-non-leaf-optimizer`: ``torch.randn(3, requires_grad=True) * 0.01``
# - :ref:`autograd-error-numpy`: ``.numpy()`` on a model output
# - :ref:`autograd-error-inference`: features made under ``inference_mode``, then trained on
# - :ref:`autograd-error-mat-shapes`: a ``Linear`` with the wrong ``in_features``
# - :ref:`autograd-error-dtype`: float64 NumPy data into a float32 layer
# - :ref:`autograd-error-ce-long-probabilities`: ``F.one_hot`` targets for cross-entropy
# - :ref:`autograd-error-ce-target-shape`: class targets as a column ``(N, 1)``
# - :ref:`autograd-error-ce-target-dtype`: class indices stored as floats
#
# ``show_message`` runs code that must raise (or warn) with
# :func:`gradbook.utils.show_error`, which prints the message in full, wrapped
# at spaces to fit 79 columns (the line breaks are the only change), and keeps
# it in ``messages``. ``tests/test_autograd_errors.py`` reads
# that dict, so a torch upgrade that rewords a message fails a test too.
import contextlib
import textwrap

import torch
from gradbook.utils import show_error

messages = {}  # section slug -> "ErrorType: message", as torch wrote it
wrap = textwrap.TextWrapper(79, break_long_words=False, break_on_hyphens=False)
# sphinx_gallery_start_ignore
# Each message's key phrase (its section's title, or part of it): the build
# fails if the installed torch words a message differently.
KEY = {
    "backward-twice": "Trying to backward through the graph a second time",
    "scalar-outputs": "grad can be implicitly created only for scalar outputs",
    "no-grad-fn": "does not require grad and does not have a grad_fn",
    "integer-requires-grad": "floating point and complex dtype can require",
    "leaf-inplace": "leaf Variable that requires grad is being used in an in",
    "modified-inplace": "is at version 1; expected version 0 instead",
    "anomaly": "Hint: the backtrace further above shows the operation",
    "non-leaf-grad": "Tensor that is not a leaf Tensor is being accessed",
    "non-leaf-optimizer": "can't optimize a non-leaf Tensor",
    "numpy": "Can't call numpy() on Tensor that requires grad",
    "inference": "Inference tensors cannot be saved for backward",
    "mat-shapes": "mat1 and mat2 shapes cannot be multiplied (5x3 and 4x2)",
    "dtype": "mat1 and mat2 must have the same dtype, but got Double and",
    "ce-long-probabilities": "target with class probabilities, got Long",
    "ce-target-shape": "0D or 1D target tensor expected, multi-target not",
    "ce-target-dtype": "expected target dtype to be Long or Byte, but got",
}
# sphinx_gallery_end_ignore


@contextlib.contextmanager
def show_message(slug):
    """Run the block, which must raise or warn; print and keep the message."""
    with show_error() as caught:
        yield caught  # .warnings: what the block warned, for a closer look
    messages[slug] = caught.message
    # sphinx_gallery_start_ignore
    assert KEY[slug] in messages[slug], f"{slug} reworded: {messages[slug]}"
    # sphinx_gallery_end_ignore


print(f"the messages of torch {torch.__version__}")

# %%
# .. _autograd-error-backward-twice:
#
# Trying to backward through the graph a second time
# --------------------------------------------------
# ``backward()`` frees the tensors the graph saved for it (here the result of
# ``exp``) once it has used them. A forward result computed once, outside the
# loop, is backpropagated through a freed graph on the second step. The fix:
# run the forward pass inside the loop. (``retain_graph=True`` keeps the saved
# tensors instead, when you truly mean to go through one graph twice.)
w = torch.tensor(1.0, requires_grad=True)
h = w.exp()  # computed once, outside the loop
with show_message("backward-twice"):
    for _ in range(2):
        (3 * h).backward()
w.grad = None
for _ in range(2):
    (3 * w.exp()).backward()  # the fix: a fresh graph every step
print(f"w.grad = {w.grad.item():.4f} = 2 * 3e, two accumulated gradients")
# sphinx_gallery_start_ignore
torch.testing.assert_close(w.grad, 6 * torch.tensor(1.0).exp())
h = w.exp()
(3 * h).backward(retain_graph=True)
(3 * h).backward()  # retain_graph=True kept exp's saved result
# sphinx_gallery_end_ignore

# %%
# .. _autograd-error-scalar-outputs:
#
# grad can be implicitly created only for scalar outputs
# ------------------------------------------------------
# ``y.backward()`` means "the gradient of ``y``", which exists only for a
# scalar. Reduce a vector to a scalar loss first, or pass the vector ``v`` of
# the vector-Jacobian product :math:`v^T J` yourself, as ``gradient=v``.
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
with show_message("scalar-outputs"):
    (x**2).backward()
(x**2).sum().backward()  # the fix; the same as gradient=torch.ones(3)
print(f"x.grad = {x.grad.tolist()} = 2x")
# sphinx_gallery_start_ignore
torch.testing.assert_close(x.grad, 2 * x.detach())
(x**2).backward(gradient=torch.ones(3))
torch.testing.assert_close(x.grad, 4 * x.detach())
# sphinx_gallery_end_ignore

# %%
# .. _autograd-error-no-grad-fn:
#
# element 0 of tensors does not require grad and does not have a grad_fn
# -----------------------------------------------------------------------
# The loss has no graph behind it: it was computed under ``torch.no_grad()``
# (often evaluation code reused for training), from a ``.detach()``-ed tensor,
# or from tensors none of which requires grad. ``loss.grad_fn`` is ``None``.
from torch import nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
X, y = torch.randn(8, 3), torch.randn(8, 1)  # (N, d_in), (N, 1)
with torch.no_grad():
    loss = nn.functional.mse_loss(model(X), y)
print(f"requires_grad={loss.requires_grad}, grad_fn={loss.grad_fn}")
with show_message("no-grad-fn"):
    loss.backward()
loss = nn.functional.mse_loss(model(X), y)  # the fix: forward with grad on
loss.backward()
print(f"grad_fn={type(loss.grad_fn).__name__}: model.weight.grad is set")
# sphinx_gallery_start_ignore
assert model.weight.grad is not None
assert model(X).detach().sum().grad_fn is None and X.sum().grad_fn is None
# sphinx_gallery_end_ignore

# %%
# .. _autograd-error-integer-requires-grad:
#
# Only Tensors of floating point and complex dtype can require gradients
# ----------------------------------------------------------------------
# ``torch.tensor([1, 2])`` holds integers (``int64``): no gradient can change
# them by a small step. Write floats, or give ``dtype=torch.float32``.
with show_message("integer-requires-grad"):
    torch.tensor([1, 2], requires_grad=True)
x = torch.tensor([1.0, 2.0], requires_grad=True)  # the fix
print(f"x.dtype = {x.dtype}")

# %%
# .. _autograd-error-leaf-inplace:
#
# a leaf Variable that requires grad is being used in an in-place operation
# -------------------------------------------------------------------------
# A hand-written update ``w -= lr * w.grad`` would be recorded by autograd as
# an operation on the parameter itself, so autograd refuses it. An update is
# not part of the model: make it under ``torch.no_grad()``.
w = torch.tensor([1.0, 2.0], requires_grad=True)
(w**2).sum().backward()
with show_message("leaf-inplace"):
    w -= 0.1 * w.grad
with torch.no_grad():  # the fix
    w -= 0.1 * w.grad
print(f"w = {[f'{v:.4f}' for v in w.tolist()]} (a leaf: {w.is_leaf})")
# sphinx_gallery_start_ignore
torch.testing.assert_close(w.detach(), torch.tensor([0.8, 1.6]))
# sphinx_gallery_end_ignore

# %%
# .. _autograd-error-modified-inplace:
#
# one of the variables needed for gradient computation has been modified by an inplace operation
# ----------------------------------------------------------------------------------------------
# ``sigmoid`` saves its output :math:`s` for backward, since
# :math:`\sigma'(x) = s (1 - s)`. Every tensor has a version counter,
# ``t._version``, that each in-place operation bumps; backward compares it
# with the version it saved, and here ``y *= 2`` changed :math:`s` under it.
x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
y = x.sigmoid()
print(f"y._version after sigmoid: {y._version}")
y *= 2
print(f"y._version after y *= 2:  {y._version}")
with show_message("modified-inplace"):
    y.sum().backward()

# %%
# The message names the tensor (``output 0 of Sigmoid``) but not the line. Run
# the step again under ``torch.autograd.set_detect_anomaly(True)``: the error
# comes with a warning holding the traceback of the *forward* call whose saved
# tensor was modified. Its last line is the culprit in our code.
with (
    show_message("anomaly") as caught,
    torch.autograd.set_detect_anomaly(True),
):
    y = x.sigmoid()
    y *= 2
    y.sum().backward()
report = str(caught.warnings[0].message).splitlines()
code = [line.strip() for line in report if line.startswith("    ")]
print(wrap.fill(report[0]))
print(f"the forward line it points at: {code[-1]}")
# sphinx_gallery_start_ignore
assert report[0].startswith("Error detected in SigmoidBackward0")
assert "which is output 0 of Sigmoid" in messages["modified-inplace"]
assert code[-1] == "y = x.sigmoid()"
# sphinx_gallery_end_ignore

# %%
# The figure follows the version of the saved output through three in-place
# operations. Written out of place, ``(y * 2 + 1) / 4`` makes new tensors and
# leaves the saved one at version 0, so backward works: that is the fix.
from gradbook.plotting import plot_lines, use_style

use_style()
s = x.sigmoid()  # saved by SigmoidBackward0; in-place methods return s
in_place = [s._version, s.mul_(2)._version]
in_place += [s.add_(1)._version, s.div_(4)._version]
s = x.sigmoid()
out = (s * 2 + 1) / 4  # the fix: three new tensors, s is never changed
ax = plot_lines(
    range(4),
    {"in place: y.mul_(2), ...": in_place, "out of place": [s._version] * 4},
    marker="o",
    xlabel="operation applied to y",
    ylabel="version of the saved output",
    title="The version counter of sigmoid's saved output",
)
ax.set_xticks(range(4), ["x.sigmoid()", "* 2", "+ 1", "/ 4"])
ax.set_yticks(range(4))
arrow = {"arrowstyle": "->"}
ax.annotate(
    "backward raises from here on", (1, 1), (1.2, 0.5), arrowprops=arrow
)
out.sum().backward()
print(f"x.grad = {[f'{g:.4f}' for g in x.grad.tolist()]} = s (1 - s) / 2")
# sphinx_gallery_start_ignore
assert in_place == [0, 1, 2, 3] and s._version == 0
sig = torch.sigmoid(x.detach())
torch.testing.assert_close(x.grad, sig * (1 - sig) / 2)
# sphinx_gallery_end_ignore

# %%
# .. _autograd-error-non-leaf-grad:
#
# The .grad attribute of a Tensor that is not a leaf Tensor is being accessed
# ---------------------------------------------------------------------------
# Only leaf tensors (created by you, not computed) get ``.grad``. A classic way
# to lose leafness: scaling a random init after ``requires_grad=True``, which
# makes ``w`` the *result* of a multiplication. Reading its ``.grad`` warns.
w = torch.randn(3, requires_grad=True) * 0.01  # w is computed: not a leaf
(w**2).sum().backward()
with show_message("non-leaf-grad"):
    print(f"w.is_leaf = {w.is_leaf}, w.grad = {w.grad}")

# %%
# .. _autograd-error-non-leaf-optimizer:
#
# can\'t optimize a non-leaf Tensor
# ---------------------------------
# The same ``w`` handed to an optimizer fails at once: an optimizer updates
# leaves. The fix for both: scale first, then ask for gradients. (To read the
# gradient of an intermediate tensor on purpose, call ``t.retain_grad()``.)
with show_message("non-leaf-optimizer"):
    torch.optim.SGD([w], lr=0.1)
w = (torch.randn(3) * 0.01).requires_grad_()  # the fix: a leaf
optimizer = torch.optim.SGD([w], lr=0.1)
(w**2).sum().backward()
print(f"w.is_leaf = {w.is_leaf}, w.grad is 2w: {torch.equal(w.grad, 2 * w)}")
# sphinx_gallery_start_ignore
assert w.is_leaf and torch.equal(w.grad, 2 * w.detach())
h = w * 2
h.retain_grad()
h.sum().backward()
assert torch.equal(h.grad, torch.ones(3))
# sphinx_gallery_end_ignore

# %%
# .. _autograd-error-numpy:
#
# Can\'t call numpy() on Tensor that requires grad
# ------------------------------------------------
# A NumPy array cannot carry the graph, and torch will not drop it silently.
# Say that you mean to: ``detach()`` first (a model output, to plot it).
prediction = model(X)  # (8, 1), requires grad through the weights
with show_message("numpy"):
    prediction.numpy()
array = prediction.detach().numpy()  # the fix
print(f"detach().numpy(): {type(array).__name__} of shape {array.shape}")

# %%
# .. _autograd-error-inference:
#
# Inference tensors cannot be saved for backward
# ----------------------------------------------
# Features computed by a frozen encoder under ``torch.inference_mode()`` are
# *inference tensors*; a trainable head that saves them for its weight
# gradient refuses them. Compute them under ``torch.no_grad()`` instead (or
# ``clone()`` them outside inference mode).
encoder, head = nn.Linear(3, 4), nn.Linear(4, 1)
with torch.inference_mode():
    frozen = encoder(X)  # (8, 4), an inference tensor
with show_message("inference"):
    head(frozen)
with torch.no_grad():  # the fix
    features = encoder(X)
head(features).sum().backward()
print(f"head.weight.grad is set: {head.weight.grad is not None}")
# sphinx_gallery_start_ignore
assert frozen.is_inference() and not features.is_inference()
head(frozen.clone()).sum().backward()  # clone() outside inference mode works
# sphinx_gallery_end_ignore

# %%
# .. _autograd-error-mat-shapes:
#
# mat1 and mat2 shapes cannot be multiplied
# -----------------------------------------
# ``Linear(in_features, out_features)`` computes :math:`X W^T + b`: ``mat1``
# is the batch :math:`X` (N x 3) and ``mat2`` is :math:`W^T` (in_features x
# out_features = 4 x 2). The inner sizes, 3 and 4, must agree.
X3 = torch.randn(5, 3)  # (N, d_in) = (5, 3)
with show_message("mat-shapes"):
    nn.Linear(4, 2)(X3)
layer = nn.Linear(X3.shape[1], 2)  # the fix: in_features from the data
print(f"output shape: {tuple(layer(X3).shape)}")

# %%
# .. _autograd-error-dtype:
#
# mat1 and mat2 must have the same dtype
# --------------------------------------
# NumPy's default float is float64 ("Double"), and ``torch.from_numpy`` keeps
# it; layers are float32 ("Float"). Convert the data, not the model.
import numpy as np

data = np.random.default_rng(0).normal(size=(5, 3))  # float64
with show_message("dtype"):
    layer(torch.from_numpy(data))
X64 = torch.as_tensor(data, dtype=torch.float32)  # the fix
print(f"{X64.dtype} input -> {layer(X64).dtype} output")

# %%
# .. _autograd-error-ce-long-probabilities:
#
# Expected floating point type for target with class probabilities, got Long
# --------------------------------------------------------------------------
# :func:`torch.nn.functional.cross_entropy` takes class indices of shape
# ``(N,)`` or class *probabilities* of the logits' shape ``(N, C)``.
# ``F.one_hot`` returns integers (Long): probabilities of the wrong dtype.
# One-hot *floats* are accepted, and give exactly the loss of the indices: no
# error, nothing wrong. The simplest fix is still to pass the indices.
import torch.nn.functional as F

logits = torch.randn(4, 3)  # (N, C)
labels = torch.tensor([0, 2, 1, 0])  # (N,) class indices
with show_message("ce-long-probabilities"):
    F.cross_entropy(logits, F.one_hot(labels, 3))
by_index = F.cross_entropy(logits, labels)
by_one_hot = F.cross_entropy(logits, F.one_hot(labels, 3).float())
print(f"indices: {by_index:.4f}   one-hot floats: {by_one_hot:.4f}")
torch.testing.assert_close(by_index, by_one_hot)

# %%
# .. _autograd-error-ce-target-shape:
#
# 0D or 1D target tensor expected, multi-target not supported
# -----------------------------------------------------------
# Class indices kept as a column ``(N, 1)``, the shape a regression target
# has. Cross-entropy wants one index per sample: flatten them.
column = labels.view(-1, 1)  # (N, 1)
with show_message("ce-target-shape"):
    F.cross_entropy(logits, column)
by_column = F.cross_entropy(logits, column.squeeze(1))  # the fix: (N,)
print(f"loss with (N,) targets: {by_column:.4f}")

# %%
# .. _autograd-error-ce-target-dtype:
#
# expected target dtype to be Long or Byte, but got Float
# -------------------------------------------------------
# Indices stored as floats (``1.0``), as a data set often loads them: a 1-D
# target is read as class indices, which must be integers. Use ``.long()``.
as_floats = labels.float()  # (N,) float32
with show_message("ce-target-dtype"):
    F.cross_entropy(logits, as_floats)
by_long = F.cross_entropy(logits, as_floats.long())  # the fix
print(f"loss with Long targets: {by_long:.4f}")
# sphinx_gallery_start_ignore
for fixed in (by_column, by_long):
    torch.testing.assert_close(fixed, by_index)
assert F.one_hot(labels, 3).dtype == torch.int64
assert torch.from_numpy(data).dtype == torch.float64
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# This page closes the autograd part. The next part builds networks from their
# pieces, starting with
# :ref:`sphx_glr_auto_examples_networks_plot_12_linear_layers.py`.
#
# API used here: :func:`gradbook.plotting.plot_lines`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Each starter below raises one of this page's errors. Fix it, run it, and
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **11.1** ``answer_11_1(w)`` should return ``w.grad`` after two training
# steps that each backpropagate :math:`3 e^w` (a scalar ``w``), the two
# gradients accumulated.
from gradbook.exercises import check


def answer_11_1(w: torch.Tensor) -> torch.Tensor:
    h = w.exp()
    for _ in range(2):
        (3 * h).backward()
    return w.grad


print(check("11.1", answer_11_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 11.1</summary>


def answer_11_1(w: torch.Tensor) -> torch.Tensor:
    for _ in range(2):
        (3 * w.exp()).backward()  # a fresh graph for every backward()
    return w.grad


print(check("11.1", answer_11_1))
# sphinx_gallery_start_ignore
assert check("11.1", answer_11_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **11.2** ``answer_11_2(x)`` should return ``x.grad`` of
# :math:`\sum_i 2 \sigma(x_i)`.


def answer_11_2(x: torch.Tensor) -> torch.Tensor:
    y = x.sigmoid()
    y *= 2
    y.sum().backward()
    return x.grad


print(check("11.2", answer_11_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 11.2</summary>


def answer_11_2(x: torch.Tensor) -> torch.Tensor:
    y = x.sigmoid() * 2  # a new tensor: sigmoid's saved output is untouched
    y.sum().backward()
    return x.grad


print(check("11.2", answer_11_2))
# sphinx_gallery_start_ignore
assert check("11.2", answer_11_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **11.3** ``answer_11_3(layer, data)`` should return the output of a
# float32 ``nn.Linear`` for ``data``, a float64 NumPy array.


def answer_11_3(layer: nn.Linear, data: np.ndarray) -> torch.Tensor:
    return layer(torch.from_numpy(data))


print(check("11.3", answer_11_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 11.3</summary>


def answer_11_3(layer: nn.Linear, data: np.ndarray) -> torch.Tensor:
    return layer(torch.as_tensor(data, dtype=torch.float32))  # the data's


print(check("11.3", answer_11_3))
# sphinx_gallery_start_ignore
assert check("11.3", answer_11_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **11.4** ``answer_11_4(logits, labels)`` should return the cross-entropy
# of the logits for class labels that a data file gave as a column of
# floats, shape (N, 1).


def answer_11_4(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


print(check("11.4", answer_11_4))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 11.4</summary>


def answer_11_4(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels.squeeze(1).long())  # (N,) indices


print(check("11.4", answer_11_4))
# sphinx_gallery_start_ignore
assert check("11.4", answer_11_4).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
