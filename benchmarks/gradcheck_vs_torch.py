"""gradbook.gradcheck vs torch.autograd.gradcheck, side by side on the same cases.

Prints, for both checkers:

- how many of the wrong backwards in the test zoo (tests/test_gradcheck.py) each catches;
- false alarms on the correct functions of that file, in float64 and float32, and on
  kinks (relu / abs at exactly 0, where any subgradient is a valid answer);
- the time of a full check (torch's default mode) and of a fast check (torch's
  ``fast_mode=True``) on an MLP with 548 input elements, as medians of several
  interleaved runs, and their ratio.

Run: ``python benchmarks/gradcheck_vs_torch.py`` (single-threaded, about a minute).
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from gradbook.gradcheck import check_gradients

RUNS = 9  # timing runs per checker (the median is reported)


def load_cases():
    """The zoo and the correct functions, from the test module (the same cases)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "test_gradcheck.py"
    spec = importlib.util.spec_from_file_location("gradcheck_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gradcheck_cases"] = module
    spec.loader.exec_module(module)
    return module


def torch_flags(fn, inputs, **kwargs) -> bool:
    """True when torch.autograd.gradcheck reports a problem (False or an exception)."""
    with warnings.catch_warnings():
        # torch warns that float32 inputs are not double precision: that is the point here
        warnings.simplefilter("ignore", UserWarning)
        try:
            return not torch.autograd.gradcheck(fn, inputs, raise_exception=False, **kwargs)
        except Exception:  # torch raises for some bugs even with raise_exception=False
            return True


def ours_flags(fn, inputs, **kwargs) -> bool:
    return not check_gradients(fn, inputs, **kwargs).ok


def median_times(funcs: dict[str, callable], runs: int) -> dict[str, float]:
    """Median wall time of each function, runs interleaved so load hits both alike."""
    times = {name: [] for name in funcs}
    for f in funcs.values():
        f()  # warm up
    for _ in range(runs):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    torch.set_num_threads(1)
    cases = load_cases()
    rand, mlp = cases.rand, cases.mlp

    # --- bugs caught -------------------------------------------------------------------
    print("Wrong backwards caught (tests/test_gradcheck.py zoo)")
    print(f"  {'bug':<28} {'gradbook':>9} {'torch':>7}")
    caught = {"gradbook": 0, "torch": 0}
    for name, (fn, make, _) in cases.ZOO.items():
        ours, theirs = ours_flags(fn, make()), torch_flags(fn, make())
        caught["gradbook"] += ours
        caught["torch"] += theirs
        mark = {True: "caught", False: "MISSED"}
        print(f"  {name:<28} {mark[ours]:>9} {mark[theirs]:>7}")
    n_zoo = len(cases.ZOO)
    print(f"  {'total':<28} {caught['gradbook']:>6}/{n_zoo} {caught['torch']:>4}/{n_zoo}\n")

    # --- false alarms ------------------------------------------------------------------
    print("False alarms on correct functions")
    print(f"  {'case':<22} {'dtype':<8} {'gradbook':>9} {'torch':>7}")
    alarms = {"gradbook": 0, "torch": 0}
    n_correct = 0
    for dtype in (torch.float64, torch.float32):
        for name, (fn, shapes) in cases.CORRECT.items():
            inputs = tuple(rand(*s, seed=k, dtype=dtype) for k, s in enumerate(shapes))
            ours, theirs = ours_flags(fn, inputs), torch_flags(fn, inputs)
            alarms["gradbook"] += ours
            alarms["torch"] += theirs
            n_correct += 1
            d = str(dtype).replace("torch.", "")
            row = f"  {name:<22} {d:<8} {'ALARM' if ours else 'ok':>9}"
            print(f"{row} {'ALARM' if theirs else 'ok':>7}")
    for name, fn in (("relu at 0", torch.relu), ("abs at 0", torch.abs)):
        x = torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
        report = check_gradients(fn, x)
        ours, theirs = not report.ok, torch_flags(fn, (x,))
        alarms["gradbook"] += ours
        alarms["torch"] += theirs
        n_correct += 1
        verdict = report.pairs[0].verdict
        row = f"  {name:<22} {'float64':<8} {'ALARM' if ours else verdict:>9}"
        print(f"{row} {'ALARM' if theirs else 'ok':>7}")
    print(f"  {'total':<31} {alarms['gradbook']:>6}/{n_correct} {alarms['torch']:>4}/{n_correct}\n")

    # --- timing --------------------------------------------------------------------------
    shapes = [(16, 8), (32, 8), (32,), (4, 32), (4,)]
    inputs = tuple(rand(*s, seed=k) for k, s in enumerate(shapes))
    n_el = sum(t.numel() for t in inputs)
    assert check_gradients(mlp, inputs).ok and torch.autograd.gradcheck(mlp, inputs)
    full = median_times(
        {
            "gradbook": lambda: check_gradients(mlp, inputs),
            "torch": lambda: torch.autograd.gradcheck(mlp, inputs),
        },
        RUNS,
    )
    fast = median_times(
        {
            "gradbook": lambda: check_gradients(mlp, inputs, fast=True),
            "torch": lambda: torch.autograd.gradcheck(mlp, inputs, fast_mode=True),
        },
        RUNS,
    )
    print(f"Time on an MLP (tanh, float64, {n_el} input elements), median of {RUNS} runs")
    print(f"  {'mode':<6} {'gradbook':>12} {'torch':>12} {'ratio':>8}   target")
    for mode, t, target in (("full", full, "<= 0.10"), ("fast", fast, "<= 1.00")):
        ratio = t["gradbook"] / t["torch"]
        ours_ms, theirs_ms = t["gradbook"] * 1e3, t["torch"] * 1e3
        print(f"  {mode:<6} {ours_ms:>9.2f} ms {theirs_ms:>9.2f} ms {ratio:>7.3f}x   {target}")


if __name__ == "__main__":
    main()
