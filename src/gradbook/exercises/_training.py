r"""The exercises of part 3, training (tutorials 17 to 21).

One section per tutorial, in reading order; each checker is registered on ``PART`` with
its record. An optimizer step is followed over a whole trajectory against
:mod:`torch.optim`; a training loop is compared with the loop done right and with the
usual bugs; the data-parallel exercises need no processes (the all-reduce and the
sampler are computed on one).
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DistributedSampler

from gradbook._validation import type_name

from ._feedback import Wrong
from ._grading import Grader, Part

__all__ = ["PART"]

PART = Part("training")

# --------------------------------------------------------------------------------------
# 17 Optimizers from their equations: each step followed over a trajectory
# --------------------------------------------------------------------------------------

# f(theta) = 1/2 sum(a theta**2): a steep, a shallow and an almost flat coordinate (its
# tiny gradient is where eps matters)
_CURVATURE = torch.tensor([1.0, 25.0, 1e-8], dtype=torch.float64)
_START = torch.tensor([1.5, -0.8, 2.0], dtype=torch.float64)
_STEPS = 8


def _torch_path(make: Callable) -> list[torch.Tensor]:
    """The iterates of a torch.optim optimizer on the quadratic."""
    theta = nn.Parameter(_START.clone())
    optimizer = make([theta])
    path = []
    for _ in range(_STEPS):
        optimizer.zero_grad()
        (0.5 * (_CURVATURE * theta**2).sum()).backward()
        optimizer.step()
        path.append(theta.detach().clone())
    return path


def _path(step: Callable, n_state: int) -> list[torch.Tensor]:
    """The iterates of ``step(theta, g, *state, t) -> (theta, *state)`` on the quadratic."""
    theta, path = _START.clone(), []
    state = [torch.zeros_like(_START) for _ in range(n_state)]
    for t in range(1, _STEPS + 1):
        theta, *state = step(theta, _CURVATURE * theta, *state, t)
        path.append(theta.detach().clone())
    return path


def _follow(grader: Grader, fn, n_state: int, reference, mistakes: dict, name: str) -> None:
    """Run the learner's step along the trajectory, comparing every iterate."""
    paths = {hint: _path(step, n_state) for hint, step in mistakes.items()}
    theta, state = _START.clone(), [torch.zeros_like(_START) for _ in range(n_state)]
    for t in range(1, _STEPS + 1):
        out = grader.call(fn, theta.clone(), _CURVATURE * theta, *state, t,
                          gives=f"the tuple (theta, {', '.join(name.split()[1:])})")  # fmt: skip
        if not (isinstance(out, tuple | list) and len(out) == n_state + 1):
            raise Wrong(
                f"step {t} returned {type_name(out)}, expected a tuple of "
                f"{n_state + 1} tensors ({name.replace(' ', ', ')})",
                f"return {name.replace(' ', ', ')}",
            )
        theta = grader.tensor(out[0], _START.shape, f"theta after step {t}").clone()
        state = [grader.tensor(s, _START.shape, f"the state after step {t}").clone()
                 for s in out[1:]]  # fmt: skip
        grader.compare(theta, reference[t - 1], f"theta after step {t}",
                       mistakes={h: p[t - 1] for h, p in paths.items()})  # fmt: skip
    grader.passed(f"the same {_STEPS} iterates as torch.optim on an ill-conditioned quadratic")


@PART.exercise("17.1")
def _adam(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8

    def adam(theta, g, m, v, t, *, correct=True, inside=False, ema=True, sign=-1):
        m = b1 * m + (1 - b1 if ema else 1) * g
        v = b2 * v + (1 - b2 if ema else 1) * g**2
        m_hat = m / (1 - b1**t) if correct else m
        v_hat = v / (1 - b2**t) if correct else v
        denom = (v_hat + eps).sqrt() if inside else v_hat.sqrt() + eps
        return theta + sign * lr * m_hat / denom, m, v

    reference = _torch_path(lambda p: torch.optim.Adam(p, lr=lr, betas=(b1, b2), eps=eps))
    _follow(grader, fn, 2, reference, {
        "correct both averages for their start at 0: m_hat = m / (1 - beta1**t), "
        "v_hat = v / (1 - beta2**t)": lambda *a: adam(*a, correct=False),
        "eps goes outside the root: m_hat / (sqrt(v_hat) + eps)": lambda *a: adam(*a, inside=True),
        "the averages weight the new term by (1 - beta): m = beta1 m + (1 - beta1) g":
        lambda *a: adam(*a, ema=False),
        "step against the gradient: theta - lr m_hat / (sqrt(v_hat) + eps)":
        lambda *a: adam(*a, sign=1),
    }, "theta m v")  # fmt: skip


@PART.exercise("17.2")
def _momentum(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    lr, mu = 0.03, 0.9
    reference = _torch_path(lambda p: torch.optim.SGD(p, lr=lr, momentum=mu))
    _follow(grader, fn, 1, reference, {
        "PyTorch adds the gradient itself, v = mu v + g, with no (1 - mu)":
        lambda theta, g, v, t: (theta - lr * (mu * v + (1 - mu) * g), mu * v + (1 - mu) * g),
        "step along the velocity: theta - lr v, not theta - lr g":
        lambda theta, g, v, t: (theta - lr * g, mu * v + g),
    }, "theta v")  # fmt: skip


@PART.exercise("17.3")
def _rmsprop(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    lr, alpha, eps = 0.01, 0.99, 1e-8

    def rms(theta, g, s, t, *, inside=False, root=True, ema=True):
        s = alpha * s + (1 - alpha if ema else 1) * g**2
        denom = (s + eps).sqrt() if inside else (s.sqrt() if root else s) + eps
        return theta - lr * g / denom, s

    reference = _torch_path(lambda p: torch.optim.RMSprop(p, lr=lr, alpha=alpha, eps=eps))
    _follow(grader, fn, 1, reference, {
        "eps goes outside the root: g / (sqrt(s) + eps)": lambda *a: rms(*a, inside=True),
        "divide by the root mean square, sqrt(s)": lambda *a: rms(*a, root=False),
        "s is a running mean: s = alpha s + (1 - alpha) g**2": lambda *a: rms(*a, ema=False),
    }, "theta s")  # fmt: skip


# --------------------------------------------------------------------------------------
# 18 A training loop: find the bug
# --------------------------------------------------------------------------------------


def _regression(grader: Grader, n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    X = grader.randn(n, d, dtype=torch.float32)
    w = torch.arange(1.0, d + 1).unsqueeze(1)  # (d, 1): weights 1, 2, ...
    return X, X @ w + 0.1 * grader.randn(n, 1, dtype=torch.float32)


def _loop(model, X, y, epochs, lr, *, zero=True) -> nn.Module:
    """Full-batch SGD on the MSE, done right (or without zero_grad)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        if zero:
            optimizer.zero_grad()
        nn.MSELoss()(model(X), y).backward()
        optimizer.step()
    return model


def _same_params(a: nn.Module, b: nn.Module) -> bool:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return all(torch.allclose(p, q, atol=1e-6) for p, q in pairs)


@PART.exercise("18.1")
def _loop_order(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for d, epochs, lr in ((3, 20, 0.1), (2, 15, 0.05)):
        X, y = _regression(grader, 40, d)
        model = nn.Linear(d, 1)
        start = copy.deepcopy(model)
        grader.call(fn, model, X, y, epochs, lr, gives=None)
        if _same_params(model, _loop(copy.deepcopy(start), X, y, epochs, lr)):
            continue
        if _same_params(model, start):
            raise Wrong(f"the weights did not move in {epochs} epochs",
                        "zero_grad() between backward() and step() wipes the gradient "
                        "before the step uses it: zero it first")  # fmt: skip
        if _same_params(model, _loop(copy.deepcopy(start), X, y, epochs, lr, zero=False)):
            raise Wrong(
                "the weights moved, but not as full-batch SGD moves them",
                "without zero_grad() each step uses the sum of all past gradients",
            )
        raise Wrong(
            "the final weights differ from full-batch SGD's",
            "forward, loss, zero_grad(), backward(), step(): in that order",
        )
    grader.passed("the weights of full-batch SGD, for 2 data sets")


def _epoch(model, optimizer, X, y, batch_size, generator, *, bug=None) -> None:
    """One shuffled epoch of mini-batch SGD, done right or with one of the usual bugs."""
    perm = torch.randperm(len(X), generator=generator)
    X = X if bug == "no shuffle" else X[perm]
    y = y if bug in ("y", "no shuffle") else y[perm]
    stop = len(X) - batch_size + 1 if bug == "drop last" else len(X)
    for i in range(0, stop, batch_size):
        loss = nn.MSELoss()(model(X[i : i + batch_size]), y[i : i + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _epoch_from(case: tuple, run_epoch: Callable, **kw) -> nn.Module:
    """The model after ``run_epoch`` from the case's start, data and generator seed."""
    start, X, y, batch_size, seed = case
    model = copy.deepcopy(start)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(seed)
    run_epoch(model, optimizer, X.clone(), y.clone(), batch_size, generator, **kw)
    return model


@PART.exercise("18.2")
def _shuffled_epoch(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    hints = {
        "y": "X is shuffled but y is not: index both with the same permutation",
        "drop last": "the last, smaller batch was skipped: it is a step too",
        "no shuffle": "the batches must come in the order of the permutation",
    }
    for n, batch_size in ((30, 8), (24, 6)):
        X, y = _regression(grader, n, 2)
        case = (nn.Linear(2, 1), X, y, batch_size, n)  # the start, the data, the seed
        model = _epoch_from(case, lambda *args: grader.call(fn, *args, gives=None))
        if _same_params(model, _epoch_from(case, _epoch)):
            continue
        bug = next((b for b in hints if _same_params(model, _epoch_from(case, _epoch, bug=b))),
                   None)  # fmt: skip
        raise Wrong(
            f"{n} samples in batches of {batch_size}: the weights differ from one correct epoch",
            hints.get(bug, "compare each line with the five steps"),
        )
    grader.passed("the weights of one correct epoch, for 2 batch sizes")


@PART.exercise("18.3")
def _steps_per_epoch(answer, grader: Grader) -> None:
    grader.number(answer, math.ceil(100 / 32), "the number of steps", mistakes={
        "the last batch, of 4 samples, is a step too": 3,
        "a step takes a whole batch: count the batches, rounding up": 100 / 32,
    })  # fmt: skip
    grader.passed("4 steps: 3 batches of 32 and a last one of 4")


# --------------------------------------------------------------------------------------
# 19 Comparing optimizers
# --------------------------------------------------------------------------------------


@PART.exercise("19.1")
def _adam_first_step(answer, grader: Grader) -> None:
    grader.number(answer, 0.1, "|dw|", rtol=1e-3, mistakes={
        "the bias correction makes m_hat = g and v_hat = g**2 at t = 1: the (1 - beta1) "
        "cancels": 0.01,
    })  # fmt: skip
    grader.passed("lr: m_hat / sqrt(v_hat) = g / |g| at the first step")


@PART.exercise("19.2")
def _rmsprop_first_step(answer, grader: Grader) -> None:
    grader.number(answer, 0.1 / math.sqrt(1 - 0.99), "|dw|", rtol=1e-3, mistakes={
        "RMSprop has no bias correction: after one step s = (1 - alpha) g**2, and the step "
        "is lr / sqrt(1 - alpha)": 0.1,
        "the root: lr |g| / sqrt((1 - alpha) g**2) = lr / sqrt(1 - alpha)": 10.0,
    })  # fmt: skip
    grader.passed("lr / sqrt(1 - alpha) = 1: ten times Adam's first step")


# --------------------------------------------------------------------------------------
# 20 Training on several processes: the sampler and the all-reduce, on one process
# --------------------------------------------------------------------------------------


@PART.exercise("20.1")
def _shard(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for n, world in ((8, 2), (10, 3), (7, 4)):
        for rank in range(world):
            expected = list(DistributedSampler(range(n), world, rank, shuffle=False))
            got = grader.call(fn, n, rank, world, gives="a list of indices")
            got = grader.listed(got, int, "a list of indices", "return a list of ints")
            if got == expected:
                continue
            per = -(-n // world)
            what = f"rank {rank} of {world}, {n} samples: {got}"
            if got == list(range(rank, n, world)):
                raise Wrong(
                    what,
                    f"every rank gets ceil(n / world_size) = {per} samples: "
                    "the sampler pads by repeating the first indices",
                )
            if got == list(range(n))[rank * per : (rank + 1) * per]:
                raise Wrong(
                    what,
                    "the sampler deals the samples out in turn: rank r gets "
                    "r, r + world_size, r + 2 world_size, ...",
                )
            raise Wrong(what, "rank r takes every world_size-th index, starting at r")
    grader.passed("the shard of every rank, for 3 world sizes, padding included")


@PART.exercise("20.2")
def _all_reduce(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    for world, per_rank in ((2, 8), (4, 3)):
        model = nn.Linear(3, 1).double()
        X, y = grader.randn(world * per_rank, 3), grader.randn(world * per_rank, 1)
        grads = []
        for rank in range(world):
            rows = list(DistributedSampler(range(len(X)), world, rank, shuffle=False))
            loss = F.mse_loss(model(X[rows]), y[rows])
            grads.append(torch.autograd.grad(loss, model.weight)[0])
        (full,) = torch.autograd.grad(F.mse_loss(model(X), y), model.weight)
        got = grader.call(fn, [g.clone() for g in grads], gives="a tensor")
        grader.compare(
            got,
            full,
            f"the gradient, {world} ranks of {per_rank} samples",
            mistakes={"every rank's gradient counts: average them all": grads[0]},
            factors={world: f"all_reduce sums: divide by the world size, {world}"},
        )
    grader.passed("the mean of the ranks' gradients is the full-batch gradient")


@PART.exercise("20.3")
def _ddp_steps(answer, grader: Grader) -> None:
    per_rank = math.ceil(100 / 3)  # 34: the sampler pads 100 to 102
    grader.number(answer, math.ceil(per_rank / 8), "the number of steps", mistakes={
        "batch_size is per process: each step takes 8 samples on each of the 3 ranks": 13,
        "each rank's last batch, of 2 samples, is a step too": 4,
        "steps are whole: each rank takes its 34 samples in batches of 8, rounding up":
        100 / 24,
    })  # fmt: skip
    grader.passed("5 steps: each rank takes its 34 samples (100 padded to 102) in batches of 8")


# --------------------------------------------------------------------------------------
# 21 Saving and loading
# --------------------------------------------------------------------------------------


def _trained(grader: Grader, steps: int = 3) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    X, y = grader.randn(16, 3, dtype=torch.float32), grader.randn(16, 2, dtype=torch.float32)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(X), y).backward()
        optimizer.step()
    return model, optimizer


def _same_state(a, b) -> bool:
    """Whether two state_dicts (nested dicts, lists, tensors, numbers) hold the same."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@PART.exercise("21.1")
def _save(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    model, optimizer = _trained(grader)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.pt"
        grader.call(fn, path, model, optimizer, 7, gives=None)
        if not path.exists():
            raise Wrong("no file was written at path", "torch.save(state, path)")
        try:
            saved = torch.load(path, weights_only=True)
        except Exception as exc:  # any refusal is the finding
            raise Wrong(f"torch.load(path, weights_only=True) refused the file: "
                        f"{type(exc).__name__}", "save state_dict()s, plain dicts of "
                        "tensors, not the model or optimizer objects") from None  # fmt: skip
    keys = sorted(saved) if isinstance(saved, dict) else type_name(saved)
    if not isinstance(saved, dict) or set(saved) != {"model", "optimizer", "epoch"}:
        raise Wrong(
            f"the file holds {keys}, expected the keys 'epoch', 'model', 'optimizer'",
            "save one dict: {'model': ..., 'optimizer': ..., 'epoch': epoch}",
        )
    grader.passed("torch.load(path, weights_only=True) reads it")
    if not _same_state(saved["model"], model.state_dict()):
        raise Wrong("'model' is not model.state_dict()", "save model.state_dict()")
    if not _same_state(saved["optimizer"], optimizer.state_dict()):
        raise Wrong(
            "'optimizer' is not optimizer.state_dict()",
            "save optimizer.state_dict(): Adam's m, v and step count live there",
        )
    if saved["epoch"] != 7:
        raise Wrong(f"'epoch' is {saved['epoch']!r}, expected 7", "save the epoch you got")
    grader.passed("the model's and the optimizer's state_dicts, and the epoch")


@PART.exercise("21.2")
def _resume(answer, grader: Grader) -> None:
    fn = grader.function(answer)
    model, optimizer = _trained(grader)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 5}
    fresh = nn.Linear(3, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.05)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.pt"
        torch.save(state, path)
        epoch = grader.call(fn, path, fresh, fresh_optimizer, gives="the epoch")
    if not _same_state(fresh.state_dict(), model.state_dict()):
        raise Wrong(
            "the model you were given does not hold the saved weights",
            "model.load_state_dict(checkpoint['model']), on that model",
        )
    if not _same_state(fresh_optimizer.state_dict(), optimizer.state_dict()):
        raise Wrong("the optimizer does not hold the saved state", "load it too: without "
                    "it Adam restarts with m = v = 0 and t = 0")  # fmt: skip
    if epoch != 5:
        raise Wrong(f"resume returned {epoch!r}, expected the saved epoch, 5",
                    "return checkpoint['epoch']")  # fmt: skip
    grader.passed("the weights and Adam's state, in the objects given; the epoch returned")
