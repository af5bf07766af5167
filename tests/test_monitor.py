"""Tests for gradbook.monitor: the GradientFlowRecorder callback, with torch as the oracle."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import gradbook.optim
from gradbook.data import make_regression
from gradbook.models import MLP
from gradbook.monitor import GradientFlowRecorder
from gradbook.train import Callback, fit

OPTIMIZERS = {
    "torch SGD": lambda params: torch.optim.SGD(params, lr=0.05),
    "torch Adam": lambda params: torch.optim.Adam(params, lr=0.01),
    "gradbook SGD momentum": lambda params: gradbook.optim.SGD(params, lr=0.05, momentum=0.9),
    "gradbook Adam": lambda params: gradbook.optim.Adam(params, lr=0.01),
}


def _problem(seed=0):
    """A small tanh MLP on a 3-feature regression, and its data."""
    X, y = make_regression(64, [1.0, -2.0, 0.5], seed=seed)
    torch.manual_seed(seed)
    return MLP([3, 8, 8, 1], activation="tanh"), X, y


def _twin(model):
    """A second model with ``model``'s weights."""
    twin = MLP(list(model.sizes), activation=model.activation_name)
    twin.load_state_dict(model.state_dict())
    return twin


def _hand_record(model, optimizer, X, y, *, epochs, batch_size):
    """Norms and ratios measured by hand in a plain loop, batches in order (no shuffling)."""
    grad_norm = {name: [] for name, _ in model.named_parameters()}
    ratio = {name: [] for name, _ in model.named_parameters()}
    for _ in range(epochs):
        for i in range(0, X.shape[0], batch_size):
            optimizer.zero_grad()
            nn.MSELoss()(model(X[i : i + batch_size]), y[i : i + batch_size]).backward()
            before = {name: p.detach().clone() for name, p in model.named_parameters()}
            for name, p in model.named_parameters():
                grad_norm[name].append(p.grad.norm().item())
            optimizer.step()
            for name, p in model.named_parameters():
                change = (p.detach() - before[name]).norm() / before[name].norm()
                ratio[name].append(change.item())
    return grad_norm, ratio


def _fit_recorded(make_optimizer, *, epochs=3, batch_size=16, every=1, **kwargs):
    """Train the problem with fit and a recorder; return recorder, model, data."""
    model, X, y = _problem()
    optimizer = make_optimizer(model.parameters())
    recorder = GradientFlowRecorder(optimizer, every=every)
    fit(
        model,
        nn.MSELoss(),
        optimizer,
        (X, y),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        callbacks=recorder,
        **kwargs,
    )
    return recorder, model, X, y


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_grad_norms_equal_those_of_a_hand_written_loop(make_optimizer):
    """Each recorded gradient norm is the one a plain loop measures at that step."""
    recorder, _, X, y = _fit_recorded(make_optimizer)
    model, _, _ = _problem()
    expected, _ = _hand_record(
        model, make_optimizer(model.parameters()), X, y, epochs=3, batch_size=16
    )
    assert recorder.names == [name for name, _ in model.named_parameters()]
    assert recorder.steps == list(range(1, 13))
    for name in recorder.names:
        assert recorder.grad_norm[name] == pytest.approx(expected[name], rel=1e-6)
    # Not a constant: the norms differ between tensors and from step to step.
    assert len({round(v, 6) for v in recorder.grad_norm["layers.0.weight"]}) == 12


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_update_ratio_equals_the_hand_computed_one(make_optimizer):
    """Each ratio is ||w_after - w_before|| / ||w_before||, as a plain loop measures it."""
    recorder, _, X, y = _fit_recorded(make_optimizer)
    model, _, _ = _problem()
    _, expected = _hand_record(
        model, make_optimizer(model.parameters()), X, y, epochs=3, batch_size=16
    )
    for name in recorder.names:
        assert recorder.update_ratio[name] == pytest.approx(expected[name], rel=1e-5)


def test_sgd_ratio_is_lr_times_grad_norm_over_weight_norm():
    """For plain SGD the first step's ratio is lr ||g|| / ||w_0||: the update is lr g."""
    model, X, y = _problem()
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = GradientFlowRecorder(optimizer)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=1, callbacks=recorder)
    for name in recorder.names:
        expected = 0.05 * recorder.grad_norm[name][0] / initial[name].norm().item()
        assert recorder.update_ratio[name][0] == pytest.approx(expected, rel=1e-5)


def test_recorded_gradient_is_the_clipped_one():
    """With clip_grad_norm, the recorder sees the gradient the optimizer uses: clipped."""
    recorder, *_ = _fit_recorded(OPTIMIZERS["torch SGD"], clip_grad_norm=1e-3)
    for i in range(len(recorder.steps)):
        total = math.sqrt(sum(recorder.grad_norm[n][i] ** 2 for n in recorder.names))
        assert total == pytest.approx(1e-3, rel=1e-4)


@pytest.mark.parametrize(
    ("every", "steps"), [(1, list(range(1, 13))), (5, [1, 6, 11]), (12, [1]), (100, [1])]
)
def test_every_k_records_steps_1_then_every_kth(every, steps):
    """With every=k the recorded steps are 1, 1 + k, 1 + 2k, ..., one entry in each list."""
    recorder, *_ = _fit_recorded(OPTIMIZERS["torch SGD"], every=every)
    assert recorder.steps == steps
    for name in recorder.names:
        assert len(recorder.grad_norm[name]) == len(recorder.update_ratio[name]) == len(steps)


def test_every_k_records_the_same_values_as_every_step():
    """Skipping steps does not change what the recorded steps measure."""
    dense, *_ = _fit_recorded(OPTIMIZERS["torch Adam"])
    sparse, *_ = _fit_recorded(OPTIMIZERS["torch Adam"], every=5)
    for name in dense.names:
        assert sparse.grad_norm[name] == [dense.grad_norm[name][s - 1] for s in sparse.steps]
        assert sparse.update_ratio[name] == [dense.update_ratio[name][s - 1] for s in sparse.steps]


def _hook_count(optimizer):
    return len(optimizer._optimizer_step_pre_hooks) + len(optimizer._optimizer_step_post_hooks)


def test_hooks_are_removed_after_fit():
    """After fit the optimizer holds no hook, and later steps add nothing to the record."""
    model, X, y = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = GradientFlowRecorder(optimizer)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=2, callbacks=recorder)
    assert _hook_count(optimizer) == 0 and not recorder.attached
    nn.MSELoss()(model(X), y).backward()
    optimizer.step()
    assert recorder.steps == [1, 2]


class _Boom(Callback):
    def on_epoch_end(self, model, history):
        raise KeyError("boom")


def test_hooks_are_removed_when_training_raises():
    """When an error stops fit, the hooks are removed all the same and the record kept."""
    model, X, y = _problem()
    optimizer = gradbook.optim.Adam(model.parameters(), lr=0.01)
    recorder = GradientFlowRecorder(optimizer)
    with pytest.raises(KeyError, match="boom"):
        fit(model, nn.MSELoss(), optimizer, (X, y), epochs=5, callbacks=[recorder, _Boom()])
    assert _hook_count(optimizer) == 0 and not recorder.attached
    assert recorder.steps == [1]


def test_plain_loop_with_the_context_manager():
    """attach() in a with block records a hand-written loop and detaches at the end."""
    model, X, y = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    twin = _twin(model)
    expected, _ = _hand_record(
        twin, torch.optim.SGD(twin.parameters(), lr=0.05), X, y, epochs=1, batch_size=64
    )
    with GradientFlowRecorder(optimizer).attach(model) as recorder:
        assert recorder.attached and _hook_count(optimizer) == 2
        optimizer.zero_grad()
        nn.MSELoss()(model(X), y).backward()
        optimizer.step()
    assert _hook_count(optimizer) == 0 and not recorder.attached
    assert recorder.steps == [1]
    for name in recorder.names:
        assert recorder.grad_norm[name] == pytest.approx(expected[name], rel=1e-6)


def test_context_manager_detaches_on_an_error():
    """An exception inside the with block still removes the hooks."""
    model, _, _ = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.raises(KeyError), GradientFlowRecorder(optimizer).attach(model):
        raise KeyError("inside the block")
    assert _hook_count(optimizer) == 0


def test_each_attach_starts_a_fresh_record():
    """A second fit with the same recorder records that run only, from step 1."""
    model, X, y = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = GradientFlowRecorder(optimizer)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=3, callbacks=recorder)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=2, callbacks=recorder)
    assert recorder.steps == [1, 2]
    assert all(len(v) == 2 for v in recorder.grad_norm.values())


def test_only_parameters_the_optimizer_holds_are_recorded():
    """An optimizer over the last layer alone gives a record of that layer alone."""
    model, X, y = _problem()
    optimizer = torch.optim.SGD(model.layers[4].parameters(), lr=0.05)
    recorder = GradientFlowRecorder(optimizer)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=1, callbacks=recorder)
    assert recorder.names == ["layers.4.weight", "layers.4.bias"]


def test_frozen_tensor_records_nan_gradient_and_zero_update():
    """A frozen tensor the optimizer holds has no gradient (nan) and does not move (ratio 0)."""
    model, X, y = _problem()
    model.layers[0].weight.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = GradientFlowRecorder(optimizer)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=2, callbacks=recorder)
    assert all(math.isnan(v) for v in recorder.grad_norm["layers.0.weight"])
    assert recorder.update_ratio["layers.0.weight"] == [0.0, 0.0]
    assert all(v > 0 for v in recorder.update_ratio["layers.0.bias"])


def test_all_zero_weights_give_a_nan_ratio():
    """A tensor that is all zeros before a step has no scale: its ratio is nan, then finite."""
    model, X, y = _problem()
    nn.init.zeros_(model.layers[4].bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = GradientFlowRecorder(optimizer)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=2, callbacks=recorder)
    first, second = recorder.update_ratio["layers.4.bias"]
    assert math.isnan(first) and math.isfinite(second) and second > 0


def test_repr_reads_as_the_record():
    """The repr says how often it records, how many tensors and how many steps."""
    recorder, *_ = _fit_recorded(OPTIMIZERS["torch SGD"], every=5)
    assert repr(recorder) == "GradientFlowRecorder(every=5, 6 tensors, 3 steps recorded)"


@pytest.mark.parametrize("kind", ["grad_norm", "update_ratio"])
def test_plot_draws_one_line_per_tensor_on_a_log_axis(kind):
    """plot() returns a figure with one line per tensor, log y, labelled; the ratio adds 1e-3."""
    recorder, *_ = _fit_recorded(OPTIMIZERS["torch SGD"])
    fig = recorder.plot(kind)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    extra = ["1e-3 (rule of thumb)"] if kind == "update_ratio" else []
    assert labels == recorder.names + extra
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step" and ax.get_title()
    assert list(ax.get_lines()[0].get_ydata()) == getattr(recorder, kind)["layers.0.weight"]
    plt.close(fig)


def test_plot_names_and_ax():
    """plot(names=, ax=) draws the chosen tensors on the given axes, leaving out frozen ones."""
    model, X, y = _problem()
    model.layers[0].weight.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = GradientFlowRecorder(optimizer)
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=2, callbacks=recorder)
    fig, ax = plt.subplots()
    assert recorder.plot(names=["layers.0.weight", "layers.2.weight"], ax=ax) is fig
    assert [line.get_label() for line in ax.get_lines()] == ["layers.2.weight"]
    plt.close(fig)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"optimizer": "sgd"}, TypeError, "optimizer must be a torch.optim.Optimizer, got str"),
        ({"every": 0}, ValueError, "every must be an int >= 1, got 0"),
        ({"every": 2.5}, TypeError, "every must be an int, got float"),
        ({"every": True}, TypeError, "every must be an int, got bool"),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, error, message):
    """A wrong optimizer or every raises with the argument's name, what was expected, what came."""
    model, _, _ = _problem()
    args = {"optimizer": torch.optim.SGD(model.parameters(), lr=0.1), **kwargs}
    optimizer = args.pop("optimizer")
    with pytest.raises(error, match=message):
        GradientFlowRecorder(optimizer, **args)


def test_attach_errors():
    """attach() refuses a non-module, a model the optimizer does not train, and a second attach."""
    model, _, _ = _problem()
    recorder = GradientFlowRecorder(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got list"):
        recorder.attach([])
    with pytest.raises(ValueError, match="holds none of the model's parameters"):
        recorder.attach(nn.Linear(3, 1))
    recorder.attach(model)
    with pytest.raises(RuntimeError, match="attached already: call detach"):
        recorder.attach(model)
    recorder.detach()
    recorder.detach()  # harmless twice
    assert not recorder.attached


def test_fit_with_another_optimizer_is_an_error():
    """A recorder built on a different optimizer than fit's says so after the first epoch."""
    model, X, y = _problem()
    recorder = GradientFlowRecorder(torch.optim.SGD(model.parameters(), lr=0.1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer than the one passed to fit"):
        fit(model, nn.MSELoss(), optimizer, (X, y), epochs=2, callbacks=recorder)
    assert _hook_count(recorder.optimizer) == 0


def test_plot_errors():
    """plot() names a bad kind, an empty record and names it did not record."""
    model, X, y = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    recorder = GradientFlowRecorder(optimizer)
    with pytest.raises(ValueError, match="nothing to plot, no step has been recorded"):
        recorder.plot()
    fit(model, nn.MSELoss(), optimizer, (X, y), epochs=1, callbacks=recorder)
    with pytest.raises(ValueError, match="kind must be one of 'grad_norm', 'update_ratio'"):
        recorder.plot("ratio")
    with pytest.raises(ValueError, match=r"names holds \['layer0'\], which the recorder did"):
        recorder.plot(names=["layer0"])
    with pytest.raises(TypeError, match="names must be a sequence of parameter names, got int"):
        recorder.plot(names=3)
    plt.close("all")
