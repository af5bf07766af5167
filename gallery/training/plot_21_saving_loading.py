r"""
Saving and loading
==================

A trained model is only useful if you can save it and load it again, safely. You will
save and load a ``state_dict`` (the model's tensors by name), see why ``torch.load`` must
be told ``weights_only=True`` (a pickle file can run code while it loads), find out why
the notebook's ``torch.save(model, path)`` now fails to load, and use
:mod:`gradbook.checkpoint` to stop training and resume it later with exactly the same
result, which needs the optimizer's state as well as the model's.
"""

# %%
# A model's state is a dictionary of tensors
# ------------------------------------------
# ``model.state_dict()`` maps each parameter's name to its tensor: for the notebook's
# ``SimpleNet(4, 10, 3)`` the weight and bias of each of its two linear layers, 83 numbers.
import torch
from gradbook.models import SimpleNet

torch.manual_seed(0)
model = SimpleNet(4, 10, 3)
state = model.state_dict()
for name, tensor in state.items():
    print(f"{name:15s} {tuple(tensor.shape)}")
print(f"{sum(t.numel() for t in state.values())} numbers in all")

# %%
# Save it, load it
# ----------------
# ``torch.save`` writes the dictionary to a file; ``torch.load(..., weights_only=True)``
# reads it back, and ``load_state_dict`` copies the tensors into a freshly built model of
# the same architecture. Every file of this page goes into a temporary folder that is
# deleted at the end.
import tempfile
from pathlib import Path

tmpdir = tempfile.TemporaryDirectory()
folder = Path(tmpdir.name)

torch.save(model.state_dict(), folder / "simplenet.pt")

restored = SimpleNet(4, 10, 3)  # new random weights...
print(
    restored.load_state_dict(
        torch.load(folder / "simplenet.pt", weights_only=True)
    )
)
x = torch.randn(8, 4)  # (N, d_in): a batch of 8
print(
    f"same outputs on a batch of 8: {torch.equal(restored(x), model(x))}"
)  # ...replaced
assert torch.equal(restored(x), model(x))

# %%
# Loaded to predict: ``model.eval()``
# -----------------------------------
# A module starts in *training mode*, and loading a ``state_dict`` does not change
# that: the file holds tensors, not the mode. Layers such as dropout and batch
# normalisation behave differently in training, so a model loaded to make
# predictions is switched to *evaluation mode* first, with ``model.eval()``
# (:func:`gradbook.train.fit` switches back with ``model.train()`` each epoch).
# ``SimpleNet`` has no such layer, so its outputs are the same in both modes, but
# calling ``eval()`` is the habit that keeps a model with dropout from giving random
# answers:
from torch import nn

print(f"restored.training = {restored.training}")
restored.eval()  # evaluation mode for dropout, batch norm, ...
print(f"after eval():       {restored.training}")
assert torch.equal(restored(x), model(x))  # no dropout: same outputs

with_dropout = nn.Sequential(SimpleNet(4, 10, 3), nn.Dropout(p=0.5))
in_training = [with_dropout(x) for _ in range(2)]  # random zeros each call
with_dropout.eval()
in_eval = [with_dropout(x) for _ in range(2)]  # no dropout: deterministic
print(
    f"dropout, training mode:   same answer twice? {torch.equal(*in_training)}"
)
print(f"dropout, evaluation mode: same answer twice? {torch.equal(*in_eval)}")
assert not torch.equal(*in_training) and torch.equal(*in_eval)
# sphinx_gallery_start_ignore
# fit trains in training mode, even a model left in evaluation mode.
from gradbook.train import Callback, fit


class RecordMode(Callback):
    def on_epoch_end(self, model, history):
        self.training = model.training
        return False


mode = RecordMode()
probe = SimpleNet(4, 3, 2).eval()
fit(
    probe,
    nn.CrossEntropyLoss(),
    torch.optim.SGD(probe.parameters(), lr=0.1),
    (x, torch.zeros(8, dtype=torch.long)),
    epochs=1,
    callbacks=mode,
    seed=0,
)
assert mode.training
# sphinx_gallery_end_ignore

# %%
# Why ``weights_only=True``: a pickle can run code
# ------------------------------------------------
# ``torch.save`` uses Python's ``pickle``, and a pickle is not just data: it is a small
# program that the loader runs to rebuild the objects. An object can ask to be rebuilt by
# *calling any function* with arguments of its choice, through ``__reduce__``. Here is a
# harmless one that asks for ``print``; a malicious file would ask for ``os.system``.
import pickle


class Marker:
    """Rebuilt by calling print(...): any code a file could make you run."""

    def __reduce__(self):
        return (print, ("!! this print ran while the file was being loaded",))


torch.save(
    {"weight": torch.ones(2), "extra": Marker()}, folder / "suspicious.pt"
)

# %%
# With ``weights_only=True`` (the default since PyTorch 2.6), ``torch.load`` only accepts
# tensors, numbers, strings and plain containers. It refuses the file at the first
# reference to anything else, before calling it:
try:
    torch.load(folder / "suspicious.pt", weights_only=True)
except pickle.UnpicklingError as error:
    refusal = str(error)
    reason = next(
        line
        for line in refusal.splitlines()
        if "WeightsUnpickler error" in line
    )
    print(f"refused: {reason.strip().split(' was not')[0]}")
else:
    raise AssertionError("weights_only=True loaded a file that calls print")
assert "GLOBAL print" in refusal

# %%
# ``weights_only=False`` was the default before PyTorch 2.6. It runs the file as written,
# and the call happens during ``torch.load`` itself, before your code sees the result. We
# do it here only because we wrote this file ourselves and know it just prints:
loaded = torch.load(
    folder / "suspicious.pt", weights_only=False
)  # trusted file only!
print(f"what came back: {loaded}")
assert (
    loaded["extra"] is None
)  # print returned None, and that became the value

# %%
# The notebook's whole-model save is legacy
# -----------------------------------------
# The notebook saved the model object itself, ``torch.save(model, path)``. That file is a
# pickle that says "import the class ``gradbook.models.SimpleNet`` and rebuild an instance
# of it": a reference to a Python class, exactly the kind of thing ``weights_only=True``
# refuses. So ``torch.load(path)`` with today's default fails:
import re
import textwrap

torch.save(model, folder / "whole_model.pt")  # legacy: pickles the object
try:
    torch.load(folder / "whole_model.pt")
except pickle.UnpicklingError as error:
    message = re.sub(
        r"\x1b\[[0-9;]*m", "", str(error)
    )  # drop the terminal bold codes
    first_line = message.splitlines()[0]
    reason = next(
        line
        for line in message.splitlines()
        if "WeightsUnpickler error" in line
    )
    print(textwrap.fill(first_line.strip(), width=76))
    print(reason.strip().split(" was not")[0])
else:
    raise AssertionError(
        "torch.load(path) loaded a pickled model with its default settings"
    )
assert first_line.startswith("Weights only load failed")
assert "GLOBAL gradbook.models.SimpleNet" in reason

# %%
# Even where it loads (with ``weights_only=False``, for a file you trust), a pickled model
# is fragile: the file stores the class by its import path and rebuilds the object from
# its attributes, so it breaks when the class is renamed, moved or changes its attributes,
# and it cannot be loaded where the code is not installed. A ``state_dict`` is only names
# and tensors: it loads into any model with the same parameter names and shapes. To rescue
# an old file you trust, load it once and save its ``state_dict``:
legacy = torch.load(
    folder / "whole_model.pt", weights_only=False
)  # trusted file only!
torch.save(legacy.state_dict(), folder / "whole_model_state.pt")
rescued = SimpleNet(4, 10, 3)
rescued.load_state_dict(
    torch.load(folder / "whole_model_state.pt", weights_only=True)
)
assert torch.equal(rescued(x), model(x))

# %%
# Checkpoints that resume training exactly
# ----------------------------------------
# To continue training later, the model's weights are not enough: the optimizer has state
# too. Adam keeps, for every parameter, the running averages :math:`m` and :math:`v` of
# the gradient and its square, and the step count :math:`t` used in its bias correction
# (see :ref:`sphx_glr_auto_examples_training_plot_17_optimizers.py`).
# :func:`gradbook.checkpoint.save_checkpoint` writes both ``state_dict``\ s, plus any plain
# metadata, into one file (atomically: a crash mid-save leaves the previous file intact).
#
# We train ``SimpleNet(2, 16, 2)`` on the two-moons data with Adam in mini-batches of 32
# for 20 epochs, save a checkpoint, and then train 20 more epochs: the uninterrupted run.
from gradbook.checkpoint import load_checkpoint, save_checkpoint
from gradbook.data import make_moons
from gradbook.optim import Adam
from gradbook.train import fit

X, y = make_moons(200, noise=0.2, seed=0)  # (200, 2), (200,)
loss_fn = nn.CrossEntropyLoss()
torch.manual_seed(0)
model = SimpleNet(2, 16, 2)
optimizer = Adam(model.parameters(), lr=0.01)
fit(model, loss_fn, optimizer, (X, y), epochs=20, batch_size=32, seed=1)
save_checkpoint(folder / "checkpoint.pt", model, optimizer, epoch=20)

adam_state = optimizer.state_dict()["state"][0]  # the state of linear1.weight
t = adam_state["step"]
print(f"Adam's state for linear1.weight: {sorted(adam_state)}, t = {t}")

# %%
# ``fit`` shuffles the mini-batches; its ``seed`` fixes that order, so that a resumed run
# can see the batches in the same order as the uninterrupted one. We derive it from the
# epoch count, which the checkpoint keeps as metadata. A small callback records the
# parameters at the start and after every epoch, to compare the runs as they go.
from gradbook.train import Callback
from torch.nn.utils import parameters_to_vector


class RecordParameters(Callback):
    """A fit callback: the parameters as one vector, at start and per epoch."""

    def on_train_begin(self, model: nn.Module, history) -> None:
        self.path = [parameters_to_vector(model.parameters()).detach().clone()]

    def on_epoch_end(self, model: nn.Module, history) -> bool:
        self.path.append(
            parameters_to_vector(model.parameters()).detach().clone()
        )
        return False  # never stop training


uninterrupted = RecordParameters()
history = fit(
    model,
    loss_fn,
    optimizer,
    (X, y),
    epochs=20,
    batch_size=32,
    seed=20,
    callbacks=uninterrupted,
)

# %%
# Now the same 20 epochs as a later session would run them: a fresh model and a fresh
# optimizer, the checkpoint loaded into both (with ``weights_only=True`` inside), and
# training continued. The parameters end up identical to the last bit.
resumed_model = SimpleNet(2, 16, 2)
resumed_optimizer = Adam(resumed_model.parameters(), lr=0.01)
metadata = load_checkpoint(
    folder / "checkpoint.pt", resumed_model, resumed_optimizer
)
print(f"metadata: {metadata}")
resumed = RecordParameters()
fit(
    resumed_model,
    loss_fn,
    resumed_optimizer,
    (X, y),
    epochs=20,
    batch_size=32,
    seed=metadata["epoch"],
    callbacks=resumed,
)
same = all(
    torch.equal(p, q)
    for p, q in zip(
        model.parameters(), resumed_model.parameters(), strict=True
    )
)
print(f"resumed run identical to the uninterrupted one: {same}")
assert same

# %%
# Resuming without the optimizer's state
# --------------------------------------
# Load the weights alone and Adam starts over: :math:`m = v = 0` and :math:`t = 0`, where
# the uninterrupted run had :math:`t = 140` steps of averages. Its first steps are
# about the learning rate in every weight, not the sizes the averages had settled on, and
# the run takes a different path from there.
forgetful_model = SimpleNet(2, 16, 2)
forgetful_optimizer = Adam(forgetful_model.parameters(), lr=0.01)
load_checkpoint(
    folder / "checkpoint.pt", forgetful_model
)  # no optimizer: its state is skipped
print(f"optimizer state entries: {len(forgetful_optimizer.state)}")
forgetful = RecordParameters()
fit(
    forgetful_model,
    loss_fn,
    forgetful_optimizer,
    (X, y),
    epochs=20,
    batch_size=32,
    seed=metadata["epoch"],
    callbacks=forgetful,
)
gap = (forgetful.path[-1] - uninterrupted.path[-1]).abs().max().item()
print(f"largest parameter difference after 20 epochs: {gap:.4f}")
assert gap > 0.1

# %%
# The distance between each resumed run and the uninterrupted one, epoch by epoch: zero
# all the way with the optimizer's state, growing steadily without it. For scale, the
# dotted line is how far the uninterrupted run itself moves in one epoch.
from gradbook.plotting import plot_lines, use_style

use_style()
epochs = torch.arange(20, 41)  # (21,)
distance = {
    "model + optimizer state": [
        (p - q).norm().item()
        for p, q in zip(resumed.path, uninterrupted.path, strict=True)
    ],
    "model state only": [
        (p - q).norm().item()
        for p, q in zip(forgetful.path, uninterrupted.path, strict=True)
    ],
}
ax = plot_lines(
    epochs,
    distance,
    xlabel="epoch",
    ylabel="parameter distance to uninterrupted run",
    title="Resuming Adam from a checkpoint saved at epoch 20",
    marker="o",
)
one_epoch = (uninterrupted.path[-1] - uninterrupted.path[-2]).norm().item()
ax.axhline(
    one_epoch, color="gray", linestyle=":", label="one epoch of training"
)
ax.legend()
ax.xaxis.get_major_locator().set_params(integer=True)
# sphinx_gallery_start_ignore
assert all(d == 0.0 for d in distance["model + optimizer state"])
assert distance["model state only"][-1] > 3 * one_epoch
assert distance["model state only"][-1] > distance["model state only"][5]
# sphinx_gallery_end_ignore

# %%
# What ``load_checkpoint`` refuses
# --------------------------------
# :func:`gradbook.checkpoint.load_checkpoint` reads with ``weights_only=True`` and checks
# the whole file against the model before it changes anything. The file with the
# ``print`` inside is refused with a :class:`gradbook.checkpoint.CheckpointError`, and
# nothing in it runs:
from gradbook.checkpoint import CheckpointError

try:
    load_checkpoint(folder / "suspicious.pt", SimpleNet(4, 10, 3))
except CheckpointError as error:
    print(textwrap.fill(str(error).replace(str(folder), "<tmp>"), width=76))
else:
    raise AssertionError("load_checkpoint accepted a file that calls print")

# %%
# Cleaning up
# -----------
# Deleting the temporary folder removes every file this page wrote.
print("\n".join(sorted(path.name for path in folder.iterdir())))
tmpdir.cleanup()
assert not folder.exists()

# %%
# Where next
# ----------
# Back to the start of training: :ref:`sphx_glr_auto_examples_training_plot_18_training_loop.py`
# writes the loop these checkpoints interrupt, and
# :ref:`sphx_glr_auto_examples_training_plot_17_optimizers.py` shows what Adam's :math:`m`,
# :math:`v` and :math:`t` do. Adam's bias correction, the reason :math:`t` must be saved,
# is derived on :doc:`/theory/foundations`.
#
# API used here: :func:`gradbook.checkpoint.save_checkpoint`,
# :func:`gradbook.checkpoint.load_checkpoint`, :class:`gradbook.checkpoint.CheckpointError`,
# :class:`gradbook.models.SimpleNet`, :class:`gradbook.optim.Adam`,
# :func:`gradbook.train.fit`, :class:`gradbook.train.Callback`,
# :func:`gradbook.data.make_moons`,
# :func:`gradbook.plotting.plot_lines`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **21.1** Write ``answer_21_1(path, model, optimizer, epoch)`` that saves
# what resuming training needs, as one dictionary with the keys
# ``"model"``, ``"optimizer"`` and ``"epoch"``, in a file that
# ``torch.load(path, weights_only=True)`` accepts.
from gradbook.exercises import check


def answer_21_1(path, model, optimizer, epoch: int) -> None:
    raise NotImplementedError


print(check("21.1", answer_21_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 21.1</summary>


def answer_21_1(path, model, optimizer, epoch: int) -> None:
    state = {
        "model": model.state_dict(),  # tensors by name
        "optimizer": optimizer.state_dict(),  # Adam's m, v and step count
        "epoch": epoch,
    }
    torch.save(state, path)


print(check("21.1", answer_21_1))
# sphinx_gallery_start_ignore
assert check("21.1", answer_21_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **21.2** Write ``answer_21_2(path, model, optimizer)`` that loads such a
# file into the model and the optimizer it is given, safely, and returns
# the epoch it holds.


def answer_21_2(path, model, optimizer) -> int:
    raise NotImplementedError


print(check("21.2", answer_21_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 21.2</summary>


def answer_21_2(path, model, optimizer) -> int:
    checkpoint = torch.load(path, weights_only=True)  # tensors only
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


print(check("21.2", answer_21_2))
# sphinx_gallery_start_ignore
assert check("21.2", answer_21_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
