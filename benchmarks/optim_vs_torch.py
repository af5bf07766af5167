"""Time ``step()`` of gradbook.optim against torch.optim, side by side.

The model is a float32 MLP 784 -> 1024 -> 256 -> 10 (about 1.07 million parameters),
on the CPU with one thread. Gradients are computed once; each optimizer then takes
steps on its own copy of the model, so only ``step()`` is timed. torch.optim runs its
default implementation (on the CPU that is the per-parameter "single tensor" loop).
gradbook and torch alternate, repeat by repeat, so that load from other processes on
the machine hits both alike. Each row prints the median time of one step and the ratio
gradbook / torch (below 1: gradbook is faster).

Run: ``python benchmarks/optim_vs_torch.py`` (about half a minute).
"""

from __future__ import annotations

import copy
import statistics
import time

import torch

from gradbook import optim

SIZES = (784, 1024, 256, 10)
BATCH = 64
REPEATS = 15  # medians over this many timings ...
STEPS_PER_REPEAT = 10  # ... each the mean of this many consecutive steps
WARMUP_STEPS = 3  # the first steps allocate the optimizer state

CASES = [
    # (label, gradbook class, torch class, keyword arguments for both)
    ("SGD", optim.SGD, torch.optim.SGD, dict(lr=1e-2)),
    ("SGD momentum", optim.SGD, torch.optim.SGD, dict(lr=1e-2, momentum=0.9)),
    (
        "SGD nesterov, wd",
        optim.SGD,
        torch.optim.SGD,
        dict(lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-4),
    ),
    ("RMSprop", optim.RMSprop, torch.optim.RMSprop, dict()),
    ("RMSprop centered", optim.RMSprop, torch.optim.RMSprop, dict(centered=True)),
    (
        "RMSprop momentum, wd",
        optim.RMSprop,
        torch.optim.RMSprop,
        dict(momentum=0.9, weight_decay=1e-4),
    ),
    ("Adam", optim.Adam, torch.optim.Adam, dict()),
    ("Adam amsgrad, wd", optim.Adam, torch.optim.Adam, dict(amsgrad=True, weight_decay=1e-4)),
    ("AdamW", optim.AdamW, torch.optim.AdamW, dict()),
    ("AdamW amsgrad", optim.AdamW, torch.optim.AdamW, dict(amsgrad=True)),
]


def make_model() -> torch.nn.Module:
    """The float32 MLP, with the gradients of one batch's loss in ``.grad``."""
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for d_in, d_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        layers += [torch.nn.Linear(d_in, d_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    X = torch.randn(BATCH, SIZES[0])  # (N, 784)
    y = torch.randint(SIZES[-1], (BATCH,))  # (N,)
    torch.nn.functional.cross_entropy(model(X), y).backward()
    return model


def copy_with_grads(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of a copy of ``model``, gradients included (deepcopy drops them)."""
    params = list(copy.deepcopy(model).parameters())
    for p, original in zip(params, model.parameters(), strict=True):
        p.grad = original.grad.clone()
    return params


def seconds_per_step(optimizer: torch.optim.Optimizer) -> float:
    start = time.perf_counter()
    for _ in range(STEPS_PER_REPEAT):
        optimizer.step()
    return (time.perf_counter() - start) / STEPS_PER_REPEAT


def main() -> None:
    torch.set_num_threads(1)
    model = make_model()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"step() of a float32 MLP {' -> '.join(map(str, SIZES))} ({n_params:,} parameters),")
    print(f"torch {torch.__version__}, 1 thread; median of {REPEATS} x {STEPS_PER_REPEAT} steps\n")
    print(f"{'optimizer':<28} {'gradbook (ms)':>14} {'torch (ms)':>11} {'ratio':>7}")

    for label, gradbook_cls, torch_cls, kwargs in CASES:
        ours = gradbook_cls(copy_with_grads(model), **kwargs)
        theirs = torch_cls(copy_with_grads(model), **kwargs)
        for _ in range(WARMUP_STEPS):
            ours.step()
            theirs.step()
        ours_times, theirs_times = [], []
        for _ in range(REPEATS):
            ours_times.append(seconds_per_step(ours))
            theirs_times.append(seconds_per_step(theirs))
        ours_ms = 1e3 * statistics.median(ours_times)
        theirs_ms = 1e3 * statistics.median(theirs_times)
        print(f"{label:<28} {ours_ms:>14.3f} {theirs_ms:>11.3f} {ours_ms / theirs_ms:>7.2f}")


if __name__ == "__main__":
    main()
