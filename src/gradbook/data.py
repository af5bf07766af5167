r"""Small synthetic data sets, made on the spot as tensors: nothing is downloaded, ever.

Every function draws from its own ``torch.Generator`` seeded with ``seed``, so the same
call gives the same tensors and the global random state (``torch.manual_seed``) is left
untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from gradbook._validation import check_bool, check_int, check_real, check_seed, type_name

__all__ = ["make_moons", "make_regression", "make_spirals"]


def make_regression(
    n_samples: int,
    weights: Sequence[float] | torch.Tensor,
    bias: float = 0.0,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A linear regression problem: :math:`y = X w + b + \varepsilon`.

    .. math::

        X_{ij} \sim \mathcal{N}(0, 1), \qquad
        \varepsilon_i \sim \mathcal{N}(0, \sigma^2)

    The seed notebook's :math:`y = 2 x_1 + 3 x_2 + \varepsilon` is
    ``make_regression(100, [2.0, 3.0])``.

    Parameters
    ----------
    n_samples : int
        Number of rows :math:`N`, >= 1.
    weights : sequence of float or 1-D tensor
        The true weights :math:`w`; their number sets the number of features :math:`d`.
    bias : float, default 0.0
        The true intercept :math:`b`.
    noise : float, default 0.1
        Standard deviation :math:`\sigma` of the Gaussian noise, >= 0.
    seed : int, default 0
        Seed of the local random generator.

    Returns
    -------
    X : torch.Tensor
        Inputs, float32, shape ``(N, d)``.
    y : torch.Tensor
        Targets, float32, shape ``(N, 1)``: ready for ``nn.Linear(d, 1)`` and ``nn.MSELoss``.
    """
    check_int(n_samples, "n_samples", minimum=1)
    w = _weight_vector(weights)  # (d,)
    check_real(bias, "bias")
    check_real(noise, "noise", minimum=0)
    g = _generator(seed)
    X = torch.randn(n_samples, w.numel(), generator=g)  # (N, d)
    eps = torch.randn(n_samples, 1, generator=g)  # (N, 1)
    y = X @ w.unsqueeze(1) + bias + noise * eps  # (N, 1)
    return X, y


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 2,
    noise: float = 0.2,
    seed: int = 0,
    *,
    shuffle: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Interleaved spiral arms, one per class: a classic problem no linear model can solve.

    Arm :math:`j` of :math:`K` places its points at radius :math:`r \in [0, 1]` and angle

    .. math::

        \theta = 3 \pi r + \frac{2 \pi j}{K} + \varepsilon, \qquad
        \varepsilon \sim \mathcal{N}(0, \sigma^2)

    so each arm winds one and a half turns and the arms are evenly spaced.

    Parameters
    ----------
    n_samples : int, default 300
        Total number of points, split as evenly as possible between the classes.
    n_classes : int, default 2
        Number of arms (classes), >= 2.
    noise : float, default 0.2
        Standard deviation :math:`\sigma` of the angular jitter, in radians, >= 0.
    seed : int, default 0
        Seed of the local random generator.
    shuffle : bool, default True
        Shuffle the rows; otherwise the points come class by class.

    Returns
    -------
    X : torch.Tensor
        Points, float32, shape ``(N, 2)``.
    y : torch.Tensor
        Class labels in ``0 .. n_classes - 1``, int64, shape ``(N,)``: ready for
        ``nn.CrossEntropyLoss``.
    """
    check_int(n_classes, "n_classes", minimum=2)
    check_int(n_samples, "n_samples", minimum=n_classes)  # at least one point per arm
    check_real(noise, "noise", minimum=0)
    check_bool(shuffle, "shuffle")
    g = _generator(seed)
    # The first n_samples % n_classes classes get one extra point.
    counts = [n_samples // n_classes + (j < n_samples % n_classes) for j in range(n_classes)]
    xs, ys = [], []
    for j, n in enumerate(counts):
        r = torch.linspace(0.0, 1.0, n)  # (n,)
        theta = 3 * math.pi * r + 2 * math.pi * j / n_classes + noise * torch.randn(n, generator=g)
        xs.append(torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1))  # (n, 2)
        ys.append(torch.full((n,), j, dtype=torch.int64))
    return _maybe_shuffle(torch.cat(xs), torch.cat(ys), g, shuffle)


def make_moons(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int = 0,
    *,
    shuffle: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Two interleaving half circles (the shape scikit-learn's ``make_moons`` draws).

    Class 0 lies on the upper half circle :math:`(\cos t, \sin t)` and class 1 on the lower
    one :math:`(1 - \cos t, \tfrac{1}{2} - \sin t)`, :math:`t \in [0, \pi]`, plus Gaussian
    noise of standard deviation ``noise`` on both coordinates.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points, >= 2; class 0 gets ``n_samples // 2`` of them.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate, >= 0.
    seed : int, default 0
        Seed of the local random generator.
    shuffle : bool, default True
        Shuffle the rows; otherwise class 0 comes first.

    Returns
    -------
    X : torch.Tensor
        Points, float32, shape ``(N, 2)``.
    y : torch.Tensor
        Labels 0 or 1, int64, shape ``(N,)``.
    """
    check_int(n_samples, "n_samples", minimum=2)
    check_real(noise, "noise", minimum=0)
    check_bool(shuffle, "shuffle")
    g = _generator(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    t_upper = torch.linspace(0.0, math.pi, n_upper)  # (n_upper,)
    t_lower = torch.linspace(0.0, math.pi, n_lower)  # (n_lower,)
    upper = torch.stack([torch.cos(t_upper), torch.sin(t_upper)], dim=1)  # (n_upper, 2)
    lower = torch.stack([1 - torch.cos(t_lower), 0.5 - torch.sin(t_lower)], dim=1)  # (n_lower, 2)
    X = torch.cat([upper, lower])  # (N, 2)
    X = X + noise * torch.randn(X.shape, generator=g)
    y = torch.cat([torch.zeros(n_upper, dtype=torch.int64), torch.ones(n_lower, dtype=torch.int64)])
    return _maybe_shuffle(X, y, g, shuffle)


def _generator(seed: int) -> torch.Generator:
    """A fresh random generator seeded with ``seed``: the global random state is untouched."""
    check_seed(seed)
    return torch.Generator().manual_seed(seed)


def _weight_vector(weights: object) -> torch.Tensor:
    """``weights`` as a float32 vector, checked: a non-empty 1-D sequence of finite numbers."""
    values = weights.tolist() if hasattr(weights, "tolist") else weights  # tensors, arrays
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(
            f"weights must be a sequence of real numbers or a 1-D tensor, got {type_name(weights)}"
        )
    if len(values) == 0:
        raise ValueError("weights must hold at least one weight (one per feature), got none")
    if any(isinstance(v, Sequence) and not isinstance(v, str) for v in values):
        raise ValueError("weights must be 1-D (one weight per feature), got nested sequences")
    for i, value in enumerate(values):
        check_real(value, f"weights[{i}]")
    return torch.tensor(values, dtype=torch.float32)


def _maybe_shuffle(
    X: torch.Tensor, y: torch.Tensor, g: torch.Generator, shuffle: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    if not shuffle:
        return X, y
    perm = torch.randperm(len(y), generator=g)  # (N,)
    return X[perm], y[perm]
