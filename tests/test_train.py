"""Tests for gradbook.train: fit, evaluate, History, Callback and EarlyStopping."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import gradbook.models
import gradbook.train
from gradbook.data import make_regression
from gradbook.models import MLP
from gradbook.train import Callback, EarlyStopping, History, evaluate, fit


@pytest.fixture(params=["per_step", "per_epoch"])
def readback(request, monkeypatch):
    """Run a test with losses read per step (the CPU way) and once per epoch (accelerators)."""
    if request.param == "per_epoch":
        monkeypatch.setattr(gradbook.train, "_defer_loss_readback", lambda device: True)
    return request.param


def _linear_problem(n=100, seed=0):
    X, y = make_regression(n, [2.0, 3.0], seed=seed)
    torch.manual_seed(seed)
    model = nn.Linear(2, 1)
    return model, X, y


def _sgd(model, lr=0.1):
    return torch.optim.SGD(model.parameters(), lr=lr)


def test_notebook_regression_learns_the_weights():
    """The notebook's regression (SGD lr 0.1, 100 epochs, full batch) finds w = [2, 3] +- 0.05."""
    X, y = make_regression(100, [2.0, 3.0], seed=42)
    torch.manual_seed(42)
    model = nn.Linear(2, 1)
    history = fit(model, nn.MSELoss(), _sgd(model, 0.1), (X, y), epochs=100)
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[2.0, 3.0]]), atol=0.05, rtol=0)
    assert model.bias.abs().item() < 0.05
    assert history.epochs == 100 and len(history.step_loss) == 100
    assert history.train_loss[-1] < 0.02 < history.train_loss[0]
    assert repr(history) == f"History(epochs=100, train_loss={history.train_loss[-1]:.2g})"


def test_full_batch_epoch_loss_is_the_loss_before_the_step():
    """With one full batch per epoch, train_loss[0] is the loss of the initial weights."""
    model, X, y = _linear_problem()
    before = evaluate(model, nn.MSELoss(), (X, y))
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3)
    assert history.train_loss[0] == pytest.approx(before, rel=1e-6)
    assert history.step_loss == history.train_loss


def test_train_loss_is_the_sample_weighted_mean_of_step_losses(readback):
    """With batches of 30, 30, 30 and 10 samples, the epoch loss weights each step by its size."""
    model, X, y = _linear_problem()
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=2, batch_size=30)
    assert len(history.step_loss) == 8
    for epoch in range(2):
        steps = history.step_loss[4 * epoch : 4 * epoch + 4]
        expected = (30 * sum(steps[:3]) + 10 * steps[3]) / 100
        assert history.train_loss[epoch] == pytest.approx(expected, rel=1e-9)
        assert history.train_loss[epoch] != pytest.approx(sum(steps) / 4, rel=1e-6)


def test_step_losses_match_a_hand_written_loop(readback):
    """Without shuffling, fit takes exactly the steps a hand-written loop takes."""
    model, X, y = _linear_problem()
    twin = nn.Linear(2, 1)
    twin.load_state_dict(model.state_dict())
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=2, batch_size=32, shuffle=False)
    opt, expected = _sgd(twin), []
    for _ in range(2):
        for i in range(0, 100, 32):
            opt.zero_grad()
            loss = nn.functional.mse_loss(twin(X[i : i + 32]), y[i : i + 32])
            loss.backward()
            opt.step()
            expected.append(loss.item())
    assert history.step_loss == expected
    assert torch.equal(model.weight, twin.weight)


@pytest.mark.parametrize("kind", ["dataset", "dataloader"])
def test_dataset_and_dataloader_match_the_tensor_path(kind):
    """A Dataset or a DataLoader gives the same training as the (X, y) fast path."""
    model, X, y = _linear_problem()
    twin = nn.Linear(2, 1)
    twin.load_state_dict(model.state_dict())
    ref = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3, batch_size=16, shuffle=False)
    if kind == "dataset":
        data, batch_size = TensorDataset(X, y), 16
    else:
        data, batch_size = DataLoader(TensorDataset(X, y), batch_size=16), None
    other = fit(
        twin, nn.MSELoss(), _sgd(twin), data, epochs=3, batch_size=batch_size, shuffle=False
    )
    assert other.step_loss == pytest.approx(ref.step_loss, rel=1e-6)
    torch.testing.assert_close(twin.weight, model.weight)


def test_validation_dataloader_keeps_its_batches():
    """A validation DataLoader works alongside a training batch_size and gives the same loss."""
    model, X, y = _linear_problem()
    loader = DataLoader(TensorDataset(X, y), batch_size=7)
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=2, batch_size=10,
                  val_data=loader)  # fmt: skip
    assert history.val_loss[-1] == pytest.approx(evaluate(model, nn.MSELoss(), (X, y)), rel=1e-5)


def test_dataset_full_batch_by_default():
    """batch_size=None with a Dataset means one batch holding all of it."""
    model, X, y = _linear_problem()
    history = fit(model, nn.MSELoss(), _sgd(model), TensorDataset(X, y), epochs=2)
    assert len(history.step_loss) == 2


def test_same_seed_gives_identical_histories_even_with_dropout():
    """Two runs with the same seed and initial weights match exactly; another seed differs."""
    X, y = make_regression(64, [1.0, -1.0, 0.5])

    def run(seed):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
        h = fit(model, nn.MSELoss(), _sgd(model, 0.05), (X, y), epochs=3, batch_size=8, seed=seed)
        return h, model

    (h1, m1), (h2, m2), (h3, _) = run(7), run(7), run(8)
    assert h1.step_loss == h2.step_loss and h1.train_loss == h2.train_loss
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters(), strict=True))
    assert h3.step_loss != h1.step_loss


def test_seed_leaves_the_global_rng_alone():
    """fit(seed=...) restores torch's global random state when it returns."""
    model, X, y = _linear_problem()
    state = torch.get_rng_state()
    fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=2, batch_size=10, seed=3)
    assert torch.equal(torch.get_rng_state(), state)


def test_seed_makes_a_shuffling_dataloader_reproducible():
    """A user DataLoader that shuffles with the global RNG is reproducible under seed=."""
    X, y = make_regression(50, [1.0, 2.0])
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        torch.rand(int(torch.randint(1, 5, ()).item()) + len(runs))  # disturb the global RNG
        runs.append(fit(model, nn.MSELoss(), _sgd(model), loader, epochs=2, seed=1).step_loss)
    assert runs[0] == runs[1]


class _ModeRecorder(nn.Module):
    """A linear layer that records the training flag and grad mode of each forward."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        return self.lin(x)


def test_train_and_eval_modes_and_no_grad_for_validation():
    """Training steps run in train mode with grad; validation in eval mode under no_grad."""
    X, y = make_regression(40, [2.0, 3.0])
    model = _ModeRecorder()
    model.eval()  # fit must switch it and switch it back
    history = fit(
        model, nn.MSELoss(), _sgd(model), (X, y), epochs=2, batch_size=20, val_data=(X, y)
    )
    # batch_size applies to validation too: two training and two validation batches per epoch
    assert model.calls == [(True, True), (True, True), (False, False), (False, False)] * 2
    assert not model.training
    assert len(history.val_loss) == 2


def test_val_loss_is_the_loss_at_the_end_of_each_epoch():
    """history.val_loss[-1] equals evaluate() on the validation data after that epoch."""
    model, X, y = _linear_problem()
    Xv, yv = make_regression(30, [2.0, 3.0], seed=9)
    seen = []

    class Probe(Callback):
        def on_epoch_end(self, model, history):
            seen.append((history.val_loss[-1], evaluate(model, nn.MSELoss(), (Xv, yv))))
            return False

    fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3, batch_size=25, val_data=(Xv, yv),
        callbacks=[Probe()])  # fmt: skip
    assert len(seen) == 3
    for recorded, actual in seen:
        assert recorded == pytest.approx(actual, rel=1e-6)


def test_evaluate_is_the_sample_weighted_mean_and_restores_mode():
    """evaluate() gives the mean loss over all samples, whatever the batch size."""
    model, X, y = _linear_problem(n=70)
    full = nn.functional.mse_loss(model(X), y).item()
    model.train()
    assert evaluate(model, nn.MSELoss(), (X, y), batch_size=32) == pytest.approx(full, rel=1e-5)
    assert evaluate(model, nn.MSELoss(), TensorDataset(X, y), batch_size=9) == pytest.approx(
        full, rel=1e-5
    )
    assert model.training


@pytest.mark.parametrize(("bad", "word"), [(float("nan"), "nan"), (float("inf"), "inf")])
def test_non_finite_loss_names_epoch_and_step(bad, word, readback):
    """A NaN or infinite loss raises FloatingPointError naming the epoch and the step."""
    model, X, y = _linear_problem()
    y = y.clone()
    y[25] = bad  # in the third batch of 10
    with pytest.raises(FloatingPointError, match=rf"{word} at epoch 1, step 3 of 10"):
        fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=5, batch_size=10, shuffle=False)


def test_on_the_cpu_a_non_finite_loss_stops_before_its_step():
    """On the CPU the weights after a NaN loss at step 3 are exactly those after step 2."""
    model, X, y = _linear_problem()
    twin = nn.Linear(2, 1)
    twin.load_state_dict(model.state_dict())
    y = y.clone()
    y[25] = float("nan")  # in the third batch of 10
    with pytest.raises(FloatingPointError, match="step 3 of 10"):
        fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=5, batch_size=10, shuffle=False)
    opt = _sgd(twin)
    for i in (0, 10):
        opt.zero_grad()
        nn.functional.mse_loss(twin(X[i : i + 10]), y[i : i + 10]).backward()
        opt.step()
    assert torch.equal(model.weight, twin.weight) and torch.equal(model.bias, twin.bias)


def test_non_finite_loss_in_a_dataloader_names_the_step():
    """The step count is named for DataLoader data too."""
    model, X, y = _linear_problem()
    y = y.clone()
    y[95] = float("nan")
    loader = DataLoader(TensorDataset(X, y), batch_size=25)
    with pytest.raises(FloatingPointError, match="nan at epoch 1, step 4 of 4"):
        fit(model, nn.MSELoss(), _sgd(model), loader, epochs=2)


def test_divergence_is_caught_in_a_later_epoch():
    """A learning rate that makes training blow up stops with the epoch it happened in."""
    model, X, y = _linear_problem()
    with pytest.raises(FloatingPointError, match=r"at epoch \d+, step 1 of 1"):
        fit(model, nn.MSELoss(), _sgd(model, lr=50.0), (X, y), epochs=500)


def test_clip_grad_norm_limits_the_step():
    """With clip_grad_norm=c, one SGD step with lr 1 moves the parameters by at most c."""
    model, X, y = _linear_problem()
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    fit(model, nn.MSELoss(), _sgd(model, lr=1.0), (X, y), epochs=1, clip_grad_norm=1e-3)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm().item() == pytest.approx(1e-3, rel=1e-4)


class _StopAt(Callback):
    """Records the epochs it sees; asks to stop after ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch
        self.seen = []

    def on_epoch_end(self, model, history):
        self.seen.append(history.epochs)
        return history.epochs == self.epoch


def test_callbacks_stop_training_and_all_see_each_epoch():
    """Training stops after the epoch where a callback returns True; every callback ran."""
    model, X, y = _linear_problem()
    a, b = _StopAt(3), _StopAt(-1)
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=10, callbacks=[a, b])
    assert history.epochs == 3 and a.seen == b.seen == [1, 2, 3]
    single = _StopAt(2)
    assert fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=10, callbacks=single).epochs == 2


class _Recorder(Callback):
    """Records each hook call as (hook, model, history, epochs completed)."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, model, history):
        self.calls.append(("begin", model, history, history.epochs))

    def on_epoch_end(self, model, history):
        self.calls.append(("epoch", model, history, history.epochs))
        return False

    def on_train_end(self, model, history):
        self.calls.append(("end", model, history, history.epochs))

    @property
    def hooks(self):
        return [call[0] for call in self.calls]


class _FailAt(_Recorder):
    """A _Recorder whose on_epoch_end raises after epoch ``epoch``."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, model, history):
        super().on_epoch_end(model, history)
        if history.epochs == self.epoch:
            raise RuntimeError("callback failed")
        return False


def test_callback_hooks_get_the_model_and_the_history_in_order():
    """Every hook gets the trained model and the History fit returns: begin, each epoch, end."""
    model, X, y = _linear_problem()
    recorder = _Recorder()
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3, callbacks=recorder)
    assert recorder.hooks == ["begin", "epoch", "epoch", "epoch", "end"]
    assert all(m is model and h is history for _, m, h, _ in recorder.calls)
    assert [epochs for *_, epochs in recorder.calls] == [0, 1, 2, 3, 3]


def test_callback_base_hooks_do_nothing_and_never_stop():
    """A bare Callback's hooks return None, False and None, so fit with it runs every epoch."""
    model, X, y = _linear_problem()
    cb, history = Callback(), History()
    assert cb.on_train_begin(model, history) is None
    assert cb.on_epoch_end(model, history) is False
    assert cb.on_train_end(model, history) is None
    assert fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=4, callbacks=cb).epochs == 4


def test_callbacks_may_come_from_any_iterable():
    """A generator of callbacks is accepted like a list."""
    model, X, y = _linear_problem()
    stopper = _StopAt(2)
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=5,
                  callbacks=(cb for cb in [stopper]))  # fmt: skip
    assert history.epochs == 2 and stopper.seen == [1, 2]


def test_on_train_end_runs_when_a_callback_raises():
    """When on_epoch_end raises, the error propagates and every callback still gets on_train_end."""
    model, X, y = _linear_problem()
    failing, other = _FailAt(2), _Recorder()
    with pytest.raises(RuntimeError, match="callback failed"):
        fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=5, callbacks=[failing, other])
    assert failing.hooks == ["begin", "epoch", "epoch", "end"]
    assert other.hooks == ["begin", "epoch", "end"]  # epoch 2 stopped at the failing callback


class _Snapshots(Callback):
    """Keeps a copy of the model's state_dict after every epoch."""

    def __init__(self):
        self.states = []

    def on_epoch_end(self, model, history):
        self.states.append({k: v.clone() for k, v in model.state_dict().items()})
        return False


def test_early_stopping_restores_the_best_weights_when_training_raises(readback):
    """After a NaN loss in epoch 2, EarlyStopping has loaded the weights of epoch 1 back."""
    model, X, y = _linear_problem()
    training_steps = []

    def nan_at_step_6(out, target):
        loss = nn.functional.mse_loss(out, target)
        if torch.is_grad_enabled():  # a training step, not validation
            training_steps.append(loss)
            if len(training_steps) == 6:
                return loss * float("nan")
        return loss

    stopper, snapshots = EarlyStopping(patience=5), _Snapshots()
    with pytest.raises(FloatingPointError, match="at epoch 2, step 2 of 4"):
        fit(model, nan_at_step_6, _sgd(model), (X, y), epochs=5, batch_size=25,
            val_data=(X, y), callbacks=[stopper, snapshots])  # fmt: skip
    assert stopper.best_epoch == 1 and len(snapshots.states) == 1
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in snapshots.states[0].items())


def test_early_stopping_on_flat_loss_waits_patience_epochs():
    """With a loss that never improves after epoch 1, training stops after 1 + patience epochs."""
    model, X, y = _linear_problem()
    stopper = EarlyStopping(patience=3, monitor="train_loss")
    history = fit(model, nn.MSELoss(), _sgd(model, lr=0.0), (X, y), epochs=50, callbacks=[stopper])
    assert history.epochs == 4
    assert stopper.best_epoch == 1 and stopper.stopped_epoch == 4


def test_early_stopping_restores_the_best_weights():
    """When validation loss only gets worse, the weights of the best epoch come back."""
    model, X, y = _linear_problem()
    Xv, yv = X, -y  # learning the training data makes this validation set worse
    stopper = EarlyStopping(patience=2)
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=30, val_data=(Xv, yv),
                  callbacks=[stopper])  # fmt: skip
    assert history.epochs == 3 and stopper.best_epoch == 1
    assert history.val_loss[0] < history.val_loss[1] < history.val_loss[2]
    assert evaluate(model, nn.MSELoss(), (Xv, yv)) == pytest.approx(history.val_loss[0], rel=1e-6)


def test_early_stopping_without_restore_keeps_the_last_weights():
    """restore_best=False leaves the model as it was after the last epoch."""
    model, X, y = _linear_problem()
    stopper = EarlyStopping(patience=1, restore_best=False)
    history = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=30, val_data=(X, -y),
                  callbacks=stopper)  # fmt: skip
    assert evaluate(model, nn.MSELoss(), (X, -y)) == pytest.approx(history.val_loss[-1], rel=1e-6)


def test_early_stopping_min_delta():
    """Improvements smaller than min_delta do not count."""
    stopper = EarlyStopping(patience=1, min_delta=0.5, monitor="train_loss")
    model = nn.Linear(1, 1)
    stopper.on_train_begin(model, History())
    h = History()
    for loss, stop in [(10.0, False), (9.8, True)]:
        h.train_loss.append(loss)
        assert stopper.on_epoch_end(model, h) is stop


def test_early_stopping_on_val_loss_needs_val_data():
    """Monitoring val_loss without val_data is an error that says to pass val_data."""
    model, X, y = _linear_problem()
    with pytest.raises(ValueError, match="pass val_data"):
        fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3, callbacks=[EarlyStopping()])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(patience=-1), ValueError, "patience must be an int >= 0, got -1"),
        (dict(patience=1.5), TypeError, "patience must be an int, got float"),
        (dict(min_delta=-0.1), ValueError, "min_delta must be a finite number >= 0, got -0.1"),
        (dict(monitor="accuracy"), ValueError, "monitor must be one of 'val_loss', 'train_loss'"),
        (dict(restore_best="no"), TypeError, "restore_best must be True or False, got str"),
    ],
)
def test_early_stopping_bad_arguments_get_clear_errors(kwargs, error, match):
    """Each bad EarlyStopping argument raises an error that names it."""
    with pytest.raises(error, match=match):
        EarlyStopping(**kwargs)


def test_progress_bar_on_off_and_default(capsys):
    """progress=True draws a bar with the loss; False and the non-terminal default draw nothing."""
    model, X, y = _linear_problem()
    fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err
    for progress in (False, None):  # capsys's stderr is not a terminal
        fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3, progress=progress)
        assert capsys.readouterr().err == ""


def test_history_repr_and_plot():
    """History reads as its state, and plot() gives a labelled figure with a legend."""
    assert repr(History()) == "History(epochs=0)"
    h = History()
    h.train_loss, h.val_loss = [1.0, 0.1, 0.01], [1.2, 0.2, 0.05]
    assert repr(h) == "History(epochs=3, train_loss=0.01, val_loss=0.05)"
    fig = h.plot()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    plt.close(fig)
    flat = History()
    flat.train_loss = [0.5, 0.4]
    fig, ax = plt.subplots()
    assert flat.plot(ax=ax) is fig and ax.get_yscale() == "linear"
    plt.close(fig)
    with pytest.raises(ValueError, match="no epochs"):
        History().plot()


def test_device_cpu_and_mlp_classification():
    """device='cpu' works, and an MLP learns a separable classification problem."""
    torch.manual_seed(0)
    X = torch.randn(100, 2)
    y = (X[:, 0] > 0).long()
    model = MLP([2, 16, 2])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=15, batch_size=25, device="cpu", seed=0)
    accuracy = (model(X).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_moves_model_and_batches_to_cuda():
    """device='cuda' moves the model and CPU data there, and the seed still reproduces."""
    X, y = make_regression(256, [2.0, 3.0])
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        h = fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=3, batch_size=32,
                val_data=TensorDataset(X, y), device="cuda", seed=0)  # fmt: skip
        assert next(model.parameters()).is_cuda
        runs.append(h.step_loss)
    assert runs[0] == runs[1] and all(math.isfinite(v) for v in runs[0])


class _DuckCallback:
    """Has an on_epoch_end method but is no Callback: the old, duck-typed way."""

    def on_epoch_end(self, model, history):
        return False


def _other_model_optimizer(model):
    return torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            dict(train_data=lambda X, y: (X, y[:-1])),
            ValueError,
            "same length, got 100 inputs and 99",
        ),
        (dict(train_data=lambda X, y: (X[:0], y[:0])), ValueError, "train_data is empty"),
        (dict(train_data=lambda X, y: TensorDataset(X[:0], y[:0])), ValueError, "empty"),
        (dict(train_data=lambda X, y: (X, y, y)), ValueError, "must be \\(X, y\\), got 3"),
        (dict(train_data=lambda X, y: (X.numpy(), y)), TypeError, "X must be a torch.Tensor"),
        (dict(train_data=lambda X, y: X), TypeError, "train_data must be an \\(X, y\\) tuple"),
        (dict(val_data=lambda X, y: (X, y[:5])), ValueError, "val_data: X and y must have"),
        (dict(epochs=0), ValueError, "epochs must be an int >= 1, got 0"),
        (dict(epochs=2.0), TypeError, "epochs must be an int, got float"),
        (dict(epochs=True), TypeError, "epochs must be an int"),
        (dict(batch_size=0), ValueError, "batch_size must be an int >= 1, got 0"),
        (dict(batch_size=-4), ValueError, "batch_size must be an int >= 1, got -4"),
        (dict(batch_size=8.0), TypeError, "batch_size must be an int"),
        (dict(loss_fn=nn.MSELoss(reduction="none")), ValueError, "scalar tensor.*\\(100, 1\\)"),
        (dict(loss_fn=lambda out, y: 1.0), ValueError, "scalar tensor.*float"),
        (dict(loss_fn="mse"), TypeError, "loss_fn must be callable"),
        (dict(optimizer=_other_model_optimizer), ValueError, "none of the model's parameters"),
        (dict(optimizer=lambda m: "sgd"), TypeError, "torch.optim.Optimizer"),
        (dict(model=lambda m: "model"), TypeError, "model must be a torch.nn.Module"),
        (dict(clip_grad_norm=0.0), ValueError, "clip_grad_norm"),
        (dict(progress="yes"), TypeError, "progress must be True, False or None, got str"),
        (dict(shuffle="no"), TypeError, "shuffle must be True or False, got str"),
        (dict(seed=1.0), TypeError, "seed"),
        (dict(callbacks=[object()]), TypeError, "callbacks\\[0\\] must be a gradbook.Callback"),
        (dict(callbacks=[_DuckCallback()]), TypeError, "callbacks\\[0\\] .*got _DuckCallback"),
        (dict(callbacks=[EarlyStopping]), TypeError, "create one with EarlyStopping\\("),
        (dict(callbacks=EarlyStopping), TypeError, "callbacks must be .*EarlyStopping\\("),
        (dict(callbacks=42), TypeError, "callbacks must be a Callback or an iterable"),
        (dict(callbacks="stop"), TypeError, "callbacks must be a Callback or an iterable"),
        (dict(device="nonsense"), ValueError, "device 'nonsense'"),
    ],
)
def test_bad_inputs_get_clear_errors(change, error, match):
    """Each bad input to fit raises an error that names it."""
    model, X, y = _linear_problem()
    kwargs = dict(
        model=model, loss_fn=nn.MSELoss(), optimizer=_sgd(model), train_data=(X, y), epochs=2
    )
    for key, value in change.items():
        if key in ("train_data", "val_data"):
            value = value(X, y)
        elif key in ("optimizer", "model"):
            value = value(model)
        kwargs[key] = value
    args = [kwargs.pop(k) for k in ("model", "loss_fn", "optimizer", "train_data")]
    with pytest.raises(error, match=match):
        fit(*args, **kwargs)


def test_batch_size_with_a_dataloader_is_refused():
    """A DataLoader batches already, so batch_size must stay None."""
    model, X, y = _linear_problem()
    loader = DataLoader(TensorDataset(X, y), batch_size=10)
    with pytest.raises(ValueError, match="batch_size must be None when train_data is a DataLoader"):
        fit(model, nn.MSELoss(), _sgd(model), loader, epochs=1, batch_size=10)


def test_dataloader_batches_must_be_pairs():
    """A DataLoader that yields something other than (inputs, targets) is a clear error."""
    model, X, y = _linear_problem()
    loader = DataLoader(TensorDataset(X, y, y), batch_size=10)
    with pytest.raises(
        TypeError, match="must yield \\(inputs, targets\\) pairs, got list of length 3"
    ):
        fit(model, nn.MSELoss(), _sgd(model), loader, epochs=1)


def test_batch_size_larger_than_data_is_full_batch():
    """A batch size above the number of samples gives one full batch per epoch."""
    model, X, y = _linear_problem()
    assert (
        len(fit(model, nn.MSELoss(), _sgd(model), (X, y), epochs=2, batch_size=1000).step_loss) == 2
    )


# ------------------------------------------------------------------ issue 13: data vs model

_BROADCASTING = [
    nn.MSELoss(),
    nn.L1Loss(),
    nn.HuberLoss(),
    nn.SmoothL1Loss(),
    nn.functional.mse_loss,
    nn.functional.l1_loss,
    nn.functional.huber_loss,
    nn.functional.smooth_l1_loss,
]


def _fit(model, loss_fn, train_data, **kwargs):
    """fit with SGD over ``model``'s parameters, one epoch unless told otherwise."""
    kwargs.setdefault("epochs", 1)
    return fit(model, loss_fn, _sgd(model), train_data, **kwargs)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("loss_fn", _BROADCASTING, ids=lambda f: getattr(f, "__name__", None))
def test_target_of_shape_n_against_output_n_1_is_refused_with_the_fix(loss_fn):
    """y of shape (N,) against an (N, 1) output raises ValueError, with the fix (unsqueeze y)
    and the broadcast it prevents, before any step."""
    model, X, y = _linear_problem(n=40)
    before = _params(model)
    with pytest.raises(ValueError) as info:
        _fit(model, loss_fn, (X, y.squeeze(1)))
    message = str(info.value)
    assert message.startswith(
        "train_data's y has shape (40,), the model outputs (40, 1): use y.unsqueeze(1) "
        "(or y.reshape(-1, 1))"
    )
    assert "broadcast them to (40, 40)" in message
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("loss_fn", [nn.MSELoss(), nn.functional.l1_loss])
def test_target_of_shape_n_1_against_output_n_is_refused_with_the_fix(loss_fn):
    """y of shape (N, 1) against an (N,) output raises ValueError saying to squeeze y."""
    _, X, y = _linear_problem(n=40)
    model = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # outputs (N,)
    with pytest.raises(ValueError, match=r"train_data's y has shape \(40, 1\), the model "
                       r"outputs \(40,\): use y\.squeeze\(1\)"):  # fmt: skip
        _fit(model, loss_fn, (X, y))


def test_target_shape_is_checked_in_batches_for_val_data_and_evaluate():
    """The target-shape check names val_data in fit and data in evaluate, with batch shapes."""
    model, X, y = _linear_problem(n=40)
    with pytest.raises(ValueError, match=r"val_data's y has shape \(10,\), the model outputs "
                       r"\(10, 1\): use y\.unsqueeze\(1\)"):  # fmt: skip
        _fit(model, nn.MSELoss(), (X, y), batch_size=10, val_data=(X, y.squeeze(1)))
    with pytest.raises(ValueError, match=r"data's y has shape \(40,\), the model outputs"):
        evaluate(model, nn.MSELoss(), (X, y.squeeze(1)))
    loader = DataLoader(TensorDataset(X, y.squeeze(1)), batch_size=8)
    with pytest.raises(ValueError, match=r"train_data's y has shape \(8,\), the model outputs"):
        _fit(model, nn.HuberLoss(), loader)


def test_other_target_shapes_are_refused_for_elementwise_losses():
    """A target of another number of columns, or one that cannot broadcast, is refused too."""
    model, X, y = _linear_problem(n=40)
    with pytest.raises(ValueError, match=r"y has shape \(40, 3\), the model outputs \(40, 1\): "
                       r"MSELoss needs targets of the output's shape"):  # fmt: skip
        _fit(model, nn.MSELoss(), (X, y.repeat(1, 3)))
    with pytest.raises(ValueError, match=r"y has shape \(40, 2, 3\).*needs targets of"):
        _fit(model, nn.L1Loss(), (X, torch.zeros(40, 2, 3)))


@pytest.mark.parametrize(
    "loss_fn", [nn.BCEWithLogitsLoss(), nn.functional.binary_cross_entropy_with_logits]
)
def test_binary_cross_entropy_target_shape_gets_the_fix(loss_fn):
    """BCE-with-logits with y of shape (N,) against (N, 1) names train_data's y and the fix."""
    model, X, y = _linear_problem(n=40)
    labels = (y.squeeze(1) > 0).float()  # (40,)
    with pytest.raises(ValueError, match=r"train_data's y has shape \(40,\), the model outputs "
                       r"\(40, 1\): use y\.unsqueeze\(1\)"):  # fmt: skip
        _fit(model, loss_fn, (X, labels))
    _fit(model, loss_fn, (X, labels.unsqueeze(1)))  # the fix works


def test_a_wrapped_loss_is_not_checked():
    """A lambda around a loss is a loss gradbook cannot read, so its targets are not checked."""
    model, X, y = _linear_problem(n=40)
    with pytest.warns(UserWarning, match="target size"):
        _fit(model, lambda out, t: nn.functional.mse_loss(out, t), (X, y.squeeze(1)))


@pytest.mark.parametrize("loss_fn", [nn.CrossEntropyLoss(), nn.functional.cross_entropy])
def test_class_index_targets_of_shape_n_train_with_cross_entropy(loss_fn):
    """(N,) int64 class indices, or (N, C) class probabilities, train with cross-entropy."""
    torch.manual_seed(0)
    X = torch.randn(60, 2)
    y = (X[:, 0] > 0).long()  # (60,)
    model = MLP([2, 8, 2])
    history = fit(model, loss_fn, torch.optim.Adam(model.parameters(), lr=0.05), (X, y),
                  epochs=20, batch_size=20, val_data=(X, y))  # fmt: skip
    assert history.train_loss[-1] < history.train_loss[0]
    probabilities = nn.functional.one_hot(y, 2).float()  # (60, 2): class probabilities
    _fit(model, loss_fn, (X, probabilities))


@pytest.mark.parametrize(
    ("targets", "fix"),
    [
        (lambda y: y.float(), r"use y\.long\(\)"),
        (lambda y: y.int(), r"use y\.long\(\)"),
        (lambda y: y.unsqueeze(1), r"use y\.squeeze\(1\)$"),
        (lambda y: y.unsqueeze(1).float(), r"use y\.squeeze\(1\)\.long\(\)"),
        (lambda y: nn.functional.one_hot(y, 3), r"use y\.float\(\) .* or y\.argmax\(1\)"),
    ],
)
def test_cross_entropy_targets_of_the_wrong_kind_get_the_fix(targets, fix):
    """Float, int32, (N, 1) or one-hot int targets for cross-entropy get a ValueError with a fix."""
    torch.manual_seed(0)
    X = torch.randn(30, 2)
    y = torch.randint(0, 3, (30,))
    model = nn.Linear(2, 3)
    match = r"train_data's y is \w+ of shape .* and the model outputs \(30, 3\): CrossEntropyLoss "
    with pytest.raises(ValueError, match=match + "takes one class index") as info:
        _fit(model, nn.CrossEntropyLoss(), (X, targets(y)))
    assert re.search(fix, str(info.value))


class _Flattening(nn.Module):
    """A model whose first submodule is a Linear, but whose forward flattens the input first."""

    def __init__(self, d_in=4):
        super().__init__()
        self.fc1 = nn.Linear(d_in, 1)

    def forward(self, x):
        return self.fc1(x.reshape(x.shape[0], -1))  # (N, 2, 2) -> (N, 4)


class _ConvNet(nn.Module):
    """A model without a Linear: its input must be (N, 2, L)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 1, kernel_size=1)

    def forward(self, x):
        return self.conv(x).mean(dim=2)  # (N, 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Linear(2, 1),
        lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)),
        lambda: MLP([2, 4, 1]),
        lambda: gradbook.models.SimpleNet(2, 4, 1),
    ],
    ids=["Linear", "Sequential", "MLP", "SimpleNet"],
)
def test_x_with_the_wrong_features_or_dtype_is_refused_before_any_step(make):
    """Wrong features, float64 or int64 X raise ValueError naming train_data's X and the fix."""
    _, X, y = _linear_problem(n=40)
    model = make()
    before = _params(model)
    cases = [
        (torch.randn(40, 3), r"train_data's X has 3 features but the model's first layer "
         r"expects 2 \(X has shape \(40, 3\); the first layer is Linear\(in_features=2"),
        (X.double(), r"train_data's X is float64 but the model's parameters are float32: "
         r"use X\.float\(\) \(or model\.double\(\)\)$"),
        (X.long(), r"train_data's X is int64 but the model's parameters are float32: "
         r"use X\.float\(\)$"),
    ]  # fmt: skip
    for bad_X, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            _fit(model, nn.MSELoss(), (bad_X, y))
        assert info.value.__cause__ is None  # raised before the forward pass, not from it
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_x_mismatch_is_named_for_val_data_and_evaluate():
    """val_data's X and evaluate's data's X get the same checks, naming their argument."""
    model, X, y = _linear_problem(n=40)
    with pytest.raises(ValueError, match="val_data's X has 3 features but the model's first"):
        _fit(model, nn.MSELoss(), (X, y), val_data=(torch.randn(40, 3), y))
    with pytest.raises(ValueError, match="val_data's X is float64 but the model's parameters"):
        _fit(model, nn.MSELoss(), (X, y), val_data=TensorDataset(X.double(), y), batch_size=8)
    with pytest.raises(ValueError, match="data's X has 5 features but the model's first layer"):
        evaluate(model, nn.MSELoss(), (torch.randn(7, 5), y[:7]))


def test_one_dimensional_x_for_a_one_feature_layer_gets_the_unsqueeze_fix():
    """X of shape (N,) for Linear(1, ...) raises ValueError saying to unsqueeze X."""
    X = torch.linspace(-1, 1, 40)  # (40,)
    match = r"train_data's X has shape \(40,\), but the model's first layer .* an X of shape "
    with pytest.raises(ValueError, match=match + r"\(40, 1\): use X\.unsqueeze\(1\)"):
        _fit(nn.Linear(1, 1), nn.MSELoss(), (X, 2 * X.unsqueeze(1)))


def test_x_on_another_device_than_the_model_is_named():
    """X on another device than the parameters raises ValueError naming both devices."""
    model, X, y = _linear_problem(n=40)
    with pytest.raises(ValueError, match=r"train_data's X is on meta but the model's "
                       r"parameters are on cpu: pass device='cpu'"):  # fmt: skip
        _fit(model, nn.MSELoss(), (X.to("meta"), y.to("meta")))


def test_a_model_that_reshapes_its_input_trains_and_its_mismatch_is_explained():
    """A custom model's first Linear does not refuse an input its forward reshapes to fit;
    an input that still does not fit gets the features message, chained to torch's error."""
    _, X, y = _linear_problem(n=40)
    model = _Flattening(d_in=4)
    _fit(model, nn.MSELoss(), (torch.randn(40, 2, 2), y))  # (40, 2, 2) -> (40, 4): fine
    with pytest.raises(ValueError, match="train_data's X has 3 features but the model's first "
                       "layer expects 4") as info:  # fmt: skip
        _fit(model, nn.MSELoss(), (torch.randn(40, 3), y))
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_failing_first_forward_pass_names_the_data_and_the_model():
    """Without a known first layer, the first forward's RuntimeError becomes a ValueError
    that names train_data's X (shape, dtype, device) and the model, chained to the original."""
    _, X, y = _linear_problem(n=40)
    with pytest.raises(ValueError, match=r"the model \(_ConvNet with float32 parameters on cpu\) "
                       r"cannot take the first batch of train_data \(X of shape \(40, 3, 5\), "
                       r"float32, on cpu\): its forward pass raised RuntimeError: "):  # fmt: skip
        _fit(_ConvNet(), nn.MSELoss(), (torch.randn(40, 3, 5), y))
    _fit(_ConvNet(), nn.MSELoss(), (torch.randn(40, 2, 5), y))  # the right input trains


def test_a_lazy_first_layer_is_not_checked():
    """A LazyLinear not yet run learns its input size from the first batch: fit trains it."""
    torch.manual_seed(0)
    X = torch.randn(40, 5)
    model = nn.Sequential(nn.LazyLinear(1))  # in_features is 0 until the first forward
    history = _fit(model, nn.MSELoss(), (X, X.sum(1, keepdim=True)), epochs=20)
    assert model[0].in_features == 5 and history.train_loss[-1] < history.train_loss[0]


def test_data_are_checked_on_the_first_batch_only(monkeypatch):
    """The checks run once per data source (train and validation), not on every step."""
    calls = []
    real = gradbook.train.checked_loss

    def counting(model, loss_fn, xb, yb, name):
        calls.append(name)
        return real(model, loss_fn, xb, yb, name)

    monkeypatch.setattr(gradbook.train, "checked_loss", counting)
    model, X, y = _linear_problem()
    history = _fit(model, nn.MSELoss(), (X, y), epochs=3, batch_size=10, val_data=(X, y))
    assert len(history.step_loss) == 30
    assert calls == ["train_data", "val_data"]


# ------------------------------------------------------------------ issue 13: data kinds


class _Stream(IterableDataset):
    """An IterableDataset without a length: yields (x, y) samples in a fixed order."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __iter__(self):
        return iter(zip(self.X, self.y, strict=True))


class _SizedStream(_Stream):
    """A _Stream that knows its length."""

    def __len__(self):
        return len(self.X)


class _OneShot(IterableDataset):
    """An IterableDataset whose iterator is made once: it is used up after one epoch."""

    def __init__(self, X, y):
        self.samples = iter(zip(X, y, strict=True))

    def __iter__(self):
        return self.samples


def test_fit_trains_on_an_iterable_dataset_with_the_default_shuffle():
    """An IterableDataset trains with shuffle=True, read in its own order (the steps of
    unshuffled tensors), and serves as val_data."""
    model, X, y = _linear_problem()
    twin = nn.Linear(2, 1)
    twin.load_state_dict(model.state_dict())
    history = _fit(model, nn.MSELoss(), _Stream(X, y), epochs=3, batch_size=16)
    ref = _fit(twin, nn.MSELoss(), (X, y), epochs=3, batch_size=16, shuffle=False)
    assert history.step_loss == pytest.approx(ref.step_loss, rel=1e-6)
    assert history.train_loss[-1] < history.train_loss[0]
    val = _fit(model, nn.MSELoss(), (X, y), epochs=1, val_data=_Stream(X, y), batch_size=16)
    assert val.val_loss[0] == pytest.approx(evaluate(model, nn.MSELoss(), (X, y)), rel=1e-5)


def test_an_iterable_dataset_without_a_length_needs_a_batch_size():
    """batch_size=None with an IterableDataset without __len__ is a ValueError naming batch_size."""
    model, X, y = _linear_problem()
    with pytest.raises(ValueError, match="batch_size must be an int when train_data has no "
                       "length"):  # fmt: skip
        _fit(model, nn.MSELoss(), _Stream(X, y))
    with pytest.raises(ValueError, match="batch_size must be an int when data has no length"):
        evaluate(model, nn.MSELoss(), _Stream(X, y))
    assert len(_fit(model, nn.MSELoss(), _SizedStream(X, y), epochs=2).step_loss) == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: TensorDataset(X[:0], y[:0]),
        lambda X, y: DataLoader(TensorDataset(X[:0], y[:0]), batch_size=4),
        lambda X, y: DataLoader(TensorDataset(X[:3], y[:3]), batch_size=4, drop_last=True),
        lambda X, y: _Stream(X[:0], y[:0]),
        lambda X, y: DataLoader(_Stream(X[:0], y[:0]), batch_size=4),
    ],
    ids=["Dataset", "DataLoader", "DataLoader-drop_last", "IterableDataset", "iterable-loader"],
)
def test_empty_data_is_a_value_error_naming_the_argument(make):
    """Empty data of every kind raise ValueError naming train_data, val_data or data."""
    model, X, y = _linear_problem()
    batch = None if isinstance(make(X, y), DataLoader) else 4
    with pytest.raises(ValueError, match="train_data is empty"):
        _fit(model, nn.MSELoss(), make(X, y), batch_size=batch)
    with pytest.raises(ValueError, match="val_data is empty"):
        _fit(model, nn.MSELoss(), (X, y), val_data=make(X, y), batch_size=batch)
    with pytest.raises(ValueError, match="data is empty"):
        evaluate(model, nn.MSELoss(), make(X, y), batch_size=batch)


def test_an_iterable_dataset_used_up_after_one_epoch_is_named():
    """An IterableDataset that yields nothing in epoch 2 says it must start again on iter()."""
    model, X, y = _linear_problem()
    with pytest.raises(ValueError, match="train_data yielded no batches this time, after "
                       r"yielding some before: an IterableDataset must start again"):  # fmt: skip
        _fit(model, nn.MSELoss(), _OneShot(X, y), epochs=2, batch_size=25)


# ------------------------------------------------------------------ issue 13: devices


def _lacks(device):
    kind = torch.device(device).type
    if kind == "mps":
        return not torch.backends.mps.is_available()
    index = torch.device(device).index or 0
    return torch.cuda.device_count() <= index


@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps", torch.device("cuda")])
def test_a_device_this_machine_lacks_is_a_value_error_naming_device(device):
    """fit and evaluate with a device this machine lacks raise ValueError naming device."""
    if not _lacks(device):
        pytest.skip(f"this machine has {device}")
    model, X, y = _linear_problem()
    shown = repr(device) if isinstance(device, str) else f"torch.device('{device}')"
    start = f"device={shown} names a device this machine does not have: "
    with pytest.raises(ValueError, match=re.escape(start)) as info:
        _fit(model, nn.MSELoss(), (X, y), device=device)
    message = str(info.value)
    assert torch.device(device).type.upper() in message and message.endswith("use device='cpu'")
    with pytest.raises(ValueError, match=re.escape(start)):
        evaluate(model, nn.MSELoss(), (X, y), device=device)
    assert next(model.parameters()).device.type == "cpu"  # nothing was moved


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has a CUDA device")
def test_cuda_on_this_cpu_machine_says_why():
    """On this CPU machine device='cuda' says whether torch lacks CUDA or only the device."""
    model, X, y = _linear_problem()
    reason = (
        "no CUDA device is available"
        if torch.backends.cuda.is_built()
        else "this torch has no CUDA support"
    )
    with pytest.raises(ValueError, match=reason):
        _fit(model, nn.MSELoss(), (X, y), device="cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_device_check_does_not_initialise_cuda():
    """Checking device='cuda' (and an index past the last device) leaves CUDA uninitialised."""
    code = (
        "import torch\n"
        "from gradbook._validation import check_device\n"
        "assert check_device('cuda') == torch.device('cuda')\n"
        "try:\n"
        "    check_device(f'cuda:{torch.cuda.device_count()}')\n"
        "except ValueError as exc:\n"
        "    assert 'CUDA device(s) are available' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no error for a missing device index')\n"
        "assert not torch.cuda.is_initialized()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(device=3), TypeError, "device must be a str, a torch.device or None, got int"),
        (dict(device="gpu"), ValueError, "device 'gpu' is not a valid torch device"),
        (dict(seed=2**70), ValueError, r"seed must be an int from -2\*\*63 to 2\*\*64 - 1"),
        (dict(seed=-(2**64)), ValueError, "seed must be an int from"),
        (dict(seed="1"), TypeError, "seed must be an int, got str"),
        (dict(loss_fn=nn.MSELoss), TypeError, r"the class MSELoss itself: create one with "
         r"MSELoss\(\)"),
        (dict(loss_fn=nn.CrossEntropyLoss), TypeError, r"loss_fn must be .*CrossEntropyLoss\(\)"),
        (dict(loss_fn=None), TypeError, "loss_fn must be callable, got NoneType"),
        (dict(clip_grad_norm=float("inf")), ValueError, "clip_grad_norm must be a finite"),
        (dict(clip_grad_norm=True), TypeError, "clip_grad_norm must be a real number or None"),
        (dict(epochs=None), TypeError, "epochs must be an int, got NoneType"),
        (dict(val_data=[1, 2, 3]), ValueError, r"val_data as a tuple must be \(X, y\), got 3"),
        (dict(val_data="val"), TypeError, r"val_data must be an \(X, y\) tuple"),
        (dict(model=nn.Linear), TypeError, r"model must be .*create one with Linear\("),
        (dict(optimizer=torch.optim.SGD), TypeError, r"optimizer must be .*create one with SGD"),
    ],
)  # fmt: skip
def test_more_bad_arguments_of_fit_get_clear_errors(kwargs, error, match):
    """Neighbours of the cases above (device, seed, a loss class, ...) each name the argument."""
    model, X, y = _linear_problem()
    args = dict(model=model, loss_fn=nn.MSELoss(), optimizer=_sgd(model), train_data=(X, y))
    args.update(kwargs)
    args.setdefault("epochs", 1)
    with pytest.raises(error, match=match):
        fit(**args)


def test_an_optimizer_over_frozen_parameters_only_is_refused():
    """An optimizer whose model parameters are all frozen raises ValueError: nothing would train."""
    model, X, y = _linear_problem()
    opt = _sgd(model)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="optimizer holds 2 of the model's parameters and all "
                       r"of them have requires_grad=False \(frozen\)"):  # fmt: skip
        fit(model, nn.MSELoss(), opt, (X, y), epochs=1)
    model.bias.requires_grad_(True)  # one trainable parameter is enough
    fit(model, nn.MSELoss(), opt, (X, y), epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(model="model"), TypeError, "model must be a torch.nn.Module, got str"),
        (dict(loss_fn=nn.MSELoss), TypeError, "the class MSELoss itself"),
        (dict(loss_fn=3), TypeError, "loss_fn must be callable, got int"),
        (dict(batch_size=0), ValueError, "batch_size must be an int >= 1, got 0"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an int or None, got float"),
        (dict(device=1.0), TypeError, "device must be a str, a torch.device or None"),
        (dict(data=(torch.zeros(3, 2),)), ValueError, r"data as a tuple must be \(X, y\)"),
        (dict(data=None), TypeError, r"data must be an \(X, y\) tuple"),
    ],
)
def test_bad_arguments_of_evaluate_get_clear_errors(kwargs, error, match):
    """Each bad argument of evaluate raises an error that names it."""
    model, X, y = _linear_problem()
    args = dict(model=model, loss_fn=nn.MSELoss(), data=(X, y))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        evaluate(**args)
