"""Time gradbook.fit against hand-written loops and (when installed) Lightning / poutyne.

Setting (issue 4): a 20-64-1 MLP, 4096 x 20 float32 inputs, batch 64, 5 epochs, SGD with
lr 0.01, MSE loss, one CPU thread. Every contender starts from the same weights and sees
the same data; runs are interleaved (contender A, B, C, ... then again) so that a slow
patch of the shared machine hits all of them alike (in a new random order each round), and
the table shows medians (and minima) with their ratio to the hand-written tensor-indexing
loop.

Run: ``python benchmarks/fit_vs_peers.py [--runs 15]``
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import os
import random
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gradbook.train import fit

N, D, H, BATCH, EPOCHS, LR = 4096, 20, 64, 64, 5, 0.01
BASELINE = "hand loop: tensor indexing"


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, 1))


def hand_tensor_loop(model, X, y, *, track_item=False):
    """The loop people write by hand: randperm + tensor indexing, nothing else."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    model.train()
    for _ in range(EPOCHS):
        perm = torch.randperm(N)
        for i in range(0, N, BATCH):
            idx = perm[i : i + BATCH]
            xb, yb = X[idx], y[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            if track_item:
                loss.item()


def hand_dataloader_loop(model, X, y):
    """The tutorial loop: DataLoader(TensorDataset(X, y), shuffle=True)."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True)
    model.train()
    for _ in range(EPOCHS):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()


def gradbook_fit(model, X, y, *, progress=False):
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    if not progress:
        fit(model, nn.MSELoss(), opt, (X, y), epochs=EPOCHS, batch_size=BATCH, progress=False)
        return
    # The bar is forced on but drawn into the null device, so the terminal stays clean
    # while tqdm still does all its work (formatting, writes).
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        fit(model, nn.MSELoss(), opt, (X, y), epochs=EPOCHS, batch_size=BATCH, progress=True)


def lightning_fit(model, X, y):  # pragma: no cover - only when Lightning is installed
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = model

        def training_step(self, batch, _):
            xb, yb = batch
            return nn.functional.mse_loss(self.net(xb), yb)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=LR)

    trainer = L.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Module(), DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True))


def poutyne_fit(model, X, y):  # pragma: no cover - only when poutyne is installed
    import poutyne

    opt = torch.optim.SGD(model.parameters(), lr=LR)
    poutyne.Model(model, opt, "mse").fit(X, y, batch_size=BATCH, epochs=EPOCHS, verbose=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31, help="timed runs per contender (>= 7)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(N, D, generator=g)  # (N, D)
    y = X @ torch.randn(D, 1, generator=g) + 0.1 * torch.randn(N, 1, generator=g)  # (N, 1)
    torch.manual_seed(0)
    init = make_model()

    contenders = {
        BASELINE: hand_tensor_loop,
        "hand loop: + loss.item() per step": lambda m, X, y: hand_tensor_loop(
            m, X, y, track_item=True
        ),
        "hand loop: DataLoader(TensorDataset)": hand_dataloader_loop,
        "gradbook.fit, progress off": gradbook_fit,
        "gradbook.fit, progress on (null stream)": lambda m, X, y: gradbook_fit(
            m, X, y, progress=True
        ),
    }
    notes = []
    for name, module, fn in (
        ("Lightning", "lightning", lightning_fit),
        ("poutyne", "poutyne", poutyne_fit),
    ):
        if importlib.util.find_spec(module) is not None:
            contenders[name] = fn
        else:
            notes.append(f"{name}: not installed, skipped (pip install {module} to compare)")

    times: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():  # warm-up: first-call costs are not the loop's
        fn(copy.deepcopy(init), X, y)
    order = list(contenders.items())
    shuffler = random.Random(0)
    for _ in range(args.runs):
        # A new order each round: no contender always runs first (or right after a slow one).
        shuffler.shuffle(order)
        for name, fn in order:
            model = copy.deepcopy(init)
            t0 = time.perf_counter()
            fn(model, X, y)
            times[name].append(time.perf_counter() - t0)

    base = statistics.median(times[BASELINE])
    base_min = min(times[BASELINE])
    print(
        f"fit vs peers: {D}-{H}-1 MLP, {N}x{D} float32, batch {BATCH}, {EPOCHS} epochs, "
        f"SGD lr {LR}, 1 thread, {args.runs} interleaved runs"
    )
    print(
        f"{'contender':<42} {'median ms':>9} {'ratio':>6} {'paired':>7} {'min ms':>7} {'ratio':>6}"
    )
    for name, ts in times.items():
        med, best = statistics.median(ts), min(ts)
        # Ratio within each round, then the median: robust to load that drifts between rounds.
        paired = statistics.median(t / b for t, b in zip(ts, times[BASELINE], strict=True))
        print(
            f"{name:<42} {med * 1e3:>9.1f} {med / base:>5.2f}x {paired:>6.2f}x "
            f"{best * 1e3:>7.1f} {best / base_min:>5.2f}x"
        )
    print(
        "ratio: median / median of the hand tensor loop; paired: median over rounds of the "
        "per-round ratio; min: fastest run"
    )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
