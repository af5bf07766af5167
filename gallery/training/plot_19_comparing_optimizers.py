r"""
Comparing optimizers
====================

Which optimizer is best depends on the problem. You will rerun the notebook's
comparison of SGD, Adam and RMSprop on the linear regression
:math:`y = 2 x_1 + 3 x_2 + \varepsilon`, find out why Adam ends furthest from
:math:`(2, 3)` there, and then watch the ranking turn around on a problem that is hard for
plain gradient descent: a small network learning two interleaved spirals. A learning-rate
sweep then tunes each optimizer on each problem, so that the ranking compares optimizers
and not one shared learning rate. Last, you will compare mini-batches with full batches,
counted per epoch and per gradient step.
"""

# %%
# Three optimizers from the same start
# ------------------------------------
# The notebook's set-up: 100 samples, a linear layer, the mean squared error, learning
# rate 0.1 for every optimizer and 50 full-batch epochs. (One shared learning rate is
# not a fair race: each optimizer has its own best one. We first follow the notebook,
# then tune the learning rate per optimizer further down.) Each run starts from the
# same initial weights. The optimizers come from :mod:`gradbook.optim`, whose updates are
# step-for-step those of :mod:`torch.optim`
# (:ref:`sphx_glr_auto_examples_training_plot_17_optimizers.py` checks it). A small callback (a
# :class:`~gradbook.train.Callback` subclass) records the weights at the start and after every
# epoch, so that we can follow the path each optimizer takes.
import copy

import torch
from gradbook.data import make_regression
from gradbook.optim import SGD, Adam, RMSprop
from gradbook.train import Callback, fit
from torch import nn

X, y = make_regression(
    100, [2.0, 3.0], noise=0.1, seed=42
)  # (100, 2), (100, 1)
loss_fn = nn.MSELoss()
torch.manual_seed(42)
initial_state = copy.deepcopy(nn.Linear(2, 1).state_dict())


class RecordWeights(Callback):
    """A fit callback: the weights (w1, w2), at the start and every epoch."""

    def on_train_begin(self, model: nn.Linear, history) -> None:
        self.path = [model.weight.detach().flatten().clone()]

    def on_epoch_end(self, model: nn.Linear, history) -> bool:
        self.path.append(model.weight.detach().flatten().clone())
        return False  # never stop training


def train_regression(optimizer_class, *, lr=0.1, epochs=50, **options):
    """Train a copy of the initial model; return its history and path."""
    model = nn.Linear(2, 1)
    model.load_state_dict(initial_state)
    optimizer = optimizer_class(model.parameters(), lr=lr, **options)
    recorder = RecordWeights()
    history = fit(
        model, loss_fn, optimizer, (X, y), epochs=epochs, callbacks=recorder
    )
    return history, torch.stack(recorder.path)  # path: (epochs + 1, 2)


optimizers = {"SGD": SGD, "Adam": Adam, "RMSprop": RMSprop}
runs = {name: train_regression(cls) for name, cls in optimizers.items()}
target = torch.tensor([2.0, 3.0])
distance = {
    name: (path[-1] - target).norm().item() for name, (_, path) in runs.items()
}
print("         weights            distance to [2, 3]  final loss")
for name, (history, path) in runs.items():
    w1, w2 = path[-1].tolist()
    loss = history.train_loss[-1]
    print(
        f"{name:8s} [{w1:.4f}, {w2:.4f}]  {distance[name]:18.4f}  {loss:10.4f}"
    )

# %%
# The loss curves
# ---------------
# All three bring the loss down to the noise level, but not at the same pace: RMSprop is
# there after a handful of epochs, SGD after about thirty, and Adam is still on its way
# after fifty.
from gradbook.plotting import plot_loss_curves, use_style

use_style()
ax = plot_loss_curves(
    {name: history.train_loss for name, (history, _) in runs.items()},
    ylabel="MSE loss (log scale)",
    title="Linear regression, lr = 0.1, full batch",
)
# sphinx_gallery_start_ignore
assert distance["Adam"] > 5 * distance["SGD"]
assert distance["RMSprop"] < 0.02 and distance["SGD"] < 0.02
assert runs["Adam"][0].train_loss[-1] > 2 * runs["SGD"][0].train_loss[-1]
# sphinx_gallery_end_ignore

# %%
# Why Adam lands furthest from :math:`(2, 3)`
# --------------------------------------------
# Adam divides the (averaged) gradient by the root of its (averaged) square, so in each
# coordinate its step is about the learning rate, whatever the size of the gradient:
#
# .. math::
#
#    \Delta\theta = -\eta \, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
#    \approx -\eta \, \operatorname{sign}(g) \quad \text{while the gradient keeps its sign.}
#
# From :math:`w \approx (0.54, 0.59)` to :math:`(2, 3)` is 1.5 and 2.4 per coordinate, so at
# 0.1 per step Adam needs at least 24 steps just to get there. SGD's first steps are
# proportional to the large gradient, and RMSprop's are ten times the learning rate: its
# running average :math:`s` starts at zero with no bias correction, so the first step is
# :math:`\eta g / \sqrt{(1 - \alpha) g^2} = \eta / \sqrt{1 - \alpha} = 1.0` per coordinate.
first_steps = {
    name: (path[1] - path[0]).abs() for name, (_, path) in runs.items()
}
for name, step in first_steps.items():
    print(f"{name:8s} first step |dw| = [{step[0]:.3f}, {step[1]:.3f}]")
torch.testing.assert_close(
    first_steps["Adam"], torch.full((2,), 0.1), atol=1e-4, rtol=0
)
torch.testing.assert_close(
    first_steps["RMSprop"], torch.full((2,), 1.0), atol=1e-3, rtol=0
)

# %%
# Second, Adam's first moment :math:`m` is a running average with :math:`\beta_1 = 0.9`:
# momentum. Built up over twenty steps in one direction, it carries the weights past the
# minimum, and the swing back takes many more epochs to die out. The paths in weight space
# show both effects: Adam starts along the diagonal (equal steps in both coordinates, as
# does RMSprop, ten times faster), overshoots :math:`w_1 = 2` by a third of a unit and is
# still circling back at epoch 50.
# The contours are those of the loss as a function of :math:`(w_1, w_2)`, with the bias
# held at its least-squares value.
from gradbook.plotting import plot_contour_with_paths

X1 = torch.cat([X, torch.ones(100, 1)], dim=1)  # (100, 3)
w1_ls, w2_ls, b_ls = torch.linalg.lstsq(X1, y).solution.flatten().tolist()


def regression_loss(w):
    """The MSE at weights (w[0], w[1]) and bias b_ls; w[i] may be grids."""
    y_hat = (
        w[0][..., None] * X[:, 0] + w[1][..., None] * X[:, 1] + b_ls
    )  # (..., 100)
    return ((y_hat - y[:, 0]) ** 2).mean(dim=-1)  # (...)


ax = plot_contour_with_paths(
    regression_loss,
    {name: path for name, (_, path) in runs.items()},
    xlim=(0.3, 2.6),
    ylim=(0.3, 3.5),
    minimum=(w1_ls, w2_ls),
    title="Weights after each epoch, lr = 0.1",
    xlabel="$w_1$",
    ylabel="$w_2$",
)
for line in ax.get_lines():
    if line.get_label() == "Adam":
        line.set_zorder(3)  # on top of RMSprop, which shares its first stretch
adam_path = runs["Adam"][1]
print(f"Adam's largest w1: {adam_path[:, 0].max():.3f}")
print(f"the minimum's w1:  {w1_ls:.3f}")
# sphinx_gallery_start_ignore
assert adam_path[:, 0].max() > w1_ls + 0.25
assert runs["SGD"][1][:, 0].max() < w1_ls + 0.05
# sphinx_gallery_end_ignore

# %%
# Given time, Adam gets there
# ---------------------------
# The cure is not a smaller learning rate: at 0.01 per step, fifty steps cannot cover the
# distance at all. More epochs are: after 200 Adam sits on the least-squares solution too.
for lr, epochs in [(0.01, 50), (0.1, 200)]:
    _, path = train_regression(Adam, lr=lr, epochs=epochs)
    d = (path[-1] - target).norm().item()
    print(
        f"Adam, lr = {lr:<5} {epochs:3d} epochs: distance to [2, 3] = {d:.4f}"
    )
    if epochs == 200:
        assert d < 0.02 and d < distance["Adam"] / 5
    else:
        assert d > distance["Adam"]

# %%
# A harder problem: two spirals
# -----------------------------
# Now the ranking on a problem where plain gradient descent struggles: a network with two
# hidden layers of 32 ReLU units classifying 300 points on two interleaved spirals, with
# cross-entropy, again at learning rate 0.1 for each optimizer, 100 full-batch epochs
# from one shared initialisation.
from gradbook.data import make_spirals
from gradbook.models import MLP

X_spiral, y_spiral = make_spirals(300, seed=0)  # (300, 2), (300,)
ce_loss = nn.CrossEntropyLoss()
torch.manual_seed(0)
spiral_init = copy.deepcopy(MLP([2, 32, 32, 2]).state_dict())


def train_spirals(optimizer_class, *, lr, epochs=100, batch_size=None):
    """Train a copy of the spiral network; return the model and history."""
    model = MLP([2, 32, 32, 2])
    model.load_state_dict(spiral_init)
    optimizer = optimizer_class(model.parameters(), lr=lr)
    history = fit(
        model,
        ce_loss,
        optimizer,
        (X_spiral, y_spiral),
        epochs=epochs,
        batch_size=batch_size,
        seed=0,
    )
    return model, history


def accuracy(model):
    with torch.no_grad():
        return (
            (model(X_spiral).argmax(dim=1) == y_spiral).float().mean().item()
        )


spiral_runs = {
    name: train_spirals(cls, lr=0.1) for name, cls in optimizers.items()
}
for name, (model, history) in spiral_runs.items():
    loss = history.train_loss[-1]
    print(f"{name:8s} final loss {loss:.4f}   accuracy {accuracy(model):.1%}")
ax = plot_loss_curves(
    {name: history.train_loss for name, (_, history) in spiral_runs.items()},
    ylabel="cross-entropy loss (log scale)",
    title="Two spirals, MLP 2-32-32-2, lr = 0.1, full batch",
)
# sphinx_gallery_start_ignore
loss_of = {
    name: history.train_loss[-1] for name, (_, history) in spiral_runs.items()
}
assert (
    loss_of["Adam"] < loss_of["RMSprop"] / 5
    and loss_of["RMSprop"] < loss_of["SGD"] * 0.7
)
assert (
    accuracy(spiral_runs["Adam"][0])
    > 0.95
    > 0.75
    > accuracy(spiral_runs["SGD"][0])
)
# sphinx_gallery_end_ignore

# %%
# At this shared learning rate the ranking is reversed: on the regression SGD and
# RMSprop beat Adam, here Adam fits the
# spirals almost perfectly, RMSprop comes second, and SGD's loss has hardly left
# :math:`\ln 2 \approx 0.69`, the loss of a coin toss. (RMSprop's first steps, ten times
# the learning rate as on the regression, first throw its loss up by two orders of
# magnitude.) The reason is the size of the
# gradient. The freshly initialised network gives both classes about the same score
# everywhere, and a typical gradient entry is a few times :math:`10^{-4}`: SGD's step
# :math:`\eta g` is then a few times :math:`10^{-5}` per weight, while Adam's step is about
# :math:`\eta` per weight however small :math:`g` is. After 100 epochs SGD has hardly moved
# the weights at all.
from torch.nn.utils import parameters_to_vector

probe = MLP([2, 32, 32, 2])
probe.load_state_dict(spiral_init)
ce_loss(probe(X_spiral), y_spiral).backward()
initial_grad = parameters_to_vector(p.grad for p in probe.parameters())  # (P,)
theta_0 = parameters_to_vector(probe.parameters()).detach()  # (P,)
print(f"gradient at the start: median |g| = {initial_grad.abs().median():.1e}")
moved = {}
for name, (model, _) in spiral_runs.items():
    moved[name] = (
        (parameters_to_vector(model.parameters()).detach() - theta_0)
        .abs()
        .median()
    )
    print(
        f"{name:8s} median |weight change| after 100 epochs: {moved[name]:.4f}"
    )
# sphinx_gallery_start_ignore
assert 1e-4 < initial_grad.abs().median() < 1e-3
assert max(spiral_runs["RMSprop"][1].train_loss[:10]) > 50
assert (
    moved["Adam"] > 100 * moved["SGD"]
    and moved["RMSprop"] > 100 * moved["SGD"]
)
# sphinx_gallery_end_ignore

# %%
# The decision regions show what the numbers mean: SGD's is still nearly a straight line,
# Adam's follows the arms of the spirals.
from gradbook.plotting import plot_decision_boundary, subplots

fig, axes = subplots(1, 2)
for ax, name in zip(axes, ["SGD", "Adam"], strict=True):
    model = spiral_runs[name][0]
    plot_decision_boundary(
        model,
        X_spiral,
        y_spiral,
        ax=ax,
        title=f"{name}: accuracy {accuracy(model):.1%}",
    )

# %%
# A fair race: a learning rate per optimizer
# ------------------------------------------
# Both rankings so far rest on one shared learning rate, 0.1, and a comparison at one
# rate partly measures how well that rate happens to suit each optimizer. A fair
# comparison tunes the learning rate *per optimizer*: we train each optimizer on each
# problem at five rates about a factor 3 apart, from 0.03 to 3, with the budgets above
# (50 epochs on the regression, 100 on the spirals), and keep each one's best. A run
# that blows up counts as diverged: :func:`~gradbook.train.fit` stops it with a
# ``FloatingPointError`` when its loss overflows, and a run that ends with a higher
# loss than its first epoch's has diverged too.
import math

sweep_lrs = [0.03, 0.1, 0.3, 1.0, 3.0]
problems = {  # each returns the History of one run
    "regression": lambda cls, lr: train_regression(cls, lr=lr)[0],
    "spirals": lambda cls, lr: train_spirals(cls, lr=lr)[1],
}
done = {("regression", n, 0.1): h for n, (h, _) in runs.items()}
done |= {("spirals", n, 0.1): h for n, (_, h) in spiral_runs.items()}


def final_loss(problem: str, name: str, lr: float) -> float:
    """The last epoch's training loss, or nan for a run that diverged."""
    try:
        history = done.get((problem, name, lr))
        history = history or problems[problem](optimizers[name], lr)
    except FloatingPointError:  # fit stopped an overflowing run
        return math.nan
    losses = history.train_loss
    return losses[-1] if losses[-1] <= losses[0] else math.nan


sweep = {
    problem: {
        name: [final_loss(problem, name, lr) for lr in sweep_lrs]
        for name in optimizers
    }
    for problem in problems
}
best = {  # (problem, name) -> (best lr, its loss); nan sorts last
    (problem, name): min(
        zip(sweep_lrs, losses, strict=True),
        key=lambda pair: math.inf if math.isnan(pair[1]) else pair[1],
    )
    for problem, by_name in sweep.items()
    for name, losses in by_name.items()
}
print("         regression          spirals")
print("         best lr  its loss   best lr  its loss")
for name in optimizers:
    cells = [
        f"{best[p, name][0]:<7g}  {best[p, name][1]:.4f}" for p in problems
    ]
    print(f"{name:8s} " + "   ".join(cells))

# %%
# Tuned, the reversal stands. On the regression SGD and RMSprop both reach the noise
# floor, and Adam's best rate still leaves it behind after 50 epochs; on the spirals
# Adam's best beats RMSprop's best several times over, and SGD's best loss is still
# near :math:`\ln 2`. The curves also show how differently the optimizers take to
# their learning rate: SGD diverges on the regression above 0.3, while RMSprop and
# Adam, whose steps are about the learning rate whatever the gradient, tolerate a
# wide range there but not on the spirals. Each optimizer has its own good range,
# which is why learning rates are tuned per optimizer. (A missing point is a run
# that diverged.)
from gradbook.plotting import plot_lines

fig, axes = subplots(1, 2)
for ax, (problem, by_name) in zip(axes, sweep.items(), strict=True):
    plot_lines(
        sweep_lrs,
        by_name,
        ax=ax,
        logx=True,
        logy=True,
        marker="o",
        xlabel="learning rate",
        ylabel="final training loss (log scale)",
        title=f"{problem}: loss after "
        + ("50" if problem == "regression" else "100")
        + " epochs",
    )
# sphinx_gallery_start_ignore
loss = {key: value[1] for key, value in best.items()}
floor = runs["SGD"][0].train_loss[-1]  # the least-squares loss, reached at 0.1
assert abs(loss["regression", "SGD"] - floor) < 1e-3 * floor
assert abs(loss["regression", "RMSprop"] - floor) < 1e-3 * floor
assert loss["regression", "Adam"] > 2 * floor
assert loss["spirals", "Adam"] < loss["spirals", "RMSprop"] / 5
assert loss["spirals", "RMSprop"] < 0.7 * loss["spirals", "SGD"]
assert loss["spirals", "SGD"] > 0.5  # ln 2 = 0.69
at = {lr: k for k, lr in enumerate(sweep_lrs)}
assert all(math.isnan(sweep["regression"]["SGD"][at[lr]]) for lr in (1.0, 3.0))
assert (
    not any(  # RMSprop and Adam: no divergence on the regression from 0.1 up
        math.isnan(sweep["regression"][name][k])
        for name in ("RMSprop", "Adam")
        for k in range(at[0.1], len(sweep_lrs))
    )
)
assert math.isnan(sweep["spirals"]["RMSprop"][at[0.3]])
assert math.isnan(sweep["spirals"]["Adam"][at[1.0]])
assert all(  # the grid brackets every optimizer's best rate
    min(v for v in losses[1:] if not math.isnan(v)) < losses[0]
    and min(v for v in losses[:-1] if not math.isnan(v))
    <= (math.inf if math.isnan(losses[-1]) else losses[-1])
    for by_name in sweep.values()
    for losses in by_name.values()
)
# sphinx_gallery_end_ignore

# %%
# Mini-batches or the full batch?
# -------------------------------
# So far every step used all 300 samples. A mini-batch step uses a few (here 30): its
# gradient is a noisy estimate of the full one, but it costs a tenth as much, so one epoch
# (one pass over the data) makes ten steps instead of one. We train the spiral network with
# Adam at lr 0.01 for 200 gradient steps both ways: 200 full-batch epochs, or 20 epochs of
# mini-batches.
steps = 200
full_model, full_history = train_spirals(Adam, lr=0.01, epochs=steps)
mini_model, mini_history = train_spirals(
    Adam, lr=0.01, epochs=steps // 10, batch_size=30
)

from gradbook.train import evaluate

full_loss = evaluate(full_model, ce_loss, (X_spiral, y_spiral))
mini_loss = evaluate(mini_model, ce_loss, (X_spiral, y_spiral))
full_at_20 = full_history.train_loss[steps // 10 - 1]
print(f"after {steps // 10} epochs:  full batch {full_at_20:.4f}", end=", ")
print(f"mini-batch {mini_loss:.4f}")
print(f"after {steps} steps: full batch {full_loss:.4f}", end=", ")
print(f"mini-batch {mini_loss:.4f}")
assert (
    mini_loss < full_history.train_loss[steps // 10 - 1] / 2
)  # per epoch, mini-batches win
assert full_loss < mini_loss  # per step, the exact gradient wins

# %%
# Counted in epochs (left), mini-batches win by far: the same compute buys ten times as
# many steps. Counted in steps (right), the full batch wins: each of its steps follows the
# exact gradient, while the mini-batch loss (the loss of each step's own 30 samples) jumps
# around. Which count matters is the cost of a step, and on large data sets one full-batch
# step is unaffordable: that is why deep learning trains on mini-batches.
fig, (ax_epoch, ax_step) = subplots(1, 2)
plot_loss_curves(
    {
        "full batch (1 step / epoch)": full_history.train_loss[: steps // 10],
        "mini-batch of 30 (10 steps / epoch)": mini_history.train_loss,
    },
    ax=ax_epoch,
    logy=False,
    ylabel="cross-entropy loss (mean over the epoch)",
    title="Per epoch",
)
ax_epoch.xaxis.get_major_locator().set_params(integer=True)
plot_loss_curves(
    {
        "full batch": full_history.step_loss,
        "mini-batch of 30": mini_history.step_loss,
    },
    ax=ax_step,
    xlabel="gradient step",
    ylabel="loss of the step's batch (log scale)",
    title="Per gradient step",
)
ax_step.lines[1].set_linewidth(0.8)  # the noisy mini-batch curve, thinner

# %%
# Where next
# ----------
# The equations behind each optimizer's step, and their paths on two classic test
# functions, are in :ref:`sphx_glr_auto_examples_training_plot_17_optimizers.py`; Adam's bias
# correction is derived on :doc:`/theory/foundations`. Next,
# :ref:`sphx_glr_auto_examples_training_plot_20_several_processes.py` trains on
# several processes at once with :func:`gradbook.train.fit`, and
# :ref:`sphx_glr_auto_examples_training_plot_21_saving_loading.py` saves a trained
# model and its optimizer, and resumes training exactly.
#
# API used here: :class:`gradbook.optim.SGD`, :class:`gradbook.optim.Adam`,
# :class:`gradbook.optim.RMSprop`, :func:`gradbook.train.fit`,
# :class:`gradbook.train.Callback`, :func:`gradbook.train.evaluate`,
# :func:`gradbook.data.make_regression`, :func:`gradbook.data.make_spirals`,
# :class:`gradbook.models.MLP`,
# :func:`gradbook.plotting.plot_loss_curves`, :func:`gradbook.plotting.plot_lines`,
# :func:`gradbook.plotting.plot_contour_with_paths`,
# :func:`gradbook.plotting.plot_decision_boundary`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **19.1** How long is Adam's first step in each coordinate, with
# ``lr=0.1``, whatever the gradient (as long as it is not 0)? Give a
# number.
from gradbook.exercises import check

answer_19_1 = None  # the size of the step, |dw|

print(check("19.1", answer_19_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 19.1</summary>

# At t = 1 the bias correction gives m_hat = g and v_hat = g**2: the step is
# lr * g / |g|, lr in every coordinate.
answer_19_1 = 0.1

print(check("19.1", answer_19_1))
# sphinx_gallery_start_ignore
assert check("19.1", answer_19_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **19.2** And RMSprop's first step, with ``lr=0.1`` and its default
# :math:`\alpha = 0.99`?

answer_19_2 = None  # the size of the step, |dw|

print(check("19.2", answer_19_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 19.2</summary>

# No bias correction: s = (1 - alpha) g**2 after one step, so the step is
# lr |g| / sqrt((1 - alpha) g**2) = lr / sqrt(1 - alpha).
answer_19_2 = 0.1 / (1 - 0.99) ** 0.5

print(check("19.2", answer_19_2))
# sphinx_gallery_start_ignore
assert check("19.2", answer_19_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
