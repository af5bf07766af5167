r"""
Hooks and gradient flow
=======================

A hook is a function that autograd or a module calls for you while it computes, so
you can read a gradient, or change it, in the middle of ``backward()``. You will hang
hooks on a tensor to read and clip its gradient, compare them with ``retain_grad``,
record every layer's activations and gradients with module hooks, see the gradient
vanish through twelve sigmoid layers and not through twelve ReLU layers, and then
watch a real training run with :class:`gradbook.monitor.GradientFlowRecorder`, a
:func:`gradbook.train.fit` callback that records each layer's gradient norm and
update-to-weight ratio. Every hook added here is removed again.
"""

# %%
# Reading a gradient with ``register_hook``
# -----------------------------------------
# Take :math:`h = 3x` and :math:`L = \sum_i h_i^2`. The intermediate :math:`h` is not a
# leaf, so autograd passes :math:`\pd{L}{h} = 2h` on to :math:`x` and forgets it. A hook
# registered with ``h.register_hook(fn)`` is called with that gradient when backward
# reaches :math:`h`. It returns a handle: ``handle.remove()`` takes the hook off.
import torch

x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
h = 3 * x  # (3,), not a leaf
seen = []
handle = h.register_hook(lambda grad: seen.append(grad.clone()))
(h**2).sum().backward()
handle.remove()
print(f"the hook saw dL/dh = {seen[0].tolist()}")
print(f"2 h               = {(2 * h).tolist()}")
print(f"x.grad = 3 * 2h   = {x.grad.tolist()}")
torch.testing.assert_close(seen[0], 2 * h.detach())
torch.testing.assert_close(x.grad, 18 * x.detach())

# %%
# Changing a gradient
# -------------------
# A hook that *returns* a tensor replaces the gradient, and everything upstream is
# computed from the replacement. Clamping :math:`\pd{L}{h}` to :math:`[-1, 1]` (gradient
# clipping by value, on one tensor) changes ``x.grad`` to :math:`3 \cdot
# \mathrm{clamp}(2h, -1, 1)`.
x.grad = None
h = 3 * x
handle = h.register_hook(lambda grad: grad.clamp(-1.0, 1.0))
(h**2).sum().backward()
handle.remove()
print(f"clamped: x.grad = {x.grad.tolist()}")
torch.testing.assert_close(x.grad, 3 * (6 * x.detach()).clamp(-1.0, 1.0))

# %%
# ``retain_grad`` compared with a hook
# ------------------------------------
# ``h.retain_grad()`` asks autograd to keep the gradient of a non-leaf in ``h.grad``, as
# it does for leaves (without it, reading ``h.grad`` gives ``None`` and a warning). The
# differences:
#
# - ``retain_grad`` keeps the whole tensor alive, and it *accumulates* over backward
#   calls like a leaf's ``.grad``; a hook is called once per backward, can keep just a
#   number (a norm), and can change the gradient.
# - ``retain_grad`` stores the gradient *after* the tensor's hooks have run, whatever
#   the order they were added in: here it sees the hook's times-ten.
x.grad = None
h = 3 * x
h.retain_grad()
calls = []
handle = h.register_hook(lambda grad: calls.append(1) or 10 * grad)
for _ in range(2):
    (h**2).sum().backward(retain_graph=True)
handle.remove()
print(f"h.is_leaf = {h.is_leaf}, hook calls = {len(calls)}")
print(f"h.grad = {h.grad.tolist()}  (2 backwards x 10 x 2h)")
torch.testing.assert_close(h.grad, 2 * 10 * 2 * h.detach())

# %%
# Module hooks: what a layer sees, forward and backward
# -----------------------------------------------------
# A module takes hooks too. ``register_forward_hook(fn)`` calls
# ``fn(module, inputs, output)`` after each forward; ``register_full_backward_hook(fn)``
# calls ``fn(module, grad_input, grad_output)`` once the gradients with respect to the
# module's inputs are known. For a linear layer :math:`\mY = \mX \mW\T + \vb` they give
# everything its weight gradient is made of,
# :math:`\pd{\loss}{\mW} = (\pd{\loss}{\mY})\T \mX`, which we check on the second layer.
from gradbook.models import MLP
from torch import nn

torch.manual_seed(0)
model = MLP([4, 8, 8, 1])
layer = model.layers[2]  # the second nn.Linear, 8 -> 8
captured = {}
handles = [
    layer.register_forward_hook(
        lambda mod, inputs, output: captured.update(x=inputs[0].detach())
    ),
    layer.register_full_backward_hook(
        lambda mod, grad_in, grad_out: captured.update(g=grad_out[0])
    ),
]
X, y = torch.randn(16, 4), torch.randn(16, 1)  # (N, 4), (N, 1)
nn.MSELoss()(model(X), y).backward()
for handle in handles:
    handle.remove()
x_shape, g_shape = tuple(captured["x"].shape), tuple(captured["g"].shape)
print(f"input {x_shape}, grad_output {g_shape}")
torch.testing.assert_close(layer.weight.grad, captured["g"].T @ captured["x"])
print("weight.grad == grad_output.T @ input: checked")

# %%
# Gradient flow through twelve layers
# -----------------------------------
# Backward through one layer multiplies the gradient by the activation's derivative
# and by the transposed weights,
#
# .. math::
#
#    \pd{\loss}{\vz_{l-1}} = \sigma'(\vz_{l-1}) \odot \mW_l\T \pd{\loss}{\vz_l},
#
# and the sigmoid's derivative is at most :math:`\tfrac14`. Through many sigmoid layers
# the gradient shrinks geometrically: it *vanishes*. ``tanh`` has slope 1 at 0 and
# loses only a little per layer; ReLU has slope 1 wherever it is active, and with He
# initialisation the ReLU network keeps the gradient's size from layer to layer.
#
# To see it, ``probe`` hangs a forward and a backward hook on every activation module
# of a network with twelve hidden layers of width 32, runs one backward, and removes
# them. It records the spread of each layer's activations, and the norm of the
# gradient reaching each layer's pre-activation :math:`\vz_l` (the activation
# module's ``grad_input``).


def probe(model, X, y):
    """Per hidden layer: activation std and the norm of dL/dz (by hooks)."""
    stds, norms = [], []

    def forward_hook(module, inputs, output):
        stds.append(output.std().item())

    def backward_hook(module, grad_input, grad_output):
        norms.append(grad_input[0].norm().item())  # dL/dz of this layer

    activations = [m for m in model.layers if not isinstance(m, nn.Linear)]
    handles = [m.register_forward_hook(forward_hook) for m in activations]
    handles += [
        m.register_full_backward_hook(backward_hook) for m in activations
    ]
    nn.MSELoss()(model(X), y).backward()
    for handle in handles:
        handle.remove()
    return stds, norms[::-1]  # backward visits the layers last to first


X, y = torch.randn(256, 32), torch.randn(256, 1)  # (N, 32), (N, 1)
nets = {  # activation, initialisation
    "sigmoid (Xavier)": ("sigmoid", "xavier"),
    "tanh (Xavier)": ("tanh", "xavier"),
    "ReLU (He)": ("relu", "he"),
}
act_std, grad_norm = {}, {}
for name, (activation, init) in nets.items():
    torch.manual_seed(0)
    deep = MLP([32] + [32] * 12 + [1], activation=activation, init=init)
    act_std[name], grad_norm[name] = probe(deep, X, y)
    first, last = grad_norm[name][0], grad_norm[name][-1]
    factor = (first / last) ** (1 / 11)  # mean factor per layer
    print(
        f"{name:17s} layer 1 / 12: {first / last:.1e}, x{factor:.2f} a layer"
    )
# sphinx_gallery_start_ignore
ratios = {name: g[0] / g[-1] for name, g in grad_norm.items()}
assert ratios["sigmoid (Xavier)"] < 1e-4
assert 0.1 < ratios["tanh (Xavier)"] < 10 and 1 / 3 < ratios["ReLU (He)"] < 3
assert 3.5 < ratios["sigmoid (Xavier)"] ** (-1 / 11) < 5.5
assert not any(m._forward_hooks or m._backward_hooks for m in deep.modules())
# sphinx_gallery_end_ignore

# %%
# The picture: each line is one network, each point one layer, and the gradient axis
# is logarithmic. Reading the sigmoid line from right (layer 12, near the loss) to left,
# the gradient loses a factor of about four per layer, and the first layers get almost
# nothing to learn from.
from gradbook.plotting import plot_layer_statistics, subplots, use_style

use_style()
fig, (ax_act, ax_grad) = subplots(1, 2)
plot_layer_statistics(act_std, ax=ax_act, title="Activations, forward hooks")
plot_layer_statistics(
    grad_norm,
    ax=ax_grad,
    logy=True,
    ylabel=r"$\|\partial L / \partial z_l\|$ (log scale)",
    title="Gradients, backward hooks",
)
legend = ax_grad.legend()  # a statement, so the page prints no Legend object

# %%
# The recorder in the package, during training
# --------------------------------------------
# :class:`gradbook.monitor.GradientFlowRecorder` is a callback for
# :func:`gradbook.train.fit` built on the same idea, with hooks on the optimizer: just
# before each ``step()`` it reads every parameter's gradient norm and copies the
# weights, just after it measures the update-to-weight ratio
# :math:`\|w_\text{after} - w_\text{before}\| / \|w_\text{before}\|`, the size of the
# step relative to the weights (about :math:`10^{-3}` is the usual rule of thumb). It
# removes its hooks when training ends. We train a six-layer sigmoid network on the
# moons twice: with SGD, whose step is :math:`\eta g`, and with Adam, which divides each
# parameter's step by a running size of its own gradient.
from gradbook.data import make_moons
from gradbook.monitor import GradientFlowRecorder
from gradbook.optim import SGD, Adam
from gradbook.train import fit

X, y = make_moons(200, noise=0.1)  # (200, 2), (200,)
recorders = {}
optimizers = {
    "SGD, lr 0.5": lambda params: SGD(params, lr=0.5),
    "Adam, lr 0.01": lambda params: Adam(params, lr=0.01),
}
for name, make in optimizers.items():
    torch.manual_seed(0)
    net = MLP([2, 16, 16, 16, 16, 16, 2], activation="sigmoid", init="xavier")
    # sphinx_gallery_start_ignore
    w0 = net.layers[0].weight.detach().clone()
    # sphinx_gallery_end_ignore
    optimizer = make(net.parameters())
    recorders[name] = GradientFlowRecorder(optimizer)
    history = fit(
        net,
        nn.CrossEntropyLoss(),
        optimizer,
        (X, y),
        epochs=60,
        batch_size=50,
        callbacks=recorders[name],
        seed=0,
    )
    accuracy = (net(X).argmax(dim=1) == y).float().mean().item()
    print(f"{name:13s} {recorders[name]}")
    loss = history.train_loss[-1]
    print(f"{'':13s} final loss {loss:.4f}, accuracy {accuracy:.3f}")
    # sphinx_gallery_start_ignore
    rec = recorders[name]
    assert not rec.attached and rec.steps == list(range(1, 241))
    if name.startswith("SGD"):  # the update is lr * g: r = lr ||g|| / ||w||
        expected = 0.5 * rec.grad_norm["layers.0.weight"][0] / w0.norm().item()
        assert (
            abs(rec.update_ratio["layers.0.weight"][0] / expected - 1) < 1e-4
        )
        assert accuracy < 0.6
    else:
        assert accuracy > 0.8
    # sphinx_gallery_end_ignore

# %%
# With SGD the ratio of the first layer sits orders of magnitude below the last one's:
# the vanished gradient makes a vanished step, and the network is still at chance
# accuracy. Adam's ratios lie close together whatever the gradient's size, and it
# learns. ``recorder.plot`` draws the record; ``names`` picks three weight matrices:
# the first layer's, a middle one and the last.
weights = ["layers.0.weight", "layers.4.weight", "layers.10.weight"]
fig, axes = subplots(1, 2, sharey=True)
for ax, (name, rec) in zip(axes, recorders.items(), strict=True):
    rec.plot("update_ratio", names=weights, ax=ax)
    ax.set_title(f"Update-to-weight ratio, {name}")
axes[0].get_legend().remove()  # the axes are shared: one legend for both
axes[1].legend(loc="lower right")
# sphinx_gallery_start_ignore
median = {
    name: {n: sorted(v)[len(v) // 2] for n, v in rec.update_ratio.items()}
    for name, rec in recorders.items()
}
sgd, adam = median["SGD, lr 0.5"], median["Adam, lr 0.01"]
assert sgd["layers.0.weight"] < sgd["layers.10.weight"] / 100
assert 1 / 3 < adam["layers.0.weight"] / adam["layers.10.weight"] < 3
# sphinx_gallery_end_ignore

# %%
# In a loop of your own
# ---------------------
# Outside ``fit``, attach the recorder to the model yourself. Used in a ``with``
# block, it removes its hooks at the end of the block, even when the loop raises.
optimizer = SGD(net.parameters(), lr=0.1)
recorder = GradientFlowRecorder(optimizer, every=2)
with recorder.attach(net):
    for _ in range(5):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(net(X), y).backward()
        optimizer.step()  # the recorder's hooks run here
print(recorder)
print(f"steps {recorder.steps}, attached after the block: {recorder.attached}")
assert recorder.steps == [1, 3, 5] and not recorder.attached

# %%
# Where next
# ----------
# Hooks see first derivatives. The next tutorial,
# :ref:`sphx_glr_auto_examples_autograd_plot_10_higher_order_gradients.py`,
# differentiates a gradient again: second derivatives, Hessian-vector products and
# Newton's method.
#
# API used here: :class:`gradbook.monitor.GradientFlowRecorder`,
# :func:`gradbook.train.fit`, :class:`gradbook.models.MLP`,
# :func:`gradbook.data.make_moons`, :class:`gradbook.optim.SGD`,
# :class:`gradbook.optim.Adam`, :func:`gradbook.plotting.plot_layer_statistics`,
# :func:`gradbook.plotting.subplots`, :func:`gradbook.plotting.use_style`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **09.1** Write ``answer_09_1(bound)``: it returns a hook that, registered
# with ``h.register_hook(...)``, clamps the gradient of ``h`` to
# :math:`[-\text{bound}, \text{bound}]`, so that everything upstream of
# ``h`` is computed from the clamped gradient.
from gradbook.exercises import check


def answer_09_1(bound: float):
    raise NotImplementedError  # return a function of the gradient


print(check("09.1", answer_09_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 09.1</summary>


def answer_09_1(bound: float):
    def hook(grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(-bound, bound)  # returned: it replaces the gradient

    return hook


print(check("09.1", answer_09_1))
# sphinx_gallery_start_ignore
assert check("09.1", answer_09_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **09.2** Write ``answer_09_2(model, X, y)``: hang a full backward hook
# on every ``nn.Linear`` of the model, run one backward pass of
# ``F.mse_loss(model(X), y)``, and return the norms of
# :math:`\partial L / \partial (\text{each layer's output})`, first layer
# first, as a list of floats. Remove the hooks before returning.
import torch.nn.functional as F


def answer_09_2(model, X, y) -> list:
    raise NotImplementedError


print(check("09.2", answer_09_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 09.2</summary>


def answer_09_2(model, X, y) -> list:
    norms = []

    def hook(module, grad_input, grad_output):
        norms.append(grad_output[0].norm().item())

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    handles = [m.register_full_backward_hook(hook) for m in linears]
    F.mse_loss(model(X), y).backward()
    for handle in handles:
        handle.remove()
    return norms[::-1]  # backward reaches the last layer first


print(check("09.2", answer_09_2))
# sphinx_gallery_start_ignore
assert check("09.2", answer_09_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
