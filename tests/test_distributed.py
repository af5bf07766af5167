"""Tests for gradbook.distributed, and for fit, evaluate and the checkpoints under DDP.

The workers that ranks run are defined at the top of this module: `launch` gives its
processes the caller's sys.path, in which pytest put this folder, so they import this
module by name (`test_distributed`). Launches cost a few seconds each (every rank starts a
Python and imports torch), so the tests share a few of them through module-scoped
fixtures, and each test checks one part of what came back.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import gradbook.checkpoint
import gradbook.distributed
from gradbook.checkpoint import load_checkpoint, save_checkpoint
from gradbook.distributed import (
    LaunchError,
    fit_on_rank,
    gradients_on_rank,
    launch,
    process_group,
    rank,
    world_size,
)
from gradbook.train import Callback, History, evaluate, fit

N_TRAIN, N_VAL, EPOCHS, BATCH = 32, 15, 3, 8  # 2 ranks x 8 per step = 1 process x 16
TESTS = Path(__file__).resolve().parent
LAUNCH_TIMEOUT_S = 120  # a bug that leaves a rank waiting fails the test instead of hanging it


# --------------------------------------------------------------------------- workers


def _problem(seed: int = 0):
    """A small float64 regression, its MLP and an SGD with momentum, all seeded."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N_TRAIN + N_VAL, 3, generator=g, dtype=torch.float64)
    w = torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)
    y = X @ w + 0.1 * torch.randn(N_TRAIN + N_VAL, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, opt, (X[:N_TRAIN], y[:N_TRAIN]), (X[N_TRAIN:], y[N_TRAIN:])


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _scenario(folder: str) -> dict:
    """Train 2 x 8 with validation, save a checkpoint, evaluate, load a plain checkpoint
    under DDP, and return a large tensor: the run the equivalence tests read."""
    model, opt, train, val = _problem()
    kwargs = {"epochs": EPOCHS, "batch_size": BATCH, "shuffle": False, "progress": False}
    state, history = fit_on_rank(
        model,
        nn.MSELoss(),
        opt,
        train,
        val_data=val,
        checkpoint=os.path.join(folder, "ddp.pt"),
        **kwargs,
    )
    other, _, _, _ = _problem(seed=1)
    load_checkpoint(os.path.join(folder, "plain.pt"), DistributedDataParallel(other))
    return {
        **_checkpoint_cases(folder, model),
        "state": state,
        "history": history,
        "evaluate": evaluate(model, nn.MSELoss(), val, batch_size=4),
        "loaded_under_ddp": _cpu_state(other),
        "tensor": torch.linspace(0, 1, 10**6, dtype=torch.float64) * (rank() + 1),
        "rank": rank(),
        "world_size": world_size(),
        "env": (os.environ["RANK"], os.environ["LOCAL_RANK"], os.environ["WORLD_SIZE"]),
        "threads": torch.get_num_threads(),
    }


def _checkpoint_cases(folder: str, model: nn.Module) -> dict:
    """save_checkpoint with a slow rank 0 (does every rank wait for the file?), and into a
    folder that does not exist (does every rank raise?)."""
    write = gradbook.checkpoint._write_atomically

    def slow_write(path, payload):
        time.sleep(1.0)
        write(path, payload)

    if rank() == 0:
        gradbook.checkpoint._write_atomically = slow_write
    dist.barrier()  # both ranks call save_checkpoint at once: rank 1 is not behind
    try:
        save_checkpoint(os.path.join(folder, "slow.pt"), model)
    finally:
        gradbook.checkpoint._write_atomically = write
    exists = os.path.exists(os.path.join(folder, "slow.pt"))
    try:
        save_checkpoint(os.path.join(folder, "missing", "x.pt"), model)
        error = None
    except Exception as exc:
        error = type(exc).__name__
    return {"slow_exists": exists, "missing_folder_error": error}


class _Recorder(nn.Module):
    """A linear model that records the sample ids (column 0 of its input) it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.seen: list[list[int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x[:, 0].round().long().tolist())
        return self.linear(x)


def _shuffled_runs() -> dict:
    """fit with shuffle=True on tensors, a Dataset and a DataLoader: the ids each step saw;
    and what a progress bar wrote on this rank."""
    X = torch.stack([torch.arange(N_TRAIN, dtype=torch.float32), torch.randn(N_TRAIN)], 1)
    y = torch.randn(N_TRAIN, 1)
    runs = {}
    for kind, data, kwargs in (
        ("tensors", (X, y), {"batch_size": 4}),
        ("dataset", TensorDataset(X, y), {"batch_size": 4, "seed": 3}),
        ("dataloader", DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True), {}),
    ):
        torch.manual_seed(0)
        model = _Recorder()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        fit(model, nn.MSELoss(), opt, data, epochs=EPOCHS, shuffle=True, progress=False, **kwargs)
        runs[kind] = model.seen
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        model = _Recorder()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        fit(model, nn.MSELoss(), opt, (X, y), epochs=2, batch_size=8, progress=True)
    runs["progress"] = stderr.getvalue()
    model = _Recorder()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    runs["stopped"] = fit(model, nn.MSELoss(), opt, (X, y), epochs=3, callbacks=_StopOnRankOne())
    return runs


class _StopOnRankOne(Callback):
    """Asks to stop after the first epoch, on rank 1 only."""

    def on_epoch_end(self, model, history):
        return rank() == 1


def _fails_on_rank_one() -> None:
    """Rank 1 raises at once; rank 0 waits in a barrier for it, forever."""
    if rank() == 1:
        raise ValueError(f"rank 1 fails at t={time.time():.3f}")
    dist.barrier()


def _sleeps() -> None:
    time.sleep(60)


def _returns(value):
    return value


def _children() -> set[int]:
    """The process ids of this process's children (Linux)."""
    found: set[int] = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
            found |= {int(pid) for pid in f.read().split()}
    return found


needs_proc_children = pytest.mark.skipif(
    not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"),
    reason="needs Linux's /proc/<pid>/task/<tid>/children to list child processes",
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def single():
    """fit and evaluate in this one process, with the doubled batch (16 per step)."""
    model, opt, train, val = _problem()
    history = fit(
        model, nn.MSELoss(), opt, train, epochs=EPOCHS, batch_size=2 * BATCH, shuffle=False,
        val_data=val, progress=False,
    )  # fmt: skip
    return {
        "state": _cpu_state(model),
        "history": history,
        "evaluate": evaluate(model, nn.MSELoss(), val),
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder holding plain.pt, a checkpoint of a plain model (seed 2)."""
    path = tmp_path_factory.mktemp("distributed")
    model, _, _, _ = _problem(seed=2)
    save_checkpoint(path / "plain.pt", model)
    return path


@pytest.fixture(scope="module")
def launched(folder):
    """`_scenario` on 2 gloo ranks through launch."""
    return launch(_scenario, str(folder), nprocs=2, timeout=LAUNCH_TIMEOUT_S)


@pytest.fixture(scope="module")
def shuffled():
    """`_shuffled_runs` on 2 gloo ranks through launch."""
    return launch(_shuffled_runs, nprocs=2, timeout=LAUNCH_TIMEOUT_S)


@pytest.fixture
def one_rank_group(tmp_path):
    """A gloo process group of this process alone, destroyed afterwards."""
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()


def _max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def _close(xs: list[float], ys: list[float]) -> bool:
    return len(xs) == len(ys) and all(abs(x - y) <= 1e-10 for x, y in zip(xs, ys, strict=True))


# --------------------------------------------------------------------------- fit under DDP


def test_two_ranks_reach_the_parameters_of_one_process_with_the_doubled_batch(launched, single):
    """2 ranks x 8 samples per step end, on every rank, with the parameters of 1 x 16."""
    for result in launched:
        assert _max_difference(result["state"], single["state"]) < 1e-10


def test_history_holds_the_global_means_on_every_rank(launched, single):
    """Every rank's History (steps, epochs, validation) is that of 1 process x 16."""
    expected = single["history"]
    for result in launched:
        history = result["history"]
        assert isinstance(history, History)
        assert _close(history.step_loss, expected.step_loss)
        assert _close(history.train_loss, expected.train_loss)
        assert _close(history.val_loss, expected.val_loss)


def test_evaluate_under_ddp_is_the_mean_over_all_the_data(launched, single):
    """evaluate on 2 ranks over 15 samples (8 and 7) gives, on both, the mean over all 15."""
    for result in launched:
        assert abs(result["evaluate"] - single["evaluate"]) < 1e-10


def test_launch_returns_results_by_rank_with_torchrun_environment(launched):
    """Results come ordered by rank; each rank had RANK, LOCAL_RANK, WORLD_SIZE set, 1 thread."""
    assert [r["rank"] for r in launched] == [0, 1]
    assert [r["world_size"] for r in launched] == [2, 2]
    assert [r["env"] for r in launched] == [("0", "0", "2"), ("1", "1", "2")]
    assert [r["threads"] for r in launched] == [1, 1]


def test_tensors_in_the_results_arrive_intact(launched):
    """A 1e6-element float64 tensor returned by each rank arrives with its exact values."""
    for r, result in enumerate(launched):
        expected = torch.linspace(0, 1, 10**6, dtype=torch.float64) * (r + 1)
        assert result["tensor"].dtype == torch.float64
        assert torch.equal(result["tensor"], expected)


@pytest.mark.parametrize("kind", ["tensors", "dataset", "dataloader"])
def test_shuffled_shards_are_disjoint_and_change_every_epoch(shuffled, kind):
    """With shuffle on, in each epoch the ranks see disjoint halves of the data that
    together cover it, and each rank's order changes from epoch to epoch."""
    steps = N_TRAIN // (4 * 2)  # per rank and epoch: 32 samples, 2 ranks, batches of 4
    epochs = []
    for result in shuffled:
        seen = result[kind]
        assert len(seen) == EPOCHS * steps
        epochs.append([sum(seen[e * steps : (e + 1) * steps], []) for e in range(EPOCHS)])
    for e in range(EPOCHS):
        first, second = epochs[0][e], epochs[1][e]
        assert len(first) == len(second) == N_TRAIN // 2
        assert not set(first) & set(second)
        assert sorted(first + second) == list(range(N_TRAIN))
    for r in range(2):
        assert len({tuple(order) for order in epochs[r]}) == EPOCHS


def test_a_seeded_fit_draws_its_order_from_a_distributed_sampler(shuffled):
    """With seed=3, rank r's samples in epoch e are DistributedSampler(seed=3)'s, epoch e."""
    steps = N_TRAIN // 8
    for r, result in enumerate(shuffled):
        sampler = DistributedSampler(range(N_TRAIN), num_replicas=2, rank=r, seed=3)
        for e in range(EPOCHS):
            sampler.set_epoch(e)
            seen = sum(result["dataset"][e * steps : (e + 1) * steps], [])
            assert seen == list(sampler)


def test_a_callback_that_stops_one_rank_stops_them_all(shuffled):
    """A callback that asks to stop on rank 1 only ends training after that epoch on both
    ranks (rank 0 does not go on alone and wait for rank 1 forever)."""
    assert [r["stopped"].epochs for r in shuffled] == [1, 1]


def test_the_progress_bar_shows_on_rank_zero_only(shuffled):
    """fit(progress=True) draws its bar on rank 0 and writes nothing on rank 1."""
    assert "fit" in shuffled[0]["progress"]
    assert shuffled[1]["progress"] == ""


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_saved_under_ddp_is_one_file_with_plain_keys(launched, folder):
    """save_checkpoint on both ranks leaves one file (no temporary one) with plain keys,
    which loads into a plain model as the trained parameters."""
    assert sorted(p.name for p in folder.iterdir()) == ["ddp.pt", "plain.pt", "slow.pt"]
    saved = torch.load(folder / "ddp.pt", weights_only=True)["model"]
    assert not any(k.startswith("module.") for k in saved)
    model, opt, _, _ = _problem(seed=5)
    assert load_checkpoint(folder / "ddp.pt", model, opt) == {"epochs": EPOCHS}
    assert _max_difference(_cpu_state(model), launched[0]["state"]) == 0


def test_save_checkpoint_returns_on_every_rank_once_the_file_is_there(launched):
    """With rank 0 slow to write, save_checkpoint returns on rank 1 only after the file
    exists: the ranks wait for rank 0."""
    assert [r["slow_exists"] for r in launched] == [True, True]


def test_a_checkpoint_that_rank_zero_cannot_write_raises_on_every_rank(launched):
    """Saving into a missing folder raises FileNotFoundError on rank 0 and a RuntimeError
    on rank 1, instead of leaving rank 1 waiting or returning as if it had worked."""
    errors = [r["missing_folder_error"] for r in launched]
    assert errors == ["FileNotFoundError", "RuntimeError"]


def test_plain_checkpoint_loads_into_a_ddp_model(launched, folder):
    """A checkpoint saved from a plain model loads into a DDP wrapper on every rank."""
    model, _, _, _ = _problem(seed=2)
    for result in launched:
        assert _max_difference(result["loaded_under_ddp"], _cpu_state(model)) == 0


# --------------------------------------------------------------------------- torchrun


@pytest.mark.slow  # torchrun's own start-up: about 10 s, left out of make test-fast
def test_torchrun_runs_the_same_worker_with_the_same_result(launched, tmp_path):
    """`_scenario` under `torchrun --standalone --nproc-per-node 2` gives launch's results."""
    model, _, _, _ = _problem(seed=2)
    save_checkpoint(tmp_path / "plain.pt", model)
    script = tmp_path / "run.py"
    script.write_text(
        "import os, pickle, sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from gradbook.distributed import process_group\n"
        "from test_distributed import _scenario\n"
        "with process_group('gloo'):\n"
        "    result = _scenario(sys.argv[1])\n"
        "with open(os.path.join(sys.argv[1], f\"out_{os.environ['RANK']}.pkl\"), 'wb') as f:\n"
        "    pickle.dump(result, f)\n"
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", "2", str(script), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    for r in range(2):
        with open(tmp_path / f"out_{r}.pkl", "rb") as f:
            result = pickle.load(f)
        assert _max_difference(result["state"], launched[r]["state"]) < 1e-12
        assert _close(result["history"].step_loss, launched[r]["history"].step_loss)


# --------------------------------------------------------------------------- failures


@needs_proc_children
def test_a_rank_that_raises_makes_launch_raise_within_seconds():
    """When rank 1 raises while rank 0 waits for it in a barrier, launch raises a
    LaunchError with rank 1's error and traceback within seconds, and no process is left."""
    before = _children()
    with pytest.raises(LaunchError) as info:
        launch(_fails_on_rank_one, nprocs=2)
    raised_at = time.time()
    error = info.value
    assert error.rank == 1 and error.error_type == "ValueError"
    assert "_fails_on_rank_one" in error.remote_traceback
    assert "rank 1 of 2 raised ValueError: rank 1 fails at" in str(error)
    failed_at = float(str(error).split("t=")[1].split()[0])
    assert raised_at - failed_at < 5
    assert _children() == before


@needs_proc_children
def test_launch_stops_every_rank_after_its_timeout():
    """A worker that outlives timeout= is stopped: TimeoutError, and no process left."""
    before = _children()
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="timeout=1 s"):
        launch(_sleeps, nprocs=2, timeout=1.0)
    assert time.monotonic() - start < 10
    assert _children() == before


def _no_process(*args, **kwargs):
    raise AssertionError("launch started a process")


def _nested_function():
    def worker():
        return 1

    return worker


def _main_function():
    namespace = {"__name__": "__main__"}
    exec("def worker():\n    return 1\n", namespace)
    return namespace["worker"]


@pytest.mark.parametrize(
    "fn", [lambda: 1, _nested_function(), _main_function()], ids=["lambda", "nested", "__main__"]
)
def test_a_function_that_cannot_be_sent_is_refused_before_anything_starts(fn, monkeypatch):
    """A lambda, a nested function or a __main__ function gets a TypeError that says to
    define it in an importable module, and no process is started."""
    monkeypatch.setattr(gradbook.distributed.subprocess, "Popen", _no_process)
    with pytest.raises(TypeError, match="top level of an importable module"):
        launch(fn, nprocs=2)


def test_an_argument_that_cannot_be_sent_is_named(monkeypatch):
    """An unpicklable argument (a lock) is refused before anything starts, by position."""
    monkeypatch.setattr(gradbook.distributed.subprocess, "Popen", _no_process)
    with pytest.raises(TypeError, match=r"argument 1 \(lock\)"):
        launch(_returns, 1, threading.Lock())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"nprocs": 0}, ValueError, "nprocs must be an int >= 1"),
        ({"nprocs": 2.0}, TypeError, "nprocs must be an int"),
        ({"backend": "mpi"}, ValueError, "backend must be one of 'gloo', 'nccl'"),
        ({"threads": True}, TypeError, "threads must be an int"),
        ({"timeout": -1}, ValueError, "timeout must be a finite number > 0"),
    ],
)
def test_launch_checks_its_arguments(kwargs, error, match):
    """launch names a wrong nprocs, backend, threads or timeout."""
    with pytest.raises(error, match=match):
        launch(_returns, 1, **kwargs)


def test_launch_refuses_a_function_that_is_not_callable():
    """fn must be callable."""
    with pytest.raises(TypeError, match="fn must be callable"):
        launch(5)


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="this machine has 2 CUDA devices")
def test_nccl_without_a_gpu_per_process_is_refused():
    """backend='nccl' with fewer CUDA devices than processes is a ValueError, before start."""
    with pytest.raises(ValueError, match="needs one CUDA device per process"):
        launch(_returns, 1, nprocs=2, backend="nccl")


# --------------------------------------------------------------------------- one rank, here


def test_rank_and_world_size_outside_a_group():
    """Outside a process group, rank() is 0 and world_size() is 1."""
    assert (rank(), world_size()) == (0, 1)


def test_fit_takes_a_ddp_model_as_it_is(one_rank_group):
    """fit trains a model already wrapped in DDP, and the wrapped model holds the result,
    equal to fit outside a group."""
    model, opt, train, _ = _problem()
    ddp = DistributedDataParallel(model)
    history = fit(ddp, nn.MSELoss(), opt, train, epochs=2, batch_size=8, shuffle=False)
    plain, plain_opt, _, _ = _problem()
    expected = fit(plain, nn.MSELoss(), plain_opt, train, epochs=2, batch_size=8, shuffle=False)
    assert _max_difference(_cpu_state(model), _cpu_state(plain)) < 1e-12
    assert _close(history.step_loss, expected.step_loss)


def test_a_dataloader_with_a_custom_sampler_is_refused(one_rank_group):
    """Inside a group, a DataLoader whose sampler fit cannot split is a ValueError that
    says to use a DistributedSampler."""
    model, opt, (X, y), _ = _problem()
    loader = DataLoader(TensorDataset(X, y), batch_size=4, sampler=list(range(len(X))))
    with pytest.raises(ValueError, match="custom sampler.*DistributedSampler"):
        fit(model, nn.MSELoss(), opt, loader, epochs=1)


def test_gradients_on_rank_agree_in_a_group_of_one(one_rank_group):
    """In a group of one, all four gradients of gradients_on_rank are the full-batch one,
    and no_sync leaves one all-reduce of two micro-batches."""
    model, _, (X, y), _ = _problem()
    result = gradients_on_rank(model, nn.MSELoss(), X, y)
    for key in ("all_reduce", "ddp", "no_sync"):
        torch.testing.assert_close(result[key], result["local"], rtol=0, atol=1e-12)
    assert result["syncs"] == {"without no_sync": 2, "with no_sync": 1}


def test_process_group_sets_up_and_tears_down(tmp_path):
    """process_group initialises the default group for its body and destroys it after."""
    with process_group("gloo", init_method=f"file://{tmp_path / 'r'}", rank=0, world_size=1):
        assert dist.is_initialized() and world_size() == 1
    assert not dist.is_initialized()


# --------------------------------------------------------------------------- CUDA / NCCL


def _on_gpus() -> dict:
    model, opt, train, _ = _problem()
    state, history = fit_on_rank(
        model, nn.MSELoss(), opt, train, epochs=EPOCHS, batch_size=BATCH, shuffle=False
    )
    return {"device": str(next(model.parameters()).device), "state": state, "history": history}


@pytest.mark.cuda
@pytest.mark.skipif(
    not torch.cuda.is_available() or not dist.is_nccl_available(),
    reason="needs a CUDA device and NCCL (this machine has neither, or torch is CPU-only)",
)
def test_nccl_trains_each_rank_on_its_own_gpu():
    """With NCCL, rank r trains on cuda:r and reaches the parameters of one CPU process
    with the global batch, in float64."""
    n = min(2, torch.cuda.device_count())
    results = launch(_on_gpus, nprocs=n, backend="nccl")
    model, opt, train, _ = _problem()
    fit(model, nn.MSELoss(), opt, train, epochs=EPOCHS, batch_size=n * BATCH, shuffle=False)
    for r, result in enumerate(results):
        assert result["device"] == f"cuda:{r}"
        assert _max_difference(result["state"], _cpu_state(model)) < 1e-10
