r"""SGD, RMSprop, Adam and AdamW, written out from their update equations.

Each optimizer is a :class:`torch.optim.Optimizer` subclass, so parameter groups,
``zero_grad``, ``state_dict`` / ``load_state_dict`` and learning-rate schedulers work as
they do with :mod:`torch.optim`. What differs is where the mathematics lives: each
class's docstring states its update rule, and its ``step()`` is that rule, line for
line, under the same names (:math:`m`, :math:`v`, :math:`\hat{m}`, :math:`\hat{v}`,
:math:`t`). The tests train the same model with these optimizers and with
:mod:`torch.optim` and check that the two trajectories agree to float64 precision.

The module holds a private base class, ``_Optimizer``, that checks every parameter
group's options (each optimizer states its own rules in ``_check_options``);
:class:`SGD`, :class:`RMSprop` and :class:`Adam`, each with its own ``step()``; and
:class:`AdamW`, an :class:`Adam` subclass that shares Adam's ``step()`` (its decoupled
weight decay is one line of it).

Example
-------
>>> import torch
>>> from gradbook.optim import Adam
>>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
>>> opt = Adam([w], lr=0.1)
>>> (w**2).sum().backward()
>>> opt.step()
>>> w.detach()
tensor([ 0.9000, -1.9000])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from gradbook._validation import (
    check_bool,
    check_in_range,
    check_instance,
    check_real,
    type_name,
)

__all__ = ["SGD", "RMSprop", "Adam", "AdamW"]

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]

# Keys a param group may hold besides the optimizer's own options: "param_names" is what
# torch.optim writes for named_parameters(), "initial_lr" what its lr schedulers write.
_GROUP_KEYS = ("params", "param_names", "initial_lr")


# --------------------------------------------------------------------------------------
# What the four optimizers share: their options are checked, group by group
# --------------------------------------------------------------------------------------


class _Optimizer(torch.optim.Optimizer):
    """A :class:`torch.optim.Optimizer` whose every parameter group is checked.

    torch.optim checks only the options given to ``__init__``: a group's own
    ``"lr": -1``, a misspelt ``"learning_rate"``, a group without ``"params"`` or an
    integer tensor would get through, or fail later with a ``KeyError``. Each subclass
    states its rules in ``_check_options``; this class applies them to the defaults and to
    every group, the ones given to ``__init__`` and the ones added later.
    """

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        raise NotImplementedError  # each optimizer states its own rules

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        _check_params(params)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, its options checked like those given to ``__init__``."""
        where = f"param group {len(self.param_groups)}"
        check_instance(param_group, where, dict, "a dict with a 'params' key")
        if "params" not in param_group:
            raise ValueError(f"{where} must have a 'params' key, got keys {sorted(param_group)}")
        unknown = sorted(set(param_group) - set(self.defaults) - set(_GROUP_KEYS))
        if unknown:
            known = ", ".join(self.defaults)
            raise ValueError(
                f"{where} has an unknown option {unknown[0]!r}; {type(self).__name__} takes {known}"
            )
        self._check_options({**self.defaults, **param_group})
        param_group["params"] = _floating_tensors(param_group["params"])
        super().add_param_group(param_group)


def _check_params(params: object) -> None:
    """``params`` is an iterable of tensors or of param-group dicts (not one of them)."""
    what = "an iterable of tensors or of dicts (parameter groups)"
    if isinstance(params, torch.Tensor | dict):
        one = "tensor" if isinstance(params, torch.Tensor) else "parameter group"
        raise TypeError(f"params must be {what}, got one {one}: put it in a list")
    if isinstance(params, str) or not isinstance(params, Iterable):
        raise TypeError(f"params must be {what}, got {type_name(params)}: {params!r}")


def _floating_tensors(params: Any) -> Any:
    """A group's ``params`` as a list (a generator can be read only once), every tensor in
    it checked to be floating point: the update equations are for real numbers."""
    if isinstance(params, torch.Tensor):
        params = [params]
    elif not isinstance(params, set):  # torch.optim refuses sets, with its own message
        params = list(params)
    for item in params:
        tensor = item[1] if isinstance(item, tuple) else item  # (name, tensor) pairs too
        if isinstance(tensor, torch.Tensor) and not tensor.is_floating_point():
            raise TypeError(f"params must hold floating-point tensors, got one of {tensor.dtype}")
    return params


def _check_betas(betas: object) -> None:
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {type_name(betas)}: {betas!r}")
    for i, beta in enumerate(betas):
        check_in_range(beta, f"betas[{i}]", 0.0, 1.0, include_high=False)


# --------------------------------------------------------------------------------------
# What every step() does first
# --------------------------------------------------------------------------------------


def _evaluate(closure: Callable[[], Any] | None) -> Any:
    """Run ``closure`` (which recomputes the loss and its gradients), if given."""
    if closure is None:
        return None
    with torch.enable_grad():  # step() itself runs under no_grad
        return closure()


def _with_grad(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """The parameters that have a gradient: the others are neither moved nor given state."""
    return [p for p in params if p.grad is not None]


def _gradient(p: torch.Tensor, maximize: bool) -> torch.Tensor:
    """The gradient to descend: ``p.grad``, or its negative to climb instead."""
    if p.grad.is_sparse:
        raise RuntimeError("gradbook.optim does not support sparse gradients")
    return -p.grad if maximize else p.grad


# --------------------------------------------------------------------------------------
# SGD
# --------------------------------------------------------------------------------------


class SGD(_Optimizer):
    r"""Stochastic gradient descent, with optional momentum, Nesterov and weight decay.

    For each parameter :math:`\theta` with a gradient, one step does:

    .. math::

       \begin{aligned}
       & g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \\
       & \textbf{if } \lambda \neq 0 : \quad g_t \leftarrow g_t + \lambda \theta_{t-1} \\
       & \textbf{if } \mu \neq 0 : \\
       & \qquad b_t \leftarrow \begin{cases}
           g_t & \text{if } t = 1 \\
           \mu b_{t-1} + (1 - \tau) g_t & \text{otherwise}
         \end{cases} \\
       & \qquad g_t \leftarrow \begin{cases}
           g_t + \mu b_t & \text{if nesterov} \\
           b_t & \text{otherwise}
         \end{cases} \\
       & \theta_t \leftarrow \theta_{t-1} - \gamma g_t
       \end{aligned}

    with :math:`\gamma` (``lr``), :math:`\mu` (``momentum``), :math:`\tau`
    (``dampening``), :math:`\lambda` (``weight_decay``) and :math:`b` the momentum
    buffer (state ``"momentum_buffer"``, kept only when :math:`\mu \neq 0`).

    .. note::

       As in :class:`torch.optim.SGD`, the momentum buffer starts as the first
       gradient itself, not as :math:`(1 - \tau) g_1`, and the learning rate multiplies
       the buffer instead of entering it (Sutskever et al., 2013, put :math:`\gamma`
       inside :math:`b`). The two forms agree while :math:`\gamma` is constant.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        The parameters to optimize, or parameter groups (dicts with a ``"params"`` key
        and any option below to override for that group).
    lr : float, default 1e-3
        Learning rate :math:`\gamma \ge 0` (torch.optim's default).
    momentum : float, default 0
        Momentum factor :math:`\mu \ge 0`.
    dampening : float, default 0
        Dampening :math:`\tau` of each new gradient in the momentum buffer.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.
    nesterov : bool, default False
        Use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool, default False
        Climb the objective instead of descending it.
    """

    def __init__(
        self, params: Params, lr: float = 1e-3, *,
        momentum: float = 0, dampening: float = 0, nesterov: bool = False,
        weight_decay: float = 0, maximize: bool = False,
    ) -> None:  # fmt: skip
        # fmt: skip above and below: the options stay grouped by what they do.
        super().__init__(params, dict(
            lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
            weight_decay=weight_decay, maximize=maximize,
        ))  # fmt: skip

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one step for every parameter that has a gradient; return the closure's loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            lam, nesterov = group["weight_decay"], group["nesterov"]
            for p in _with_grad(group["params"]):
                g = _gradient(p, group["maximize"])
                if lam != 0:
                    g = g.add(p, alpha=lam)  # g = g + lambda theta
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:  # t = 1
                        b = state["momentum_buffer"] = g.clone()
                    else:
                        b = state["momentum_buffer"]
                        b.mul_(mu).add_(g, alpha=1 - tau)  # b = mu b + (1 - tau) g
                    g = g.add(b, alpha=mu) if nesterov else b  # g + mu b, or b
                p.add_(g, alpha=-lr)  # theta = theta - lr g
        return loss

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            check_real(options[name], name, minimum=0)
        check_real(options["dampening"], "dampening")
        for name in ("nesterov", "maximize"):
            check_bool(options[name], name)
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening == 0, got "
                f"momentum={options['momentum']!r}, dampening={options['dampening']!r}"
            )


# --------------------------------------------------------------------------------------
# RMSprop
# --------------------------------------------------------------------------------------


class RMSprop(_Optimizer):
    r"""RMSprop: divide each gradient by a running root mean square of its past values.

    For each parameter :math:`\theta` with a gradient, at step :math:`t = 1, 2, \ldots`
    (with :math:`v_0 = \bar{g}_0 = b_0 = 0`):

    .. math::

       \begin{aligned}
       & g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \\
       & \textbf{if } \lambda \neq 0 : \quad g_t \leftarrow g_t + \lambda \theta_{t-1} \\
       & v_t \leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
       & \textbf{if centered} : \quad
           \bar{g}_t \leftarrow \alpha \bar{g}_{t-1} + (1 - \alpha) g_t, \quad
           \tilde{v}_t \leftarrow v_t - \bar{g}_t^2 \\
       & \textbf{else} : \quad \tilde{v}_t \leftarrow v_t \\
       & \textbf{if } \mu > 0 : \quad
           b_t \leftarrow \mu b_{t-1} + g_t / \big(\sqrt{\tilde{v}_t} + \epsilon\big), \quad
           \theta_t \leftarrow \theta_{t-1} - \gamma b_t \\
       & \textbf{else} : \quad
           \theta_t \leftarrow \theta_{t-1} - \gamma g_t / \big(\sqrt{\tilde{v}_t} + \epsilon\big)
       \end{aligned}

    with :math:`\gamma` (``lr``), :math:`\alpha` (``alpha``), :math:`\epsilon` (``eps``),
    :math:`\lambda` (``weight_decay``), :math:`\mu` (``momentum``). State: ``"step"``
    (:math:`t`), ``"square_avg"`` (:math:`v`), ``"grad_avg"`` (:math:`\bar{g}`, when
    centered) and ``"momentum_buffer"`` (:math:`b`, when :math:`\mu > 0`).

    .. note::

       As in :class:`torch.optim.RMSprop`, :math:`\epsilon` is added *outside* the
       square root, :math:`\sqrt{\tilde{v}_t} + \epsilon`; TensorFlow / Keras use
       :math:`\sqrt{\tilde{v}_t + \epsilon}`. The centered variant (Graves, 2013) puts
       the learning rate inside the momentum buffer; here, as in torch, it multiplies
       the buffer, which agrees while :math:`\gamma` is constant.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        The parameters to optimize, or parameter groups.
    lr : float, default 0.01
        Learning rate :math:`\gamma \ge 0`.
    alpha : float, default 0.99
        Smoothing constant :math:`\alpha \ge 0` of the running averages.
    eps : float, default 1e-8
        :math:`\epsilon \ge 0`, added to the denominator so it is never zero.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.
    momentum : float, default 0
        Momentum factor :math:`\mu \ge 0`.
    centered : bool, default False
        Divide by an estimate of the gradient's variance instead of its raw second
        moment.
    maximize : bool, default False
        Climb the objective instead of descending it.
    """

    def __init__(
        self, params: Params, lr: float = 0.01, *,
        alpha: float = 0.99, eps: float = 1e-8, centered: bool = False,
        momentum: float = 0, weight_decay: float = 0, maximize: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(params, dict(
            lr=lr, alpha=alpha, eps=eps, centered=centered,
            momentum=momentum, weight_decay=weight_decay, maximize=maximize,
        ))  # fmt: skip

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one step for every parameter that has a gradient; return the closure's loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
            lam, centered = group["weight_decay"], group["centered"]
            for p in _with_grad(group["params"]):
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = torch.zeros_like(p)
                    if centered:
                        state["grad_avg"] = torch.zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                state["step"] += 1

                g = _gradient(p, group["maximize"])
                if lam != 0:
                    g = g.add(p, alpha=lam)  # g = g + lambda theta
                v = state["square_avg"]
                v.mul_(alpha).addcmul_(g, g, value=1 - alpha)  # v = alpha v + (1 - alpha) g^2
                if centered:
                    g_bar = state["grad_avg"]
                    g_bar.lerp_(g, 1 - alpha)  # g_bar = alpha g_bar + (1 - alpha) g
                    v_tilde = v.addcmul(g_bar, g_bar, value=-1)  # v - g_bar^2
                    denominator = v_tilde.sqrt_().add_(eps)  # sqrt(v_tilde) + eps, in place
                else:
                    denominator = v.sqrt().add_(eps)  # sqrt(v_tilde) + eps, with v_tilde = v
                if mu > 0:
                    b = state["momentum_buffer"]
                    b.mul_(mu).addcdiv_(g, denominator)  # b = mu b + g / (sqrt(v_tilde) + eps)
                    p.add_(b, alpha=-lr)  # theta = theta - lr b
                else:
                    # theta = theta - lr g / (sqrt(v_tilde) + eps)
                    p.addcdiv_(g, denominator, value=-lr)
        return loss

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        for name in ("lr", "eps", "momentum", "weight_decay"):
            check_real(options[name], name, minimum=0)
        check_in_range(options["alpha"], "alpha", 0.0, 1.0)
        for name in ("centered", "maximize"):
            check_bool(options[name], name)


# --------------------------------------------------------------------------------------
# Adam and AdamW
# --------------------------------------------------------------------------------------


class Adam(_Optimizer):
    r"""Adam: gradient descent with bias-corrected running moments of the gradient.

    For each parameter :math:`\theta` with a gradient, at step :math:`t = 1, 2, \ldots`
    (with :math:`m_0 = v_0 = v^{\max}_0 = 0`):

    .. math::

       \begin{aligned}
       & g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \\
       & \textbf{if } \lambda \neq 0 : \quad g_t \leftarrow g_t + \lambda \theta_{t-1} \\
       & m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
       & v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
       & \hat{m}_t \leftarrow m_t / (1 - \beta_1^t) \\
       & \textbf{if amsgrad} : \quad v^{\max}_t \leftarrow \max(v^{\max}_{t-1}, v_t), \quad
           \hat{v}_t \leftarrow v^{\max}_t / (1 - \beta_2^t) \\
       & \textbf{else} : \quad \hat{v}_t \leftarrow v_t / (1 - \beta_2^t) \\
       & \theta_t \leftarrow \theta_{t-1} - \gamma \hat{m}_t / \big(\sqrt{\hat{v}_t} + \epsilon\big)
       \end{aligned}

    with :math:`\gamma` (``lr``), :math:`\beta_1, \beta_2` (``betas``), :math:`\epsilon`
    (``eps``), :math:`\lambda` (``weight_decay``). State: ``"step"`` (:math:`t`),
    ``"m"``, ``"v"`` and, with ``amsgrad``, ``"v_max"``. The weight decay here is an L2
    penalty folded into the gradient, so Adam rescales it like the rest of the gradient;
    :class:`AdamW` decays the weights directly instead (the one line that differs).

    .. note::

       :math:`\epsilon` is added to :math:`\sqrt{\hat{v}_t}`, as in Algorithm 1 of
       Kingma and Ba (2015) and in :mod:`torch.optim`. The paper's "more efficient"
       ordering (used by TensorFlow / Keras) folds the bias corrections into the step
       size and adds :math:`\epsilon` to :math:`\sqrt{v_t}` instead: an
       :math:`\epsilon` there acts like :math:`\epsilon / \sqrt{1 - \beta_2^t}` here,
       larger early in training. With ``amsgrad``, the running maximum is taken over
       the raw :math:`v_t` and bias-corrected afterwards, as torch does (the AMSGrad
       paper has no bias correction at all).

    Parameters
    ----------
    params : iterable of tensors or of dicts
        The parameters to optimize, or parameter groups.
    lr : float, default 1e-3
        Learning rate :math:`\gamma \ge 0`.
    betas : tuple of two floats, default (0.9, 0.999)
        :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`: how slowly the first and
        second moment estimates forget.
    eps : float, default 1e-8
        :math:`\epsilon \ge 0`, added to the denominator so it is never zero.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.
    amsgrad : bool, default False
        Divide by the largest second moment seen so far (Reddi et al., 2018).
    maximize : bool, default False
        Climb the objective instead of descending it.
    """

    # How weight decay enters: False, as L2 added to the gradient (Adam); True, applied to
    # the weights directly (AdamW sets it). The one thing that differs between the two.
    _decoupled_weight_decay = False

    def __init__(
        self, params: Params, lr: float = 1e-3, *,
        betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, amsgrad: bool = False,
        weight_decay: float = 0, maximize: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(params, dict(
            lr=lr, betas=betas, eps=eps, amsgrad=amsgrad, weight_decay=weight_decay,
            maximize=maximize,
        ))  # fmt: skip

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one step for every parameter that has a gradient; return the closure's loss.

        AdamW takes this same step: ``_decoupled_weight_decay`` picks its weight decay.
        """
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            lam, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in _with_grad(group["params"]):
                state = self.state[p]
                if not state:  # t = 0, m_0 = v_0 = 0
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                if amsgrad and "v_max" not in state:
                    state["v_max"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["m"], state["v"]

                g = _gradient(p, group["maximize"])
                if lam != 0 and self._decoupled_weight_decay:
                    p.mul_(1 - lr * lam)  # AdamW: theta = theta - lr lambda theta
                elif lam != 0:
                    g = g.add(p, alpha=lam)  # Adam: g = g + lambda theta
                m.lerp_(g, 1 - beta1)  # m = beta1 m + (1 - beta1) g
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2 v + (1 - beta2) g^2
                m_hat = m / (1 - beta1**t)
                if amsgrad:
                    v_max = torch.maximum(state["v_max"], v, out=state["v_max"])
                    v_hat = v_max / (1 - beta2**t)
                else:
                    v_hat = v / (1 - beta2**t)
                # theta = theta - lr m_hat / (sqrt(v_hat) + eps); v_hat is a temporary, so the
                # square root and + eps can overwrite it instead of allocating again.
                p.addcdiv_(m_hat, v_hat.sqrt_().add_(eps), value=-lr)
        return loss

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        for name in ("lr", "eps", "weight_decay"):
            check_real(options[name], name, minimum=0)
        _check_betas(options["betas"])
        for name in ("amsgrad", "maximize"):
            check_bool(options[name], name)


class AdamW(Adam):
    r"""AdamW: Adam with weight decay applied to the weights, not mixed into the gradient.

    For each parameter :math:`\theta` with a gradient, at step :math:`t = 1, 2, \ldots`
    (with :math:`m_0 = v_0 = v^{\max}_0 = 0`):

    .. math::

       \begin{aligned}
       & g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \\
       & \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1}
         \qquad \text{(the decoupled weight decay)} \\
       & m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
         v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
       & \hat{m}_t \leftarrow m_t / (1 - \beta_1^t), \quad
         \hat{v}_t \leftarrow \begin{cases}
           v^{\max}_t / (1 - \beta_2^t) \text{ with }
             v^{\max}_t \leftarrow \max(v^{\max}_{t-1}, v_t) & \text{if amsgrad} \\
           v_t / (1 - \beta_2^t) & \text{otherwise}
         \end{cases} \\
       & \theta_t \leftarrow \theta_{t-1} - \gamma \hat{m}_t / \big(\sqrt{\hat{v}_t} + \epsilon\big)
       \end{aligned}

    with :math:`\gamma` (``lr``), :math:`\beta_1, \beta_2` (``betas``), :math:`\epsilon`
    (``eps``), :math:`\lambda` (``weight_decay``). State: ``"step"`` (:math:`t`),
    ``"m"``, ``"v"`` and, with ``amsgrad``, ``"v_max"``. The only line that differs from
    :class:`Adam` is the second: the decay shrinks :math:`\theta` directly, so it is
    not divided by :math:`\sqrt{\hat{v}_t}` along with the gradient. AdamW is an
    :class:`Adam` (as in :mod:`torch.optim`): one ``step()`` serves both, and Adam's
    note on :math:`\epsilon` and ``amsgrad`` holds here too.

    .. note::

       Loshchilov and Hutter (2019) scale the decay by a schedule multiplier
       :math:`\eta_t` alone, :math:`\theta \leftarrow \theta - \eta_t \lambda \theta`;
       here, as in :class:`torch.optim.AdamW`, it is scaled by the learning rate
       :math:`\gamma` itself: with the defaults (:math:`\gamma = 10^{-3}`,
       :math:`\lambda = 10^{-2}`) each step shrinks the weights by a factor
       :math:`1 - 10^{-5}`.

    Parameters
    ----------
    weight_decay : float, default 1e-2
        Decoupled weight decay :math:`\lambda \ge 0` (torch.optim.AdamW's default).
    params : iterable of tensors or of dicts
        The parameters to optimize, or parameter groups.
    lr, betas, eps, amsgrad, maximize
        As for :class:`Adam`.
    """

    _decoupled_weight_decay = True

    def __init__(
        self, params: Params, lr: float = 1e-3, *,
        weight_decay: float = 1e-2,  # the one default that differs from Adam's (0)
        betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(
            params, lr, weight_decay=weight_decay, betas=betas, eps=eps, amsgrad=amsgrad,
            maximize=maximize,
        )  # fmt: skip
