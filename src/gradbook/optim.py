r"""SGD, RMSprop, Adam and AdamW, written out from their update equations.

Each optimizer is a :class:`torch.optim.Optimizer` subclass, so parameter groups,
``zero_grad``, ``state_dict`` / ``load_state_dict`` and learning-rate schedulers work as
they do with :mod:`torch.optim`. What differs is where the mathematics lives: each
class's docstring states its update rule, and its ``step()`` is that rule, line for
line, under the same names (:math:`m`, :math:`v`, :math:`\hat{m}`, :math:`\hat{v}`,
:math:`t`). The tests train the same model with these optimizers and with
:mod:`torch.optim` and check that the two trajectories agree to float64 precision.

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

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["SGD", "RMSprop", "Adam", "AdamW"]

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]


# --------------------------------------------------------------------------------------
# Argument checks: one message format for every optimizer
# --------------------------------------------------------------------------------------


def _check_real(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")


def _check_nonnegative(name: str, value: object) -> None:
    _check_real(name, value)
    if not value >= 0:  # written this way round so that NaN is rejected too
        raise ValueError(f"Invalid {name}: expected {name} >= 0, got {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")


def _check_betas(betas: object) -> None:
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        _check_real(f"betas[{i}]", beta)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid betas[{i}]: expected 0 <= betas[{i}] < 1, got {beta!r}")


def _check_sgd_options(group: dict[str, Any]) -> None:
    _check_nonnegative("lr", group["lr"])
    _check_nonnegative("momentum", group["momentum"])
    _check_real("dampening", group["dampening"])
    _check_nonnegative("weight_decay", group["weight_decay"])
    _check_bool("nesterov", group["nesterov"])
    _check_bool("maximize", group["maximize"])
    if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
        raise ValueError(
            "Invalid nesterov=True: Nesterov momentum needs momentum > 0 and "
            f"dampening == 0, got momentum={group['momentum']!r}, "
            f"dampening={group['dampening']!r}"
        )


def _check_rmsprop_options(group: dict[str, Any]) -> None:
    for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
        _check_nonnegative(name, group[name])
    _check_bool("centered", group["centered"])
    _check_bool("maximize", group["maximize"])


def _check_adam_options(group: dict[str, Any]) -> None:
    _check_nonnegative("lr", group["lr"])
    _check_betas(group["betas"])
    _check_nonnegative("eps", group["eps"])
    _check_nonnegative("weight_decay", group["weight_decay"])
    _check_bool("amsgrad", group["amsgrad"])
    _check_bool("maximize", group["maximize"])


# --------------------------------------------------------------------------------------
# What every step() does first
# --------------------------------------------------------------------------------------


def _evaluate(closure: Callable[[], Any] | None) -> Any:
    """Run ``closure`` (which recomputes the loss and its gradients), if given."""
    if closure is None:
        return None
    with torch.enable_grad():  # step() itself runs under no_grad
        return closure()


def _gradient(p: torch.Tensor, maximize: bool) -> torch.Tensor:
    """The gradient to descend: ``p.grad``, or its negative to climb instead."""
    if p.grad.is_sparse:
        raise RuntimeError("gradbook.optim does not support sparse gradients")
    return -p.grad if maximize else p.grad


# --------------------------------------------------------------------------------------
# SGD
# --------------------------------------------------------------------------------------


class SGD(torch.optim.Optimizer):
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
        self,
        params: Params,
        lr: float = 1e-3,
        *,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, its options checked like those given to ``__init__``."""
        # torch.optim checks only the defaults; a group's own "lr": -1 would pass there.
        _check_sgd_options({**self.defaults, **param_group})
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one step for every parameter that has a gradient; return the closure's loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            lam, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
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


# --------------------------------------------------------------------------------------
# RMSprop
# --------------------------------------------------------------------------------------


class RMSprop(torch.optim.Optimizer):
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
        self,
        params: Params,
        lr: float = 0.01,
        *,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, its options checked like those given to ``__init__``."""
        # torch.optim checks only the defaults; a group's own "lr": -1 would pass there.
        _check_rmsprop_options({**self.defaults, **param_group})
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one step for every parameter that has a gradient; return the closure's loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            lam, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
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


# --------------------------------------------------------------------------------------
# Adam and AdamW
# --------------------------------------------------------------------------------------


class Adam(torch.optim.Optimizer):
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
    :class:`AdamW` decays the weights directly instead.

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

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, its options checked like those given to ``__init__``."""
        # torch.optim checks only the defaults; a group's own "lr": -1 would pass there.
        _check_adam_options({**self.defaults, **param_group})
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one step for every parameter that has a gradient; return the closure's loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            lam, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # t = 0, m_0 = v_0 = 0
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                if amsgrad and "v_max" not in state:
                    state["v_max"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["m"], state["v"]

                g = _gradient(p, group["maximize"])
                if lam != 0:
                    g = g.add(p, alpha=lam)  # g = g + lambda theta
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


class AdamW(torch.optim.Optimizer):
    r"""AdamW: Adam with weight decay applied to the weights, not mixed into the gradient.

    For each parameter :math:`\theta` with a gradient, at step :math:`t = 1, 2, \ldots`
    (with :math:`m_0 = v_0 = v^{\max}_0 = 0`):

    .. math::

       \begin{aligned}
       & g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \\
       & \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1} \\
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
    ``"m"``, ``"v"`` and, with ``amsgrad``, ``"v_max"``. The only line that differs from
    :class:`Adam` is the second: the decay shrinks :math:`\theta` directly, so it is
    not divided by :math:`\sqrt{\hat{v}_t}` along with the gradient.

    .. note::

       Loshchilov and Hutter (2019) scale the decay by a schedule multiplier
       :math:`\eta_t` alone, :math:`\theta \leftarrow \theta - \eta_t \lambda \theta`;
       here, as in :class:`torch.optim.AdamW`, it is scaled by the learning rate
       :math:`\gamma` itself: with the defaults (:math:`\gamma = 10^{-3}`,
       :math:`\lambda = 10^{-2}`) each step shrinks the weights by a factor
       :math:`1 - 10^{-5}`.

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
        :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
    eps : float, default 1e-8
        :math:`\epsilon \ge 0`, added to the denominator so it is never zero.
    weight_decay : float, default 1e-2
        Decoupled weight decay :math:`\lambda \ge 0` (torch.optim.AdamW's default).
    amsgrad : bool, default False
        Divide by the largest second moment seen so far (Reddi et al., 2018).
    maximize : bool, default False
        Climb the objective instead of descending it.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, its options checked like those given to ``__init__``."""
        # torch.optim checks only the defaults; a group's own "lr": -1 would pass there.
        _check_adam_options({**self.defaults, **param_group})
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one step for every parameter that has a gradient; return the closure's loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            lam, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:  # t = 0, m_0 = v_0 = 0
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                if amsgrad and "v_max" not in state:
                    state["v_max"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["m"], state["v"]

                g = _gradient(p, group["maximize"])
                if lam != 0:
                    p.mul_(1 - lr * lam)  # theta = theta - lr lambda theta
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
