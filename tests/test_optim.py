"""Tests for gradbook.optim: same trajectories as torch.optim, state, groups, validation."""

from __future__ import annotations

import copy
import inspect
import io
import itertools

import pytest
import torch

from gradbook import optim

STEPS = 200
RTOL = 1e-9

X = torch.linspace(-2, 2, 96, dtype=torch.float64).reshape(32, 3)  # (N, d_in)
Y = torch.stack([X.sin().sum(1), X.prod(1)], dim=1)  # (N, d_out)

TORCH_TWIN = {
    optim.SGD: torch.optim.SGD,
    optim.RMSprop: torch.optim.RMSprop,
    optim.Adam: torch.optim.Adam,
    optim.AdamW: torch.optim.AdamW,
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: extra intra-op threads only add contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _grid(**options: list) -> list[dict]:
    """Every combination of the given option values, as keyword dicts."""
    names = list(options)
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*options.values())
    ]


SGD_CASES = [
    kw
    for kw in _grid(
        momentum=[0.0, 0.9], dampening=[0.0, 0.5], weight_decay=[0.0, 1e-2], nesterov=[False, True]
    )
    if not kw["nesterov"] or (kw["momentum"] > 0 and kw["dampening"] == 0)
]
RMSPROP_CASES = _grid(momentum=[0.0, 0.9], centered=[False, True], weight_decay=[0.0, 1e-2])
ADAM_CASES = _grid(weight_decay=[0.0, 1e-2], amsgrad=[False, True])
ADAMW_CASES = _grid(weight_decay=[0.0, 1e-1], amsgrad=[False, True])

PARITY_CASES = (
    [(optim.SGD, dict(lr=0.05, **kw)) for kw in SGD_CASES]
    + [(optim.RMSprop, dict(lr=1e-2, **kw)) for kw in RMSPROP_CASES]
    + [(optim.Adam, dict(lr=1e-2, **kw)) for kw in ADAM_CASES]
    + [(optim.AdamW, dict(lr=1e-2, **kw)) for kw in ADAMW_CASES]
    + [
        (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
        (optim.RMSprop, dict(lr=1e-2, momentum=0.9, centered=True, maximize=True)),
        (optim.Adam, dict(lr=1e-2, amsgrad=True, maximize=True)),
        (optim.AdamW, dict(lr=1e-2, amsgrad=True, maximize=True)),
    ]
)

# One configuration per class that exercises every piece of its state.
FULL_STATE_CASES = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=1e-2)),
    (optim.RMSprop, dict(lr=1e-2, momentum=0.9, centered=True, weight_decay=1e-2)),
    (optim.Adam, dict(lr=1e-2, amsgrad=True, weight_decay=1e-2)),
    (optim.AdamW, dict(lr=1e-2, amsgrad=True)),
]


def _case_id(case: tuple) -> str:
    cls, kwargs = case
    return cls.__name__ + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def make_model(seed: int = 0) -> torch.nn.Module:
    """A small float64 MLP, 3 -> 8 -> 2, initialised from ``seed``."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)
    ).double()


def objective(model: torch.nn.Module, maximize: bool, batch: slice = slice(None)) -> torch.Tensor:
    """The MSE on (a batch of) the data; negated when the optimizer maximizes, so it still fits."""
    device = next(model.parameters()).device
    loss = torch.nn.functional.mse_loss(model(X[batch].to(device)), Y[batch].to(device))
    return -loss if maximize else loss


def train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int, maximize=False) -> None:
    """``steps`` steps on mini-batches of 8, cycling through the data every 4 steps."""
    for i in range(steps):
        opt.zero_grad()
        start = 8 * (i % 4)
        objective(model, maximize, slice(start, start + 8)).backward()
        opt.step()


def assert_same_params(a: torch.nn.Module, b: torch.nn.Module, rtol: float = RTOL) -> None:
    """Every parameter of ``a`` equals ``b``'s to ``rtol`` relative to the tensor's scale."""
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        scale = pb.detach().abs().max().item()
        torch.testing.assert_close(
            pa, pb, rtol=rtol, atol=rtol * scale, msg=lambda m, name=name: f"{name}: {m}"
        )


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("case", PARITY_CASES, ids=_case_id)
def test_same_trajectory_as_torch(case):
    """200 steps of gradbook's optimizer land where torch.optim's do, to 1e-9 relative."""
    cls, kwargs = case
    ours, theirs = make_model(), make_model()
    maximize = kwargs.get("maximize", False)
    loss_before = torch.nn.functional.mse_loss(ours(X), Y).item()

    train(ours, cls(ours.parameters(), **kwargs), STEPS, maximize)
    train(theirs, TORCH_TWIN[cls](theirs.parameters(), **kwargs), STEPS, maximize)

    assert_same_params(ours, theirs)
    # A trajectory that went nowhere would match trivially: make sure it learned.
    assert torch.nn.functional.mse_loss(ours(X), Y).item() < 0.9 * loss_before


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", FULL_STATE_CASES, ids=_case_id)
def test_same_trajectory_as_torch_on_cuda(case):
    """On a GPU, where torch.optim defaults to its foreach kernels, the trajectories agree."""
    _check_parity_on(torch.device("cuda"), case)


def _check_parity_on(device: torch.device, case: tuple) -> None:
    cls, kwargs = case
    ours, theirs = make_model().to(device), make_model().to(device)
    train(ours, cls(ours.parameters(), **kwargs), STEPS)
    train(theirs, TORCH_TWIN[cls](theirs.parameters(), **kwargs), STEPS)
    assert next(ours.parameters()).device.type == device.type
    assert_same_params(ours, theirs)


@pytest.mark.parametrize("case", FULL_STATE_CASES, ids=_case_id)
def test_state_dict_resume_continues_the_same_trajectory(case):
    """A state_dict saved mid-run and loaded into a fresh optimizer continues identically."""
    cls, kwargs = case
    model = make_model()
    opt = cls(model.parameters(), **kwargs)
    train(model, opt, STEPS // 2)

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, buffer)
    train(model, opt, STEPS // 2)

    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    resumed = make_model(seed=1)  # different weights, overwritten by the checkpoint
    resumed.load_state_dict(checkpoint["model"])
    # A different lr too: load_state_dict must restore the saved hyperparameters.
    resumed_opt = cls(resumed.parameters(), **{**kwargs, "lr": 123.0})
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    assert resumed_opt.param_groups[0]["lr"] == kwargs["lr"]
    train(resumed, resumed_opt, STEPS // 2)

    assert torch.equal(flat(resumed), flat(model))


@pytest.mark.parametrize(
    ("cls", "keys"),
    [
        (optim.SGD, {"momentum_buffer"}),
        (optim.RMSprop, {"step", "square_avg", "grad_avg", "momentum_buffer"}),
        (optim.Adam, {"step", "m", "v", "v_max"}),
        (optim.AdamW, {"step", "m", "v", "v_max"}),
    ],
)
def test_state_uses_the_names_of_the_equations(cls, keys):
    """The per-parameter state is keyed by the docstring's names, and t counts the steps."""
    kwargs = dict(FULL_STATE_CASES)[cls]
    model = make_model()
    opt = cls(model.parameters(), **kwargs)
    train(model, opt, 3)
    for p in model.parameters():
        assert set(opt.state[p]) == keys
        if "step" in keys:
            assert opt.state[p]["step"] == 3


@pytest.mark.parametrize("case", FULL_STATE_CASES, ids=_case_id)
def test_parameters_without_gradient_are_skipped(case):
    """A parameter whose grad is None is neither moved nor given (or changed) state."""
    cls, kwargs = case
    model = make_model()
    never = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))  # never gets a gradient
    opt = cls([*model.parameters(), never], **kwargs)
    train(model, opt, 5)
    assert torch.equal(never.detach(), torch.ones(4, dtype=torch.float64))
    assert never not in opt.state

    # A parameter that had state and then loses its gradient keeps both as they were.
    first = model[0].weight
    state_before = copy.deepcopy(opt.state[first])
    value_before = first.detach().clone()
    opt.zero_grad()  # sets every grad to None
    objective(model, maximize=False).backward()
    first.grad = None
    opt.step()
    assert torch.equal(first.detach(), value_before)
    for key, value in opt.state[first].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, state_before[key]), key
        else:
            assert value == state_before[key], key


@pytest.mark.parametrize("case", FULL_STATE_CASES, ids=_case_id)
def test_param_groups_with_different_lr(case):
    """Each param group steps with its own lr, as in torch.optim; lr=0 freezes a group."""
    cls, kwargs = case
    lr = kwargs["lr"]
    ours, theirs, frozen = make_model(), make_model(), make_model()

    def groups(model, second_lr):
        return [
            {"params": model[0].parameters()},
            {"params": model[2].parameters(), "lr": second_lr},
        ]

    train(ours, cls(groups(ours, lr / 3), **kwargs), 50)
    train(theirs, TORCH_TWIN[cls](groups(theirs, lr / 3), **kwargs), 50)
    assert_same_params(ours, theirs)

    last_layer = flat(frozen[2])
    train(frozen, cls(groups(frozen, 0.0), **{**kwargs, "weight_decay": 0.0}), 5)
    assert torch.equal(flat(frozen[2]), last_layer)
    assert not torch.equal(flat(frozen), flat(make_model()))  # the first group did move


@pytest.mark.parametrize("case", FULL_STATE_CASES, ids=_case_id)
def test_closure_and_lr_scheduler(case):
    """step(closure) returns the closure's loss, and an lr scheduler drives both alike."""
    cls, kwargs = case
    losses = {}
    for name, model in (("ours", make_model()), ("theirs", make_model())):
        opt = (cls if name == "ours" else TORCH_TWIN[cls])(model.parameters(), **kwargs)
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)

        def closure(model=model, opt=opt):
            opt.zero_grad()
            loss = objective(model, maximize=False)
            loss.backward()
            return loss

        losses[name] = []
        for _ in range(30):
            losses[name].append(opt.step(closure).item())
            scheduler.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(kwargs["lr"] / 8)
    torch.testing.assert_close(losses["ours"], losses["theirs"], rtol=RTOL, atol=0)


@pytest.mark.parametrize("cls", list(TORCH_TWIN))
def test_defaults_match_torch(cls):
    """Every option gradbook shares with torch.optim has torch's default value."""
    ours = inspect.signature(cls).parameters
    theirs = inspect.signature(TORCH_TWIN[cls]).parameters
    shared = [name for name in ours if name in theirs and name != "params"]
    assert len(shared) == len(ours) - 1  # no option of ours is missing from torch's
    for name in shared:
        assert ours[name].default == theirs[name].default, name


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (optim.SGD, dict(lr=-0.1), r"lr must be a finite number >= 0, got -0\.1"),
        (optim.SGD, dict(lr=float("nan")), r"lr must be a finite number >= 0, got nan"),
        (optim.SGD, dict(lr=float("inf")), r"lr must be a finite number >= 0, got inf"),
        (optim.SGD, dict(momentum=-0.9), r"momentum must be .* got -0\.9"),
        (optim.SGD, dict(dampening=float("nan")), r"dampening must be a finite number, got nan"),
        (optim.SGD, dict(weight_decay=-1e-4), r"weight_decay must be .* got -0\.0001"),
        (optim.SGD, dict(nesterov=True), r"nesterov=True needs momentum > 0.*momentum=0"),
        (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), r"dampening=0\.1"),
        (optim.RMSprop, dict(lr=-1.0), r"lr must be a finite number >= 0"),
        (optim.RMSprop, dict(alpha=-0.5), r"alpha must be a number in \[0, 1\], got -0\.5"),
        (optim.RMSprop, dict(alpha=1.5), r"alpha must be a number in \[0, 1\], got 1\.5"),
        (optim.RMSprop, dict(eps=-1e-8), r"eps must be .* got -1e-08"),
        (optim.RMSprop, dict(momentum=-0.1), r"momentum must be a finite number >= 0"),
        (optim.RMSprop, dict(weight_decay=-0.1), r"weight_decay must be a finite number >= 0"),
        (optim.Adam, dict(lr=-1e-3), r"lr must be a finite number >= 0"),
        (optim.Adam, dict(eps=-1.0), r"eps must be a finite number >= 0"),
        (
            optim.Adam,
            dict(betas=(1.0, 0.999)),
            r"betas\[0\] must be a number in \[0, 1\), got 1\.0",
        ),
        (optim.Adam, dict(betas=(0.9, -0.1)), r"betas\[1\] must be .* got -0\.1"),
        (optim.Adam, dict(weight_decay=-0.1), r"weight_decay must be a finite number >= 0"),
        (optim.AdamW, dict(betas=(0.9, 1.5)), r"betas\[1\] must be a number in \[0, 1\)"),
        (optim.AdamW, dict(weight_decay=-0.1), r"weight_decay must be a finite number >= 0"),
    ],
)
def test_invalid_arguments_raise_value_error(cls, kwargs, message):
    """Out-of-range options raise ValueError naming the argument and the value."""
    with pytest.raises(ValueError, match=message):
        cls(make_model().parameters(), **kwargs)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (optim.SGD, dict(lr="0.1"), r"lr must be a real number, got str"),
        (optim.SGD, dict(nesterov=1), r"nesterov must be True or False, got int"),
        (optim.RMSprop, dict(centered="yes"), r"centered must be True or False, got str"),
        (optim.Adam, dict(betas=0.9), r"betas must be a pair \(beta1, beta2\), got float"),
        (optim.Adam, dict(amsgrad=None), r"amsgrad must be True or False, got NoneType"),
        (optim.AdamW, dict(betas=(0.9, 0.99, 0.999)), r"betas must be a pair"),
    ],
)
def test_wrong_types_raise_type_error(cls, kwargs, message):
    """Options of the wrong type raise TypeError saying what was expected and what came."""
    with pytest.raises(TypeError, match=message):
        cls(make_model().parameters(), **kwargs)


@pytest.mark.parametrize("cls", list(TORCH_TWIN))
def test_param_group_options_are_checked_too(cls):
    """An invalid value given for one param group is rejected like a default would be."""
    model = make_model()
    groups = [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": -1}]
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -1"):
        cls(groups)


def test_param_group_added_later_is_checked_too():
    """add_param_group applies the same checks as the constructor."""
    model = make_model()
    opt = optim.SGD(model[0].parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"momentum must be a finite number >= 0, got -1"):
        opt.add_param_group({"params": model[2].parameters(), "momentum": -1})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize(
    ("group", "error", "message"),
    [
        (
            {"learning_rate": 0.1},
            ValueError,
            r"param group 0 has an unknown option 'learning_rate'; Adam takes lr, ",
        ),
        ({"foreach": True}, ValueError, r"unknown option 'foreach'"),
        (None, ValueError, r"param group 0 must have a 'params' key, got keys \['lr'\]"),
    ],
    ids=["misspelt key", "unsupported torch option", "no params"],
)
def test_malformed_param_groups_are_named(group, error, message):
    """A group with a key the optimizer does not take, or without "params", is refused."""
    params = make_model().parameters()
    group = {"lr": 0.1} if group is None else {"params": params, **group}
    with pytest.raises(error, match=message):
        optim.Adam([group])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (5, r"params must be an iterable of tensors or of dicts \(parameter groups\), got int: 5"),
        ("weights", r"params must be an iterable of tensors .* got str"),
        (torch.ones(2, requires_grad=True), r"params must be .* got one tensor: put it in a list"),
        ({"params": []}, r"params must be .* got one parameter group: put it in a list"),
        (
            [torch.tensor([1, 2])],
            r"params must hold floating-point tensors, got one of torch.int64",
        ),
    ],
    ids=["int", "str", "one tensor", "one group", "integer tensor"],
)
def test_bad_params_raise_type_error(params, message):
    """params that are not an iterable of float tensors or groups raise TypeError saying why."""
    with pytest.raises(TypeError, match=message):
        optim.SGD(params, lr=0.1)


def test_named_parameters_and_scheduler_keys_are_accepted():
    """(name, tensor) pairs and a group's "initial_lr" are torch.optim keys, not typos."""
    model = make_model()
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == [name for name, _ in model.named_parameters()]
    opt = optim.Adam([{"params": model.parameters(), "initial_lr": 0.1}])
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_adamw_shares_adams_step():
    """AdamW is an Adam that inherits its step(); only the weight decay default differs."""
    assert issubclass(optim.AdamW, optim.Adam)
    assert optim.AdamW.step is optim.Adam.step
    assert optim.AdamW(make_model().parameters()).defaults["weight_decay"] == 1e-2
    assert optim.Adam(make_model().parameters()).defaults["weight_decay"] == 0
