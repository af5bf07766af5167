r"""
Gradient accumulation and zeroing
=================================

PyTorch *adds* each new gradient into ``.grad`` rather than overwriting it. Here you
watch that happen on a two-element tensor, see why it is correct (differentiation is
linear), use it on purpose to split a batch into micro-batches with exactly the same
gradient, and see what goes wrong in a training loop that forgets to zero the gradients.
"""

# %%
# Gradients add up
# ----------------
# Take :math:`x = (1, 2)` and :math:`f(x) = \sum_i x_i^2`, whose gradient is
# :math:`2x = (2, 4)`. Calling ``backward()`` stores it in ``x.grad``.
import torch

torch.manual_seed(0)

x = torch.tensor([1.0, 2.0], requires_grad=True)
(x**2).sum().backward()
print(f"after x**2:  x.grad = {x.grad.tolist()}")
# sphinx_gallery_start_ignore
assert x.grad.tolist() == [2.0, 4.0]
# sphinx_gallery_end_ignore

# %%
# A second ``backward()`` does not replace ``x.grad``: it adds the gradient of
# :math:`g(x) = \sum_i x_i^3`, which is :math:`3x^2 = (3, 12)`. The result is
# :math:`2x + 3x^2 = (5, 16)`, the gradient of :math:`f + g`.
(x**3).sum().backward()
print(f"after x**3:  x.grad = {x.grad.tolist()}")
print(f"2x + 3x^2  = {(2 * x + 3 * x**2).tolist()}")
# sphinx_gallery_start_ignore
assert x.grad.tolist() == [5.0, 16.0]
torch.testing.assert_close(x.grad, (2 * x + 3 * x**2).detach())
# sphinx_gallery_end_ignore

# %%
# Zeroing the gradient
# --------------------
# To start afresh, clear the buffer in place. The in-place ``zero_()`` keeps the same
# tensor object, so anything holding a reference to ``x.grad`` sees the zeros.
x.grad.zero_()
print(f"after zero_: x.grad = {x.grad.tolist()}")
# sphinx_gallery_start_ignore
assert x.grad.tolist() == [0.0, 0.0]
# sphinx_gallery_end_ignore

# %%
# Why adding is right: differentiation is linear
# ----------------------------------------------
# The gradient of a weighted sum is the weighted sum of the gradients,
#
# .. math::
#
#    \nabla (a f + b g) = a \nabla f + b \nabla g,
#
# so adding gradients from separate ``backward()`` calls gives the gradient of the summed
# losses. This is what lets one parameter collect contributions from every path through a
# graph (see :doc:`/theory/chain_rule`). We check it with :math:`a = 2`, :math:`b = -3`,
# computing each gradient on its own with :func:`torch.autograd.grad`, which returns the
# gradient instead of accumulating it.
a, b = 2.0, -3.0
x = torch.tensor([1.0, 2.0], requires_grad=True)
(grad_f,) = torch.autograd.grad((x**2).sum(), x)
(grad_g,) = torch.autograd.grad((x**3).sum(), x)
(grad_sum,) = torch.autograd.grad(a * (x**2).sum() + b * (x**3).sum(), x)
print(f"grad(a f + b g)       = {grad_sum.tolist()}")
print(f"a grad f + b grad g   = {(a * grad_f + b * grad_g).tolist()}")
torch.testing.assert_close(grad_sum, a * grad_f + b * grad_g)

# %%
# Accumulating over micro-batches
# -------------------------------
# Linearity is also why a big batch can be split when it does not fit in memory. With
# the mean-squared error over :math:`N` samples split into :math:`M` equal micro-batches
# :math:`B_1, \dots, B_M`,
#
# .. math::
#
#    L = \frac{1}{N} \sum_{n=1}^{N} \ell_n
#      = \sum_{m=1}^{M} \frac{1}{M} \Big( \frac{1}{|B_m|} \sum_{n \in B_m} \ell_n \Big),
#
# so scaling each micro-batch's mean loss by :math:`1/M` and calling ``backward()`` once
# per micro-batch accumulates exactly the full-batch gradient.
from torch import nn

model = nn.Linear(3, 1)
loss_fn = nn.MSELoss()
X = torch.randn(8, 3)  # (N, d_in)
y = torch.randn(8, 1)  # (N, 1)

# One big batch.
model.zero_grad()
loss_fn(model(X), y).backward()
full_grad = model.weight.grad.clone()  # (1, 3)

# Four micro-batches of two samples, gradients accumulated.
num_micro = 4
model.zero_grad()
for X_m, y_m in zip(
    X.chunk(num_micro), y.chunk(num_micro), strict=True
):  # (2, 3), (2, 1)
    (loss_fn(model(X_m), y_m) / num_micro).backward()
micro_grad = model.weight.grad.clone()  # (1, 3)

print(f"full batch     : {[f'{g:.6f}' for g in full_grad.flatten().tolist()]}")
print(
    f"4 micro-batches: {[f'{g:.6f}' for g in micro_grad.flatten().tolist()]}"
)
print(f"largest difference: {(full_grad - micro_grad).abs().max().item():.2e}")
torch.testing.assert_close(micro_grad, full_grad)

# %%
# With micro-batches of unequal size, weight each one by :math:`|B_m| / N` instead of
# :math:`1/M`. Without the scaling, the accumulated gradient is :math:`M` times too large,
# which acts like a learning rate :math:`M` times larger.

model.zero_grad()
for X_m, y_m in zip(X.chunk(num_micro), y.chunk(num_micro), strict=True):
    loss_fn(model(X_m), y_m).backward()  # no 1/M scaling
ratio = (model.weight.grad / full_grad).flatten()
print(f"unscaled / full-batch gradient: {[f'{r:.3f}' for r in ratio]}")
torch.testing.assert_close(model.weight.grad, num_micro * full_grad)

# %%
# ``optimizer.zero_grad()`` sets gradients to ``None``
# ----------------------------------------------------
# In a training loop you clear gradients with ``optimizer.zero_grad()`` (or
# ``model.zero_grad()``). Since PyTorch 2.0 its default is ``set_to_none=True``: instead
# of filling the buffer with zeros it drops it, which saves memory and one write per
# parameter. The next ``backward()`` then *assigns* the gradient instead of adding to it.
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn(model(X), y).backward()
print(f"after backward():   weight.grad is None? {model.weight.grad is None}")
optimizer.zero_grad()
print(f"after zero_grad():  weight.grad is None? {model.weight.grad is None}")
loss_fn(model(X), y).backward()
grad_after_none = model.weight.grad.clone()  # (1, 3)
optimizer.zero_grad(set_to_none=False)
print("after zero_grad(set_to_none=False):")
print(f"  weight.grad = {model.weight.grad.tolist()}")
loss_fn(model(X), y).backward()
torch.testing.assert_close(model.weight.grad, grad_after_none)
print("either way, the next backward() gives the same gradient")
# sphinx_gallery_start_ignore
assert model.weight.grad is not None
optimizer.zero_grad()
assert model.weight.grad is None and model.bias.grad is None
# sphinx_gallery_end_ignore

# %%
# What forgetting ``zero_grad()`` does to training
# ------------------------------------------------
# Leave out the zeroing and each step uses the *sum of all past gradients*: a
# momentum that never decays, so the parameters overshoot and swing around the minimum.
# We fit the linear regression :math:`y = 2 x_1 + 3 x_2 + \varepsilon` (100 samples)
# with plain SGD, once zeroing every step and once forgetting to.
from gradbook.data import make_regression
from gradbook.plotting import plot_loss_curves, use_style

use_style()
X, y = make_regression(100, [2.0, 3.0])  # (100, 2), (100, 1)


def train(*, zero_grad: bool, steps: int = 40) -> list[float]:
    """Full-batch SGD on the regression; return the loss at every step."""
    torch.manual_seed(0)  # the same starting weights for both runs
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


losses = {
    "zero_grad() every step": train(zero_grad=True),
    "zero_grad() forgotten": train(zero_grad=False),
}
for name, curve in losses.items():
    print(f"{name:24s} final loss {curve[-1]:.4f}")
ax = plot_loss_curves(
    losses,
    xlabel="step",
    ylabel="MSE loss (log scale)",
    title="SGD on linear regression, lr = 0.1",
)
# sphinx_gallery_start_ignore
assert losses["zero_grad() every step"][-1] < 0.02
assert (
    min(losses["zero_grad() forgotten"][-10:])
    > 10 * losses["zero_grad() every step"][-1]
)
# The engine's backward loop, quoted in "Where next", as written.
import inspect

from gradbook.autodiff import Value

assert "parent.grad += local * g" in inspect.getsource(Value.backward)
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# Accumulating is not only for separate ``backward()`` calls. Inside one backward
# pass, a value used along several paths receives the sum of their contributions,
# and a reverse-mode engine writes that sum as one ``+=`` in its backward loop:
# ``parent.grad += local * g`` in :class:`gradbook.autodiff.Value` (run by hand
# in :ref:`sphx_glr_auto_examples_autograd_plot_05_autodiff_from_scratch.py`).
# The chain rule behind it is on :doc:`/theory/chain_rule`.
#
# Not every computation needs gradients at all. The next tutorial,
# :ref:`sphx_glr_auto_examples_autograd_plot_03_turning_gradients_off.py`, turns
# them off: ``no_grad``, ``inference_mode``, ``detach`` and frozen parameters.
#
# API used here: :func:`gradbook.data.make_regression`,
# :func:`gradbook.plotting.plot_loss_curves`, :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **02.1** With ``x = torch.tensor([1.0, 2.0], requires_grad=True)``,
# predict ``x.grad`` after ``(x**2).sum().backward()`` followed by
# ``(3 * x).sum().backward()``. Write it as a list of two numbers.
from gradbook.exercises import check

answer_02_1 = None  # your prediction of x.grad, e.g. [0.0, 0.0]

print(check("02.1", answer_02_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 02.1</summary>

# The first call leaves 2x = (2, 4); the second adds 3 to each element.
answer_02_1 = [2 * 1.0 + 3, 2 * 2.0 + 3]

print(check("02.1", answer_02_1))
# sphinx_gallery_start_ignore
assert check("02.1", answer_02_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **02.2** Write ``answer_02_2(model, loss_fn, X, y, num_micro)``: split
# the batch with ``X.chunk(num_micro)`` (and ``y`` the same way), call
# ``backward()`` once per micro-batch, and leave in ``.grad`` exactly the
# gradient of ``loss_fn(model(X), y)`` on the whole batch. The micro-batches
# may differ in size (``chunk`` makes the last one smaller), and ``.grad``
# may hold an old gradient when your function starts.


def answer_02_2(model, loss_fn, X, y, num_micro):
    raise NotImplementedError  # one backward() per micro-batch


print(check("02.2", answer_02_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 02.2</summary>


def answer_02_2(model, loss_fn, X, y, num_micro):
    model.zero_grad()  # backward() adds: start from nothing
    for X_m, y_m in zip(X.chunk(num_micro), y.chunk(num_micro), strict=True):
        share = len(X_m) / len(X)  # |B_m| / N: 1/M only for equal sizes
        (share * loss_fn(model(X_m), y_m)).backward()


print(check("02.2", answer_02_2))
# sphinx_gallery_start_ignore
assert check("02.2", answer_02_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
