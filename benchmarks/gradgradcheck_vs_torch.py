"""gradbook.gradcheck.check_gradgrad vs torch.autograd.gradgradcheck, side by side.

Prints, for both second-order checkers:

- how many of the backwards in the second-order zoo (tests/test_gradcheck_second_order.py:
  right to first order, wrong to second) each catches;
- false alarms on the correct functions of that file, in float64 and float32;
- the time of a full check on a tanh MLP (float64), as medians of interleaved runs, and
  their ratio.

Run: ``python benchmarks/gradgradcheck_vs_torch.py`` (single-threaded, under a minute).
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from gradbook.gradcheck import check_gradgrad

RUNS = 7  # timing runs per checker (the median is reported)


def load_cases():
    """The zoo and the correct functions, from the test module (the same cases)."""
    tests = Path(__file__).resolve().parents[1] / "tests"
    sys.path.insert(0, str(tests))  # the module imports test_gradcheck's helpers
    path = tests / "test_gradcheck_second_order.py"
    spec = importlib.util.spec_from_file_location("gradgrad_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gradgrad_cases"] = module
    spec.loader.exec_module(module)
    return module


def torch_flags(fn, inputs) -> bool:
    """True when torch.autograd.gradgradcheck reports a problem (False or an exception)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # float32 inputs: that is the point
        try:
            return not torch.autograd.gradgradcheck(fn, inputs, raise_exception=False)
        except Exception:  # torch raises for some bugs even with raise_exception=False
            return True


def median_times(funcs: dict, runs: int) -> dict[str, float]:
    """Median wall time of each function, runs interleaved so load hits both alike."""
    times = {name: [] for name in funcs}
    for f in funcs.values():
        f()  # warm up
    for _ in range(runs):
        for name, f in funcs.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    torch.set_num_threads(1)
    cases = load_cases()
    rand = cases.rand
    zoo = [(f.__self__.__name__, f, (rand(3, 4),)) for f in cases.NOT_TWICE]
    zoo += [(f.__self__.__name__, f, inputs) for f, inputs in cases.WRONG_SECOND]
    print("Caught among backwards right to first order, wrong to second")
    print(f"  {'case':<28} {'gradbook':>9} {'torch':>7}")
    caught = {"gradbook": 0, "torch": 0}
    for name, fn, inputs in zoo:
        ours, theirs = not check_gradgrad(fn, inputs).ok, torch_flags(fn, inputs)
        caught["gradbook"] += ours
        caught["torch"] += theirs
        print(f"  {name:<28} {'yes' if ours else 'MISSED':>9} {'yes' if theirs else 'MISSED':>7}")
    n = len(zoo)
    print(f"  {'total':<28} {caught['gradbook']:>7}/{n} {caught['torch']:>5}/{n}\n")

    print("False alarms on correct functions")
    print(f"  {'case':<22} {'dtype':<8} {'gradbook':>9} {'torch':>7}")
    alarms, n_correct = {"gradbook": 0, "torch": 0}, 0
    for dtype in (torch.float64, torch.float32):
        for name, (fn, shapes) in cases.CORRECT.items():
            inputs = tuple(rand(*s, seed=k, dtype=dtype) for k, s in enumerate(shapes))
            ours, theirs = not check_gradgrad(fn, inputs).ok, torch_flags(fn, inputs)
            alarms["gradbook"] += ours
            alarms["torch"] += theirs
            n_correct += 1
            d = str(dtype).removeprefix("torch.")
            row = f"  {name:<22} {d:<8} {'ALARM' if ours else 'ok':>9}"
            print(f"{row} {'ALARM' if theirs else 'ok':>7}")
    g, t = alarms["gradbook"], alarms["torch"]
    print(f"  {'total':<31} {g:>6}/{n_correct} {t:>4}/{n_correct}\n")

    print(f"Time of a full second-order check (tanh MLP, float64), median of {RUNS} runs")
    print(f"  {'inputs':<10} {'gradbook':>12} {'torch':>12} {'ratio':>8}   target")
    for batch, hidden in ((4, 8), (8, 16)):
        shapes = [(batch, 3), (hidden, 3), (hidden,), (2, hidden), (2,)]
        inputs = tuple(rand(*s, seed=k) for k, s in enumerate(shapes))
        n_el = sum(x.numel() for x in inputs)
        assert check_gradgrad(cases.mlp, inputs).ok
        assert torch.autograd.gradgradcheck(cases.mlp, inputs)
        t = median_times(
            {
                "gradbook": lambda inputs=inputs: check_gradgrad(cases.mlp, inputs),
                "torch": lambda inputs=inputs: torch.autograd.gradgradcheck(cases.mlp, inputs),
            },
            RUNS,
        )
        ratio = t["gradbook"] / t["torch"]
        ours_ms, theirs_ms = t["gradbook"] * 1e3, t["torch"] * 1e3
        label = f"{n_el} el."
        print(f"  {label:<10} {ours_ms:>9.1f} ms {theirs_ms:>9.1f} ms {ratio:>7.2f}x   <= 1.00")


if __name__ == "__main__":
    main()
