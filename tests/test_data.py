"""Tests for gradbook.data: synthetic regression, spirals and moons."""

from __future__ import annotations

from math import inf, nan

import numpy as np
import pytest
import torch

from gradbook.data import make_moons, make_regression, make_spirals


def test_regression_shapes_and_dtypes():
    """make_regression returns X (N, d) and y (N, 1), float32."""
    X, y = make_regression(100, [2.0, 3.0])
    assert X.shape == (100, 2) and y.shape == (100, 1)
    assert X.dtype == y.dtype == torch.float32


def test_regression_without_noise_is_exactly_linear():
    """With noise=0, y = X w + b exactly."""
    w = torch.tensor([1.5, -2.0, 0.5])
    X, y = make_regression(50, w, bias=4.0, noise=0.0)
    torch.testing.assert_close(y, X @ w.unsqueeze(1) + 4.0)


def test_regression_recovers_the_weights_by_least_squares():
    """Least squares on the notebook's data finds w close to [2, 3] and noise of std 0.1."""
    X, y = make_regression(100, [2.0, 3.0], seed=42)
    A = torch.cat([X, torch.ones(100, 1)], dim=1)  # (N, 3): weights and intercept
    coef = torch.linalg.lstsq(A, y).solution.squeeze(1)
    torch.testing.assert_close(coef, torch.tensor([2.0, 3.0, 0.0]), atol=0.05, rtol=0)
    residual = y - A @ coef.unsqueeze(1)
    assert residual.std().item() == pytest.approx(0.1, rel=0.25)


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: make_regression(30, [1.0, 2.0], seed=seed),
        lambda seed: make_spirals(60, n_classes=3, seed=seed),
        lambda seed: make_moons(40, seed=seed),
    ],
)
def test_same_seed_same_data_and_global_rng_untouched(make):
    """The same seed gives the same tensors, another seed others, and torch's RNG is untouched."""
    state = torch.get_rng_state()
    a, b, c = make(0), make(0), make(1)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_spirals_shapes_labels_and_balance(n_classes):
    """make_spirals gives (N, 2) float32 points and int64 labels split evenly between classes."""
    X, y = make_spirals(101, n_classes=n_classes)
    assert X.shape == (101, 2) and X.dtype == torch.float32
    assert y.shape == (101,) and y.dtype == torch.int64
    counts = torch.bincount(y, minlength=n_classes)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    assert counts.sum() == 101


def test_spirals_lie_on_the_spiral():
    """Without noise each point of arm j sits at angle 3 pi r + 2 pi j / K, radius r <= 1."""
    X, y = make_spirals(90, n_classes=3, noise=0.0, shuffle=False)
    r = X.norm(dim=1)
    assert r.max().item() <= 1.0 + 1e-6
    theta = 3 * torch.pi * r + 2 * torch.pi * y / 3
    torch.testing.assert_close(X[:, 0], r * torch.cos(theta), atol=1e-5, rtol=0)
    torch.testing.assert_close(X[:, 1], r * torch.sin(theta), atol=1e-5, rtol=0)
    assert torch.equal(y, torch.arange(3).repeat_interleave(30))


def test_moons_without_noise_lie_on_two_half_circles():
    """Class 0 lies on the unit upper half circle, class 1 on the shifted lower one."""
    X, y = make_moons(100, noise=0.0)
    assert X.shape == (100, 2) and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [50, 50]
    upper, lower = X[y == 0], X[y == 1]
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(50))
    assert (upper[:, 1] >= -1e-6).all()
    shifted = torch.stack([1 - lower[:, 0], 0.5 - lower[:, 1]], dim=1)
    torch.testing.assert_close(shifted.norm(dim=1), torch.ones(50))


def test_shuffle_false_keeps_class_order():
    """shuffle=False returns the points class by class."""
    _, y = make_moons(11, shuffle=False)
    assert y.tolist() == [0] * 5 + [1] * 6


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: make_regression(0, [1.0]), ValueError, "n_samples must be an int >= 1, got 0"),
        (lambda: make_regression(10.0, [1.0]), TypeError, "n_samples must be an int"),
        (lambda: make_regression(10, []), ValueError, "weights must hold at least one"),
        (lambda: make_regression(10, [[1.0, 2.0]]), ValueError, "weights must be 1-D"),
        (lambda: make_regression(10, [[1, 2], [3]]), ValueError, "weights must be 1-D"),
        (lambda: make_regression(10, "ab"), TypeError, "weights must be a sequence .*got str"),
        (lambda: make_regression(10, None), TypeError, "weights must be .*got NoneType"),
        (
            lambda: make_regression(10, [nan, 1.0]),
            ValueError,
            r"weights\[0\] must be a finite number, got nan",
        ),
        (lambda: make_regression(10, [1.0, "2"]), TypeError, r"weights\[1\] must be a real"),
        (lambda: make_regression(10, [1.0], bias=inf), ValueError, "bias must be a finite number"),
        (
            lambda: make_regression(10, [1.0], noise=-1.0),
            ValueError,
            "noise must be a finite number >= 0, got -1.0",
        ),
        (lambda: make_regression(10, [1.0], seed=1.5), TypeError, "seed must be an int"),
        (lambda: make_regression(10, [1.0], seed=2**70), ValueError, "seed must be an int from"),
        (lambda: make_spirals(10, n_classes=1), ValueError, "n_classes must be an int >= 2"),
        (lambda: make_spirals(2, n_classes=3), ValueError, "n_samples must be an int >= 3"),
        (lambda: make_spirals(10, shuffle="no"), TypeError, "shuffle must be True or False"),
        (lambda: make_moons(1), ValueError, "n_samples must be an int >= 2"),
        (lambda: make_moons(10, noise=nan), ValueError, "noise must be a finite number"),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    """Bad arguments raise an error naming the argument and the value."""
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    "weights",
    [(2.0, 3.0), torch.tensor([2.0, 3.0]), np.array([2.0, 3.0]), [np.float32(2.0), 3]],
    ids=["tuple", "tensor", "array", "numpy scalars"],
)
def test_regression_takes_weights_as_any_1d_sequence(weights):
    """A tuple, a tensor, a NumPy array or NumPy scalars give the same data as a list."""
    X, y = make_regression(20, weights)
    X_ref, y_ref = make_regression(20, [2.0, 3.0])
    assert torch.equal(X, X_ref) and torch.equal(y, y_ref)
