"""The first batch of a data source, checked against the model, once (used by ``fit``).

A mismatch between the data and the model (a shape, a dtype, a device) is in every batch,
so :func:`gradbook.train.fit` and :func:`gradbook.train.evaluate` check the first batch of
each data source, once: before the forward pass where the model's first layer is known,
after it for the targets against the output. Every message names the data (``train_data's
X``), both sides of the mismatch and the fix (``use y.unsqueeze(1)``).

- ``checked_loss``: ``loss_fn(model(X), y)`` for a first batch, with every check below;
- ``_first_forward``, ``_first_linear``, ``_input_problem``, ``_forward_failed``: the
  inputs against the model's first layer;
- ``_check_targets`` and the functions after it: the targets against the output, for the
  losses where a mismatch is a mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from gradbook._validation import type_name
from gradbook.models import MLP, SimpleNet

__all__ = ["checked_loss"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_BROADCASTING_LOSSES = (
    (nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss),
    (F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss),
)
_BINARY_LOSSES = (
    (nn.BCELoss, nn.BCEWithLogitsLoss),
    (F.binary_cross_entropy, F.binary_cross_entropy_with_logits),
)
# Cross-entropy and NLL take (N,) class indices against (N, C) outputs, on purpose.
_CLASS_INDEX_LOSSES = ((nn.CrossEntropyLoss, nn.NLLLoss), (F.cross_entropy, F.nll_loss))


def checked_loss(model: nn.Module, loss_fn: LossFn, xb: Any, yb: Any, name: str) -> torch.Tensor:
    """``loss_fn(model(xb), yb)`` for a first batch, with the batch checked against the model
    and the loss checked to be the scalar tensor that a mean loss is."""
    out = _first_forward(model, xb, name)
    if isinstance(out, torch.Tensor) and isinstance(yb, torch.Tensor):
        _check_targets(loss_fn, out, yb, name)
    loss = loss_fn(out, yb)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        got = f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type_name(loss)
        raise ValueError(
            f"loss_fn must return a scalar tensor (the mean loss of the batch), got {got}; "
            "with a torch.nn loss, keep reduction='mean'"
        )
    return loss


def _first_forward(model: nn.Module, X: Any, name: str) -> Any:
    """``model(X)`` for a first batch: a mismatch with the model's first layer raises before
    the forward pass when that layer is certain, and any RuntimeError of the forward pass
    becomes a ValueError that describes the batch and the model."""
    layer, certain = _first_linear(model)
    problem = None
    if layer is not None and isinstance(X, torch.Tensor):
        problem = _input_problem(layer, X, name)
    if problem is not None and certain:
        raise ValueError(problem)
    try:
        return model(X)
    except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError, under its torch 2.2 name
        raise  # a lack of memory, not a mismatch
    except RuntimeError as exc:
        raise ValueError(problem or _forward_failed(model, X, name, exc)) from exc


def _first_linear(model: nn.Module) -> tuple[nn.Linear | None, bool]:
    """The ``nn.Linear`` that sees the input first, and whether that is certain.

    It is certain for a Linear, an MLP, a SimpleNet and an ``nn.Sequential`` that starts
    with one of these. For another model whose first submodule leads to a Linear it is only
    likely: its forward may reshape the input first (``x.view(-1, 784)``), so a mismatch
    found there explains a failed forward pass but does not stop one that works.
    """
    certain = True
    module: nn.Module | None = model
    while module is not None and not isinstance(module, nn.Linear):
        if type(module) is nn.Sequential:
            module = module[0] if len(module) else None
        elif type(module) is MLP:
            module = module.layers
        elif type(module) is SimpleNet:
            module = module.linear1
        else:
            module, certain = next(module.children(), None), False
    if module is None or isinstance(module, nn.modules.lazy.LazyModuleMixin):
        return None, False  # no Linear, or a lazy one that learns its size from the input
    return module, certain


def _input_problem(layer: nn.Linear, X: torch.Tensor, name: str) -> str | None:
    """Why the model's first layer ``layer`` cannot take ``X``, with the fix; None if it can."""
    weight, d = layer.weight, layer.in_features
    if X.ndim == 1:
        fix = ": use X.unsqueeze(1) (or X.reshape(-1, 1))" if d == 1 else ""
        return (
            f"{name}'s X has shape {_shape(X)}, but the model's first layer ({layer}) takes "
            f"one row of {d} feature(s) per sample, an X of shape ({len(X)}, {d}){fix}"
        )
    if X.shape[-1] != d:
        return (
            f"{name}'s X has {X.shape[-1]} features but the model's first layer expects {d} "
            f"(X has shape {_shape(X)}; the first layer is {layer})"
        )
    if X.dtype != weight.dtype:
        fix = f"use X{_CASTS.get(weight.dtype, f'.to({weight.dtype})')}"
        if X.is_floating_point():
            fix += f" (or model{_CASTS.get(X.dtype, f'.to({X.dtype})')})"
        return (
            f"{name}'s X is {_dtype(X.dtype)} but the model's parameters are "
            f"{_dtype(weight.dtype)}: {fix}"
        )
    if X.device != weight.device:
        return (
            f"{name}'s X is on {X.device} but the model's parameters are on {weight.device}: "
            f"pass device='{weight.device}' (or move X with X.to('{weight.device}'))"
        )
    return None


_CASTS = {
    torch.float32: ".float()",
    torch.float64: ".double()",
    torch.float16: ".half()",
    torch.bfloat16: ".bfloat16()",
}


def _forward_failed(model: nn.Module, X: Any, name: str, exc: RuntimeError) -> str:
    """The message for a first forward pass that failed where no check foresaw it."""
    p = next(model.parameters(), None)
    params = "" if p is None else f" with {_dtype(p.dtype)} parameters on {p.device}"
    if isinstance(X, torch.Tensor):
        x = f"X of shape {_shape(X)}, {_dtype(X.dtype)}, on {X.device}"
    else:
        x = f"X, a {type_name(X)}"
    lines = str(exc).strip().splitlines()
    reason = lines[0][:300] if lines else ""
    return (
        f"the model ({type(model).__name__}{params}) cannot take the first batch of {name} "
        f"({x}): its forward pass raised {type(exc).__name__}: {reason}"
    )


def _check_targets(loss_fn: LossFn, out: torch.Tensor, y: torch.Tensor, name: str) -> None:
    """Raise where ``loss_fn`` would broadcast ``y`` against ``out``, or refuse its classes."""
    loss = type(loss_fn).__name__ if isinstance(loss_fn, nn.Module) else _name_of(loss_fn)
    broadcasts = _is_one_of(loss_fn, _BROADCASTING_LOSSES)
    if (broadcasts or _is_one_of(loss_fn, _BINARY_LOSSES)) and y.shape != out.shape:
        raise ValueError(_target_shape_message(loss, out, y, name, broadcasts))
    if _is_one_of(loss_fn, _CLASS_INDEX_LOSSES) and out.ndim >= 2:
        _check_class_indices(loss, out, y, name)


def _target_shape_message(
    loss: str, out: torch.Tensor, y: torch.Tensor, name: str, broadcasts: bool
) -> str:
    got = f"{name}'s y has shape {_shape(y)}, the model outputs {_shape(out)}"
    if y.ndim == 1 and out.shape == (*y.shape, 1):
        fix = "use y.unsqueeze(1) (or y.reshape(-1, 1))"
    elif out.ndim == 1 and y.shape == (*out.shape, 1):
        fix = "use y.squeeze(1)"
    else:
        fix = f"{loss} needs targets of the output's shape"
    try:
        wide = tuple(torch.broadcast_shapes(out.shape, y.shape))
    except RuntimeError:
        broadcasts = False
    if not broadcasts:
        return f"{got}: {fix}"
    return (
        f"{got}: {fix}. {loss} would broadcast them to {wide} and average pairs that mean nothing"
    )


def _check_class_indices(loss: str, out: torch.Tensor, y: torch.Tensor, name: str) -> None:
    """Raise, with the fix, when ``y`` is neither one class index per sample (int64, of
    ``out``'s shape without dim 1) nor class probabilities (of ``out``'s shape)."""
    if y.is_floating_point() and y.shape == out.shape:
        return  # class probabilities
    indices = (*out.shape[:1], *out.shape[2:])  # (N, ...): one class index per sample
    cast = "" if y.dtype in (torch.long, torch.uint8) else ".long()"
    if y.shape == indices:
        if not cast:
            return
        fix = f"use y{cast}"
    elif y.shape == (*indices[:1], 1, *indices[1:]):
        fix = f"use y.squeeze(1){cast}"
    elif y.shape == out.shape:
        fix = "use y.float() (one-hot rows as class probabilities) or y.argmax(1) (indices)"
    else:
        return  # not a slip with a known fix: torch's own error says what it expected
    raise ValueError(
        f"{name}'s y is {_dtype(y.dtype)} of shape {_shape(y)} and the model outputs "
        f"{_shape(out)}: {loss} takes one class index per sample (int64, shape {indices}) "
        f"or class probabilities (float, shape {_shape(out)}): {fix}"
    )


def _is_one_of(loss_fn: Any, kinds: tuple[tuple[type, ...], tuple[Callable, ...]]) -> bool:
    """``loss_fn`` is an instance of one of the classes, or one of the functions itself."""
    classes, functions = kinds
    return isinstance(loss_fn, classes) or any(loss_fn is f for f in functions)


def _name_of(fn: Any) -> str:
    return getattr(fn, "__name__", type_name(fn))


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
