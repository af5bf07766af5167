r"""Watching gradients flow while a network trains: :class:`GradientFlowRecorder`.

The recorder is a :class:`~gradbook.train.Callback` for :func:`~gradbook.train.fit` that
records, for every parameter tensor :math:`w` of the model (named as
``model.named_parameters()`` names them), at every ``every``-th optimisation step,

- the gradient norm :math:`\lVert g \rVert_2`, the gradient the optimizer is about to use
  (after any clipping), and
- the update-to-weight ratio

  .. math::

      r = \frac{\lVert w_\text{after} - w_\text{before} \rVert_2}
               {\lVert w_\text{before} \rVert_2},

  the size of the step the optimizer actually took, relative to the weights it was
  taken from. For plain SGD the step is :math:`\eta g`, so :math:`r = \eta \lVert g
  \rVert / \lVert w \rVert`; for Adam or momentum it is whatever the optimizer made of
  the gradient. The rule of thumb from CS231n is :math:`r \approx 10^{-3}`: much lower
  and the layer barely learns, much higher and it is thrown about.

**Why optimizer hooks.** ``fit`` calls its callbacks once per epoch, so the recorder
listens at finer grain through hooks it registers on the optimizer
(``Optimizer.register_step_pre_hook`` and ``register_step_post_hook``, in every
``torch.optim.Optimizer`` since torch 2.0, and so in gradbook's own optimizers too). The
pre-hook runs just before ``step()``: it reads each gradient and copies the weights. The
post-hook runs just after: it measures what changed. A tensor hook
(``Tensor.register_post_accumulate_grad_hook``) would see the gradient before ``fit``
clips it, and runs before the step, so it cannot see the update.

The module holds the class and two small helpers: ``_norms`` (2-norms of tensors, read
back to the host in one transfer) and ``_ratio``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from gradbook._validation import (
    check_choice,
    check_instance,
    check_int,
    check_model,
    check_optimizer,
)
from gradbook.train import Callback, History

__all__ = ["GradientFlowRecorder"]

# Karpathy's CS231n notes: updates about a thousandth of the weights are healthy.
_RULE_OF_THUMB = 1e-3


class GradientFlowRecorder(Callback):
    r"""Record each parameter tensor's gradient norm and update-to-weight ratio.

    Pass it to :func:`~gradbook.train.fit` as a callback: it attaches its hooks to
    ``optimizer`` when training begins and removes them when training ends, however it
    ends (``on_train_end`` runs in a ``finally``). It works with any
    ``torch.optim.Optimizer``, gradbook's included.

    Outside ``fit``, in a loop of your own, attach it to the model yourself; used as a
    context manager it detaches itself at the end of the block, even on an error::

        recorder = GradientFlowRecorder(optimizer)
        with recorder.attach(model):
            for xb, yb in batches:
                optimizer.zero_grad()
                loss_fn(model(xb), yb).backward()
                optimizer.step()  # the hooks run here
        recorder.plot("update_ratio")

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer that trains the model: the same object that is passed to ``fit``.
    every : int, default 1
        Record steps 1, 1 + every, 1 + 2 every, ... (counted from when the recorder
        was attached), >= 1. The first step is always recorded. A recorded step costs
        a copy of the weights and one read-back of the norms; the others cost nothing.

    Attributes
    ----------
    names : list of str
        The recorded parameter tensors: those of ``model.named_parameters()`` that the
        optimizer holds, in that order.
    steps : list of int
        The number (1-based) of each recorded step.
    grad_norm : dict[str, list[float]]
        For each name, the gradient's 2-norm at each recorded step; ``nan`` where the
        tensor had no gradient (``.grad`` was ``None``: frozen, or unused by the loss).
    update_ratio : dict[str, list[float]]
        For each name, :math:`\lVert w_\text{after} - w_\text{before} \rVert_2 /
        \lVert w_\text{before} \rVert_2` at each recorded step; ``nan`` where the
        weights were all zero before the step (there is no scale to compare with).

    Notes
    -----
    Each :meth:`attach` (each ``fit``) starts a fresh record. An optimizer that computes
    the gradient inside ``step(closure)`` (``torch.optim.LBFGS``) gets the gradient left
    from before the step recorded, not the one it computes.

    Examples
    --------
    >>> import torch
    >>> from gradbook.data import make_regression
    >>> from gradbook.train import fit
    >>> X, y = make_regression(100, [2.0, 3.0])
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> recorder = GradientFlowRecorder(opt, every=10)
    >>> loss_fn = torch.nn.MSELoss()
    >>> _ = fit(model, loss_fn, opt, (X, y), epochs=30, callbacks=recorder)
    >>> recorder.names, recorder.steps
    (['weight', 'bias'], [1, 11, 21])
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, every: int = 1) -> None:
        check_optimizer(optimizer)
        check_int(every, "every", minimum=1)
        self.optimizer = optimizer
        self.every = every
        self.names: list[str] = []
        self.steps: list[int] = []
        self.grad_norm: dict[str, list[float]] = {}
        self.update_ratio: dict[str, list[float]] = {}
        self._params: list[torch.Tensor] = []
        self._handles: list[Any] = []  # the hooks' RemovableHandles while attached
        self._step = 0  # steps taken since attach()
        self._before: list[torch.Tensor] | None = None  # weights copied by the pre-hook
        self._pending: list[float] = []  # gradient norms read by the pre-hook

    def __repr__(self) -> str:
        return (
            f"GradientFlowRecorder(every={self.every}, {len(self.names)} tensors, "
            f"{len(self.steps)} steps recorded)"
        )

    @property
    def attached(self) -> bool:
        """Whether the hooks are on the optimizer now."""
        return bool(self._handles)

    # ------------------------------------------------------------------ attach, detach

    def attach(self, model: nn.Module) -> GradientFlowRecorder:
        """Start recording the parameters of ``model`` that the optimizer holds.

        Registers the two optimizer hooks and clears any earlier record.

        Parameters
        ----------
        model : nn.Module
            The model being trained; its parameter names label the record.

        Returns
        -------
        GradientFlowRecorder
            The recorder itself, so that ``with recorder.attach(model):`` works.

        Raises
        ------
        RuntimeError
            When the recorder is attached already (call :meth:`detach` first).
        ValueError
            When the optimizer holds none of ``model``'s parameters.
        """
        check_model(model)
        if self.attached:
            raise RuntimeError(
                "GradientFlowRecorder is attached already: call detach() before attaching "
                "it again (one recorder follows one training run at a time)"
            )
        held = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        named = [(name, p) for name, p in model.named_parameters() if id(p) in held]
        if not named:
            raise ValueError(
                "the recorder's optimizer holds none of the model's parameters: build the "
                "recorder with the optimizer that trains this model"
            )
        self.names = [name for name, _ in named]
        self._params = [p for _, p in named]
        self.steps = []
        self.grad_norm = {name: [] for name in self.names}
        self.update_ratio = {name: [] for name in self.names}
        self._step = 0
        self._handles = [
            self.optimizer.register_step_pre_hook(self._before_step),
            self.optimizer.register_step_post_hook(self._after_step),
        ]
        return self

    def detach(self) -> None:
        """Remove the hooks (the record stays); doing it twice is harmless."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._before = None  # do not keep a copy of the weights alive
        self._params = []

    def __enter__(self) -> GradientFlowRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    # ------------------------------------------------------------------ the fit hooks

    def on_train_begin(self, model: nn.Module, history: History) -> None:
        """Attach to ``model`` (see :meth:`attach`)."""
        self.attach(model)

    def on_epoch_end(self, model: nn.Module, history: History) -> bool:
        """Check that the hooks fired: ``fit`` steps its own optimizer every epoch."""
        if self._step == 0:
            raise ValueError(
                "GradientFlowRecorder saw no optimizer step in a whole epoch: it was built "
                "with another optimizer than the one passed to fit; pass the same one"
            )
        return False

    def on_train_end(self, model: nn.Module, history: History) -> None:
        """Detach (see :meth:`detach`)."""
        self.detach()

    # ------------------------------------------------------------------ the optimizer hooks

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """Pre-hook: on a recorded step, read the gradient norms and copy the weights."""
        self._step += 1
        if (self._step - 1) % self.every != 0:
            self._before = None
            return
        self._pending = _norms([p.grad for p in self._params])
        self._before = [p.detach().clone() for p in self._params]

    def _after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """Post-hook: on a recorded step, measure the update and append the step."""
        if self._before is None:
            return
        updates = [p.detach() - w for p, w in zip(self._params, self._before, strict=True)]
        norms = _norms(updates + self._before)  # one read-back for both
        k = len(self._params)
        self.steps.append(self._step)
        for i, name in enumerate(self.names):
            self.grad_norm[name].append(self._pending[i])
            self.update_ratio[name].append(_ratio(norms[i], norms[k + i]))
        self._before = None

    # ------------------------------------------------------------------ plot

    def plot(
        self,
        kind: str = "grad_norm",
        *,
        names: Sequence[str] | None = None,
        ax: Any = None,
    ):
        """Plot the record against the step, one line per parameter tensor, log scale.

        Parameters
        ----------
        kind : {"grad_norm", "update_ratio"}, default "grad_norm"
            Which record to draw. ``"update_ratio"`` adds a dashed line at the rule of
            thumb :math:`10^{-3}`.
        names : sequence of str, optional
            The parameter tensors to draw (``["layers.0.weight", ...]``); all by
            default. A tensor with no finite value recorded (frozen all along) is left
            out.
        ax : matplotlib.axes.Axes, optional
            The axes to draw on, e.g. one panel of a larger figure; by default a new
            figure of its own.

        Returns
        -------
        matplotlib.figure.Figure
            The figure of those axes, one line per tensor drawn.
        """
        check_choice(kind, "kind", ("grad_norm", "update_ratio"))
        if not self.steps:
            raise ValueError(
                "GradientFlowRecorder.plot: nothing to plot, no step has been recorded "
                "(train with the recorder as a fit callback, or attach it first)"
            )
        record = getattr(self, kind)
        chosen = self._chosen(names)
        curves = {n: record[n] for n in chosen if any(map(math.isfinite, record[n]))}
        if not curves:
            raise ValueError(f"GradientFlowRecorder.plot: no finite {kind} recorded for {chosen}")
        # imported here: training does not need matplotlib
        from gradbook.plotting import plot_lines

        title, ylabel = {
            "grad_norm": ("Gradient norm", r"$\|g\|_2$"),
            "update_ratio": ("Update-to-weight ratio", r"$\|\Delta w\|_2 \,/\, \|w\|_2$"),
        }[kind]
        ax = plot_lines(
            self.steps,
            curves,
            ax=ax,
            logy=True,
            marker="o" if len(self.steps) <= 20 else None,
            xlabel="step",
            ylabel=f"{ylabel} (log scale)",
            title=f"{title} per parameter tensor",
        )
        if kind == "update_ratio":
            ax.axhline(
                _RULE_OF_THUMB,
                color="black",
                linestyle="--",
                linewidth=1.0,
                label="1e-3 (rule of thumb)",
            )
            ax.legend()
        return ax.figure

    def _chosen(self, names: Sequence[str] | None) -> list[str]:
        """``names`` checked against the recorded ones; all of them when ``None``."""
        if names is None:
            return list(self.names)
        if isinstance(names, str):
            names = [names]  # one name is a common slip for a list of one
        check_instance(names, "names", Sequence, "a sequence of parameter names")
        unknown = [n for n in names if n not in self.grad_norm]
        if unknown:
            raise ValueError(
                f"names holds {unknown}, which the recorder did not record; recorded: {self.names}"
            )
        return list(names)


def _norms(tensors: Sequence[torch.Tensor | None]) -> list[float]:
    """The 2-norm of each tensor as a float (``nan`` for ``None``), read back in one go.

    Stacking the 0-d norms and calling ``tolist()`` once makes one device-to-host
    transfer, where one ``.item()`` per tensor would make the host wait once per tensor.
    """
    present = [t for t in tensors if t is not None]
    if not present:
        return [math.nan] * len(tensors)
    device = present[0].device
    stacked = torch.stack(
        [torch.linalg.vector_norm(t.detach()).to(device, torch.float64) for t in present]
    )
    values = iter(stacked.tolist())
    return [math.nan if t is None else next(values) for t in tensors]


def _ratio(update: float, weight: float) -> float:
    """``update / weight``; ``nan`` when the weight norm is 0 (no scale to compare with)."""
    return update / weight if weight > 0 else math.nan
