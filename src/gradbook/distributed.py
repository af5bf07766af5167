r"""Training on several processes: start them, join them in a process group, collect results.

Data-parallel training runs the same model on several processes, each on its own slice of
every batch; after each ``backward`` the gradients are averaged with an *all-reduce*,

.. math::

    g = \frac{1}{W} \sum_{r=0}^{W-1} g_r ,

so that every process takes the step the whole batch would have given (gradient
accumulation, carried across processes). :func:`gradbook.train.fit` does this by itself
inside an initialised ``torch.distributed`` process group (see its docstring); this module
starts such a group.

- :func:`launch`: run ``fn(*args)`` on ``nprocs`` new processes joined in a process group
  and return the results by rank, for notebooks, tutorials and tests. A failing rank
  raises :class:`LaunchError` in the caller, with that rank's traceback.
- :func:`process_group`: the context manager every rank runs in, under :func:`launch` and
  under ``torchrun`` alike (it reads torchrun's environment), so the same worker runs
  both ways: ``launch`` is a convenience, never a second engine.
- :func:`rank` and :func:`world_size`: this process's place, 0 and 1 outside a group.
- Workers to launch (the tutorial's, importable as every worker must be):
  :func:`fit_on_rank` (any backend), :func:`gradients_on_rank` and
  :func:`time_ddp_steps` (CPU models, gloo).

How :func:`launch` starts its processes, and why:

- **Fresh interpreters** (what multiprocessing calls the ``spawn`` start method), started
  with ``subprocess`` running this module's ``_run_rank``: multiprocessing's spawn would
  re-run the caller's script top to bottom in every child (it re-imports ``__main__``),
  which breaks a script or a downloaded tutorial without an ``if __name__ == "__main__"``
  guard. The children get the caller's ``sys.path`` and working folder.
- **Plain pickles, through files.** ``fn`` and ``args`` are pickled once, by the caller,
  before anything starts (a lambda or a ``__main__`` function is refused there, with the
  fix); results come back the same way. torch's own multiprocessing would pass tensors
  through shared memory, which a child that has exited can no longer serve.
- **A private rendezvous**: the group meets through a file in a fresh temporary folder
  (``init_method="file://..."``), so two launches never collide over a port.
- **One thread per rank by default**, as ``torchrun`` sets ``OMP_NUM_THREADS=1``: two
  ranks with all the cores each would fight over them.
- **Failure**: the caller polls its children; when one exits with an error, the others
  are stopped at once (they may be blocked in a collective, waiting for the dead one),
  and the error of the rank that failed first is raised.
- **A quick exit**: a rank that has written its result runs the ``atexit`` handlers and
  ends with ``os._exit``, skipping the interpreter's teardown of torch, which takes about
  a second per process.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gradbook._validation import (
    check_callable,
    check_choice,
    check_int,
    check_real,
    type_name,
)
from gradbook.checkpoint import save_checkpoint
from gradbook.train import History, fit

__all__ = [
    "LaunchError",
    "fit_on_rank",
    "gradients_on_rank",
    "launch",
    "process_group",
    "rank",
    "time_ddp_steps",
    "world_size",
]

BACKENDS = ("gloo", "nccl")
_POLL_S = 0.02  # how often the caller looks at its children
_STOP_GRACE_S = 2.0  # how long a stopped child gets to exit before it is killed
# What a child runs: the caller's sys.path first (so that fn's module imports), then _run_rank.
_BOOTSTRAP = (
    "import json, os, sys\n"
    "folder, rank = sys.argv[1], int(sys.argv[2])\n"
    "with open(os.path.join(folder, 'sys_path.json')) as f:\n"
    "    sys.path[:] = json.load(f)\n"
    "from gradbook.distributed import _run_rank\n"
    "_run_rank(folder, rank)\n"
)


class LaunchError(RuntimeError):
    """A rank started by :func:`launch` failed: it raised, or its process died.

    Attributes
    ----------
    rank : int
        The rank that failed first.
    error_type : str
        The name of the exception it raised (``"ValueError"``), or ``""`` when its process
        died without one (killed by a signal, out of memory).
    remote_traceback : str
        That rank's traceback as text (empty when there was none).
    """

    def __init__(self, message: str, rank: int, error_type: str, remote_traceback: str) -> None:
        super().__init__(message)
        self.rank = rank
        self.error_type = error_type
        self.remote_traceback = remote_traceback


# --------------------------------------------------------------------------- the group


def rank() -> int:
    """This process's rank in the current process group; 0 outside one."""
    return dist.get_rank() if _group_initialised() else 0


def world_size() -> int:
    """The number of processes in the current process group; 1 outside one."""
    return dist.get_world_size() if _group_initialised() else 1


def _group_initialised() -> bool:
    return dist.is_available() and dist.is_initialized()


@contextlib.contextmanager
def process_group(
    backend: str = "gloo",
    *,
    init_method: str | None = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> Iterator[None]:
    """Initialise the default ``torch.distributed`` process group for the body, then destroy it.

    With the defaults it reads what ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``: ``init_method="env://"``); :func:`launch` calls it with
    its own rendezvous. With ``backend="nccl"`` it first makes this rank's GPU, number
    ``LOCAL_RANK``, the current CUDA device, so that each rank works on its own GPU.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, default "gloo"
        ``"gloo"`` reduces CPU tensors; ``"nccl"`` reduces CUDA tensors, one GPU per rank.
    init_method : str, optional
        Where the ranks meet, e.g. ``"file:///tmp/x/rendezvous"``; ``None`` is ``"env://"``.
    rank, world_size : int, optional
        This rank and the number of ranks; ``None`` reads them from the environment.

    Examples
    --------
    A script run with ``torchrun --standalone --nproc-per-node 2 train.py``::

        from gradbook.distributed import process_group
        from gradbook.train import fit

        with process_group("gloo"):
            history = fit(model, loss_fn, optimizer, (X, y), epochs=10, batch_size=32)
    """
    check_choice(backend, "backend", BACKENDS)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    kwargs: dict[str, Any] = {"init_method": init_method or "env://"}
    if rank is not None:
        kwargs.update(rank=rank, world_size=world_size)
    dist.init_process_group(backend, **kwargs)
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# --------------------------------------------------------------------------- launch


def launch(
    fn: Callable[..., Any],
    *args: Any,
    nprocs: int = 2,
    backend: str = "gloo",
    threads: int = 1,
    timeout: float | None = None,
) -> list[Any]:
    """Run ``fn(*args)`` on ``nprocs`` new processes joined in a process group.

    Each process (a *rank*, numbered 0 to ``nprocs - 1``) starts a fresh Python, joins the
    group through a file in a fresh temporary folder, sets ``RANK``, ``LOCAL_RANK`` and
    ``WORLD_SIZE`` in its environment as ``torchrun`` does, calls ``fn(*args)``, and
    destroys the group. Inside ``fn``, :func:`gradbook.train.fit` trains data-parallel.

    Parameters
    ----------
    fn : callable
        A function defined with ``def`` at the top level of an importable module (or a
        ``functools.partial`` of one, to pass keyword arguments): every rank imports it by
        name. A lambda, a nested function, or one defined in ``__main__`` (a script, a
        notebook cell, a sphinx-gallery example) cannot be sent and is refused before
        anything starts.
    *args
        Positional arguments, pickled once and unpickled on every rank, so each rank gets
        its own copy (a model and an optimizer over its parameters stay linked).
    nprocs : int, default 2
        Number of processes, >= 1.
    backend : {"gloo", "nccl"}, default "gloo"
        ``"gloo"`` for the CPU; ``"nccl"`` for GPUs, rank ``r`` on ``cuda:r``, which needs
        ``nprocs`` CUDA devices.
    threads : int, default 1
        ``torch`` threads of each rank (``torch.set_num_threads`` and ``OMP_NUM_THREADS``),
        >= 1. One, as ``torchrun`` sets: ranks that each take every core slow each other.
    timeout : float, optional
        Seconds to wait for every rank; past it they are stopped and ``TimeoutError`` is
        raised. ``None`` waits as long as they run.

    Returns
    -------
    list
        ``fn``'s return value on each rank, ordered by rank. They come back pickled
        through files, so tensors arrive intact (a tensor on a GPU comes back on that GPU:
        return ``t.cpu()`` to avoid that).

    Raises
    ------
    TypeError, ValueError
        Before anything starts: for an argument of the wrong kind or value, for ``fn`` or
        an argument that cannot be sent to a process (the message says which and how to
        fix it), and for ``backend="nccl"`` without one CUDA device per process.
    LaunchError
        When a rank raises or dies: the other ranks are stopped, and the message holds
        the failed rank's error and traceback.
    TimeoutError
        When ``timeout`` passes first.

    Examples
    --------
    >>> from gradbook.distributed import launch, world_size
    >>> launch(world_size, nprocs=2)  # doctest: +SKIP
    [2, 2]
    """
    check_callable(fn, "fn")
    check_int(nprocs, "nprocs", minimum=1)
    check_choice(backend, "backend", BACKENDS)
    check_int(threads, "threads", minimum=1)
    timeout = check_real(timeout, "timeout", positive=True, allow_none=True)
    _check_backend(backend, nprocs)
    payload = _pickled_call(fn, args)  # refuses what cannot be sent, before any process starts
    with tempfile.TemporaryDirectory(prefix="gradbook-launch-") as folder:
        _write_inputs(folder, payload, nprocs, backend, threads)
        procs: list[subprocess.Popen] = []
        try:
            for r in range(nprocs):
                procs.append(_start_rank(folder, r, nprocs, threads))
            _wait(procs, folder, timeout)
        finally:
            _stop(procs)  # a no-op when all have exited; otherwise nothing is left behind
        return [_read_result(folder, r) for r in range(nprocs)]


def _check_backend(backend: str, nprocs: int) -> None:
    """The backend exists in this torch and, for NCCL, there is one GPU per process."""
    if not dist.is_available():
        raise ValueError("this torch build has no torch.distributed: launch cannot run")
    if backend == "gloo" and not dist.is_gloo_available():
        raise ValueError("backend='gloo' is not available in this torch build")
    if backend == "nccl":
        count = torch.cuda.device_count()  # through NVML: does not initialise CUDA here
        if not dist.is_nccl_available() or count < nprocs:
            raise ValueError(
                f"backend='nccl' needs one CUDA device per process: nprocs={nprocs}, but "
                f"this machine has {count} CUDA device(s)"
                + ("" if dist.is_nccl_available() else " and this torch has no NCCL")
                + "; use backend='gloo' to train on the CPU"
            )


class _Pickler(pickle.Pickler):
    """A pickler that refuses functions and classes of ``__main__``.

    They pickle by name (``__main__.worker``), and a fresh process has another
    ``__main__``: the error would come from every rank, as an import error. Refused here,
    the caller gets one clear message instead.
    """

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)) and obj.__module__ == "__main__":
            raise pickle.PicklingError(
                f"{obj.__qualname__} is defined in __main__ (a script run directly, a "
                "notebook cell, a sphinx-gallery example), which they cannot import"
            )
        return NotImplemented


def _pickled_call(fn: Callable[..., Any], args: tuple) -> bytes:
    """``(fn, args)`` as one pickle (so objects shared between them stay shared), or a
    TypeError that names what cannot be sent and says how to fix it."""
    try:
        return _dumps((fn, args))
    except Exception:
        pass  # find out which part fails, for the message
    fix = (
        "define it with def at the top level of an importable module (a .py file on the "
        "import path) and import it from there"
    )
    try:
        _dumps(fn)
    except Exception as exc:
        name = getattr(fn, "__qualname__", type_name(fn))
        raise TypeError(
            f"launch cannot send fn ({name}) to new processes: {exc}. To fix it, {fix}"
        ) from None
    for i, arg in enumerate(args):
        try:
            _dumps(arg)
        except Exception as exc:
            raise TypeError(
                f"launch cannot send argument {i} ({type_name(arg)}) to new processes: "
                f"{exc}. Pass plain data, tensors and modules; for a class or a function, "
                f"{fix}"
            ) from None
    raise TypeError("launch cannot send fn and its arguments together to new processes")


def _dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _write_inputs(folder: str, payload: bytes, nprocs: int, backend: str, threads: int) -> None:
    """What every rank reads at start: the caller's sys.path, the settings, ``(fn, args)``."""
    with open(os.path.join(folder, "sys_path.json"), "w") as f:
        json.dump([os.path.abspath(p) if p else os.getcwd() for p in sys.path], f)
    config = {"world_size": nprocs, "backend": backend, "threads": threads}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(folder, "call.pkl"), "wb") as f:
        f.write(payload)


def _start_rank(folder: str, r: int, nprocs: int, threads: int) -> subprocess.Popen:
    """Start rank ``r``: a fresh interpreter, with torchrun's variables in its environment."""
    env = dict(os.environ)
    env.update(
        RANK=str(r),
        LOCAL_RANK=str(r),
        WORLD_SIZE=str(nprocs),
        LOCAL_WORLD_SIZE=str(nprocs),
        OMP_NUM_THREADS=str(threads),
    )
    # Its own process group (POSIX), so that stopping it also stops anything it started.
    return subprocess.Popen(
        [sys.executable, "-c", _BOOTSTRAP, folder, str(r)],
        env=env,
        start_new_session=os.name == "posix",
    )


def _wait(procs: list[subprocess.Popen], folder: str, timeout: float | None) -> None:
    """Return when every rank has exited cleanly; raise as soon as one has not."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        codes = [p.poll() for p in procs]
        if any(code not in (None, 0) for code in codes):
            _stop(procs)  # the others may wait forever in a collective for the dead one
            raise _launch_error(folder, [p.returncode for p in procs])
        if all(code == 0 for code in codes):
            return
        if deadline is not None and time.monotonic() > deadline:
            running = [r for r, code in enumerate(codes) if code is None]
            _stop(procs)
            raise TimeoutError(
                f"launch: rank(s) {', '.join(map(str, running))} still running after "
                f"timeout={timeout:g} s; every rank was stopped"
            )
        time.sleep(_POLL_S)


def _stop(procs: Sequence[subprocess.Popen]) -> None:
    """Stop every child still running (SIGTERM, then SIGKILL after a grace) and reap all."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        _signal(p, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    for p in running:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(p, signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
            p.wait()


def _signal(p: subprocess.Popen, sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(p.pid, sig)  # the child and whatever it started (DataLoader workers)
        else:
            p.terminate()
    except ProcessLookupError:
        pass  # it has just exited


def _launch_error(folder: str, codes: list[int | None]) -> LaunchError:
    """The error of the rank that failed first (by the time it recorded its error)."""
    errors = []
    for r in range(len(codes)):
        path = os.path.join(folder, f"error_{r}.json")
        if os.path.exists(path):
            with open(path) as f:
                errors.append(json.load(f))
    nprocs = len(codes)
    if errors:
        first = min(errors, key=lambda e: e["time"])
        others = sorted(e["rank"] for e in errors if e is not first)
        also = f"; rank(s) {', '.join(map(str, others))} failed too" if others else ""
        message = (
            f"rank {first['rank']} of {nprocs} {first['what']} {first['type']}: "
            f"{first['message']} (the other ranks were stopped{also})\n\n"
            f"Traceback from rank {first['rank']}:\n{first['traceback']}"
        )
        return LaunchError(message, first["rank"], first["type"], first["traceback"])
    r = next(r for r, code in enumerate(codes) if code not in (None, 0))
    code = codes[r]
    how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    message = (
        f"rank {r} of {nprocs} {how} without a Python error (out of memory? a crash in "
        "native code?); the other ranks were stopped"
    )
    return LaunchError(message, r, "", "")


def _read_result(folder: str, r: int) -> Any:
    path = os.path.join(folder, f"result_{r}.pkl")
    if not os.path.exists(path):
        raise LaunchError(
            f"rank {r} exited without returning a result (did fn call os._exit?)", r, "", ""
        )
    with open(path, "rb") as f:
        return pickle.load(f)  # written by our own child, from fn's return value


# --------------------------------------------------------------------------- one rank


def _run_rank(folder: str, r: int) -> None:
    """The body of rank ``r`` (run by ``_BOOTSTRAP``): join the group, call, report."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    torch.set_num_threads(config["threads"])
    what = "could not load fn and its arguments:"
    try:
        with open(os.path.join(folder, "call.pkl"), "rb") as f:
            fn, args = pickle.load(f)
        what = "could not join the process group:"
        store = "file://" + os.path.join(folder, "rendezvous")
        with process_group(
            config["backend"], init_method=store, rank=r, world_size=config["world_size"]
        ):
            what = "raised"
            try:
                result = fn(*args)
            except BaseException as exc:
                _report(folder, r, what, exc, skip_frames=1)  # from fn's frame on
            what = "returned a result that cannot be sent back:"
            _write_result(folder, r, result)
    except BaseException as exc:
        _report(folder, r, what, exc)
    # The atexit handlers run, Python's teardown does not: tearing torch down takes about a
    # second per process, here where nothing is left to clean up.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _report(folder: str, r: int, what: str, exc: BaseException, skip_frames: int = 0) -> None:
    """Record ``exc`` for the caller, then exit at once (the caller stops the other ranks)."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        tb = tb.tb_next if tb is not None and tb.tb_next is not None else tb
    error = {
        "rank": r,
        "time": time.time(),  # the caller reports the rank that failed first
        "what": what,
        "type": type(exc).__name__,
        "message": str(exc).strip().splitlines()[0][:500] if str(exc).strip() else "",
        "traceback": "".join(traceback.format_exception(type(exc), exc, tb)),
    }
    tmp = os.path.join(folder, f".error_{r}.json")
    with open(tmp, "w") as f:
        json.dump(error, f)
    os.replace(tmp, os.path.join(folder, f"error_{r}.json"))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)  # not a clean exit: a peer may be blocked in a collective with this rank


def _write_result(folder: str, r: int, result: Any) -> None:
    tmp = os.path.join(folder, f".result_{r}.pkl")
    with open(tmp, "wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, os.path.join(folder, f"result_{r}.pkl"))


# --------------------------------------------------------------------------- workers


def fit_on_rank(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    train_data: Any,
    *,
    checkpoint: str | os.PathLike | None = None,
    **fit_kwargs: Any,
) -> tuple[dict[str, torch.Tensor], History]:
    """Train with :func:`gradbook.train.fit` and return what a caller of :func:`launch` needs.

    A worker for :func:`launch` (bind the keywords with ``functools.partial``) or for a
    ``torchrun`` script: the same function runs both ways, and also in one process.

    Parameters
    ----------
    model, loss_fn, optimizer, train_data
        As :func:`gradbook.train.fit`.
    checkpoint : str or os.PathLike, optional
        After training, :func:`gradbook.checkpoint.save_checkpoint` to this path, on every
        rank (rank 0 writes the one file).
    **fit_kwargs
        Keyword arguments of :func:`gradbook.train.fit` (``epochs`` is required).

    Returns
    -------
    state : dict of str to Tensor
        The trained ``state_dict``, as CPU copies with plain keys (no ``module.`` prefix).
    history : gradbook.train.History
        As :func:`gradbook.train.fit` returns it: the same on every rank.
    """
    history = fit(model, loss_fn, optimizer, train_data, **fit_kwargs)
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, optimizer, epochs=history.epochs)
    plain = model.module if isinstance(model, DistributedDataParallel) else model
    state = {k: v.detach().cpu().clone() for k, v in plain.state_dict().items()}
    return state, history


def gradients_on_rank(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    micro_batches: int = 2,
) -> dict[str, Any]:
    """One gradient four ways, on this rank's shard of ``(X, y)``: a worker for :func:`launch`.

    The shard is every ``world_size``-th sample from this rank's number on (what a
    ``DistributedSampler`` with ``shuffle=False`` gives). Every gradient comes back as one
    flat CPU tensor (the parameters' gradients, concatenated).

    Returns
    -------
    dict
        ``"local"``: the gradient of this rank's mean loss alone. ``"all_reduce"``: that
        gradient summed over the ranks with ``dist.all_reduce`` and divided by the world
        size, by hand. ``"ddp"``: the gradient after one ``backward`` through
        ``DistributedDataParallel``, which does the same all-reduce inside ``backward``.
        ``"no_sync"``: the shard split into ``micro_batches``, accumulated with
        ``no_sync()`` on all but the last. ``"syncs"``: how many gradient all-reduces DDP
        ran for those micro-batches without ``no_sync`` and with it.
    """
    check_int(micro_batches, "micro_batches", minimum=1)
    r, w = rank(), world_size()
    X_r, y_r = X[r::w], y[r::w]  # this rank's shard: (N / W, ...)

    model.zero_grad()
    loss_fn(model(X_r), y_r).backward()
    local = _flat_grad(model)

    averaged = local.clone()
    dist.all_reduce(averaged)  # sum over the ranks, in place, on every rank
    averaged /= w

    ddp = DistributedDataParallel(model)
    calls = [0]
    ddp.register_comm_hook(calls, _counting_allreduce)
    model.zero_grad()
    loss_fn(ddp(X_r), y_r).backward()  # the all-reduce happens inside backward
    ddp_grad = _flat_grad(model)

    chunks = list(zip(X_r.chunk(micro_batches), y_r.chunk(micro_batches), strict=True))
    syncs = []
    for use_no_sync in (False, True):
        model.zero_grad()
        calls[0] = 0
        for i, (xb, yb) in enumerate(chunks):
            last = i == len(chunks) - 1
            skip = ddp.no_sync() if use_no_sync and not last else contextlib.nullcontext()
            with skip:  # no_sync: accumulate into .grad locally, no all-reduce
                (loss_fn(ddp(xb), yb) / len(chunks)).backward()
        syncs.append(calls[0])
    return {
        "local": local,
        "all_reduce": averaged,
        "ddp": ddp_grad,
        "no_sync": _flat_grad(model),
        "syncs": {"without no_sync": syncs[0], "with no_sync": syncs[1]},
    }


def _flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().flatten() for p in model.parameters()]).cpu()


def _counting_allreduce(calls, bucket):  # unannotated: DDP checks annotations as objects
    """DDP's own averaging all-reduce of one gradient bucket (a ``dist.GradBucket``),
    counted; returns a ``torch.futures.Future`` of the averaged bucket."""
    calls[0] += 1
    tensor = bucket.buffer().div_(dist.get_world_size())
    return dist.all_reduce(tensor, async_op=True).get_future().then(lambda fut: fut.value()[0])


def time_ddp_steps(
    sizes: Sequence[int],
    batch_sizes: Sequence[int],
    *,
    repeats: int = 20,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Seconds per training step of an MLP, data-parallel and in one process: a worker.

    For each per-rank batch size ``b`` it times, as the fastest of ``repeats`` steps after
    one warm-up (the one least disturbed by whatever else the machine runs):

    - ``"compute"``: forward and backward on ``b`` samples, with no communication (under
      ``no_sync``);
    - ``"all_reduce"``: one ``dist.all_reduce`` of a tensor as large as all the gradients;
    - ``"ddp"``: a whole data-parallel SGD step on ``b`` samples per rank;
    - ``"single"``: the same step in one process on the global batch ``W b``, timed on
      rank 0 while the other ranks wait (so that it has its core to itself).

    Parameters
    ----------
    sizes : sequence of int
        The MLP's layer sizes, ``(inputs, hidden..., outputs)``, ReLU between layers.
    batch_sizes : sequence of int
        Per-rank batch sizes to time.
    repeats : int, default 20
        Timed steps per measurement, >= 1. On a busy machine the all-reduce and a small
        batch's step (a millisecond each) are often disturbed: the fastest of 5 could
        still be several times too slow, the fastest of 20 rarely is.
    seed : int, default 0
        Seeds the weights and the data.

    Returns
    -------
    dict of str to list of float
        ``"batch_size"`` and the four timings above, one entry per batch size, the same on
        every rank (rank 0's measurements, broadcast).
    """
    from gradbook.models import MLP

    check_int(repeats, "repeats", minimum=1)
    torch.manual_seed(seed)
    model = MLP(list(sizes))
    ddp = DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    single = MLP(list(sizes))
    single_opt = torch.optim.SGD(single.parameters(), lr=1e-3)
    flat = torch.zeros(sum(p.numel() for p in model.parameters()))
    w = world_size()
    out: dict[str, list[float]] = {k: [] for k in ("compute", "all_reduce", "ddp", "single")}
    for b in batch_sizes:
        X, y = torch.randn(w * b, sizes[0]), torch.randn(w * b, sizes[-1])  # (W b, ...)
        Xr, yr = X[rank() :: w], y[rank() :: w]  # (b, ...)

        def compute(Xr=Xr, yr=yr):
            with ddp.no_sync():
                nn.functional.mse_loss(ddp(Xr), yr).backward()

        def ddp_step(Xr=Xr, yr=yr):
            _sgd_step(ddp, opt, Xr, yr)

        out["compute"].append(_best_time(compute, repeats))
        out["all_reduce"].append(_best_time(lambda: dist.all_reduce(flat), repeats))
        out["ddp"].append(_best_time(ddp_step, repeats))
        seconds = 0.0
        if rank() == 0:  # rank 0 times one process on the global batch ...
            step = lambda X=X, y=y: _sgd_step(single, single_opt, X, y)  # noqa: E731
            seconds = _best_time(step, repeats, together=False)
        dist.barrier()  # ... while the others wait here
        out["single"].append(seconds)
    timings = torch.tensor([out[k] for k in out], dtype=torch.float64)
    dist.broadcast(timings, src=0)  # one set of numbers: rank 0's
    result = {"batch_size": [float(b) for b in batch_sizes]}
    result.update({k: row.tolist() for k, row in zip(out, timings, strict=True)})
    return result


def _sgd_step(model: nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor):
    opt.zero_grad()
    nn.functional.mse_loss(model(X), y).backward()
    opt.step()


def _best_time(step: Callable[[], Any], repeats: int, *, together: bool = True) -> float:
    """Fewest seconds of ``step()`` over ``repeats`` calls, after one untimed call. With
    ``together``, every rank starts each call at once (a barrier), so that no rank waits
    inside the timing for another to arrive."""
    step()
    times = []
    for _ in range(repeats):
        if together:
            dist.barrier()
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return min(times)
