r"""
A training loop
===============

Training a network is five lines repeated: forward, loss, zero the gradients, backward,
step. You will write those five lines once by hand to fit the notebook's linear
regression :math:`y = 2 x_1 + 3 x_2 + \varepsilon`, watch the weights arrive at
:math:`(2, 3)`, get exactly the same weights from :func:`gradbook.train.fit`, read the
loss curve, and hold out a validation set to see how well the model does on data it
never trained on.
"""

# %%
# The data: :math:`y = 2 x_1 + 3 x_2 + \varepsilon`
# --------------------------------------------------
# One hundred samples :math:`\vx_n \in \R^2` with standard normal entries and targets
#
# .. math::
#
#    y_n = 2 x_{n1} + 3 x_{n2} + \varepsilon_n, \qquad \varepsilon_n \sim \mathcal{N}(0, 0.1^2).
#
# :func:`gradbook.data.make_regression` draws them from its own seeded generator, so the
# same call always gives the same tensors.
import torch
from gradbook.data import make_regression
from torch import nn

X, y = make_regression(
    100, [2.0, 3.0], noise=0.1, seed=42
)  # (100, 2), (100, 1)
print(f"X: {tuple(X.shape)}   y: {tuple(y.shape)}")
x_0 = [round(v, 4) for v in X[0].tolist()]
print(f"first sample: x = {x_0}, y = {y[0].item():.4f}")

# %%
# The model, the loss and the optimizer
# -------------------------------------
# A linear layer with two inputs and one output computes :math:`\mY = \mX \mW\T + \vb`: two
# weights and a bias, three numbers :math:`\theta = (\mW, \vb)` to learn. Training is
# *empirical risk minimisation*: what we want is a small expected loss on new data
# (the *risk*), which we cannot compute, so we minimise its estimate on the training
# samples instead, the average loss
#
# .. math::
#
#    \hat R(\theta) = \frac1N \sum_{n=1}^{N} \ell\big(f_\theta(\vx_n), y_n\big),
#    \qquad \theta^\ast = \arg\min_\theta \hat R(\theta).
#
# Here :math:`\ell` is the squared error, so :math:`\hat R` is the mean squared
# error (the maximum-likelihood loss under Gaussian noise, see
# :doc:`/theory/foundations`): ``nn.MSELoss`` is exactly this average of the
# per-sample losses. Plain gradient descent with learning rate 0.1 minimises it. We
# keep a copy of the random initial weights so that a second run can start from
# exactly the same point.
import copy

torch.manual_seed(42)
model = nn.Linear(2, 1)
initial_state = copy.deepcopy(model.state_dict())
loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
w_0 = [round(v, 4) for v in model.weight.data.flatten().tolist()]
print(f"initial weights {w_0}, bias {model.bias.item():.4f}")

# The empirical risk: the mean of the per-sample losses.
with torch.no_grad():
    per_sample = nn.MSELoss(reduction="none")(model(X), y)  # (N, 1)
    risk = loss_fn(model(X), y)
print(
    f"mean of {per_sample.numel()} per-sample losses {per_sample.mean():.4f}"
    f" = nn.MSELoss {risk:.4f}"
)
torch.testing.assert_close(risk, per_sample.mean())

# %%
# The five steps, written out once
# --------------------------------
# Each epoch runs the whole data set through the model (full batch) and then:
#
# 1. **forward**: the predictions :math:`\hat\mY = \mX \mW\T + \vb`;
# 2. **loss**: :math:`\loss = \frac1N \sum_n (\hat y_n - y_n)^2`;
# 3. **zero_grad**: clear the gradients of the previous step, because ``backward``
#    *adds* into ``.grad`` (see :ref:`sphx_glr_auto_examples_autograd_plot_02_gradient_accumulation.py`);
# 4. **backward**: autograd fills ``.grad`` with :math:`\pd{\loss}{\mW}` and
#    :math:`\pd{\loss}{\vb}`;
# 5. **step**: the optimizer moves each parameter, here
#    :math:`\theta \leftarrow \theta - \eta \, \grad_\theta \loss` with :math:`\eta = 0.1`.
num_epochs = 100
losses = []
for epoch in range(1, num_epochs + 1):
    y_hat = model(X)  # 1. forward                       (100, 1)
    loss = loss_fn(y_hat, y)  # 2. loss                  scalar
    optimizer.zero_grad()  # 3. forget the last gradient
    loss.backward()  # 4. d loss / d parameters into .grad
    optimizer.step()  # 5. theta <- theta - lr * grad
    losses.append(loss.item())
    if epoch % 20 == 0:
        print(f"Epoch [{epoch}/{num_epochs}], Loss: {loss.item():.4f}")

# %%
# What the model learned
# ----------------------
# The weights should be close to the :math:`(2, 3)` that made the data. They cannot be
# exactly :math:`(2, 3)`, nor the bias exactly 0: the noise moves the best fit of these
# 100 samples away from the truth by about :math:`\sigma / \sqrt{N} = 0.01`. That best fit,
# the least-squares solution, has a closed form, and gradient descent has found it.
w = model.weight.detach().flatten()  # (2,)
b = model.bias.item()
print(f"learned weights: [{w[0]:.4f}, {w[1]:.4f}]   true: [2, 3]")
print(f"learned bias:     {b:.4f}            true: 0")
assert torch.allclose(w, torch.tensor([2.0, 3.0]), atol=0.05)
assert abs(b) < 0.05

# Least squares: append a column of ones for the bias and solve.
X1 = torch.cat([X, torch.ones(100, 1)], dim=1)  # (100, 3)
w_ls = torch.linalg.lstsq(X1, y).solution.flatten()  # (3,)
print(f"least squares:   [{w_ls[0]:.4f}, {w_ls[1]:.4f}], bias {w_ls[2]:.4f}")
torch.testing.assert_close(
    torch.cat([w, torch.tensor([b])]), w_ls, atol=1e-3, rtol=0
)

# %%
# The same loop with :func:`gradbook.train.fit`
# ---------------------------------------------
# :func:`gradbook.train.fit` runs the same five steps and records the losses in a
# :class:`gradbook.train.History`. From the same initial weights, with the same optimizer
# and full batches, it arrives at the very same numbers, bit for bit.
from gradbook.train import fit

model_fit = nn.Linear(2, 1)
model_fit.load_state_dict(initial_state)
optimizer_fit = torch.optim.SGD(model_fit.parameters(), lr=0.1)
history = fit(
    model_fit,
    loss_fn,
    optimizer_fit,
    (X, y),
    epochs=num_epochs,
    progress=False,
)
print(history)
for name, m in (("fit ", model_fit), ("hand", model)):
    w = m.weight.data.flatten().tolist()
    print(f"{name} weights {w}, bias {m.bias.item():.6f}")
assert torch.equal(model_fit.weight, model.weight) and torch.equal(
    model_fit.bias, model.bias
)
assert history.train_loss == losses

# %%
# The loss curve
# --------------
# The loss falls by three orders of magnitude in thirty epochs and then levels off at the
# least-squares loss (dashed, left), about the noise variance :math:`\sigma^2 = 0.01`: no
# straight line fits the noise. What is left above that floor, the *excess* loss, falls
# along a straight line on a log axis (right): once the fast directions have died out in
# the first epochs, each step multiplies it by the same factor. For gradient descent on a
# quadratic that factor is known. The loss has the constant
# Hessian :math:`H = \frac{2}{N} \tilde\mX\T \tilde\mX` (with :math:`\tilde\mX` the
# inputs plus a column of ones for the bias), and along the eigenvector of its smallest
# eigenvalue :math:`\lambda_{\min}` the error shrinks by :math:`1 - \eta \lambda_{\min}`
# per step, so the excess loss by
#
# .. math::
#
#    \rho = (1 - \eta \lambda_{\min})^2 .
from gradbook.plotting import plot_loss_curves, subplots, use_style

use_style()
X1_64, y_64 = X1.double(), y.double()
w_ls_64 = torch.linalg.lstsq(X1_64, y_64).solution  # (3, 1)
loss_floor = ((X1_64 @ w_ls_64 - y_64) ** 2).mean().item()
lambda_min = torch.linalg.eigvalsh(2 / 100 * X1_64.T @ X1_64)[0].item()
rho = (1 - 0.1 * lambda_min) ** 2
excess = [loss - loss_floor for loss in history.train_loss[:50]]
measured = (excess[49] / excess[19]) ** (
    1 / 30
)  # mean factor per epoch, epochs 20 to 50
print(f"least-squares loss {loss_floor:.5f}")
print(f"final training loss {history.train_loss[-1]:.5f}")
print(f"excess loss shrinks per epoch by {measured:.4f}")
print(f"(1 - lr lambda_min)^2 = {rho:.4f}")

fig, (ax_loss, ax_excess) = subplots(1, 2)
plot_loss_curves(
    {"training loss": history.train_loss},
    ax=ax_loss,
    ylabel="MSE loss (log scale)",
    title="Loss, full-batch SGD, lr = 0.1",
)
ax_loss.axhline(
    loss_floor,
    color="black",
    linestyle="--",
    linewidth=1.2,
    label="least squares",
)
ax_loss.legend()
plot_loss_curves(
    {"loss - least-squares loss": excess},
    ax=ax_excess,
    ylabel="excess loss (log scale)",
    title="Excess loss: a straight line",
)
epochs = torch.arange(1, 51, dtype=torch.float64)
ax_excess.plot(
    epochs,
    excess[49] * rho ** (epochs - 50),
    "k--",
    linewidth=1.2,
    label=rf"$\propto \rho^t$, $\rho$ = {rho:.3f}",
)
ax_excess.legend()
# sphinx_gallery_start_ignore
assert abs(history.train_loss[-1] - loss_floor) < 1e-3 * loss_floor
assert 0.005 < loss_floor < 0.015
assert history.train_loss[0] > 100 * loss_floor
assert abs(measured - rho) < 0.01 * rho
# sphinx_gallery_end_ignore

# %%
# A validation split
# ------------------
# A low training loss says the model fits the data it saw: it is the empirical risk
# measured on the very samples training minimised it on, so it can flatter the
# model. To know how the model
# does on new data, hold some samples out: here a random 20 of the 100. ``fit`` evaluates the
# validation loss after every epoch into ``history.val_loss``. With three parameters and
# 80 samples there is nothing to overfit: both losses fall to the noise level together.
# The validation loss ends a little *lower* here only by chance: 20 samples give a noisy
# estimate, and these 20 happen to carry a little less noise than the other 80.
generator = torch.Generator().manual_seed(0)
perm = torch.randperm(100, generator=generator)  # (100,)
train_idx, val_idx = perm[:80], perm[80:]
X_train, y_train = X[train_idx], y[train_idx]  # (80, 2), (80, 1)
X_val, y_val = X[val_idx], y[val_idx]  # (20, 2), (20, 1)

model_val = nn.Linear(2, 1)
model_val.load_state_dict(initial_state)
optimizer_val = torch.optim.SGD(model_val.parameters(), lr=0.1)
history_val = fit(
    model_val,
    loss_fn,
    optimizer_val,
    (X_train, y_train),
    epochs=num_epochs,
    val_data=(X_val, y_val),
    progress=False,
)
print(history_val)
train_loss, val_loss = history_val.train_loss[-1], history_val.val_loss[-1]
print(f"train loss {train_loss:.4f}, validation loss {val_loss:.4f}")
ax = plot_loss_curves(
    {
        "training (80 samples)": history_val.train_loss,
        "validation (20 samples)": history_val.val_loss,
    },
    ylabel="MSE loss (log scale)",
    title="Training and validation loss",
)
# sphinx_gallery_start_ignore
assert len(history_val.val_loss) == num_epochs
assert history_val.val_loss[-1] < 0.02 and history_val.train_loss[-1] < 0.02
assert history_val.val_loss[-1] < history_val.val_loss[0] / 100
true_w = torch.tensor([[2.0], [3.0]])
assert ((X_val @ true_w - y_val) ** 2).mean() < (
    (X_train @ true_w - y_train) ** 2
).mean()
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# The loop stays the same when the optimizer changes; what changes is the path the
# parameters take. :ref:`sphx_glr_auto_examples_training_plot_19_comparing_optimizers.py` runs
# SGD, Adam and RMSprop on this same regression and on a harder problem. The update rules
# themselves are in :ref:`sphx_glr_auto_examples_training_plot_17_optimizers.py`, and why the mean
# squared error is the right loss for Gaussian noise is on :doc:`/theory/foundations`.
#
# API used here: :func:`gradbook.data.make_regression`, :func:`gradbook.train.fit`,
# :class:`gradbook.train.History`, :func:`gradbook.plotting.plot_loss_curves`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **18.1** This loop runs without an error and learns nothing. Find the bug
# and fix it: ``answer_18_1`` must train as the five steps above do.
from gradbook.exercises import check


def answer_18_1(model, X, y, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
    return model


print(check("18.1", answer_18_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 18.1</summary>


def answer_18_1(model, X, y, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()  # before backward(), not between it and step()
        loss.backward()
        optimizer.step()
    return model


print(check("18.1", answer_18_1))
# sphinx_gallery_start_ignore
assert check("18.1", answer_18_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **18.2** This epoch of mini-batch SGD shuffles the data in the order
# ``torch.randperm(len(X), generator=generator)``, and its model learns
# worse than it should. Find the bug and fix it.


def answer_18_2(model, optimizer, X, y, batch_size, generator):
    perm = torch.randperm(len(X), generator=generator)
    X = X[perm]
    for i in range(0, len(X), batch_size):
        loss = loss_fn(model(X[i : i + batch_size]), y[i : i + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


print(check("18.2", answer_18_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 18.2</summary>


def answer_18_2(model, optimizer, X, y, batch_size, generator):
    perm = torch.randperm(len(X), generator=generator)
    X, y = X[perm], y[perm]  # one permutation for inputs and targets
    for i in range(0, len(X), batch_size):
        loss = loss_fn(model(X[i : i + batch_size]), y[i : i + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


print(check("18.2", answer_18_2))
# sphinx_gallery_start_ignore
assert check("18.2", answer_18_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **18.3** How many optimizer steps does one epoch of
# :func:`gradbook.train.fit` take on 100 samples with ``batch_size=32``?

answer_18_3 = None  # a number of steps

print(check("18.3", answer_18_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 18.3</summary>

# Batches of 32, 32, 32 and a last one of 4: the last is a step too.
answer_18_3 = 4

print(check("18.3", answer_18_3))
# sphinx_gallery_start_ignore
assert check("18.3", answer_18_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
