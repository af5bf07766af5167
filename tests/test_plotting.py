"""Tests for gradbook.plotting: every helper draws, labels its axes and adds legends."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gradbook import plotting


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test opened, so figures do not pile up across tests."""
    yield
    plt.close("all")


def _legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None, "expected a legend"
    return [t.get_text() for t in legend.get_texts()]


def test_use_style_sets_rcparams():
    """use_style applies the documented rcParams: grid on, no top/right spines."""
    with matplotlib.rc_context():
        plotting.use_style()
        assert plt.rcParams["axes.grid"] is True
        assert plt.rcParams["axes.spines.top"] is False
        assert plt.rcParams["axes.spines.right"] is False
        assert plt.rcParams["axes.labelsize"] == plotting.STYLE["axes.labelsize"]


@pytest.mark.parametrize(("ncols", "width"), [(1, 8.0), (2, 10.0)])
def test_subplots_page_width(ncols, width):
    """subplots sizes one panel (8, 4) and two panels (10, 4)."""
    fig, axes = plotting.subplots(1, ncols)
    assert tuple(fig.get_size_inches()) == (width, 4.0)
    assert len(fig.axes) == ncols


def test_subplots_rejects_bad_counts():
    """A non-positive number of columns is a ValueError naming the argument."""
    with pytest.raises(ValueError, match="ncols"):
        plotting.subplots(1, 0)


def test_plot_lines_draws_each_curve_with_legend():
    """plot_lines draws one line per curve, labels both axes and lists every curve."""
    x = np.linspace(0, 1, 11)
    ax = plotting.plot_lines(x, {"a": x, "b": x**2}, xlabel="t", ylabel="value", logx=False)
    assert len(ax.get_lines()) == 2
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("t", "value")
    assert _legend_texts(ax) == ["a", "b"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), x**2)


def test_plot_lines_shape_mismatch():
    """A curve whose length differs from x is a ValueError naming the curve."""
    with pytest.raises(ValueError, match="curves\\['a'\\]"):
        plotting.plot_lines([0, 1, 2], {"a": [1, 2]})


def test_plot_loss_curves_log_axis_and_epochs():
    """plot_loss_curves draws epochs from 1 on a log loss axis with a legend."""
    curves = {"train": [1.0, 0.5, 0.1], "validation": torch.tensor([1.2, 0.7, 0.3, 0.2])}
    ax = plotting.plot_loss_curves(curves)
    lines = ax.get_lines()
    assert len(lines) == 2
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    assert list(lines[1].get_xdata()) == [1, 2, 3, 4]
    assert ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert _legend_texts(ax) == ["train", "validation"]


def test_plot_loss_curves_linear_and_existing_axes():
    """With logy=False and an ax given, it draws there on a linear axis."""
    fig, ax = plt.subplots()
    out = plotting.plot_loss_curves({"only": [3.0, 2.0]}, ax=ax, logy=False, xlabel="step")
    assert out is ax
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "step"
    assert ax.get_legend() is None  # a single curve needs no legend


@pytest.mark.parametrize(
    ("curves", "error"),
    [({}, ValueError), ([1.0, 2.0], TypeError), ({"a": []}, ValueError)],
)
def test_plot_loss_curves_rejects_bad_input(curves, error):
    """Empty dicts, non-dicts and empty curves are rejected with a clear error."""
    with pytest.raises(error, match="curves"):
        plotting.plot_loss_curves(curves)


def test_plot_layer_statistics_marks_all_zero_on_log_axis():
    """On a log axis an all-zero entry keeps a legend entry but draws no points."""
    stats = {"zeros": [0.0, 0.0, 0.0], "he": [1.0, 0.9, 1.1], "xavier": [0.7, 0.5, 0.35]}
    ax = plotting.plot_layer_statistics(stats, logy=True, ylabel="std")
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "std"
    assert ax.get_xlabel() == "layer"
    assert _legend_texts(ax) == ["zeros (all zero, not drawn)", "he", "xavier"]
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [0, 3, 3]
    assert list(ax.get_lines()[1].get_xdata()) == [1, 2, 3]


@pytest.mark.parametrize(
    "draw",
    [
        lambda curves: plotting.plot_lines([1, 2, 3], curves, logy=True),
        lambda curves: plotting.plot_loss_curves(curves),
    ],
    ids=["plot_lines", "plot_loss_curves"],
)
def test_log_axis_marks_an_all_zero_curve_in_every_line_plot(draw):
    """plot_lines and plot_loss_curves, on a log axis, mark an all-zero curve as not drawn."""
    ax = draw({"zero": [0.0, 0.0, 0.0], "loss": [1.0, 0.5, 0.25]})
    assert _legend_texts(ax) == ["zero (all zero, not drawn)", "loss"]
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [0, 3]


def test_plot_function_and_derivative_uses_autograd_and_overlay():
    """The right panel holds autograd derivatives and the dashed closed-form overlay."""
    x = torch.linspace(-3, 3, 61)
    fig = plotting.plot_function_and_derivative(
        {"sigmoid": torch.sigmoid, "tanh": torch.tanh},
        x,
        closed_form={"tanh": lambda t: 1 - torch.tanh(t) ** 2},
    )
    assert isinstance(fig, Figure)
    ax_f, ax_d = fig.axes
    assert len(ax_f.get_lines()) == 2
    assert len(ax_d.get_lines()) == 3  # two autograd lines and one closed form
    s = torch.sigmoid(x.double()).numpy()
    np.testing.assert_allclose(ax_d.get_lines()[0].get_ydata(), s * (1 - s), atol=1e-12)
    assert _legend_texts(ax_d) == ["sigmoid", "tanh", "closed form"]
    assert _legend_texts(ax_f) == ["sigmoid", "tanh"]
    assert ax_f.get_ylabel() == "f(x)" and ax_d.get_ylabel() == "f'(x)"
    assert ax_f.get_xlabel() == ax_d.get_xlabel() == "x"


def test_plot_function_and_derivative_single_callable():
    """A single callable is plotted with its derivative, labelled, without a legend."""
    fig = plotting.plot_function_and_derivative(lambda t: t**3, np.linspace(-1, 1, 5))
    ax_f, ax_d = fig.axes
    np.testing.assert_allclose(ax_d.get_lines()[0].get_ydata(), 3 * np.linspace(-1, 1, 5) ** 2)
    assert ax_f.get_legend() is None


def test_plot_function_and_derivative_rejects_unknown_closed_form():
    """A closed form for a function that is not plotted is a ValueError."""
    with pytest.raises(ValueError, match="closed_form"):
        plotting.plot_function_and_derivative(
            {"a": torch.sin}, torch.linspace(0, 1, 5), closed_form={"b": torch.cos}
        )


def test_plot_function_and_derivative_rejects_non_elementwise():
    """A function that changes the shape (a reduction) is a ValueError."""
    with pytest.raises(ValueError, match="elementwise"):
        plotting.plot_function_and_derivative(torch.sum, torch.linspace(0, 1, 5))


def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def _quadratic_matmul(p):
    # Does not broadcast over a grid: exercises the point-by-point fallback.
    A = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=p.dtype)
    return 0.5 * p @ A @ p


@pytest.mark.parametrize("f", [_rosenbrock, _quadratic_matmul])
def test_plot_contour_with_paths(f):
    """Contours are drawn and each path gets a line, start/end markers and a legend entry."""
    paths = {"sgd": np.array([[-1.0, 1.0], [-0.5, 0.5], [0.0, 0.1]]), "adam": [[1.0, -1.0]]}
    ax = plotting.plot_contour_with_paths(
        f, paths, xlim=(-2, 2), ylim=(-1, 3), resolution=20, minimum=(1.0, 1.0)
    )
    assert len(ax.collections) >= 1  # the contour set
    assert len(ax.get_lines()) == 2 * 3 + 1  # each path: line, start, end; plus the star
    assert _legend_texts(ax) == ["sgd", "adam", "minimum"]
    assert ax.get_xlim() == (-2.0, 2.0)
    assert ax.get_xlabel() and ax.get_ylabel()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"paths": {"a": np.zeros((3, 3))}}, "paths"),
        ({"xlim": (1, 0)}, "xlim"),
        ({"levels": 1}, "levels"),
    ],
)
def test_plot_contour_with_paths_validates(kwargs, match):
    """Bad paths, limits or levels raise ValueError naming the argument."""
    args = {"paths": {"a": np.zeros((2, 2))}, "xlim": (-1, 1), "ylim": (-1, 1), "resolution": 5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plotting.plot_contour_with_paths(_rosenbrock, **args)


def test_plot_decision_boundary_multiclass():
    """A 3-class linear model shades its regions and scatters each class with a legend."""
    torch.manual_seed(0)
    X = torch.randn(60, 2)
    model = torch.nn.Linear(2, 3)
    with torch.no_grad():
        y = model(X).argmax(dim=1)
    ax = plotting.plot_decision_boundary(model, X, y, resolution=30)
    present = sorted(set(y.tolist()))
    assert _legend_texts(ax) == [f"class {k}" for k in present]
    assert ax.get_xlabel() and ax.get_ylabel()
    # The filled contour plus one scatter collection per class present.
    assert len(ax.collections) == 1 + len(present)


def test_plot_decision_boundary_binary_logit():
    """A model returning one logit per point is read as class 1 where the logit is positive."""
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [-2.0, 1.0], [2.0, -1.0]])
    y = np.array([0, 1, 0, 1])
    ax = plotting.plot_decision_boundary(lambda t: t[:, 0], X, y, resolution=11)
    assert _legend_texts(ax) == ["class 0", "class 1"]


def test_plot_decision_boundary_validates_shapes():
    """X must be (N, 2) and y must match it."""
    with pytest.raises(ValueError, match="X"):
        plotting.plot_decision_boundary(lambda t: t, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="y"):
        plotting.plot_decision_boundary(lambda t: t, np.zeros((4, 2)), np.zeros(3))


def test_axes_must_be_axes():
    """Passing something that is not an Axes as ax is a TypeError naming ax."""
    with pytest.raises(TypeError, match="ax"):
        plotting.plot_loss_curves({"a": [1.0]}, ax="left")
