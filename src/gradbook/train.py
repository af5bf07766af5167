r"""The training loop, written once: :func:`fit`, :func:`evaluate` and :class:`History`.

One epoch of minibatch gradient descent on a loss :math:`L(\theta)` is, for each batch
:math:`B`,

.. math::

    \theta \leftarrow \theta - \eta \, \nabla_\theta \frac{1}{|B|} \sum_{i \in B}
    \ell\bigl(f_\theta(x_i), y_i\bigr)

with the update itself left to the optimizer. :func:`fit` runs that loop and records
what happened; it costs about what a hand-written loop costs (see
``benchmarks/fit_vs_peers.py``), because for an ``(X, y)`` pair of tensors it draws one
permutation per epoch and indexes the tensors directly, with no ``DataLoader`` in between,
and on an accelerator it reads the losses back once per epoch, not once per step.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

__all__ = ["Callback", "EarlyStopping", "History", "evaluate", "fit"]

Data = tuple[torch.Tensor, torch.Tensor] | Dataset | DataLoader


class History:
    """What happened during :func:`fit`: losses per epoch and per step.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss of each epoch, weighted by batch size, so that it is the mean
        over the samples seen in that epoch (the model changes during the epoch, so this is
        not the loss of the final weights: :func:`evaluate` gives that).
    val_loss : list of float
        Loss on ``val_data`` at the end of each epoch (empty without ``val_data``).
    step_loss : list of float
        Loss of every optimisation step, in order.
    """

    def __init__(self) -> None:
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.step_loss: list[float] = []

    @property
    def epochs(self) -> int:
        """Number of epochs completed."""
        return len(self.train_loss)

    def __repr__(self) -> str:
        parts = [f"epochs={self.epochs}"]
        if self.train_loss:
            parts.append(f"train_loss={self.train_loss[-1]:.2g}")
        if self.val_loss:
            parts.append(f"val_loss={self.val_loss[-1]:.2g}")
        return f"History({', '.join(parts)})"

    def plot(self, ax=None):
        """Plot the loss per epoch (training, and validation when recorded).

        The y axis is logarithmic when every loss is positive and they span more than a
        factor of 10, which is when a linear axis would flatten the interesting part.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure is made when omitted.

        Returns
        -------
        matplotlib.figure.Figure
            The figure holding the plot.
        """
        if not self.train_loss:
            raise ValueError("History.plot: nothing to plot, the history holds no epochs")
        # imported here: training does not need matplotlib
        from gradbook.plotting import plot_loss_curves

        curves = {"train": self.train_loss}
        if self.val_loss:
            curves["validation"] = self.val_loss
        values = [v for v in self.train_loss + self.val_loss if math.isfinite(v)]
        logy = bool(values) and min(values) > 0 and max(values) / min(values) > 10
        ax = plot_loss_curves(curves, ax=ax, logy=logy)
        ax.legend()
        return ax.figure


@runtime_checkable
class Callback(Protocol):
    """What :func:`fit` calls after every epoch.

    Only ``on_epoch_end`` is required; ``on_train_begin(model, history)`` and
    ``on_train_end(model, history)`` are called when a callback defines them.
    """

    def on_epoch_end(self, history: History) -> bool:
        """Look at the history after an epoch; return ``True`` to stop training."""
        ...


class EarlyStopping:
    r"""Stop when a monitored loss has not improved for ``patience`` epochs.

    An epoch improves on the best loss so far when
    :math:`\text{loss} < \text{best} - \text{min\_delta}`.

    Parameters
    ----------
    patience : int, default 5
        Epochs without improvement to wait before stopping, >= 0.
    min_delta : float, default 0.0
        Smallest decrease that counts as an improvement, >= 0.
    monitor : {"val_loss", "train_loss"}, default "val_loss"
        Which :class:`History` list to watch. ``"val_loss"`` needs ``val_data`` in
        :func:`fit`.
    restore_best : bool, default True
        When training ends, load the weights of the best epoch back into the model
        (kept as a copy of its ``state_dict`` in memory).

    Attributes
    ----------
    best : float
        Best monitored loss seen.
    best_epoch : int or None
        Epoch (1-based) where it was seen.
    stopped_epoch : int or None
        Epoch after which training was stopped, ``None`` if it ran to the end.
    """

    def __init__(
        self,
        *,
        patience: int = 5,
        min_delta: float = 0.0,
        monitor: str = "val_loss",
        restore_best: bool = True,
    ) -> None:
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        if (
            not isinstance(min_delta, (int, float))
            or isinstance(min_delta, bool)
            or not min_delta >= 0
        ):
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        if monitor not in ("val_loss", "train_loss"):
            raise ValueError(f"monitor must be 'val_loss' or 'train_loss', got {monitor!r}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.monitor = monitor
        self.restore_best = bool(restore_best)
        self._reset(None)

    def _reset(self, model: nn.Module | None) -> None:
        self.best = math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._wait = 0
        self._model = model
        self._best_state: dict[str, torch.Tensor] | None = None

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"monitor={self.monitor!r}, restore_best={self.restore_best})"
        )

    def on_train_begin(self, model: nn.Module, history: History) -> None:
        """Forget any previous run and remember the model whose weights may be restored."""
        self._reset(model)

    def on_epoch_end(self, history: History) -> bool:
        """Record the monitored loss; return ``True`` once patience has run out."""
        values = getattr(history, self.monitor)
        if not values:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r} but the history has none: "
                "pass val_data to fit, or use monitor='train_loss'"
            )
        current = values[-1]
        if current < self.best - self.min_delta:
            self.best = current
            self.best_epoch = history.epochs
            self._wait = 0
            if self.restore_best and self._model is not None:
                state = self._model.state_dict()
                self._best_state = {k: v.detach().clone() for k, v in state.items()}
            return False
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = history.epochs
            return True
        return False

    def on_train_end(self, model: nn.Module, history: History) -> None:
        """Load the best epoch's weights back, when asked to and when they differ."""
        if self.restore_best and self._best_state is not None:
            if self.best_epoch != history.epochs:
                model.load_state_dict(self._best_state)
        self._best_state = None  # do not keep a copy of the weights alive after training


def fit(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    train_data: Data,
    *,
    epochs: int,
    batch_size: int | None = None,
    val_data: Data | None = None,
    shuffle: bool = True,
    device: str | torch.device | None = None,
    clip_grad_norm: float | None = None,
    callbacks: Iterable[Callback] | Callback = (),
    progress: bool | None = None,
    seed: int | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data``.

    Each step does ``zero_grad``, forward, ``loss_fn(model(x), y)``, ``backward``, optional
    gradient clipping, and ``optimizer.step()``, with the model in training mode. After each
    epoch the model is evaluated on ``val_data`` (in eval mode, under ``torch.no_grad``),
    the callbacks run and the progress bar moves. The model's train/eval mode is restored
    when ``fit`` returns.

    Parameters
    ----------
    model : nn.Module
        The model to train, in place.
    loss_fn : callable
        ``loss_fn(output, target)`` returning a scalar tensor, the *mean* loss over the
        batch (PyTorch's default ``reduction="mean"``).
    optimizer : torch.optim.Optimizer
        An optimizer over (some of) ``model``'s parameters.
    train_data : (X, y) tuple of tensors, Dataset or DataLoader
        The training data. A tuple is the fast path: each epoch draws one permutation and
        indexes the tensors, without a ``DataLoader``. A ``Dataset`` is wrapped in a
        ``DataLoader``; a ``DataLoader`` is used as it is (then ``batch_size`` must be
        ``None``). Batches must be ``(inputs, targets)`` pairs.
    epochs : int
        Number of passes over the data, >= 1.
    batch_size : int or None, default None
        Samples per step; ``None`` means the whole data set in one batch (full-batch
        gradient descent). The last batch of an epoch may be smaller.
    val_data : same kinds as ``train_data``, optional
        Evaluated after each epoch into ``History.val_loss``, in batches of ``batch_size``
        (a ``DataLoader`` keeps its own batches).
    shuffle : bool, default True
        Visit the training samples in a new random order each epoch.
    device : str or torch.device, optional
        Move the model and every batch there. By default nothing is moved.
    clip_grad_norm : float, optional
        Rescale the gradients so that their global 2-norm is at most this value
        (``torch.nn.utils.clip_grad_norm_``) before each step.
    callbacks : Callback or iterable of Callback, default ()
        Objects with ``on_epoch_end(history) -> bool``; training stops after an epoch
        where any of them returns ``True``. See :class:`EarlyStopping`.
    progress : bool or None, default None
        Show a tqdm progress bar over epochs with the current loss. ``None`` shows it
        only when standard error is a terminal, so docs builds and CI logs stay clean.
    seed : int, optional
        Seed the shuffling, and PyTorch's global generators *inside* ``fit`` only (for
        dropout and for ``DataLoader`` shuffling), so two runs with the same seed and the
        same initial weights give identical histories. The global random state is
        restored afterwards. ``None`` uses the global generators as they are.

    Returns
    -------
    History
        Per-epoch and per-step losses.

    Raises
    ------
    FloatingPointError
        When a training loss is NaN or infinite; the message names the epoch and the step.
        On the CPU the loss is checked at each step, before the optimizer applies it, so
        the weights are those from before the bad step. On an accelerator the losses are
        read back once per epoch (a per-step read would stall the device), so the error
        comes at the end of that epoch and names its first bad step.

    Examples
    --------
    >>> import torch
    >>> from gradbook.data import make_regression
    >>> X, y = make_regression(100, [2.0, 3.0])
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> history = fit(model, torch.nn.MSELoss(), opt, (X, y), epochs=100, progress=False)
    >>> history.epochs
    100
    """
    _check_model(model)
    _check_loss_fn(loss_fn)
    _check_optimizer(optimizer, model)
    if not isinstance(epochs, int) or isinstance(epochs, bool):
        raise TypeError(f"epochs must be an int, got {type(epochs).__name__}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    _check_batch_size(batch_size)
    if clip_grad_norm is not None:
        if (
            not isinstance(clip_grad_norm, (int, float))
            or isinstance(clip_grad_norm, bool)
            or not 0 < clip_grad_norm < math.inf
        ):
            raise ValueError(
                f"clip_grad_norm must be a positive finite number or None, got {clip_grad_norm!r}"
            )
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    callbacks = _check_callbacks(callbacks)
    device = _check_device(device)

    if device is not None:
        model.to(device)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    train = _Batches(train_data, "train_data", batch_size, shuffle, device, generator)
    val = None
    if val_data is not None:
        # A validation DataLoader keeps its own batching, whatever batch_size says.
        val_batch_size = None if isinstance(val_data, DataLoader) else batch_size
        val = _Batches(val_data, "val_data", val_batch_size, False, device, None)
    clip_params = [p for p in model.parameters() if p.requires_grad]
    history = History()
    show = _stderr_is_terminal() if progress is None else progress
    defer = _defer_loss_readback(_compute_device(model, device))
    was_training = model.training

    for cb in callbacks:
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin(model, history)
    with (
        _seeded(seed, _compute_device(model, device)),
        tqdm(total=epochs, desc="fit", unit="epoch", disable=not show, file=sys.stderr) as bar,
    ):
        try:
            for epoch in range(1, epochs + 1):
                model.train()
                losses: list = []  # floats on the CPU, 0-d device tensors when deferred
                sizes: list[int] = []
                for step, (xb, yb) in enumerate(train.epoch(), start=1):
                    optimizer.zero_grad()
                    loss = loss_fn(model(xb), yb)
                    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                        raise _not_scalar(loss)
                    if defer:
                        # On an accelerator a per-step .item() would stall the queue of
                        # kernels: keep the loss there and read the epoch's back at once.
                        losses.append(loss.detach())
                    else:
                        # On the CPU .item() costs less than .detach(), and checking before
                        # the step keeps the weights finite when the loss is not.
                        value = loss.item()
                        if not math.isfinite(value):
                            raise _non_finite(value, epoch, step, train.steps)
                        losses.append(value)
                    loss.backward()
                    if clip_grad_norm is not None:
                        nn.utils.clip_grad_norm_(clip_params, clip_grad_norm)
                    optimizer.step()
                    sizes.append(xb.shape[0])
                step_losses = losses
                if defer:
                    step_losses = torch.stack(losses).tolist()  # one device sync per epoch
                    _check_finite(step_losses, epoch, train.steps)
                history.step_loss.extend(step_losses)
                history.train_loss.append(
                    sum(l * n for l, n in zip(step_losses, sizes, strict=True)) / sum(sizes)
                )
                if val is not None:
                    history.val_loss.append(_evaluate(model, loss_fn, val))
                if show:
                    text = f"loss={history.train_loss[-1]:.4g}"
                    if val is not None:
                        text += f", val_loss={history.val_loss[-1]:.4g}"
                    bar.set_postfix_str(text, refresh=False)
                    bar.update(1)
                stop = False
                for cb in callbacks:
                    # Every callback sees every epoch, even after one asked to stop.
                    stop = bool(cb.on_epoch_end(history)) or stop
                if stop:
                    break
        finally:
            model.train(was_training)
    for cb in callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(model, history)
    return history


def evaluate(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    data: Data,
    *,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> float:
    """Mean loss of ``model`` over ``data``, in eval mode and without gradients.

    The mean is over samples: batch losses are weighted by batch size. The model's
    train/eval mode is restored afterwards.

    Parameters
    ----------
    model : nn.Module
        The model.
    loss_fn : callable
        ``loss_fn(output, target)`` returning the mean loss of a batch as a scalar tensor.
    data : (X, y) tuple of tensors, Dataset or DataLoader
        As ``train_data`` in :func:`fit`.
    batch_size : int or None, default None
        Samples per forward pass; ``None`` means all at once.
    device : str or torch.device, optional
        Move the model and the batches there. By default nothing is moved.

    Returns
    -------
    float
        The mean loss.
    """
    _check_model(model)
    _check_loss_fn(loss_fn)
    _check_batch_size(batch_size)
    device = _check_device(device)
    if device is not None:
        model.to(device)
    return _evaluate(model, loss_fn, _Batches(data, "data", batch_size, False, device, None))


# --------------------------------------------------------------------------- internals


class _Batches:
    """One validated data source; ``epoch()`` yields ``(inputs, targets)`` batches."""

    def __init__(
        self,
        data: Data,
        name: str,
        batch_size: int | None,
        shuffle: bool,
        device: torch.device | None,
        generator: torch.Generator | None,
    ) -> None:
        self.name = name
        self.device = device
        self.shuffle = shuffle
        self.generator = generator
        self.tensors: tuple[torch.Tensor, torch.Tensor] | None = None
        self.loader: DataLoader | None = None
        self.steps: int | None = None  # batches per epoch, when known
        if isinstance(data, (tuple, list)):
            self.tensors = _check_pair(data, name)
            if device is not None:
                # Move once, not once per batch.
                self.tensors = (self.tensors[0].to(device), self.tensors[1].to(device))
            n = self.tensors[0].shape[0]
            self.batch_size = n if batch_size is None else min(batch_size, n)
            self.steps = -(-n // self.batch_size)  # ceil(n / batch_size)
        elif isinstance(data, DataLoader):
            if batch_size is not None:
                raise ValueError(
                    f"batch_size must be None when {name} is a DataLoader (it batches "
                    f"already, with batch_size={data.batch_size}); got {batch_size}"
                )
            self.steps = _safe_len(data)
            if self.steps == 0:
                raise ValueError(f"{name} is empty: the DataLoader yields no batches")
            self.loader = data
        elif isinstance(data, Dataset):
            n = _safe_len(data)
            if n == 0:
                raise ValueError(f"{name} is empty: the Dataset has length 0")
            if batch_size is None and n is None:
                raise ValueError(f"{name} has no length, so batch_size=None cannot mean all of it")
            self.loader = DataLoader(
                data,
                batch_size=n if batch_size is None else batch_size,
                shuffle=shuffle,
                generator=generator,
            )
            self.steps = _safe_len(self.loader)
        else:
            raise TypeError(
                f"{name} must be an (X, y) tuple of tensors, a Dataset or a DataLoader, "
                f"got {type(data).__name__}"
            )

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.tensors is not None:
            return self._tensor_epoch()
        return self._loader_epoch()

    def _tensor_epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, y = self.tensors
        n, bs = X.shape[0], self.batch_size
        if bs >= n:
            # Full batch: the order of samples does not change a mean loss.
            yield X, y
            return
        if not self.shuffle:
            for i in range(0, n, bs):
                yield X[i : i + bs], y[i : i + bs]  # views, no copy
            return
        perm = torch.randperm(n, generator=self.generator)  # (n,)
        if X.device != perm.device:
            perm = perm.to(X.device)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]  # (bs,)
            yield X[idx], y[idx]  # (bs, ...), (bs, ...)

    def _loader_epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = self.device
        for batch in self.loader:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise TypeError(
                    f"{self.name} must yield (inputs, targets) pairs, got "
                    f"{type(batch).__name__}"
                    + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
                )
            xb, yb = batch
            if device is not None:
                xb = xb.to(device, non_blocking=True)
                yb = yb.to(device, non_blocking=True)
            yield xb, yb


def _evaluate(model: nn.Module, loss_fn: Callable, batches: _Batches) -> float:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            total: torch.Tensor | float = 0.0
            count = 0
            for xb, yb in batches.epoch():
                loss = loss_fn(model(xb), yb)
                if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                    raise _not_scalar(loss)
                n = xb.shape[0]
                total = total + loss * n  # stays on the device until the end
                count += n
    finally:
        model.train(was_training)
    return float(total) / count


def _check_model(model: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _check_loss_fn(loss_fn: Any) -> None:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")


def _check_optimizer(optimizer: Any, model: nn.Module) -> None:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    model_params = {id(p) for p in model.parameters()}
    if not any(id(p) in model_params for g in optimizer.param_groups for p in g["params"]):
        raise ValueError(
            "optimizer holds none of the model's parameters: build it from "
            "model.parameters() of this model (was it made for another model, or before "
            "the model was re-created?)"
        )


def _check_batch_size(batch_size: Any) -> None:
    if batch_size is None:
        return
    if not isinstance(batch_size, int) or isinstance(batch_size, bool):
        raise TypeError(f"batch_size must be an int or None, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (full batch), got {batch_size}")


def _check_device(device: Any) -> torch.device | None:
    if device is None or isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a str, a torch.device or None, got {device!r}")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device {device!r} is not a valid torch device: {exc}") from None


def _check_callbacks(callbacks: Any) -> list:
    if hasattr(callbacks, "on_epoch_end"):
        callbacks = [callbacks]
    if not isinstance(callbacks, Iterable):
        raise TypeError(f"callbacks must be an iterable of callbacks, got {callbacks!r}")
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(getattr(cb, "on_epoch_end", None)):
            raise TypeError(f"each callback needs an on_epoch_end(history) method; {cb!r} has none")
    return callbacks


def _check_pair(data: Sequence, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if len(data) != 2:
        raise ValueError(f"{name} as a tuple must be (X, y), got {len(data)} items")
    X, y = data
    for label, t in (("X", X), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim == 0:
            raise ValueError(f"{name}: {label} must have a batch dimension, got a 0-d tensor")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name}: X and y must have the same length, got {X.shape[0]} inputs "
            f"and {y.shape[0]} targets"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: X and y have 0 rows")
    return X, y


def _safe_len(obj: Any) -> int | None:
    try:
        return len(obj)
    except TypeError:  # an IterableDataset without __len__
        return None


def _not_scalar(loss: Any) -> ValueError:
    got = f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type(loss).__name__
    return ValueError(
        f"loss_fn must return a scalar tensor (the mean loss of the batch), got {got}; "
        "with a torch.nn loss, keep reduction='mean'"
    )


def _defer_loss_readback(device: torch.device) -> bool:
    """Read losses back once per epoch (accelerators) rather than once per step (CPU)."""
    return device.type != "cpu"


def _non_finite(value: float, epoch: int, step: int, steps: int | None) -> FloatingPointError:
    of = f" of {steps}" if steps is not None else ""
    return FloatingPointError(
        f"training loss is {value} at epoch {epoch}, step {step}{of}: lower the learning "
        "rate, clip gradients (clip_grad_norm=) or check the data for NaN/inf"
    )


def _check_finite(step_losses: list[float], epoch: int, steps: int | None) -> None:
    if math.isfinite(sum(step_losses)):  # one pass in the common case; overflow -> inf
        return
    for step, value in enumerate(step_losses, start=1):
        if not math.isfinite(value):
            raise _non_finite(value, epoch, step, steps)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _compute_device(model: nn.Module, device: torch.device | None) -> torch.device:
    if device is not None:
        return device
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device):
    """Seed the global generators for the duration of ``fit``, then restore them."""
    if seed is None:
        yield
        return
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
