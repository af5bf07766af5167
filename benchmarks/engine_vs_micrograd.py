"""gradbook.autodiff vs micrograd: the same scalar MLP, forward + backward, and a deep chain.

Run: ``python benchmarks/engine_vs_micrograd.py`` (needs the ``bench`` extra: micrograd 0.1.0).

1. A 2-16-16-1 MLP built by hand from scalars (``+``, ``*``, ``relu`` only), identically in
   both engines with the same weights, over 100 samples; loss = sum of squared errors.
   Forward + backward is timed (median of several runs) and every parameter gradient is
   compared between the engines (to 1e-9).
2. A chain ``y = y * c`` of growing depth: micrograd's recursive topological sort hits
   Python's recursion limit; gradbook's iterative one does not.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time

import torch

from gradbook.autodiff import Value as GradbookValue

try:
    from micrograd.engine import Value as MicrogradValue
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("micrograd is not installed: pip install -c constraints.txt 'gradbook[bench]'")

SIZES = (2, 16, 16, 1)
SAMPLES = 100
RUNS = 7


def make_problem(seed: int = 0):
    """Weights (per layer: rows of input weights + bias) and data, as plain floats."""
    rng = random.Random(seed)
    layers = [
        [([rng.uniform(-1, 1) for _ in range(n_in)], rng.uniform(-1, 1)) for _ in range(n_out)]
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:], strict=True)
    ]
    data = [
        ([rng.uniform(-2, 2) for _ in range(SIZES[0])], rng.uniform(-1, 1)) for _ in range(SAMPLES)
    ]
    return layers, data


def forward_backward(value_cls, layers, data):
    """Build the MLP's parameters as value_cls, run all samples, backprop; return params."""
    params = [[([value_cls(w) for w in ws], value_cls(b)) for ws, b in layer] for layer in layers]
    loss = None
    for x, y in data:
        h = x
        for depth, layer in enumerate(params):
            out = []
            for ws, b in layer:
                act = b
                for w, xi in zip(ws, h, strict=True):
                    act = act + w * xi
                # relu on hidden layers only; the last layer is linear.
                out.append(act.relu() if depth < len(params) - 1 else act)
            h = out
        err = h[0] + (-y)  # + and * only: no subtraction op in the graph
        loss = err * err if loss is None else loss + err * err
    loss.backward()
    return [v for layer in params for ws, b in layer for v in (*ws, b)], loss


def time_engines(layers, data) -> tuple[list[float], list[float], list, list]:
    """Time both engines RUNS times each, interleaved so that machine noise hits both alike."""
    t_micro, t_grad = [], []
    for _ in range(RUNS):
        for value_cls, times in ((MicrogradValue, t_micro), (GradbookValue, t_grad)):
            # micrograd's closures make reference cycles; collect them here so that neither
            # engine pays, inside its timing, for the other's garbage.
            gc.collect()
            start = time.perf_counter()
            forward_backward(value_cls, layers, data)
            times.append(time.perf_counter() - start)
    p_micro, _ = forward_backward(MicrogradValue, layers, data)
    p_grad, _ = forward_backward(GradbookValue, layers, data)
    return t_micro, t_grad, p_micro, p_grad


def deep_chain(value_cls, depth: int) -> str:
    x = value_cls(0.5)
    y = x
    for _ in range(depth):
        y = y * 1.00001
    start = time.perf_counter()
    try:
        y.backward()
    except RecursionError:
        return "RecursionError"
    elapsed = time.perf_counter() - start
    expected = 1.00001**depth
    ok = abs(x.grad - expected) <= 1e-6 * expected
    return f"ok in {elapsed:.2f} s" if ok else f"wrong grad {x.grad}"


def main() -> None:
    torch.set_num_threads(1)  # nothing here uses torch; keep the machine quiet anyway
    layers, data = make_problem()
    n_params = sum(len(ws) + 1 for layer in layers for ws, _ in layer)

    times_micro, times_grad, p_micro, p_grad = time_engines(layers, data)
    t_micro, t_grad = statistics.median(times_micro), statistics.median(times_grad)

    worst = max(
        abs(a.grad - b.grad) / max(1.0, abs(b.grad)) for a, b in zip(p_grad, p_micro, strict=True)
    )
    if worst > 1e-9:
        raise SystemExit(f"gradients differ between engines: worst relative error {worst:.3g}")

    print(f"MLP {'-'.join(map(str, SIZES))} ({n_params} parameters), {SAMPLES} samples, "
          f"forward + backward, median of {RUNS} interleaved runs")  # fmt: skip
    print(f"{'engine':<12}{'median (s)':>12}{'ratio':>10}")
    print(f"{'micrograd':<12}{t_micro:>12.3f}{1.0:>10.2f}")
    print(f"{'gradbook':<12}{t_grad:>12.3f}{t_grad / t_micro:>10.2f}")
    print(f"gradients equal to 1e-9 (worst relative difference {worst:.1e})")
    print()
    print(f"deep chain y = y * c, backward (recursion limit {sys.getrecursionlimit()})")
    print(f"{'depth':>8}  {'micrograd':<20}{'gradbook':<20}")
    for depth in (500, 5_000, 100_000):
        micro = deep_chain(MicrogradValue, depth) if depth <= 5_000 else "not tried"
        print(f"{depth:>8}  {micro:<20}{deep_chain(GradbookValue, depth):<20}")


if __name__ == "__main__":
    main()
