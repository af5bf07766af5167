r"""
Optimizers from their equations
===============================

An optimizer is a rule for turning a gradient into a step. You will write the rules of
gradient descent, stochastic gradient descent, momentum, RMSprop and Adam as equations,
run each by hand in a few lines and check that :mod:`gradbook.optim` and
:mod:`torch.optim` take exactly the same steps. Then you will watch the optimizers find
their way down an ill-conditioned valley and along the curved floor of the Rosenbrock
function, as pictures and as an animation.
"""

# %%
# A test problem: an ill-conditioned quadratic
# --------------------------------------------
# The function
#
# .. math::
#
#    f(\theta) = \tfrac12 \left( \theta_1^2 + 25\, \theta_2^2 \right), \qquad
#    \nabla f(\theta) = (\theta_1,\; 25\, \theta_2)
#
# is a valley 25 times steeper across (:math:`\theta_2`) than along (:math:`\theta_1`): its
# Hessian has eigenvalues 1 and 25, a *condition number* of 25. The loss of a linear model
# near its minimum looks like this, with more dimensions. The helper ``optimize`` runs any
# optimizer on a function of two variables and returns the path of its iterates.
import torch


def quadratic(theta):
    return 0.5 * (theta[0] ** 2 + 25 * theta[1] ** 2)


def optimize(make_optimizer, f, start, steps):
    """Minimise f from start; return the iterates, shape (steps + 1, 2)."""
    theta = start.clone().requires_grad_()  # (2,)
    optimizer = make_optimizer([theta])
    path = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(theta).backward()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path)  # (steps + 1, 2)


def gradient(f, theta):
    """The gradient of f at theta, by autograd."""
    theta = theta.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(theta), theta)
    return g  # (2,)


def fmt(t, digits=10):
    """A tensor's entries to a fixed number of decimals, for printing."""
    return (
        "["
        + ", ".join(f"{value:+.{digits}f}" for value in t.flatten().tolist())
        + "]"
    )


start = torch.tensor([-4.0, 1.2], dtype=torch.float64)  # float64: exact checks

# %%
# Gradient descent
# ----------------
# Step against the gradient, scaled by the learning rate :math:`\eta`:
#
# .. math::
#
#    \theta \leftarrow \theta - \eta\, g, \qquad g = \nabla f(\theta).
#
# On the quadratic the two coordinates are independent: each step multiplies
# :math:`\theta_1` by :math:`1 - \eta` and :math:`\theta_2` by :math:`1 - 25\eta`. The steep
# direction caps the learning rate: beyond :math:`\eta = 2/25` the factor
# :math:`|1 - 25\eta|` exceeds 1 and :math:`\theta_2` blows up. At :math:`\eta = 0.07` it is
# :math:`-0.75` (a zigzag across the valley) while :math:`\theta_1` shrinks by only
# :math:`0.93` per step. Five steps by hand, by the formula, and by
# :class:`gradbook.optim.SGD`:
from gradbook import optim

lr = 0.07
theta = start.clone()
for _ in range(5):
    theta = theta - lr * gradient(quadratic, theta)
closed_form = (
    torch.tensor([1 - lr, 1 - 25 * lr], dtype=torch.float64) ** 5 * start
)
path = optimize(lambda params: optim.SGD(params, lr=lr), quadratic, start, 5)
print(f"by hand      {fmt(theta)}")
print(f"closed form  {fmt(closed_form)}")
print(f"optim.SGD    {fmt(path[-1])}")
torch.testing.assert_close(path[-1], theta)
torch.testing.assert_close(closed_form, theta)

# %%
# Stochastic gradient descent: mini-batch noise
# ---------------------------------------------
# When the loss is a mean over :math:`N` samples, :math:`L(\theta) = \frac1N \sum_i
# \ell_i(\theta)`, SGD replaces the gradient by the mean over a random mini-batch
# :math:`B`:
#
# .. math::
#
#    g_B = \frac{1}{|B|} \sum_{i \in B} \nabla \ell_i(\theta), \qquad
#    \mathbb{E}[g_B] = \nabla L(\theta), \qquad
#    \theta \leftarrow \theta - \eta\, g_B .
#
# The update is the same; the gradient is noisy but right on average. On the linear
# regression of :ref:`sphx_glr_auto_examples_training_plot_18_training_loop.py`, the ten mini-batch
# gradients of a shuffled epoch scatter around the full gradient, and their mean is the full
# gradient exactly.
from gradbook.data import make_regression
from torch import nn

X, y = make_regression(
    100, [2.0, 3.0], noise=0.1, seed=42
)  # (100, 2), (100, 1)
torch.manual_seed(42)
model = nn.Linear(2, 1)
mse = nn.MSELoss()
(full_grad,) = torch.autograd.grad(mse(model(X), y), model.weight)  # (1, 2)
perm = torch.randperm(
    100, generator=torch.Generator().manual_seed(0)
)  # (100,)
batch_grads = torch.stack(
    [
        torch.autograd.grad(mse(model(X[idx]), y[idx]), model.weight)[0]
        for idx in perm.split(10)
    ]
)  # (10, 1, 2)
print(f"full gradient             {fmt(full_grad, 4)}")
print(f"mini-batch gradients, std {fmt(batch_grads.std(dim=0), 4)}")
print(f"their mean                {fmt(batch_grads.mean(dim=0), 4)}")
torch.testing.assert_close(batch_grads.mean(dim=0), full_grad)

# %%
# Momentum
# --------
# Gradient descent forgets every step as soon as it takes it. Momentum keeps a running
# sum of past gradients, a velocity :math:`v` that decays by :math:`\mu` per step, and
# steps along it:
#
# .. math::
#
#    v \leftarrow \mu\, v + g, \qquad \theta \leftarrow \theta - \eta\, v .
#
# Across the valley the gradient flips sign every step and the flips cancel in :math:`v`;
# along the valley it keeps its sign and :math:`v` grows up to :math:`1 / (1 - \mu)` times
# the gradient. (PyTorch starts with :math:`v = g` at the first step, the same as
# :math:`v = 0` before it.)
mu = 0.7
theta, v = start.clone(), torch.zeros_like(start)
for _ in range(5):
    v = mu * v + gradient(quadratic, theta)
    theta = theta - lr * v
path = optimize(
    lambda params: optim.SGD(params, lr=lr, momentum=mu), quadratic, start, 5
)
print(f"by hand               {fmt(theta)}")
print(f"optim.SGD(momentum)   {fmt(path[-1])}")
torch.testing.assert_close(path[-1], theta)
# sphinx_gallery_start_ignore
v_const = torch.zeros(())
for _ in range(200):  # a constant gradient of 1: v tends to 1 / (1 - mu)
    v_const = mu * v_const + 1
torch.testing.assert_close(v_const, torch.tensor(1 / (1 - mu)))
# sphinx_gallery_end_ignore

# %%
# RMSprop
# -------
# RMSprop divides each coordinate's gradient by a running root mean square of that
# coordinate's past gradients, so that steep and shallow directions take steps of similar
# size:
#
# .. math::
#
#    s \leftarrow \alpha\, s + (1 - \alpha)\, g^2, \qquad
#    \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{s} + \epsilon},
#
# with the square, root and division taken element by element, :math:`s` starting at 0,
# :math:`\alpha = 0.99` and :math:`\epsilon = 10^{-8}` by default.
alpha, eps, lr_rms = 0.99, 1e-8, 0.1
theta, s = start.clone(), torch.zeros_like(start)
for _ in range(5):
    g = gradient(quadratic, theta)
    s = alpha * s + (1 - alpha) * g**2
    theta = theta - lr_rms * g / (s.sqrt() + eps)
path = optimize(
    lambda params: optim.RMSprop(params, lr=lr_rms), quadratic, start, 5
)
print(f"by hand         {fmt(theta)}")
print(f"optim.RMSprop   {fmt(path[-1])}")
torch.testing.assert_close(path[-1], theta)
# sphinx_gallery_start_ignore
# The first step is lr / sqrt(1 - alpha) = 1.0 in both coordinates, steep or shallow.
torch.testing.assert_close((path[1] - path[0]).abs(), torch.ones_like(start))
# sphinx_gallery_end_ignore

# %%
# Adam
# ----
# Adam keeps both running averages, of the gradient (:math:`m`, momentum) and of its
# square (:math:`v`, as RMSprop's :math:`s`), corrects both for starting at zero, and
# steps along their ratio. At step :math:`t = 1, 2, \ldots`:
#
# .. math::
#
#    \begin{aligned}
#    m &\leftarrow \beta_1 m + (1 - \beta_1)\, g, &
#    v &\leftarrow \beta_2 v + (1 - \beta_2)\, g^2, \\
#    \hat m &= \frac{m}{1 - \beta_1^t}, &
#    \hat v &= \frac{v}{1 - \beta_2^t}, \\
#    \theta &\leftarrow \theta - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon} .
#    \end{aligned}
#
# Without the correction the first :math:`m` would be :math:`(1 - \beta_1)\, g`, ten times
# too small; with it, :math:`\hat m = g` and :math:`\hat v = g^2` at :math:`t = 1`, so the
# first step is :math:`\eta` in every coordinate (derived on :doc:`/theory/foundations`).
beta1, beta2, lr_adam = 0.9, 0.999, 0.3
theta, m, v = start.clone(), torch.zeros_like(start), torch.zeros_like(start)
for t in range(1, 6):
    g = gradient(quadratic, theta)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    theta = theta - lr_adam * m_hat / (v_hat.sqrt() + eps)
    if t == 1:
        print(f"first step: {fmt(theta - start)}")
path = optimize(
    lambda params: optim.Adam(params, lr=lr_adam), quadratic, start, 5
)
print(f"by hand     {fmt(theta)}")
print(f"optim.Adam  {fmt(path[-1])}")
torch.testing.assert_close(path[-1], theta)
# sphinx_gallery_start_ignore
first_step = torch.tensor([lr_adam, -lr_adam], dtype=torch.float64)
torch.testing.assert_close(path[1] - path[0], first_step)
# sphinx_gallery_end_ignore

# %%
# ``gradbook.optim.Adam.step`` is those lines
# -------------------------------------------
# The update in :class:`gradbook.optim.Adam` reads like the equations, under the same
# names. Here is the heart of its ``step()``, printed from the source (``m.lerp_(g, 1 -
# beta1)`` is :math:`m + (1 - \beta_1)(g - m) = \beta_1 m + (1 - \beta_1) g`, done in place;
# ``amsgrad`` is an option that divides by the largest :math:`v` seen so far).
import inspect
import textwrap

source = inspect.getsource(optim.Adam.step).splitlines()
first = next(i for i, line in enumerate(source) if "m.lerp_" in line)
last = next(i for i, line in enumerate(source) if "p.addcdiv_" in line)
print(textwrap.dedent("\n".join(source[first : last + 1])))
# sphinx_gallery_start_ignore
assert last - first < 15
assert any("m_hat" in line for line in source[first:last])
# sphinx_gallery_end_ignore

# %%
# ``gradbook.optim`` takes the same steps as ``torch.optim``
# ----------------------------------------------------------
# Each class of :mod:`gradbook.optim` is a :class:`torch.optim.Optimizer` whose ``step()``
# is its equations, where :mod:`torch.optim` spreads the same update over vectorised and
# fused code paths. They agree: training the same linear layer on the regression in
# float64 for 30 steps, the parameters are the same after *every* step, to within
# :math:`10^{-12}`.
import copy

X64, y64 = X.double(), y.double()
model64 = nn.Linear(2, 1).double()
variants = {
    "SGD": ("SGD", {"lr": 0.1}),
    "SGD, momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "RMSprop": ("RMSprop", {"lr": 0.01}),
    "Adam": ("Adam", {"lr": 0.1}),
    "AdamW": ("AdamW", {"lr": 0.1, "weight_decay": 0.1}),
}
for label, (name, options) in variants.items():
    models = [copy.deepcopy(model64), copy.deepcopy(model64)]
    optimizers = [
        getattr(optim, name)(models[0].parameters(), **options),
        getattr(torch.optim, name)(models[1].parameters(), **options),
    ]
    largest = 0.0
    for _ in range(30):
        for mod, opt in zip(models, optimizers, strict=True):
            opt.zero_grad()
            mse(mod(X64), y64).backward()
            opt.step()
        for p, q in zip(
            models[0].parameters(), models[1].parameters(), strict=True
        ):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-12)
            largest = max(largest, (p - q).abs().max().item())
    print(f"{label:14s} largest difference over 30 steps: {largest:.1e}")

# %%
# Paths down the ill-conditioned valley
# -------------------------------------
# Forty steps of each optimizer from :math:`(-4, 1.2)`. Gradient descent zigzags across
# the valley and crawls along it. Momentum swings across the valley too, but its swings
# die out by a factor :math:`\sqrt{\mu} \approx 0.84` per step, and along the valley it
# builds up speed, overshoots :math:`\theta_1 = 0` a little and comes back. RMSprop and
# Adam rescale each coordinate, so both directions move at about the same pace: their
# first steps head diagonally, whatever the slope.
from gradbook.plotting import plot_contour_with_paths, subplots, use_style

use_style()
steps = 40
optimizers = {
    f"GD, lr {lr}": lambda params: optim.SGD(params, lr=lr),
    f"momentum, lr {lr}, mu {mu}": lambda params: optim.SGD(
        params, lr=lr, momentum=mu
    ),
    f"RMSprop, lr {lr_rms}": lambda params: optim.RMSprop(params, lr=lr_rms),
    f"Adam, lr {lr_adam}": lambda params: optim.Adam(params, lr=lr_adam),
}
paths = {
    name: optimize(make, quadratic, start, steps)
    for name, make in optimizers.items()
}
fig, ax = subplots(figsize=(10, 4))
plot_contour_with_paths(
    quadratic,
    paths,
    ax=ax,
    xlim=(-4.5, 1.5),
    ylim=(-1.5, 1.5),
    minimum=(0.0, 0.0),
    title=r"$f = \frac{1}{2}(\theta_1^2 + 25\,\theta_2^2)$, 40 steps",
    xlabel=r"$\theta_1$",
    ylabel=r"$\theta_2$",
)
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
distance = {name: path[-1].norm().item() for name, path in paths.items()}
for name, d in distance.items():
    print(f"{name:27s} distance to the minimum after {steps} steps: {d:.4f}")
# sphinx_gallery_start_ignore
gd, mom, rms, adam = distance.values()
assert mom < gd / 10 and rms < gd / 10 and adam < gd / 2
assert paths[f"momentum, lr {lr}, mu {mu}"][:, 0].max() > 0.1  # the overshoot
assert torch.all(
    paths[f"GD, lr {lr}"][1:6, 1].sign().diff() != 0
)  # the zigzag
# sphinx_gallery_end_ignore

# %%
# The Rosenbrock function
# -----------------------
# A harder test: the long, curved, flat-bottomed valley of
#
# .. math::
#
#    f(\theta) = (1 - \theta_1)^2 + 100 \left( \theta_2 - \theta_1^2 \right)^2,
#
# with its minimum at :math:`(1, 1)`, from the classic start :math:`(-1.2, 1)`, for 300
# steps. The walls are steep (curvature in the hundreds), which caps gradient descent's
# learning rate near :math:`10^{-3}`, and the floor is nearly flat, so at that rate it
# barely moves along the floor. Momentum gathers speed along the curve; Adam's normalised
# steps do not shrink with the gentle slope of the floor. RMSprop normalises too, yet
# ends far from the minimum: the next cell measures why. Its path is dashed, and drawn
# over Adam's, which runs along the same floor.


def rosenbrock(theta):
    return (1 - theta[0]) ** 2 + 100 * (theta[1] - theta[0] ** 2) ** 2


rosen_start = torch.tensor([-1.2, 1.0], dtype=torch.float64)
rosen_steps = 300
rosen_optimizers = {
    "GD, lr 0.001": lambda params: optim.SGD(params, lr=1e-3),
    "momentum, lr 0.001, mu 0.9": lambda params: optim.SGD(
        params, lr=1e-3, momentum=0.9
    ),
    "RMSprop, lr 0.02": lambda params: optim.RMSprop(params, lr=0.02),
    "Adam, lr 0.2": lambda params: optim.Adam(params, lr=0.2),
}
rosen_paths = {
    name: optimize(make, rosenbrock, rosen_start, rosen_steps)
    for name, make in rosen_optimizers.items()
}
fig, ax = subplots(figsize=(10, 4))
plot_contour_with_paths(
    rosenbrock,
    rosen_paths,
    ax=ax,
    xlim=(-1.6, 1.6),
    ylim=(-0.6, 1.8),
    minimum=(1.0, 1.0),
    title=f"Rosenbrock function, {rosen_steps} steps",
    xlabel=r"$\theta_1$",
    ylabel=r"$\theta_2$",
)
rms_color = next(
    line.get_color()
    for line in ax.get_lines()
    if line.get_label().startswith("RMSprop")
)
for line in ax.get_lines():
    if line.get_label().startswith("GD"):
        line.set_zorder(3)  # the shortest path, drawn over the others
    elif line.get_color() == rms_color:  # RMSprop's path and its end markers
        line.set_zorder(4)  # over Adam's path, which it shares
        if line.get_label().startswith("RMSprop"):
            line.set(linestyle="--", linewidth=2.5, marker="none")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
optimum = torch.tensor([1.0, 1.0], dtype=torch.float64)
rosen_distance = {
    name: (p[-1] - optimum).norm().item() for name, p in rosen_paths.items()
}
for name, d in rosen_distance.items():
    print(f"{name:27s} distance to (1, 1) after {rosen_steps} steps: {d:.3f}")
# sphinx_gallery_start_ignore
gd, mom, rms, adam = rosen_distance.values()
assert mom < gd / 3 and adam < gd / 3 and rms < gd
# sphinx_gallery_end_ignore

# %%
# Why RMSprop crawls on Rosenbrock
# --------------------------------
# RMSprop does not oscillate here: after its first four steps every step moves
# :math:`\theta_1` forward, by very little. Its divisor :math:`\sqrt{s}` is a
# running root mean square of the gradient over roughly the last
# :math:`1 / (1 - \alpha) = 100` steps, and the first gradient, taken on the steep
# wall at the start, is about 200. It fills :math:`s`, and :math:`s` forgets it only
# by a factor :math:`\alpha = 0.99` per step. On the floor of the valley the gradient
# is only about 2, and the effective learning rate :math:`\eta / \sqrt{s}` stays
# between about :math:`10^{-3}` and :math:`10^{-2}` all the way: the size of gradient
# descent's :math:`10^{-3}`, not the :math:`\eta = 0.02` it was given. So after the
# first steps each step is only a few thousandths long. We rebuild :math:`s` from
# the gradients along RMSprop's own path (the rebuilt steps reproduce the path),
# and print the effective learning rate per coordinate:
rms_path = rosen_paths["RMSprop, lr 0.02"]  # (301, 2)
s = torch.zeros(2, dtype=torch.float64)
effective = []  # eta / sqrt(s) at each step, (2,) each
for t in range(rosen_steps):
    g = gradient(rosenbrock, rms_path[t])
    s = alpha * s + (1 - alpha) * g**2
    effective.append(0.02 / (s.sqrt() + eps))
    torch.testing.assert_close(rms_path[t + 1], rms_path[t] - effective[t] * g)
step_length = (rms_path[1:] - rms_path[:-1]).norm(dim=1)  # (300,)
for t in (1, 10, 100, 300):
    print(
        f"step {t:3d}: eta / sqrt(s) = {fmt(effective[t - 1], 5)},"
        f" step length {step_length[t - 1]:.4f}"
    )
# sphinx_gallery_start_ignore
assert (rms_path[4:, 0].diff() > 0).all()  # always forward after step 4
floor_grads = [gradient(rosenbrock, p).norm() for p in rms_path[4:]]
assert 1.0 < torch.stack(floor_grads).median() < 3.0  # about 2 on the floor
assert gradient(rosenbrock, rosen_start).abs().max() > 200
assert 5e-4 < torch.stack(effective[5:]).min()
assert torch.stack(effective[5:]).max() < 1e-2
assert step_length[5:].max() < 1e-2
# sphinx_gallery_end_ignore

# %%
# The memory is the cause: with :math:`\alpha = 0.9`, which averages over about 10
# steps, the wall is forgotten quickly and the same learning rate gets much closer.
short_memory = optimize(
    lambda params: optim.RMSprop(params, lr=0.02, alpha=0.9),
    rosenbrock,
    rosen_start,
    rosen_steps,
)
d_short = (short_memory[-1] - optimum).norm().item()
print(f"RMSprop, lr 0.02, alpha 0.9: distance to (1, 1) {d_short:.3f}")
d_long = rosen_distance["RMSprop, lr 0.02"]
print(f"RMSprop, lr 0.02, alpha 0.99:                   {d_long:.3f}")
# sphinx_gallery_start_ignore
assert d_short < 0.7 * d_long
# sphinx_gallery_end_ignore

# %%
# The race, animated
# ------------------
# The same forty steps on the quadratic, with frames close together at the start where
# the paths change fastest: watch gradient descent's zigzag, momentum's overshoot and
# return, and the diagonal first steps of RMSprop and Adam: the paths of the figure
# above, step by step. In a notebook, show the animation with
# ``IPython.display.HTML(anim.to_jshtml())``.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

# No layout engine: the layout is computed once below, not for every frame.
fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=100, layout="none")
grid_1, grid_2 = np.meshgrid(
    np.linspace(-4.5, 1.5, 120), np.linspace(-1.2, 2.2, 90)
)
ax.contour(
    grid_1,
    grid_2,
    0.5 * (grid_1**2 + 25 * grid_2**2),
    levels=np.geomspace(0.02, 40, 12),
    cmap="Greys_r",
    linewidths=0.8,
)
ax.plot(0, 0, marker="*", color="gold", markersize=14, markeredgecolor="black")
lines = {name: ax.plot([], [], marker=".", label=name)[0] for name in paths}
ax.set(
    xlabel=r"$\theta_1$",
    ylabel=r"$\theta_2$",
    xlim=(-4.5, 1.5),
    ylim=(-1.2, 2.2),
)
ax.tick_params(
    labelbottom=False, labelleft=False
)  # less text to render in every frame
ax.legend(loc="upper right", fontsize=9)
ax.set_title(f"step 0 of {steps}")
fig.tight_layout()


def draw_step(step):
    for name, line in lines.items():
        line.set_data(paths[name][: step + 1, 0], paths[name][: step + 1, 1])
    ax.set_title(f"step {step} of {steps}")
    return list(lines.values())


frames = [1, 2, 3, 4, 6, 8, 10, 13, 17, 22, 30, 40]
anim = FuncAnimation(fig, draw_step, frames=frames, interval=400)

# %%
# Where next
# ----------
# :ref:`sphx_glr_auto_examples_training_plot_18_training_loop.py` puts an optimizer into a training
# loop, and :ref:`sphx_glr_auto_examples_training_plot_19_comparing_optimizers.py` compares them on
# a regression and on a neural network, where the ranking changes. Adam's bias correction
# is derived on :doc:`/theory/foundations`.
#
# API used here: :class:`gradbook.optim.SGD`, :class:`gradbook.optim.RMSprop`,
# :class:`gradbook.optim.Adam`, :class:`gradbook.optim.AdamW`,
# :func:`gradbook.data.make_regression`, :func:`gradbook.plotting.plot_contour_with_paths`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# Each exercise writes one optimizer step as a function of the parameters
# ``theta``, the gradient ``g``, the optimizer's state and the step number
# ``t`` (from 1), and returns the new parameters and state. The checker
# runs it for 8 steps on an ill-conditioned quadratic and compares every
# iterate with :mod:`torch.optim`.
#
# **17.1** Adam, with ``lr=0.1``, ``betas=(0.9, 0.999)``, ``eps=1e-8``:
# ``answer_17_1(theta, g, m, v, t)`` returns ``(theta, m, v)``.
from gradbook.exercises import check


def answer_17_1(theta, g, m, v, t):
    raise NotImplementedError  # return theta, m, v


print(check("17.1", answer_17_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 17.1</summary>


def answer_17_1(theta, g, m, v, t):
    lr, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)  # bias correction
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v


print(check("17.1", answer_17_1))
# sphinx_gallery_start_ignore
assert check("17.1", answer_17_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **17.2** SGD with momentum, ``lr=0.03``, :math:`\mu = 0.9`, as
# :class:`torch.optim.SGD` computes it: ``answer_17_2(theta, g, v, t)``
# returns ``(theta, v)``.


def answer_17_2(theta, g, v, t):
    raise NotImplementedError  # return theta, v


print(check("17.2", answer_17_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 17.2</summary>


def answer_17_2(theta, g, v, t):
    v = 0.9 * v + g  # the velocity: past gradients, decayed by mu
    return theta - 0.03 * v, v


print(check("17.2", answer_17_2))
# sphinx_gallery_start_ignore
assert check("17.2", answer_17_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **17.3** RMSprop, ``lr=0.01``, :math:`\alpha = 0.99`, ``eps=1e-8``:
# ``answer_17_3(theta, g, s, t)`` returns ``(theta, s)``.


def answer_17_3(theta, g, s, t):
    raise NotImplementedError  # return theta, s


print(check("17.3", answer_17_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 17.3</summary>


def answer_17_3(theta, g, s, t):
    s = 0.99 * s + 0.01 * g**2  # running mean square, no bias correction
    return theta - 0.01 * g / (s.sqrt() + 1e-8), s


print(check("17.3", answer_17_3))
# sphinx_gallery_start_ignore
assert check("17.3", answer_17_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
