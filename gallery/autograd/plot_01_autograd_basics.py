r"""
Autograd and the chain rule
===========================

PyTorch computes derivatives for you: mark a tensor with ``requires_grad=True``,
compute something from it, call ``.backward()``, and the gradient appears in
``.grad``. In this tutorial you will compute the gradient of
:math:`z = x^2 + y^3` with autograd, check it against the derivatives worked out
by hand, look at the graph PyTorch recorded to get there, and learn the rules
that decide which tensors get gradients and when the graph is freed.
"""

# %%
# Tensors that track their history
# --------------------------------
# A tensor created with ``requires_grad=True`` is a *leaf* of the computation:
# every operation applied to it is recorded, so that derivatives with respect to
# it can be computed later. We use the notebook's numbers:
# :math:`x = (2, 3)` and :math:`y = (1, 4)`.
import torch

x = torch.tensor([2.0, 3.0], requires_grad=True)
y = torch.tensor([1.0, 4.0], requires_grad=True)
print(x)
print(y)

# %%
# Forward, then backward
# ----------------------
# We compute :math:`z = x^2 + y^3` element-wise. Called with no argument,
# ``backward()`` needs a scalar to start from (a vector output needs an explicit
# upstream gradient, as a cell below shows), so we sum: :math:`L = \sum_i z_i`.
# Because each :math:`z_i` depends only on :math:`x_i` and :math:`y_i`,
#
# .. math::
#
#    \frac{\partial L}{\partial x_i} = 2 x_i, \qquad
#    \frac{\partial L}{\partial y_i} = 3 y_i^2 .
#
# So we expect :math:`\partial L / \partial x = (4, 6)` and
# :math:`\partial L / \partial y = (3, 48)`.
z = x**2 + y**3
loss = z.sum()
loss.backward()

print(f"z          = {z.tolist()}")
print(f"loss       = {loss.item():.1f}")
print(f"dL/dx      = {x.grad.tolist()}   (2x   = {(2 * x).tolist()})")
print(f"dL/dy      = {y.grad.tolist()}  (3y^2 = {(3 * y**2).tolist()})")

# The claim of this page, checked every time the site is built:
torch.testing.assert_close(x.grad, 2 * x.detach())
torch.testing.assert_close(y.grad, 3 * y.detach() ** 2)
assert x.grad.tolist() == [4.0, 6.0] and y.grad.tolist() == [3.0, 48.0]
# sphinx_gallery_start_ignore
# Without an argument, backward() refuses a non-scalar output.
try:
    (x**2 + y**3).backward()
except RuntimeError as err:
    assert "only for scalar outputs" in str(err)
else:
    raise AssertionError("backward() accepted a vector output")
assert x.grad.tolist() == [4.0, 6.0]  # the refused call added nothing
# sphinx_gallery_end_ignore

# %%
# The chain rule, one node at a time
# ----------------------------------
# Autograd does not know the formula :math:`2x`. It knows the local derivative of
# each primitive it recorded, and multiplies them along the path from the output
# back to each input. Name the two powers :math:`a_i = x_i^2` and
# :math:`b_i = y_i^3`, so that :math:`z_i = a_i + b_i` and
# :math:`L = \sum_i z_i`. Written out for :math:`x_1`:
#
# .. math::
#
#    \frac{\partial L}{\partial x_1}
#    = \underbrace{\frac{\partial L}{\partial z_1}}_{\text{sum: } 1}
#      \cdot \underbrace{\frac{\partial z_1}{\partial a_1}}_{\text{add: } 1}
#      \cdot \underbrace{\frac{\partial a_1}{\partial x_1}}_{\text{pow: } 2 x_1}
#    = 2 x_1 = 4 .
#
# Each factor is what one backward node contributes. The nodes are attached to
# the results as ``grad_fn``:
print(f"loss.grad_fn = {loss.grad_fn.name()}")
print(f"z.grad_fn    = {z.grad_fn.name()}")
inputs = [type(fn).__name__ for fn, _ in z.grad_fn.next_functions]
print(f"z's inputs   = {inputs}")
print(f"x.grad_fn    = {x.grad_fn}  (x is a leaf: nothing computed it)")

# %%
# The graph PyTorch recorded
# --------------------------
# Following ``grad_fn`` and its ``next_functions`` from the loss back to the leaves
# reconstructs the whole directed acyclic graph (DAG) that ``backward()`` walked.
# :func:`gradbook.graph.draw_autograd_graph` draws it: inputs on the left, the loss
# on the right, one column per step. Each ``PowBackward0`` node holds the local
# derivative of one power (:math:`2x` and :math:`3y^2`), ``AddBackward0`` passes the
# upstream gradient to both of its inputs unchanged, and ``SumBackward0`` sends a 1
# to every element. The leaf boxes are where the gradients are accumulated into
# ``x.grad`` and ``y.grad``.
from gradbook.graph import autograd_graph, draw_autograd_graph

ax = draw_autograd_graph(loss, names={"x": x, "y": y})
ax.set_title("Autograd graph of loss = (x**2 + y**3).sum()")

graph = autograd_graph(loss, names={"x": x, "y": y})
ops = sorted(
    d["label"].split()[0]
    for _, d in graph.nodes(data=True)
    if d["kind"] != "leaf"
)
print(f"{graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges")
print(f"operations: {ops}")
# sphinx_gallery_start_ignore
assert ops == [
    "AddBackward0",
    "PowBackward0",
    "PowBackward0",
    "SumBackward0",
], ops
assert graph.number_of_nodes() == 6 and graph.number_of_edges() == 5
# sphinx_gallery_end_ignore

# %%
# Seeing the derivative
# ---------------------
# A gradient is a slope. For the first component, :math:`z_1 = x_1^2 + y_1^3`
# as a function of :math:`x_1` (with :math:`y_1 = 1` fixed) is a parabola, and
# ``x.grad[0] = 4`` is the slope of its tangent at :math:`x_1 = 2`. Below, autograd
# evaluates the derivative at 200 points at once: with a non-scalar output we pass
# the upstream gradient explicitly (all ones), which computes
# :math:`\mathbf{1}^\top J`, the sum of the rows of the Jacobian. The Jacobian of an
# element-wise function is diagonal, so that sum is exactly the element-wise
# derivative.
import matplotlib.pyplot as plt

xs = torch.linspace(-1.0, 4.0, 200, requires_grad=True)
zs = xs**2 + 1.0**3
(dz_dx,) = torch.autograd.grad(zs, xs, grad_outputs=torch.ones_like(zs))
torch.testing.assert_close(dz_dx, 2 * xs.detach())

x0, z0, slope = 2.0, 2.0**2 + 1.0, x.grad[0].item()
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(xs.detach(), zs.detach(), label=r"$z_1 = x_1^2 + 1$")
ax.plot(xs.detach(), dz_dx, label=r"$\partial z_1/\partial x_1$ from autograd")
ax.plot(
    xs.detach(),
    z0 + slope * (xs.detach() - x0),
    "--",
    label="tangent at $x_1=2$",
)
ax.plot([x0], [z0], "o", color="black")
ax.annotate(
    f"slope = x.grad[0] = {slope:.0f}",
    (x0, z0),
    xytext=(x0 - 2.6, z0 + 6),
    arrowprops={"arrowstyle": "->"},
)
ax.set_xlabel(r"$x_1$")
ax.set_ylabel("value")
ax.set_ylim(-3, 18)
ax.set_title("The gradient is the slope of the tangent")
ax.legend(loc="upper left")
fig.tight_layout()

# %%
# Leaves and intermediate tensors
# -------------------------------
# Only *leaf* tensors that require grad keep their ``.grad`` after ``backward()``.
# Intermediate results such as ``z`` take part in the chain rule, but their
# gradients are discarded to save memory, unless you ask with ``retain_grad()``.
x = torch.tensor([2.0, 3.0], requires_grad=True)
y = torch.tensor([1.0, 4.0], requires_grad=True)
z = x**2 + y**3
z.retain_grad()
z.sum().backward()
print(f"x.is_leaf = {x.is_leaf}, z.is_leaf = {z.is_leaf}")
print(f"z.grad    = {z.grad.tolist()}  (dL/dz_i = 1 for a sum)")
assert x.is_leaf and not z.is_leaf
assert z.grad.tolist() == [1.0, 1.0]

# %%
# The graph is freed after backward
# ---------------------------------
# To save memory, ``backward()`` frees the intermediate values the graph saved for
# the backward pass (here :math:`x` for ``PowBackward0``). A second call through
# the same graph fails, unless the first one passed ``retain_graph=True``. The
# error message says so itself, in its last sentence:
x = torch.tensor([2.0, 3.0], requires_grad=True)
loss = (x**2).sum()
loss.backward(retain_graph=True)
loss.backward()  # allowed: the graph was retained
print(f"after two backward calls, x.grad = {x.grad.tolist()}")
print("that is 2 * 2x: the two gradients add up")
assert x.grad.tolist() == [8.0, 12.0]

import textwrap

loss = (x**2).sum()
loss.backward()
try:
    loss.backward()
except RuntimeError as err:
    message = str(err)
    print("second backward without retain_graph: RuntimeError:")
    print(
        textwrap.fill(
            message, width=76, initial_indent="  ", subsequent_indent="  "
        )
    )
# sphinx_gallery_start_ignore
assert "Specify retain_graph=True" in message
# sphinx_gallery_end_ignore

# %%
# Turning tracking off: ``no_grad`` and ``detach``
# ------------------------------------------------
# Recording costs memory and time. When you only need values (evaluating a model,
# updating weights by hand) wrap the code in ``torch.no_grad()``; to cut one tensor
# out of the graph, use ``detach()``, which returns a tensor sharing the same data
# with no history. (Both, and ``inference_mode`` and freezing, are the subject of
# :ref:`sphx_glr_auto_examples_autograd_plot_03_turning_gradients_off.py`.)
with torch.no_grad():
    w = x * 3
d = (x * 3).detach()
print(f"under no_grad: requires_grad={w.requires_grad}, grad_fn={w.grad_fn}")
print(f"detached:      requires_grad={d.requires_grad}, grad_fn={d.grad_fn}")
assert not w.requires_grad and not d.requires_grad

# %%
# Where next
# ----------
# Gradients *add up* across backward calls, as the cell on the freed graph
# showed. The next tutorial,
# :ref:`sphx_glr_auto_examples_autograd_plot_02_gradient_accumulation.py`,
# shows why that is useful and when you must zero them. The derivation behind this
# page is in :doc:`/theory/chain_rule`.
#
# API used here: :func:`gradbook.graph.autograd_graph`,
# :func:`gradbook.graph.draw_autograd_graph`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **01.1** With ``x = torch.tensor([1.0, 2.0], requires_grad=True)`` and
# ``y = torch.tensor([3.0, -1.0], requires_grad=True)``, predict ``x.grad``
# after ``(x**3 + x * y).sum().backward()``, without running it. Write the
# prediction as a list of two numbers.
from gradbook.exercises import check

answer_01_1 = None  # your prediction of x.grad, e.g. [0.0, 0.0]

print(check("01.1", answer_01_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 01.1</summary>

# d/dx of x**3 is 3 x**2, and d/dx of x * y is y: x.grad = 3 x**2 + y.
answer_01_1 = [3 * 1.0**2 + 3.0, 3 * 2.0**2 - 1.0]

print(check("01.1", answer_01_1))
# sphinx_gallery_start_ignore
assert check("01.1", answer_01_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **01.2** Work out the gradient of
# :math:`L = \sum_i \sin(x_i^2 y_i)` by the chain rule, and write
# ``answer_01_2(x, y)`` that returns the pair
# :math:`(\partial L / \partial x, \partial L / \partial y)` computed from
# that formula, with no autograd. The checker compares it with autograd's
# on random tensors of several shapes.


def answer_01_2(x: torch.Tensor, y: torch.Tensor):
    raise NotImplementedError  # return dL_dx, dL_dy


print(check("01.2", answer_01_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 01.2</summary>


def answer_01_2(x: torch.Tensor, y: torch.Tensor):
    outer = torch.cos(x**2 * y)  # the derivative of sin, at the inner value
    return outer * 2 * x * y, outer * x**2  # times d(x**2 y)/dx, /dy


print(check("01.2", answer_01_2))
# sphinx_gallery_start_ignore
assert check("01.2", answer_01_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
