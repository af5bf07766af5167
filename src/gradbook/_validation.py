"""Argument checks shared by every public function of gradbook.

One place, one message format: an error names the argument, says what was expected
and shows what was got, e.g. ``lr must be a number >= 0, got -1`` or
``model must be a torch.nn.Module, got str``. A wrong kind of value raises
``TypeError``; a value of the right kind outside its range raises ``ValueError``.

``bool`` is never accepted where a number is meant (``True`` is an ``int`` in Python,
and ``lr=True`` is a slip, not a learning rate of 1), and no string is accepted where a
bool is meant (``shuffle="no"`` is truthy).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "check_bool",
    "check_callable",
    "check_choice",
    "check_device",
    "check_instance",
    "check_int",
    "check_model",
    "check_optimizer",
    "check_path",
    "check_real",
    "check_in_range",
    "check_seed",
    "type_name",
]


def type_name(value: object) -> str:
    """The name of ``value``'s type, as error messages show it."""
    return type(value).__name__


def _got(value: object) -> str:
    """``value`` as a message shows it: short values in full, long ones by type."""
    text = repr(value)
    return text if len(text) <= 40 else type_name(value)


def check_bool(value: object, name: str, *, allow_none: bool = False) -> None:
    """``value`` is True or False (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if not isinstance(value, bool):
        what = "True, False or None" if allow_none else "True or False"
        raise TypeError(f"{name} must be {what}, got {type_name(value)}: {_got(value)}")


def check_int(
    value: object, name: str, *, minimum: int | None = None, allow_none: bool = False
) -> None:
    """``value`` is an int (not a bool), at least ``minimum`` when one is given."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        what = "an int or None" if allow_none else "an int"
        raise TypeError(f"{name} must be {what}, got {type_name(value)}: {_got(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_real(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    positive: bool = False,
    finite: bool = True,
    allow_none: bool = False,
) -> float | None:
    """``value`` as a float: a real number, finite (unless ``finite=False``), at least
    ``minimum``, and greater than 0 when ``positive``. NaN is always rejected."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        what = "a real number or None" if allow_none else "a real number"
        raise TypeError(f"{name} must be {what}, got {type_name(value)}: {_got(value)}")
    x = float(value)
    bad = (
        math.isnan(x)
        or (finite and not math.isfinite(x))
        or (positive and not x > 0)
        or (minimum is not None and not x >= minimum)
    )
    if bad:  # the message is built only here: the check runs for every Value the engine makes
        bound = "> 0" if positive else ("" if minimum is None else f">= {minimum:g}")
        expected = " ".join(w for w in ("finite" if finite else "", "number", bound) if w)
        raise ValueError(f"{name} must be a {expected}, got {value!r}")
    return x


def check_choice(value: object, name: str, choices: Sequence[object]) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {_got(value)}")


def check_callable(value: object, name: str, *, allow_none: bool = False) -> None:
    """``value`` can be called (or is None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if not callable(value):
        what = "callable or None" if allow_none else "callable"
        raise TypeError(f"{name} must be {what}, got {type_name(value)}")


def check_instance(
    value: object, name: str, cls: type | tuple[type, ...], what: str, *, allow_none: bool = False
) -> None:
    """``value`` is an instance of ``cls``; ``what`` says it in words ("a torch.Tensor")."""
    if value is None and allow_none:
        return
    if not isinstance(value, cls):
        if allow_none:
            what += " or None"
        hint = ""
        if isinstance(value, type) and isinstance(cls, type) and issubclass(value, cls):
            hint = f" (the class itself: create one with {value.__name__}(...))"
        raise TypeError(f"{name} must be {what}, got {type_name(value)}{hint}")


def check_model(model: Any, name: str = "model") -> None:
    """``model`` is a ``torch.nn.Module`` instance."""
    check_instance(model, name, nn.Module, "a torch.nn.Module")


def check_optimizer(optimizer: Any, name: str = "optimizer", *, allow_none: bool = False) -> None:
    """``optimizer`` is a ``torch.optim.Optimizer`` instance (gradbook's are too)."""
    check_instance(
        optimizer, name, torch.optim.Optimizer, "a torch.optim.Optimizer", allow_none=allow_none
    )


def check_path(path: Any, name: str = "path") -> str:
    """``path`` as a str: it must be a str or an ``os.PathLike``."""
    check_instance(path, name, (str, os.PathLike), "a str or os.PathLike")
    return os.fspath(path)


def check_in_range(
    value: object, name: str, low: float, high: float, *, include_high: bool = True
) -> float:
    """``value`` as a float: a real number from ``low`` to ``high`` (``high`` itself
    excluded when ``include_high`` is False), e.g. ``betas[0] must be a number in [0, 1)``."""
    x = check_real(value, name)
    if not (low <= x <= high if include_high else low <= x < high):
        closing = "]" if include_high else ")"
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}{closing}, got {value!r}")
    return x


def check_seed(seed: object, name: str = "seed") -> None:
    """``seed`` is an int that ``torch.manual_seed`` takes: from -2**63 to 2**64 - 1."""
    check_int(seed, name)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"{name} must be an int from -2**63 to 2**64 - 1, got {seed!r}")


def check_device(
    value: object, name: str = "device", *, allow_none: bool = False
) -> torch.device | None:
    """``value`` (a str or a ``torch.device``) as a ``torch.device`` that this machine has.

    ``device='cuda'`` on a CPU-only torch would fail later with torch's "Torch not compiled
    with CUDA enabled"; here it fails at once, naming the argument and the fix. The check
    does not initialise CUDA: ``torch.cuda.device_count`` counts the devices through NVML
    where it can, without a CUDA context, so the process may still fork safely afterwards.
    """
    if value is None and allow_none:
        return None
    what = "a str, a torch.device or None" if allow_none else "a str or a torch.device"
    check_instance(value, name, (str, torch.device), what)
    try:
        device = torch.device(value)
    except RuntimeError as exc:
        raise ValueError(f"{name} {value!r} is not a valid torch device: {exc}") from None
    missing = None
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if not torch.backends.cuda.is_built():
            missing = "this torch has no CUDA support (it is a CPU-only build)"
        elif count == 0:
            missing = "no CUDA device is available"
        elif device.index is not None and device.index >= count:
            missing = f"only {count} CUDA device(s) are available, cuda:0 to cuda:{count - 1}"
    elif device.type == "mps":
        if not torch.backends.mps.is_built():
            missing = "this torch has no MPS support"
        elif not torch.backends.mps.is_available():
            missing = "no MPS device is available"
    if missing is not None:
        shown = repr(value) if isinstance(value, str) else f"torch.device({str(value)!r})"
        raise ValueError(
            f"{name}={shown} names a device this machine does not have: {missing}; use {name}='cpu'"
        )
    return device
