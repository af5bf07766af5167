r"""The training loop, written once: :func:`fit`, :func:`evaluate`, :class:`History`, and the
callbacks :class:`Callback` and :class:`EarlyStopping`.

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

Besides the public names, the module holds the pieces :func:`fit` is made of:

- ``_Batches``: one validated data source; ``epoch()`` yields its ``(inputs, targets)``
  batches and ``loss()`` computes a batch's loss;
- ``checked_loss`` (from ``gradbook._first_batch``): the first batch of each data
  source, checked against the model once (the input's features, dtype and device against
  the first layer, the targets' shape and dtype against the output, for the losses where a
  mismatch is a mistake);
- ``_train_epoch``: the optimisation steps of one epoch;
- ``_StepLosses``: where the step losses are read back from the device, and
  ``_check_finite``, the one place a NaN or infinite loss is turned into an error;
- ``_record_epoch`` and ``_evaluate``: the sample-weighted mean losses;
- ``_ProcessGroup`` and ``_Shard``: what changes inside a ``torch.distributed`` process
  group (the model in ``DistributedDataParallel``, each rank's share of the data, and the
  collectives that make every rank record the same global means);
- small helpers: argument conversion, the progress bar, the seeding context.

Outside a process group none of the data-parallel code runs: ``fit`` checks for a group
once per call.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
)
from tqdm import tqdm

from gradbook._first_batch import checked_loss
from gradbook._validation import (
    check_bool,
    check_callable,
    check_choice,
    check_device,
    check_instance,
    check_int,
    check_model,
    check_optimizer,
    check_real,
    check_seed,
    type_name,
)

__all__ = ["Callback", "EarlyStopping", "History", "evaluate", "fit"]

Data = tuple[torch.Tensor, torch.Tensor] | Dataset | DataLoader
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


class Callback:
    """Base class of what :func:`fit` calls while it trains; every hook does nothing.

    Subclass it and override the hooks you need. Every hook gets the same two arguments:
    the model being trained and the :class:`History` so far.

    - ``on_train_begin(model, history)``: once, before the first epoch.
    - ``on_epoch_end(model, history) -> bool``: after each epoch, once ``history`` holds
      that epoch's losses. Return ``True`` to stop training after this epoch.
    - ``on_train_end(model, history)``: once, after the last epoch. It runs in a
      ``finally``, so it also runs when training raises (a NaN loss, an error in another
      hook, a ``KeyboardInterrupt``).

    Examples
    --------
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, model, history):
    ...         print(f"epoch {history.epochs}: loss {history.train_loss[-1]:.3f}")
    ...         return False  # keep training
    """

    def on_train_begin(self, model: nn.Module, history: History) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, model: nn.Module, history: History) -> bool:
        """Called after each epoch; return ``True`` to stop training."""
        return False

    def on_train_end(self, model: nn.Module, history: History) -> None:
        """Called once when training ends, however it ends."""


class EarlyStopping(Callback):
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
        (kept as a copy of its ``state_dict`` in memory). This happens however training
        ends: after a ``FloatingPointError`` or an interruption too, the model is left
        with the best weights seen rather than those of the failed epoch.

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
        check_int(patience, "patience", minimum=0)
        min_delta = check_real(min_delta, "min_delta", minimum=0)
        check_choice(monitor, "monitor", ("val_loss", "train_loss"))
        check_bool(restore_best, "restore_best")
        self.patience = patience
        self.min_delta = min_delta
        self.monitor = monitor
        self.restore_best = restore_best
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._wait = 0
        self._best_state: dict[str, torch.Tensor] | None = None

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"monitor={self.monitor!r}, restore_best={self.restore_best})"
        )

    def on_train_begin(self, model: nn.Module, history: History) -> None:
        """Forget any previous run."""
        self._reset()

    def on_epoch_end(self, model: nn.Module, history: History) -> bool:
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
            if self.restore_best:
                self._best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = history.epochs
            return True
        return False

    def on_train_end(self, model: nn.Module, history: History) -> None:
        """Load the best epoch's weights back into ``model``, when ``restore_best``."""
        # Loaded even when the best epoch is the last one completed: when training raised,
        # the weights have moved on since (part of an epoch, or a NaN step).
        if self._best_state is not None:
            model.load_state_dict(self._best_state)
        self._best_state = None  # do not keep a copy of the weights alive after training


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    train_data: Data,
    *,
    epochs: int,
    batch_size: int | None = None,
    val_data: Data | None = None,
    shuffle: bool = True,
    device: str | torch.device | None = None,
    clip_grad_norm: float | None = None,
    callbacks: Callback | Iterable[Callback] = (),
    progress: bool | None = None,
    seed: int | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data``.

    Each step does ``zero_grad``, forward, ``loss_fn(model(x), y)``, ``backward``, optional
    gradient clipping, and ``optimizer.step()``, with the model in training mode. After each
    epoch the model is evaluated on ``val_data`` (in eval mode, under ``torch.no_grad``),
    the epoch is recorded in the :class:`History`, the progress bar moves and the callbacks
    run. The model's train/eval mode is restored when ``fit`` returns or raises.

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
        indexes the tensors, without a ``DataLoader``. A ``Dataset`` (an ``IterableDataset``
        too) is wrapped in a ``DataLoader``; a ``DataLoader`` is used as it is (then
        ``batch_size`` must be ``None``). Batches must be ``(inputs, targets)`` pairs. The
        first batch is checked against the model: its inputs' features, dtype and device
        against the model's first ``nn.Linear`` (when that is known), and, for the losses
        that compare output and target element by element (``MSELoss``, ``L1Loss``,
        ``HuberLoss``, ``SmoothL1Loss``, ``BCELoss``, ``BCEWithLogitsLoss`` and their
        functional forms), the targets' shape against the output's, which torch would
        otherwise broadcast (``y`` of shape ``(N,)`` against ``(N, 1)`` gives ``(N, N)``);
        for ``CrossEntropyLoss`` and ``NLLLoss``, that the targets are class indices
        (int64, of shape ``(N,)`` against ``(N, C)``) or class probabilities.
    epochs : int
        Number of passes over the data, >= 1.
    batch_size : int or None, default None
        Samples per step; ``None`` means the whole data set in one batch (full-batch
        gradient descent), which needs data with a length (an ``IterableDataset`` without
        ``__len__`` needs a ``batch_size``). The last batch of an epoch may be smaller.
        Inside a process group it is per process: each step takes ``batch_size`` samples
        on every rank, a global batch of ``batch_size * world_size``.
    val_data : same kinds as ``train_data``, optional
        Evaluated after each epoch into ``History.val_loss``, in batches of ``batch_size``
        (a ``DataLoader`` keeps its own batches).
    shuffle : bool, default True
        Visit the training samples in a new random order each epoch. An
        ``IterableDataset`` is read in its own order whatever ``shuffle`` says: it yields
        samples one after another and cannot be shuffled from outside (shuffle inside its
        ``__iter__``, or use a map-style ``Dataset``). A ``DataLoader`` shuffles or not as
        it was built.
    device : str or torch.device, optional
        Move the model and every batch there (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"``); a device this machine does not have is a ``ValueError``. By default
        nothing is moved.
    clip_grad_norm : float, optional
        Rescale the gradients so that their global 2-norm is at most this value
        (``torch.nn.utils.clip_grad_norm_``) before each step.
    callbacks : Callback or iterable of Callback, default ()
        Instances of :class:`Callback` subclasses, such as :class:`EarlyStopping`. Their
        hooks run in the order given; training stops after an epoch where any
        ``on_epoch_end`` returns ``True`` (every callback still sees that epoch), and
        ``on_train_end`` runs however training ends.
    progress : bool or None, default None
        Show a tqdm progress bar over epochs with the current loss. ``None`` shows it
        only when standard error is a terminal, so docs builds and CI logs stay clean.
    seed : int, optional
        Seed the shuffling, and PyTorch's global generators *inside* ``fit`` only (for
        dropout and for ``DataLoader`` shuffling), so two runs with the same seed and the
        same initial weights give identical histories. The global random state is
        restored afterwards. ``None`` uses the global generators as they are. Any int
        that ``torch.manual_seed`` takes: from -2**63 to 2**64 - 1. Inside a process group,
        pass the same seed on every rank: it seeds the order of the samples, the same on
        every rank, and rank ``r``'s global generators with ``seed + r``, so that dropout
        draws differ between ranks as they would between samples.

    Returns
    -------
    History
        Per-epoch and per-step losses.

    Notes
    -----
    **Inside a torch.distributed process group** (initialised by ``torchrun`` and
    ``torch.distributed.init_process_group``, or by :func:`gradbook.distributed.launch`),
    call ``fit`` on every rank with the same arguments; it trains data-parallel:

    - the model is wrapped in ``DistributedDataParallel`` (or used as given when it is
      one already), which makes every rank start from rank 0's weights and averages the
      gradients over the ranks inside each ``backward``. ``model`` itself ends up holding
      the trained parameters, the same on every rank;
    - each rank trains on its share of ``train_data``, drawn by a ``DistributedSampler``
      (``shuffle`` as given, ``set_epoch`` called every epoch, so that each epoch has a new
      order and the ranks' shares never overlap). When the data's length is not a multiple
      of the number of ranks the sampler repeats a few samples, so that every rank takes
      the same number of steps. A ``DataLoader`` whose sampler is a
      ``DistributedSampler`` is used as it is; one with the default sampler (sequential,
      or random with ``shuffle=True``) is rebuilt with the same settings around a
      ``DistributedSampler``; one with another sampler is refused (it is not known how to
      split it). An ``IterableDataset`` is read as it is, on every rank: split it in its
      ``__iter__`` (with ``torch.distributed.get_rank()``), so that every rank yields the
      same number of batches;
    - ``val_data`` is split too (every ``world_size``-th sample, not repeated) and
      evaluated on the model itself, without DDP;
    - the :class:`History` holds global means, the same on every rank: each step's loss
      is the mean over the global batch, the epoch's over every rank's samples,
      ``val_loss`` over all of ``val_data``. So 2 ranks with ``batch_size=8`` and
      ``shuffle=False`` record the losses, and reach the parameters, of 1 process with
      ``batch_size=16``, up to rounding;
    - callbacks run on every rank (they see the same history), and training stops on
      every rank after an epoch where one asks it to on any rank;
    - the progress bar shows on rank 0 only;
    - the device follows the backend: with NCCL each rank trains on its own GPU, number
      ``LOCAL_RANK`` (``device`` then must be a CUDA device or ``None``); with gloo where
      the model is, unless ``device`` says otherwise.

    A rank that raises (a NaN loss, a bad batch) leaves the others waiting in their next
    collective: :func:`gradbook.distributed.launch` and ``torchrun`` stop them.

    Raises
    ------
    TypeError, ValueError
        When an argument is of the wrong kind (``TypeError``: ``shuffle="no"``,
        ``callbacks=[EarlyStopping]``, ``loss_fn=nn.MSELoss`` without the brackets, an
        object that is not a :class:`Callback`) or outside its range (``ValueError``:
        ``epochs=0``, ``device="cuda"`` without a CUDA device, empty data); the message
        names the argument.
    ValueError
        When the first batch of ``train_data`` or ``val_data`` does not fit the model,
        with the fix: "train_data's X has 3 features but the model's first layer expects
        2", "train_data's X is float64 but the model's parameters are float32: use
        X.float() (or model.double())", "train_data's y has shape (40,), the model outputs
        (40, 1): use y.unsqueeze(1) (or y.reshape(-1, 1))". A ``RuntimeError`` from the
        model's first forward pass is raised as a ``ValueError`` that describes the batch
        and the model (the original is chained to it); later steps raise as they are.
    FloatingPointError
        When a training loss is NaN or infinite; the message names the epoch and the step
        ("at epoch 3, step 7 of 10"). On the CPU each loss is checked as it is computed,
        before ``optimizer.step()`` applies it, so the weights are those from before the
        bad step. On an accelerator the losses are read back once per epoch (a per-step
        read would stall the device), so the error comes at the end of that epoch, names
        its first bad step, and the weights have taken the steps in between. In both
        cases ``on_train_end`` still runs: with ``EarlyStopping(restore_best=True)`` the
        model then holds the weights of its best epoch.

    Examples
    --------
    >>> import torch
    >>> from gradbook.data import make_regression
    >>> X, y = make_regression(100, [2.0, 3.0])
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> loss_fn = torch.nn.MSELoss()
    >>> history = fit(model, loss_fn, opt, (X, y), epochs=100, progress=False)
    >>> history.epochs
    100
    """
    check_model(model)
    _check_loss_fn(loss_fn)
    _check_optimizer_trains(optimizer, model)
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    check_bool(shuffle, "shuffle")
    check_real(clip_grad_norm, "clip_grad_norm", positive=True, allow_none=True)
    check_bool(progress, "progress", allow_none=True)
    if seed is not None:
        check_seed(seed)
    callbacks = _as_callbacks(callbacks)
    device = check_device(device, allow_none=True)

    group = _ProcessGroup.current()  # None outside torch.distributed: one process
    if group is not None and device is None:
        device = group.default_device
    if device is not None:
        model.to(device)
    compute_device = _compute_device(model, device)
    defer = _defer_loss_readback(compute_device)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    net = model if group is None else group.wrap(model, compute_device)  # what steps call
    shard = None if group is None else group.train_shard(seed)
    train = _Batches(train_data, "train_data", batch_size, shuffle, device, generator, shard)
    val = None if val_data is None else _validation_batches(val_data, batch_size, device, group)
    history = History()
    was_training = model.training
    try:
        for cb in callbacks:
            cb.on_train_begin(model, history)
        with (
            _seeded(seed if group is None else group.rank_seed(seed), compute_device),
            _progress_bar(epochs, progress if group is None or group.rank == 0 else False) as bar,
        ):
            for epoch in range(1, epochs + 1):
                losses, sizes = _train_epoch(
                    net, loss_fn, optimizer, train, epoch, clip_grad_norm, defer
                )
                if group is not None:  # every rank records the means over all the ranks
                    losses, sizes = group.global_steps(losses, sizes)
                val_loss = None if val is None else _evaluate(_unwrapped(net), loss_fn, val)
                _record_epoch(history, losses, sizes, val_loss)
                _show_progress(bar, history)
                stop = _epoch_end(callbacks, model, history)
                if group is not None and callbacks:  # one rank's callback stops them all
                    stop = group.any(stop)
                if stop:
                    break
    finally:
        model.train(was_training)
        for cb in callbacks:
            cb.on_train_end(model, history)
    return history


def evaluate(
    model: nn.Module,
    loss_fn: LossFn,
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
        Samples per forward pass; ``None`` means all at once (per process, inside a
        process group).
    device : str or torch.device, optional
        Move the model and the batches there; a device this machine does not have is a
        ``ValueError``. By default nothing is moved (inside a process group with NCCL: to
        this rank's GPU).

    Returns
    -------
    float
        The mean loss. Inside a ``torch.distributed`` process group (call it on every
        rank), each rank evaluates every ``world_size``-th sample, and the result is the
        mean over all of ``data``, the same on every rank (a ``DataLoader`` is split as
        :func:`fit` splits one).

    Raises
    ------
    TypeError, ValueError
        As :func:`fit`: for an argument of the wrong kind or value, for empty data, and
        for a first batch that does not fit the model (the message names ``data``).
    """
    check_model(model)
    _check_loss_fn(loss_fn)
    check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    device = check_device(device, allow_none=True)
    group = _ProcessGroup.current()
    if group is not None and device is None:
        device = group.default_device
    if device is not None:
        model.to(device)
    shard = None if group is None else group.eval_shard()
    batches = _Batches(data, "data", batch_size, False, device, None, shard)
    return _evaluate(_unwrapped(model), loss_fn, batches)


# --------------------------------------------------------------------------- one epoch


class _Batches:
    """One validated data source: ``epoch()`` yields its ``(inputs, targets)`` batches, and
    ``loss()`` computes a batch's loss (checking the first batch against the model).

    With a ``shard`` (inside a process group) it yields this rank's share only.
    """

    def __init__(
        self,
        data: Data,
        name: str,
        batch_size: int | None,
        shuffle: bool,
        device: torch.device | None,
        generator: torch.Generator | None,
        shard: _Shard | None = None,
    ) -> None:
        self.name = name
        self.device = device
        self.shuffle = shuffle
        self.generator = generator
        self.shard = shard
        self.tensors: tuple[torch.Tensor, torch.Tensor] | None = None
        self.loader: DataLoader | None = None
        self.sampler: Any = None  # with a shard: the indices of this rank's samples
        self.epochs_started = 0
        self.steps: int | None = None  # batches per epoch, when known
        self.checked = False  # whether a batch has been checked against the model yet
        if isinstance(data, (tuple, list)):
            self.tensors = _as_pair(data, name)
            if device is not None:
                # Move once, not once per batch.
                self.tensors = (self.tensors[0].to(device), self.tensors[1].to(device))
            n = self.tensors[0].shape[0]
            if shard is not None:
                self.sampler = shard.sampler(n, shuffle)
                n = len(self.sampler)  # this rank's share (0 for a small evaluation set)
            self.batch_size = max(1, n if batch_size is None else min(batch_size, n))
            self.steps = -(-n // self.batch_size)  # ceil(n / batch_size)
        elif isinstance(data, DataLoader):
            if batch_size is not None:
                raise ValueError(
                    f"batch_size must be None when {name} is a DataLoader (it batches "
                    f"already, with batch_size={data.batch_size}); got {batch_size}"
                )
            if _safe_len(data) == 0:
                raise ValueError(f"{name} is empty: the DataLoader yields no batches")
            self.loader = data if shard is None else _shard_loader(data, name, shard)
            self.steps = _safe_len(self.loader)
        elif isinstance(data, Dataset):
            self.loader = _dataset_loader(data, name, batch_size, shuffle, generator, shard)
            self.steps = _safe_len(self.loader)
        else:
            raise TypeError(
                f"{name} must be an (X, y) tuple of tensors, a Dataset or a DataLoader, "
                f"got {type_name(data)}"
            )
        if self.loader is not None and shard is not None:
            self.sampler = _order_sampler(self.loader)  # for set_epoch

    def loss(self, model: nn.Module, loss_fn: LossFn, xb: Any, yb: Any) -> torch.Tensor:
        """``loss_fn(model(xb), yb)``; for the first batch, with the batch checked too."""
        if self.checked:
            # A mismatch of data and model is in every batch: checking the first is enough,
            # and keeps the checks off the per-step cost.
            return loss_fn(model(xb), yb)
        loss = checked_loss(model, loss_fn, xb, yb, self.name)
        self.checked = True
        return loss

    def empty_message(self) -> str:
        """What to say when a pass over the data (training or evaluation) yielded no batch."""
        if not self.checked:
            return f"{self.name} is empty: it yielded no batches"
        return (
            f"{self.name} yielded no batches this time, after yielding some before: an "
            "IterableDataset must start again on each iter() (a generator made once in "
            "__init__ is used up after the first epoch)"
        )

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if isinstance(self.sampler, DistributedSampler):
            # A new order each epoch, the same on every rank: their shares stay disjoint.
            self.sampler.set_epoch(self.epochs_started)
        self.epochs_started += 1
        if self.tensors is not None:
            return self._tensor_epoch()
        return self._loader_epoch()

    def _tensor_epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, y = self.tensors
        if self.sampler is not None:  # this rank's share, in the sampler's order
            idx = torch.tensor(list(self.sampler), dtype=torch.long, device=X.device)  # (n_r,)
            for i in range(0, len(idx), self.batch_size):
                rows = idx[i : i + self.batch_size]  # (bs,)
                yield X[rows], y[rows]
            return
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
                    f"{self.name} must yield (inputs, targets) pairs, got {type_name(batch)}"
                    + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
                )
            xb, yb = batch
            if device is not None:
                xb = xb.to(device, non_blocking=True)
                yb = yb.to(device, non_blocking=True)
            yield xb, yb


def _dataset_loader(
    data: Dataset,
    name: str,
    batch_size: int | None,
    shuffle: bool,
    generator: torch.Generator | None,
    shard: _Shard | None = None,
) -> DataLoader:
    """A DataLoader over ``data``, all of it in one batch when ``batch_size`` is None; with a
    ``shard``, over this rank's share of it."""
    n = _safe_len(data)
    if n == 0:
        raise ValueError(f"{name} is empty: the Dataset has length 0")
    if batch_size is None and n is None:
        raise ValueError(
            f"batch_size must be an int when {name} has no length (an IterableDataset "
            "without __len__), got None: batch_size=None means all of it in one batch, and "
            "without a length there is no knowing how much that is"
        )
    if isinstance(data, IterableDataset):
        # It yields samples in its own order; a DataLoader refuses shuffle=True for one.
        shuffle = False
    elif shard is not None:
        sampler = shard.sampler(n, shuffle)
        size = len(sampler) if batch_size is None else batch_size
        return DataLoader(data, batch_size=max(1, size), sampler=sampler)
    return DataLoader(
        data,
        batch_size=n if batch_size is None else batch_size,
        shuffle=shuffle,
        generator=generator,
    )


def _validation_batches(
    data: Data, batch_size: int | None, device: torch.device | None, group: _ProcessGroup | None
) -> _Batches:
    """``val_data`` as a source of batches, in order; a DataLoader keeps its own batching."""
    if isinstance(data, DataLoader):
        batch_size = None
    shard = None if group is None else group.eval_shard()
    return _Batches(data, "val_data", batch_size, False, device, None, shard)


def _train_epoch(
    model: nn.Module,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    data: _Batches,
    epoch: int,
    clip_grad_norm: float | None,
    defer: bool,
) -> tuple[list[float], list[int]]:
    """One pass of optimisation steps over ``data``: each step's loss and batch size."""
    model.train()
    # Frozen parameters may still hold gradients from earlier training: keep them out of
    # the norm that clipping measures.
    clip_params = [p for p in model.parameters() if p.requires_grad]
    losses = _StepLosses(epoch, data.steps, deferred=defer)
    sizes: list[int] = []
    for xb, yb in data.epoch():
        optimizer.zero_grad()
        loss = data.loss(model, loss_fn, xb, yb)
        losses.add(loss)  # read now (CPU): a NaN/inf raises before the step below applies it
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(clip_params, clip_grad_norm)
        optimizer.step()
        sizes.append(xb.shape[0])
    if not sizes:  # only data without a length can get here: an empty IterableDataset
        raise ValueError(data.empty_message())
    return losses.read(), sizes


class _StepLosses:
    """The losses of one epoch's steps, read back from the device as Python floats.

    When to read them is the one choice here. On an accelerator each ``.item()`` makes the
    host wait until the device has run every queued kernel, so the losses stay there as
    0-d tensors and come back in one ``torch.stack(...).tolist()`` at the end of the epoch
    (a cost the CPU benchmarks here cannot show). On the CPU there is no queue to drain,
    and reading each loss as it comes costs no more: on the workload of
    ``benchmarks/fit_vs_peers.py`` (5 epochs of 64 steps, about 55 ms), ``fit`` with
    ``.item()`` per step took 0.99x and 1.01x the time of ``fit`` with the deferred read
    (paired medians of 31 interleaved runs, two runs): noise. So the CPU reads per step,
    which buys an earlier check, not speed: a NaN/inf loss stops training *before*
    ``optimizer.step()`` applies it, and the weights stay finite.
    """

    def __init__(self, epoch: int, steps: int | None, *, deferred: bool) -> None:
        self.epoch = epoch
        self.steps = steps  # steps per epoch, for the error message, when known
        self.deferred = deferred
        self._losses: list = []  # 0-d tensors when deferred, floats otherwise

    def add(self, loss: torch.Tensor) -> None:
        """Keep one step's loss; unless deferred, read it and check it now."""
        if self.deferred:
            self._losses.append(loss.detach())
            return
        value = loss.item()
        self._losses.append(value)
        _check_finite([value], self.epoch, self.steps, first_step=len(self._losses))

    def read(self) -> list[float]:
        """All the epoch's losses as floats, checked."""
        if not self.deferred:
            return self._losses
        values = torch.stack(self._losses).tolist()  # one device sync per epoch
        _check_finite(values, self.epoch, self.steps)
        return values


def _check_finite(
    values: list[float], epoch: int, steps: int | None, *, first_step: int = 1
) -> None:
    """Raise at the first NaN/inf in ``values``, the losses of steps ``first_step``, ..."""
    if math.isfinite(sum(values)):  # one pass in the common case; overflow -> inf
        return
    for step, value in enumerate(values, start=first_step):
        if not math.isfinite(value):
            of = "" if steps is None else f" of {steps}"
            raise FloatingPointError(
                f"training loss is {value} at epoch {epoch}, step {step}{of}: lower the "
                "learning rate, clip gradients (clip_grad_norm=) or check the data for NaN/inf"
            )


def _record_epoch(
    history: History, step_losses: list[float], sizes: list[int], val_loss: float | None
) -> None:
    """Append one epoch to ``history``: its step losses, their mean, the validation loss."""
    history.step_loss.extend(step_losses)
    # Weighted by batch size: the mean over the samples, whatever size the last batch has.
    total = sum(loss * n for loss, n in zip(step_losses, sizes, strict=True))
    history.train_loss.append(total / sum(sizes))
    if val_loss is not None:
        history.val_loss.append(val_loss)


def _evaluate(model: nn.Module, loss_fn: LossFn, batches: _Batches) -> float:
    """Sample-weighted mean loss over ``batches``, in eval mode and under no_grad."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            total: torch.Tensor | float = 0.0
            count = 0
            for xb, yb in batches.epoch():
                n = xb.shape[0]
                total = total + batches.loss(model, loss_fn, xb, yb) * n  # stays on the device
                count += n
    finally:
        model.train(was_training)
    if batches.shard is not None:  # the mean over every rank's samples, on every rank
        total, count = batches.shard.group.sum([float(total), float(count)])
    if count == 0:  # only data without a length can get here: an empty IterableDataset
        raise ValueError(batches.empty_message())
    return float(total) / count


def _epoch_end(callbacks: list[Callback], model: nn.Module, history: History) -> bool:
    """Run every callback's ``on_epoch_end``; ``True`` when any of them asks to stop."""
    stop = False
    for cb in callbacks:
        # Every callback sees every epoch, even after one asked to stop.
        stop = bool(cb.on_epoch_end(model, history)) or stop
    return stop


# --------------------------------------------------------------------------- data-parallel


class _ProcessGroup:
    """``fit`` and ``evaluate`` inside an initialised ``torch.distributed`` process group.

    It knows this process's ``rank``, the ``world_size`` and where collectives run (NCCL
    reduces CUDA tensors, on this rank's GPU; gloo reduces CPU tensors), and it makes every
    collective of ``fit`` besides DDP's own gradient all-reduce. Each is made on every rank
    in the same order, whatever the data: a rank that skipped one would leave the others
    waiting for it forever.
    """

    def __init__(self) -> None:
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.nccl = dist.get_backend() == "nccl"
        self.default_device = _local_gpu() if self.nccl else None
        self.comm_device = self.default_device or torch.device("cpu")

    @staticmethod
    def current() -> _ProcessGroup | None:
        """The default process group, or None outside one (then ``fit`` is one process)."""
        if dist.is_available() and dist.is_initialized():
            return _ProcessGroup()
        return None

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` in ``DistributedDataParallel``; as given when it is one already.

        Wrapping broadcasts rank 0's parameters and buffers, so every rank starts alike.
        """
        if isinstance(model, DistributedDataParallel):
            return model
        if self.nccl and device.type != "cuda":
            raise ValueError(
                f"device must be a CUDA device with the NCCL backend (it reduces GPU "
                f"tensors), got {str(device)!r}: pass device=None for this rank's GPU, or "
                "use the gloo backend to train on the CPU"
            )
        ids = [device] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def train_shard(self, seed: int | None) -> _Shard:
        """How ``train_data`` is split: a DistributedSampler, seeded alike on every rank."""
        if seed is None:
            # Drawn from rank 0's global generator, as one process would draw its order.
            shared = torch.randint(0, 2**62, (1,), dtype=torch.int64)
            seed = int(self._broadcast(shared).item())
        return _Shard(self, training=True, seed=seed)

    def eval_shard(self) -> _Shard:
        """How evaluation data is split: every ``world_size``-th sample, not repeated."""
        return _Shard(self, training=False)

    def rank_seed(self, seed: int | None) -> int | None:
        """The seed of this rank's global generators: ``seed + rank``."""
        if seed is None or self.rank == 0:
            return seed
        return (seed + self.rank) % 2**64

    def global_steps(self, losses: list[float], sizes: list[int]) -> tuple[list[float], list[int]]:
        """Each step's loss as the mean over every rank's batch, and the global batch sizes
        (one all-reduce per epoch)."""
        k = len(losses)
        weighted = [loss * n for loss, n in zip(losses, sizes, strict=True)]
        sums = self.sum(weighted + [float(n) for n in sizes])
        counts = sums[k:]
        return [t / c for t, c in zip(sums[:k], counts, strict=True)], [round(c) for c in counts]

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (so that all ranks stop together)."""
        return self.sum([float(flag)])[0] > 0

    def sum(self, values: list[float]) -> list[float]:
        """``values`` summed element by element over the ranks, in float64."""
        t = torch.tensor(values, dtype=torch.float64, device=self.comm_device)
        dist.all_reduce(t)
        return t.tolist()

    def _broadcast(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(self.comm_device)
        dist.broadcast(t, src=0)
        return t.cpu()


class _Shard:
    """How one data source is split over the ranks of a process group."""

    def __init__(self, group: _ProcessGroup, *, training: bool, seed: int = 0) -> None:
        self.group = group
        self.training = training
        self.seed = seed % 2**63  # DistributedSampler seeds with seed + epoch

    def sampler(self, n: int, shuffle: bool) -> DistributedSampler | range:
        """The indices, among ``n`` samples, of this rank's share."""
        g = self.group
        if self.training:
            # DDP steps in lockstep: the sampler pads by repeating a few samples so that
            # every rank takes the same number of steps.
            return DistributedSampler(
                range(n), num_replicas=g.world_size, rank=g.rank, shuffle=shuffle, seed=self.seed
            )
        # Evaluation has no lockstep: unpadded, so that the mean is over the data exactly.
        return range(g.rank, n, g.world_size)


def _shard_loader(loader: DataLoader, name: str, shard: _Shard) -> DataLoader:
    """``loader`` reading this rank's share: as it is when its sampler is a
    DistributedSampler or it reads an IterableDataset (it splits itself, or not at all);
    rebuilt around the shard's sampler when it has a default sampler; refused otherwise."""
    sampler = _order_sampler(loader)
    if isinstance(loader.dataset, IterableDataset) or isinstance(sampler, DistributedSampler):
        return loader
    custom = loader.batch_sampler is not None and type(loader.batch_sampler) is not BatchSampler
    if custom or type(sampler) not in (SequentialSampler, RandomSampler):
        what = type_name(loader.batch_sampler if custom else sampler)
        raise ValueError(
            f"{name} is a DataLoader with a custom sampler ({what}), which fit cannot split "
            f"over the {shard.group.world_size} processes of the group: build it with "
            "sampler=torch.utils.data.DistributedSampler(dataset), and fit uses it as it is"
        )
    shuffle = isinstance(sampler, RandomSampler)
    return _rebuilt_loader(loader, shard.sampler(len(loader.dataset), shuffle))


def _order_sampler(loader: DataLoader) -> Any:
    """The sampler that decides the order of ``loader``'s samples."""
    if isinstance(loader.batch_sampler, BatchSampler):
        return loader.batch_sampler.sampler
    return loader.sampler


def _rebuilt_loader(loader: DataLoader, sampler: Any) -> DataLoader:
    """A DataLoader like ``loader`` (batches, workers, collation) around ``sampler``."""
    workers = {}
    if loader.num_workers > 0:  # refused by DataLoader without worker processes
        workers = {
            "prefetch_factor": loader.prefetch_factor,
            "persistent_workers": loader.persistent_workers,
        }
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator,
        **workers,
    )


def _unwrapped(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (evaluation needs no DDP)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def _local_gpu() -> torch.device:
    """This rank's GPU with NCCL: number ``LOCAL_RANK`` (set by torchrun and by launch)."""
    index = int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))
    return torch.device("cuda", index % torch.cuda.device_count())


# --------------------------------------------------------------------------- helpers


def _check_loss_fn(loss_fn: Any) -> None:
    """``loss_fn`` is a callable loss, not a loss class (``nn.MSELoss`` without brackets)."""
    if isinstance(loss_fn, type):
        # Calling the class would build a loss object from (output, target), not a loss.
        raise TypeError(
            f"loss_fn must be a loss function or a loss object, got the class "
            f"{loss_fn.__name__} itself: create one with {loss_fn.__name__}()"
        )
    check_callable(loss_fn, "loss_fn")


def _check_optimizer_trains(optimizer: Any, model: nn.Module) -> None:
    """``optimizer`` is an Optimizer that holds at least one of ``model``'s parameters, and
    at least one of those is trainable."""
    check_optimizer(optimizer)
    model_params = {id(p) for p in model.parameters()}
    held = [p for g in optimizer.param_groups for p in g["params"] if id(p) in model_params]
    if not held:
        raise ValueError(
            "optimizer holds none of the model's parameters: build it from "
            "model.parameters() of this model (was it made for another model, or before "
            "the model was re-created?)"
        )
    if not any(p.requires_grad for p in held):
        raise ValueError(
            f"optimizer holds {len(held)} of the model's parameters and all of them have "
            "requires_grad=False (frozen), so no step would change them: unfreeze those "
            "to train with p.requires_grad_(True), or build the optimizer from the "
            "trainable ones"
        )


def _as_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` (one Callback or an iterable of them) as a list of checked Callbacks."""
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, str) or not isinstance(callbacks, Iterable):
        # Always raises here; for a class (callbacks=EarlyStopping) it says to create one.
        check_instance(callbacks, "callbacks", Callback, "a Callback or an iterable of Callbacks")
    items = list(callbacks)
    for i, cb in enumerate(items):
        check_instance(cb, f"callbacks[{i}]", Callback, "a gradbook.Callback instance")
    return items


def _as_pair(data: Sequence, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``data`` checked to be an ``(X, y)`` pair of tensors with the same, non-zero length."""
    if len(data) != 2:
        raise ValueError(f"{name} as a tuple must be (X, y), got {len(data)} items")
    X, y = data
    for label, t in (("X", X), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type_name(t)}")
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


def _compute_device(model: nn.Module, device: torch.device | None) -> torch.device:
    """Where the model computes: ``device`` when given, else where its parameters are."""
    if device is not None:
        return device
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _defer_loss_readback(device: torch.device) -> bool:
    """Read losses back once per epoch (accelerators) rather than once per step (CPU)."""
    return device.type != "cpu"


def _progress_bar(epochs: int, progress: bool | None) -> tqdm:
    """A bar over epochs on standard error; by default only when that is a terminal."""
    show = _stderr_is_terminal() if progress is None else progress
    return tqdm(total=epochs, desc="fit", unit="epoch", disable=not show, file=sys.stderr)


def _show_progress(bar: tqdm, history: History) -> None:
    """Move the bar by one epoch, showing the epoch's losses (a disabled bar ignores it)."""
    text = f"loss={history.train_loss[-1]:.4g}"
    if history.val_loss:
        text += f", val_loss={history.val_loss[-1]:.4g}"
    bar.set_postfix_str(text, refresh=False)
    bar.update(1)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


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
