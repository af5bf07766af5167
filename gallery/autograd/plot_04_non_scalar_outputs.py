r"""
Non-scalar outputs
==================

You will call ``backward()`` on a vector instead of a scalar loss and see what
it computes, a vector-Jacobian product. You will read the error that a plain
``backward()`` raises, pass ``gradient=v`` and check that the result is
:math:`\vv\T \mJ` against the full Jacobian :math:`\mJ`, build a Jacobian
row by row with one backward pass per output, and compute per-sample
gradients of a small network with :mod:`torch.func` (``vmap`` of ``grad``),
checked against a Python loop and timed against it.
"""

# %%
# A function with a vector output
# -------------------------------
# Take :math:`f : \R^3 \to \R^2`,
# :math:`f(\vx) = (x_1^2 x_2, \; 5 x_1 + x_2 x_3)`. Its Jacobian is the
# :math:`2 \times 3` matrix of partial derivatives, one row per output,
#
# .. math::
#
#    \mJ = \pd{f}{\vx} =
#    \begin{pmatrix} 2 x_1 x_2 & x_1^2 & 0 \\ 5 & x_3 & x_2 \end{pmatrix}
#    = \begin{pmatrix} 4 & 1 & 0 \\ 5 & 3 & 2 \end{pmatrix}
#    \quad \text{at } \vx = (1, 2, 3).
import torch


def f(x: torch.Tensor) -> torch.Tensor:
    """R^3 -> R^2: (x1^2 x2, 5 x1 + x2 x3)."""
    return torch.stack([x[0] ** 2 * x[1], 5 * x[0] + x[1] * x[2]])


x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = f(x)  # (2,)
J_by_hand = torch.tensor([[4.0, 1.0, 0.0], [5.0, 3.0, 2.0]])  # (2, 3)
print(f"y = f(x) = {y.tolist()}")

# %%
# ``backward()`` needs a scalar
# -----------------------------
# A gradient is the derivative of *one* number. :math:`\vy` has two entries,
# so there are two gradients (the two rows of :math:`\mJ`) and ``backward()``
# does not guess which combination you want.
# :func:`gradbook.utils.show_error` runs a block that must fail and prints
# torch's message in full, wrapped at spaces to the page; the build fails if
# torch rewords it.
from gradbook.utils import show_error

with show_error("grad can be implicitly created only for scalar outputs"):
    y.backward()

# %%
# ``backward(gradient=v)`` is :math:`\vv\T \mJ`
# ---------------------------------------------
# The fix is to say which combination: ``y.backward(gradient=v)`` with a
# :math:`\vv` shaped like :math:`\vy` fills ``x.grad`` with the
# vector-Jacobian product :math:`\vv\T \mJ`, shaped like :math:`\vx`. It is
# the gradient of the scalar :math:`\vv\T \vy`, and a scalar loss is the case
# :math:`v = 1`. We check it against the full Jacobian from
# :func:`torch.autograd.functional.jacobian` and against :math:`\mJ` by hand.
from torch.autograd.functional import jacobian

v = torch.tensor([1.0, -1.0])  # (2,), shaped like y
y.backward(gradient=v)
J = jacobian(f, x.detach())  # (2, 3)
print(f"x.grad = {x.grad.tolist()}")
print(f"v^T J  = {(v @ J).tolist()}")
torch.testing.assert_close(x.grad, v @ J)
torch.testing.assert_close(J, J_by_hand)

x.grad = None  # start afresh: backward() adds into .grad
(v * f(x)).sum().backward()  # the scalar v^T y: the same gradient
print(f"grad of v^T y = {x.grad.tolist()}")
torch.testing.assert_close(x.grad, v @ J)

# %%
# A Jacobian, row by row
# ----------------------
# With :math:`\vv = \mathbf{e}_i`, the :math:`i`-th unit vector,
# :math:`\mathbf{e}_i\T \mJ` is row :math:`i` of :math:`\mJ`. So reverse mode
# builds a Jacobian one row per backward pass: :math:`m` passes for
# :math:`m` outputs (which is why a scalar loss needs only one). Take the
# softmax of 6 logits, whose Jacobian is known in closed form,
# :math:`\mJ = \operatorname{diag}(\mathbf{s}) - \mathbf{s} \mathbf{s}\T` with
# :math:`\mathbf{s} = \operatorname{softmax}(\vz)`.
# :func:`torch.autograd.grad` returns each row instead of adding it into
# ``.grad``, and ``retain_graph=True`` keeps the graph for the next pass.
torch.manual_seed(0)
z = torch.randn(6, requires_grad=True)  # (6,) logits
s = torch.softmax(z, dim=0)  # (6,)
rows = []
for i in range(6):
    e_i = torch.zeros(6)
    e_i[i] = 1.0
    (row,) = torch.autograd.grad(s, z, grad_outputs=e_i, retain_graph=True)
    rows.append(row)  # e_i^T J, (6,)
J_rows = torch.stack(rows)  # (6, 6)

s = s.detach()
torch.testing.assert_close(J_rows, torch.diag(s) - torch.outer(s, s))
torch.testing.assert_close(
    J_rows, jacobian(lambda logits: logits.softmax(0), z)
)
print(f"6 backward passes, one row each: J is {tuple(J_rows.shape)}")
print(f"every row sums to 0: {J_rows.sum(dim=1).abs().max().item() < 1e-6}")

# %%
# The rows sum to zero because the probabilities always sum to one: pushing
# one logit up takes probability from the others. Each row below is one
# backward pass; the diagonal :math:`s_i (1 - s_i)` is positive, the rest
# :math:`-s_i s_j` negative.
from gradbook.plotting import subplots, use_style

use_style()
fig, ax = subplots(figsize=(5.5, 4.5))
image = ax.imshow(J_rows, cmap="RdBu_r", vmin=-0.25, vmax=0.25)
fig.colorbar(image, ax=ax, label=r"$\partial s_i / \partial z_j$")
ax.set_xlabel("input j (logit)")
ax.set_ylabel("row i = one backward pass")
ax.set_title("Softmax Jacobian, built row by row")
ax.grid(False)
# sphinx_gallery_start_ignore
assert (J_rows.diagonal() > 0).all() and (J_rows.sum(1).abs() < 1e-6).all()
assert (J_rows - torch.diag(J_rows.diagonal()) <= 0).all()
assert J_rows.abs().max() < 0.25
# sphinx_gallery_end_ignore

# %%
# Per-sample gradients, with a loop
# ---------------------------------
# A batch loss :math:`\loss = \frac1N \sum_n \ell_n` gives one gradient, the
# mean of the :math:`N` per-sample gradients :math:`\grad_\theta \ell_n`.
# Some methods need each of them: clipping each sample's gradient
# (differentially private SGD), or finding the samples that pull hardest.
# The direct way is one backward pass per sample. Each result has the shape
# of its parameter, with the batch dimension in front.
from gradbook.data import make_regression
from torch import nn

X, t = make_regression(1024, [1.0, -2.0, 0.5, 3.0])  # (1024, 4), (1024, 1)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
loss_fn = nn.MSELoss()
params = dict(model.named_parameters())


def per_sample_loop(X: torch.Tensor, t: torch.Tensor) -> dict:
    """Per-sample gradients, one backward pass per sample."""
    grads = []
    for x_n, t_n in zip(X, t, strict=True):  # (4,), (1,)
        loss = loss_fn(model(x_n[None]), t_n[None])  # a batch of one
        grads.append(torch.autograd.grad(loss, list(params.values())))
    by_param = zip(*grads, strict=True)  # regroup: one tuple per parameter
    return {k: torch.stack(g) for k, g in zip(params, by_param, strict=True)}


grads_loop = per_sample_loop(X[:64], t[:64])
for name, g in grads_loop.items():
    print(f"{name:9s} {str(tuple(params[name].shape)):8s} -> {tuple(g.shape)}")

# %%
# Per-sample gradients with ``torch.func``
# ----------------------------------------
# :mod:`torch.func` treats the model as a function of its parameters.
# :func:`torch.func.grad` turns the loss of *one* sample into a function that
# returns its gradient, and :func:`torch.func.vmap` maps that over the batch
# dimension (``in_dims=(None, 0, 0)``: the same parameters, sample ``n`` of
# ``X`` and ``t``), running it as one batched computation instead of a Python
# loop. The result matches the loop, and its mean is the batch gradient.
from torch.func import functional_call, grad, vmap


def sample_loss(params: dict, x_n: torch.Tensor, t_n: torch.Tensor):
    """The loss of one sample, as a function of the parameters."""
    prediction = functional_call(model, params, (x_n[None],))  # (1, 1)
    return loss_fn(prediction, t_n[None])


per_sample_vmap = vmap(grad(sample_loss), in_dims=(None, 0, 0))
detached = {k: p.detach() for k, p in params.items()}
grads_vmap = per_sample_vmap(detached, X[:64], t[:64])
batch_grads = torch.autograd.grad(
    loss_fn(model(X[:64]), t[:64]), list(params.values())
)
for (name, g), g_batch in zip(grads_vmap.items(), batch_grads, strict=True):
    torch.testing.assert_close(g, grads_loop[name])
    torch.testing.assert_close(g.mean(dim=0), g_batch)
norms = torch.cat([g.flatten(1) for g in grads_vmap.values()], 1).norm(dim=1)
print("vmap matches the loop; the mean of the 64 is the batch gradient")
print(
    f"per-sample gradient norms: median {norms.median():.3f}, "
    f"largest {norms.max():.3f} (sample {norms.argmax().item()})"
)

# %%
# How much faster
# ---------------
# The loop runs one small forward and backward pass per sample, so its time
# grows in proportion to the batch; ``vmap`` runs one batched pass, whose
# time barely grows over this range. We time both from 4 to 1024 samples,
# best of a few runs, on one thread so that the gap measures batching, not
# the number of cores. (Times go in the figure only: they differ from machine
# to machine.)
import time

from gradbook.plotting import plot_lines


def best_time(fn, *args, repeats: int = 3) -> float:
    """The fastest of ``repeats`` runs of ``fn(*args)``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


sizes = [4, 16, 64, 256, 1024]
threads = torch.get_num_threads()
torch.set_num_threads(1)  # measure batching alone, not the number of cores
per_sample_vmap(detached, X[:4], t[:4])  # warm-up: first calls are slower
seconds = {"loop": [], "vmap(grad)": []}
for n in sizes:
    seconds["loop"].append(best_time(per_sample_loop, X[:n], t[:n]))
    batch = (detached, X[:n], t[:n])
    seconds["vmap(grad)"].append(best_time(per_sample_vmap, *batch, repeats=5))
torch.set_num_threads(threads)
speedup = seconds["loop"][-1] / seconds["vmap(grad)"][-1]
# sphinx_gallery_start_ignore
assert speedup > 20, speedup  # measured 100 to 200 on one thread
assert seconds["loop"][-1] > 50 * seconds["loop"][0]  # 256 times the work
assert seconds["vmap(grad)"][-1] < 10 * seconds["vmap(grad)"][0]
# sphinx_gallery_end_ignore
print("at 1024 samples, vmap(grad) is more than 20 times faster than the loop")
ax = plot_lines(
    sizes,
    {k: [1e3 * sec for sec in v] for k, v in seconds.items()},
    logx=True,
    logy=True,
    marker="o",
    xlabel="batch size N",
    ylabel="time for all per-sample gradients (ms)",
    title="Per-sample gradients on one thread: loop against vmap(grad)",
)

# %%
# Where next
# ----------
# Every ``backward()`` here was a vector-Jacobian product, computed node by
# node through the recorded graph. The next tutorial,
# :ref:`sphx_glr_auto_examples_autograd_plot_05_autodiff_from_scratch.py`,
# builds such an engine from scratch. The algebra of Jacobians, VJPs and
# forward mode is on :doc:`/theory/jacobians`.
#
# API used here: :func:`gradbook.data.make_regression`,
# :func:`gradbook.plotting.plot_lines`, :func:`gradbook.plotting.subplots`,
# :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **04.1** Write ``answer_04_1(f, x, v)`` that returns the vector-Jacobian
# product :math:`\vv\T \mJ` of a function ``f`` (a vector in, a vector
# out) at ``x``, with one backward pass. ``x`` comes without
# ``requires_grad``. The checker tries a square matrix, a wide one and a
# nonlinear function, against the full Jacobian.
from gradbook.exercises import check


def answer_04_1(f, x, v):
    raise NotImplementedError  # one backward pass, seeded with v


print(check("04.1", answer_04_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 04.1</summary>


def answer_04_1(f, x, v):
    x = x.detach().requires_grad_()  # a leaf of our own
    f(x).backward(gradient=v)  # fills x.grad with v^T J
    return x.grad


print(check("04.1", answer_04_1))
# sphinx_gallery_start_ignore
assert check("04.1", answer_04_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **04.2** Write ``answer_04_2(f, x)`` that builds the Jacobian of ``f`` at
# ``x`` row by row, one backward pass per output, as a tensor of shape
# (outputs, inputs).


def answer_04_2(f, x):
    raise NotImplementedError  # row i is e_i^T J


print(check("04.2", answer_04_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 04.2</summary>


def answer_04_2(f, x):
    x = x.detach().requires_grad_()
    y = f(x)
    rows = []
    for i in range(y.numel()):
        e_i = torch.zeros_like(y)
        e_i[i] = 1.0
        # torch.autograd.grad returns the row instead of adding it to x.grad
        (row,) = torch.autograd.grad(y, x, grad_outputs=e_i, retain_graph=True)
        rows.append(row)
    return torch.stack(rows)  # (outputs, inputs)


print(check("04.2", answer_04_2))
# sphinx_gallery_start_ignore
assert check("04.2", answer_04_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **04.3** Write ``answer_04_3(model, X, y)`` for an ``nn.Linear`` model:
# the gradient of the weight for each sample's own loss
# ``F.mse_loss(model(x_n), y_n)``, stacked into a tensor of shape
# (N, d_out, d_in). A loop or ``torch.func`` both do.
import torch.nn.functional as F


def answer_04_3(model, X, y):
    raise NotImplementedError  # (N, d_out, d_in)


print(check("04.3", answer_04_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 04.3</summary>


def answer_04_3(model, X, y):
    grads = []
    for x_n, y_n in zip(X, y, strict=True):  # a batch of one, N times
        loss = F.mse_loss(model(x_n[None]), y_n[None])
        grads.append(torch.autograd.grad(loss, model.weight)[0])
    return torch.stack(grads)


print(check("04.3", answer_04_3))
# sphinx_gallery_start_ignore
assert check("04.3", answer_04_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
