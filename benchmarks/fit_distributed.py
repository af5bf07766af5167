"""Samples per second of gradbook.fit on 2 gloo ranks against 1 process, and against bare loops.

Setting (issue 15): a 256-512-512-1 MLP (ReLU), 8192 x 256 float32 inputs, MSE loss, SGD with
lr 1e-3, one epoch per run, the same *global* batch for 1 process and for 2 ranks (each rank
takes half of it), at global batches 512, 1024 and 2048. Every process uses one thread.

Four contenders, each timed from building its model (DDP wrapper included) to the end of
the epoch, ``--runs`` times after one warm-up run, alternating within each pair:

- 1 process: a bare loop (randperm + tensor indexing) and ``fit``, in this process;
- 2 ranks (started once, with :func:`gradbook.distributed.launch`): a bare DDP loop (the
  same permutation on both ranks, each taking every other sample) and ``fit`` with
  ``batch_size`` = half the global batch. A run's time is the slower rank's.

The table gives medians: samples per second, the speed-up of 2 ranks over 1 process and
the scaling efficiency (speed-up / 2); the speed-up of the fastest runs (the least
disturbed on a shared machine); and fit's time over the bare loop's, as the median of the
per-run ratios. Below it, where a 2-rank step's time goes: forward + backward alone, and
the all-reduce of the gradients (``gradbook.distributed.time_ddp_steps``).

Run: ``python benchmarks/fit_distributed.py [--runs 5]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gradbook.distributed import launch, rank, time_ddp_steps, world_size
from gradbook.models import MLP
from gradbook.train import fit

SIZES = [256, 512, 512, 1]
N, LR = 8192, 1e-3
GLOBAL_BATCHES = [512, 1024, 2048]


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, SIZES[0], generator=g)  # (N, 256)
    y = X @ torch.randn(SIZES[0], 1, generator=g) / 16  # (N, 1)
    return X, y


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return MLP(SIZES)


def bare_loop(model, X, y, batch, *, ddp=False, epoch=0):
    """The loop written by hand: a permutation per epoch, tensor indexing, the five steps.
    With ``ddp``, the model in DistributedDataParallel and every world_size-th sample."""
    net = DistributedDataParallel(model) if ddp else model
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    g = torch.Generator().manual_seed(epoch)  # the same permutation on every rank
    idx = torch.randperm(N, generator=g)[rank() :: world_size()]  # (N / W,)
    for i in range(0, len(idx), batch):
        rows = idx[i : i + batch]
        opt.zero_grad()
        loss = loss_fn(net(X[rows]), y[rows])
        loss.backward()
        opt.step()


def gradbook_fit(model, X, y, batch, *, epoch=0):
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    fit(model, nn.MSELoss(), opt, (X, y), epochs=1, batch_size=batch, seed=epoch, progress=False)


def time_pair(contenders: dict, batch: int, runs: int, *, synced: bool) -> dict[str, list[float]]:
    """Seconds per run of each contender, ``runs`` times after a warm-up, alternating."""
    X, y = make_data()
    init = make_model()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for run in range(runs + 1):
        order = list(contenders.items())
        if run % 2:
            order.reverse()  # neither contender always goes first
        for name, fn in order:
            model = copy.deepcopy(init)
            if synced:
                dist.barrier()
            t0 = time.perf_counter()
            fn(model, X, y, batch, epoch=run)
            seconds = time.perf_counter() - t0
            if synced:  # the run lasts as long as its slowest rank
                t = torch.tensor([seconds], dtype=torch.float64)
                dist.all_reduce(t, op=dist.ReduceOp.MAX)
                seconds = t.item()
            if run > 0:
                times[name].append(seconds)
    return times


def two_ranks(runs: int) -> dict:
    """The worker: the 2-rank contenders at every batch, then where a step's time goes."""
    torch.manual_seed(0)
    contenders = {
        "bare": lambda m, X, y, b, epoch: bare_loop(m, X, y, b, ddp=True, epoch=epoch),
        "fit": gradbook_fit,
    }
    out = {g: time_pair(contenders, g // world_size(), runs, synced=True) for g in GLOBAL_BATCHES}
    halves = [g // world_size() for g in GLOBAL_BATCHES]
    out["steps"] = time_ddp_steps(SIZES, halves, repeats=max(runs, 5))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per contender (>= 3)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    contenders = {"bare": bare_loop, "fit": gradbook_fit}
    one = {g: time_pair(contenders, g, args.runs, synced=False) for g in GLOBAL_BATCHES}
    # The ranks import the worker by name: from this file as a module, not from __main__.
    import fit_distributed

    two = launch(fit_distributed.two_ranks, args.runs, nprocs=2, threads=1)[0]

    report(one, two, args.runs)


def paired(ts: list[float], base: list[float]) -> float:
    """Median over runs of the per-run ratio: robust to load that drifts between runs."""
    return statistics.median(t / b for t, b in zip(ts, base, strict=True))


def report(one: dict, two: dict, runs: int) -> None:
    print(
        f"fit on 2 gloo ranks vs 1 process: {'-'.join(map(str, SIZES))} MLP, {N} samples, "
        f"1 thread per process, {runs} runs each"
    )
    print(
        f"{'global batch':>12} | {'samples/s: 1 proc':>17} {'2 ranks':>8} | {'speed-up':>8} "
        f"{'efficiency':>10} {'best':>6} | {'fit / bare (paired)':>19}"
    )
    for g in GLOBAL_BATCHES:
        for name in ("bare", "fit"):
            t1, t2 = statistics.median(one[g][name]), statistics.median(two[g][name])
            best = min(one[g][name]) / min(two[g][name])
            ratio = ""
            if name == "fit":
                ratio = f"1 proc {paired(one[g]['fit'], one[g]['bare']):.3f}x, "
                ratio += f"2 ranks {paired(two[g]['fit'], two[g]['bare']):.3f}x"
            print(
                f"{f'{g} {name}':>12} | {N / t1:>17.0f} {N / t2:>8.0f} | {t1 / t2:>7.2f}x "
                f"{t1 / t2 / 2:>10.0%} {best:>5.2f}x | {ratio}"
            )
    print(
        "samples/s and speed-up: medians; efficiency: speed-up / 2; best: speed-up of the "
        "fastest runs"
    )
    steps = two["steps"]
    print("where a 2-rank step goes (ms, fastest of repeats):")
    print(f"  {'batch per rank':>14} {'forward+backward':>17} {'all-reduce':>11}")
    for b, compute, reduce in zip(
        steps["batch_size"], steps["compute"], steps["all_reduce"], strict=True
    ):
        print(f"  {int(b):>14} {compute * 1e3:>17.2f} {reduce * 1e3:>11.2f}")
    params = sum(p.numel() for p in make_model().parameters())
    print(f"gradients: {params} float32 = {params * 4 / 1e6:.2f} MB all-reduced per step")


if __name__ == "__main__":
    main()
