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


# ---------------------------------------------------------------------------------------
# Bad input: each mistake is a TypeError / ValueError naming the argument (issue 13).
# ---------------------------------------------------------------------------------------


def _two_blobs(n=20):
    """Points in the plane and binary labels (class 1 on the right)."""
    X = torch.linspace(-1, 1, n).reshape(-1, 2)
    return X, (X[:, 0] > 0).long()


def test_plot_decision_boundary_names_both_sides_of_a_feature_mismatch():
    """A model whose first layer expects 3 features: the error names X's 2 and the 3."""
    X, y = _two_blobs()
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"X has 2 features but the model's first layer.*3"):
        plotting.plot_decision_boundary(model, X, y)


def test_plot_decision_boundary_wraps_a_model_error_naming_model_and_X():
    """A callable that raises torch's RuntimeError on the grid: a ValueError naming both."""
    X, y = _two_blobs()
    weight = torch.ones(3, 2)

    def model(t):
        return t @ weight  # (M, 2) @ (3, 2): torch's shape error

    with pytest.raises(ValueError, match=r"model raised RuntimeError.*X's 2 features") as info:
        plotting.plot_decision_boundary(model, X, y)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_plot_decision_boundary_rejects_three_feature_X():
    """X with 3 features cannot be shaded in a plane: a ValueError naming X's features."""
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\).*3 features"):
        plotting.plot_decision_boundary(torch.nn.Linear(3, 2), torch.zeros(4, 3), [0, 1, 0, 1])


@pytest.mark.parametrize(
    ("y", "match"),
    [
        ([0.0, 0.5, 1.0, 1.0], "y must hold class labels.*0.5"),
        ([0, -1, 1, 1], "y must hold class labels.*-1"),
        ([0, float("nan"), 1, 1], "y must hold class labels"),
        ([[0], [1], [0], [1]], r"y must have shape \(4,\).*reshape"),
        ([0, 1, 2, 1], "y holds class 2.*predicts 2 classes"),
    ],
    ids=["fraction", "negative", "nan", "column", "beyond-model"],
)
def test_plot_decision_boundary_rejects_bad_labels(y, match):
    """Fractional, negative, NaN, column-shaped or too-large labels: a ValueError naming y."""
    X = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [-1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=match):
        plotting.plot_decision_boundary(torch.nn.Linear(2, 2), X, torch.tensor(y))


def test_plot_decision_boundary_accepts_whole_float_labels():
    """Float labels whose values are whole numbers (a BCE target) are read as classes."""
    X, y = _two_blobs()
    ax = plotting.plot_decision_boundary(lambda t: t[:, 0], X, y.float(), resolution=11)
    assert _legend_texts(ax) == ["class 0", "class 1"]


@pytest.mark.parametrize("n_classes", [12, 25])
def test_plot_decision_boundary_draws_any_number_of_classes(n_classes):
    """12 and 25 classes are drawn, each with its own colour and legend entry."""
    torch.manual_seed(0)
    X = torch.randn(4 * n_classes, 2)
    y = torch.arange(4 * n_classes) % n_classes
    ax = plotting.plot_decision_boundary(torch.nn.Linear(2, n_classes), X, y, resolution=20)
    assert _legend_texts(ax) == [f"class {k}" for k in range(n_classes)]
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections[1:]}
    assert len(colours) == n_classes


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (lambda t: t.numpy(), "model must return a torch.Tensor"),
        (lambda t: t[:3, 0], r"model must return logits of shape.*got \(3,\)"),
        (lambda t: t[:, :, None], "model must return logits of shape"),
    ],
    ids=["numpy", "wrong-rows", "3-d"],
)
def test_plot_decision_boundary_checks_the_model_output(model, match):
    """A model returning an array, too few rows or a 3-D tensor: an error naming model."""
    X, y = _two_blobs()
    with pytest.raises((TypeError, ValueError), match=match):
        plotting.plot_decision_boundary(model, X, y, resolution=5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "linear"}, TypeError, "model must be callable"),
        ({"X": [[0.0, float("inf")], [1.0, 1.0]]}, ValueError, "X must hold finite"),
        ({"X": torch.zeros(0, 2), "y": torch.zeros(0)}, ValueError, "X must have shape"),
        ({"X": None}, TypeError, "X must be a tensor"),
        ({"padding": -1.0}, ValueError, "padding"),
        ({"resolution": True}, TypeError, "resolution"),
        ({"title": 3}, TypeError, "title"),
        ({"ax": "left"}, TypeError, "ax"),
    ],
)
def test_plot_decision_boundary_validates_arguments(kwargs, error, match):
    """Each argument of the wrong kind or out of range is an error that names it."""
    X, y = _two_blobs(4)
    args = {"model": torch.nn.Linear(2, 2), "X": X, "y": y, "resolution": 5} | kwargs
    with pytest.raises(error, match=match):
        plotting.plot_decision_boundary(**args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"xlim": 5}, TypeError, "xlim must be a pair"),
        ({"xlim": "ab"}, TypeError, "xlim"),
        ({"xlim": (0, 1, 2)}, ValueError, "xlim must be a pair"),
        ({"xlim": (0, float("nan"))}, ValueError, "xlim must be a pair.*finite"),
        ({"ylim": (1, 1)}, ValueError, "ylim must be a pair.*low < high"),
        ({"minimum": (float("nan"), 0.0)}, ValueError, "minimum"),
        ({"minimum": 1.0}, TypeError, "minimum"),
        ({"f": 5}, TypeError, "f must be callable"),
        ({"paths": {}}, ValueError, "paths must hold at least one"),
        ({"paths": [[0, 0]]}, TypeError, "paths must be a dict"),
        ({"paths": {"a": [[0, 0], [float("nan"), 0]]}}, ValueError, r"paths\['a'\].*step 1"),
        ({"log_levels": "no"}, TypeError, "log_levels must be True or False"),
        ({"resolution": 1.5}, TypeError, "resolution"),
        ({"xlabel": None}, TypeError, "xlabel"),
        ({"ax": plt}, TypeError, "ax must be a matplotlib Axes"),
    ],
)
def test_plot_contour_with_paths_validates_arguments(kwargs, error, match):
    """Each argument of the wrong kind or out of range is an error that names it."""
    args = {"f": _rosenbrock, "paths": {"a": [[0.0, 0.0]]}, "xlim": (-1, 1), "ylim": (-1, 1)}
    with pytest.raises(error, match=match):
        plotting.plot_contour_with_paths(**(args | {"resolution": 5} | kwargs))


@pytest.mark.parametrize("log_levels", [True, False])
def test_plot_contour_with_paths_draws_a_constant_function(log_levels):
    """A constant function is drawn without contour lines, with a note, and its paths."""
    ax = plotting.plot_contour_with_paths(
        lambda p: 0 * p[0] + 3.0,
        {"a": [[0.0, 0.0], [0.5, 0.5]]},
        xlim=(-1, 1),
        ylim=(-1, 1),
        resolution=5,
        log_levels=log_levels,
    )
    assert len(ax.collections) == 0  # no contour set
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "constant"]
    assert notes == ["f is constant here (f = 3): no contour lines"]
    assert len(ax.get_lines()) == 3  # the path, its start and its end


def test_plot_contour_with_paths_leaves_out_non_finite_values():
    """Where f is NaN (a log of a negative number) no contour is drawn; the rest is."""
    ax = plotting.plot_contour_with_paths(
        lambda p: torch.log(p[0]) + p[1] ** 2, {"a": [[1.0, 0.0]]}, xlim=(-1, 2), ylim=(-1, 1),
        resolution=20,
    )  # fmt: skip
    assert len(ax.collections) == 1


@pytest.mark.parametrize(
    ("f", "match"),
    [
        (lambda p: p[0] * float("nan"), "f must be finite somewhere"),
        (lambda p: torch.stack([p @ p, p @ p]), "f must return one number for a point"),
    ],
    ids=["all-nan", "vector-valued"],
)
def test_plot_contour_with_paths_rejects_a_function_it_cannot_draw(f, match):
    """A function NaN everywhere, or returning a vector per point: a ValueError naming f."""
    with pytest.raises(ValueError, match=match):
        plotting.plot_contour_with_paths(
            f, {"a": [[0.0, 0.0]]}, xlim=(-1, 1), ylim=(-1, 1), resolution=5
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fn": 5}, TypeError, "fn must be a callable or a dict"),
        ({"fn": {"a": torch.sin, "b": "cos"}}, TypeError, r"fn\['b'\] must be callable"),
        ({"fn": {}}, ValueError, "fn must hold at least one"),
        ({"fn": lambda t: torch.tensor(t.tolist())}, ValueError, "fn.*not connected to x"),
        ({"x": [0.0, float("nan"), 1.0]}, ValueError, "x must hold finite"),
        ({"x": [0.0]}, ValueError, "x must be 1-D with at least 2"),
        ({"closed_form": 5}, TypeError, "closed_form must be a callable or a dict"),
        ({"closed_form": lambda t: t[:2]}, ValueError, r"closed_form\['f'\]\(x\) must have"),
        ({"axes": "left"}, TypeError, "axes must be a pair"),
        ({"ylabels": "f"}, TypeError, "ylabels must be a pair"),
        ({"ylabels": ("f", 2)}, TypeError, r"ylabels\[1\] must be a str"),
        ({"titles": ("a", "b", "c")}, TypeError, "titles must be a pair"),
        ({"xlabel": 1}, TypeError, "xlabel must be a str"),
    ],
)
def test_plot_function_and_derivative_validates_arguments(kwargs, error, match):
    """Each argument of the wrong kind or out of range is an error that names it."""
    args = {"fn": torch.sin, "x": torch.linspace(-1, 1, 5)} | kwargs
    with pytest.raises(error, match=match):
        plotting.plot_function_and_derivative(**args)


def test_plot_function_and_derivative_rejects_three_axes():
    """Three Axes where two are drawn on: a ValueError naming axes."""
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="axes must be a pair.*got 3"):
        plotting.plot_function_and_derivative(torch.sin, torch.linspace(-1, 1, 5), axes=axes)


def test_plot_function_and_derivative_draws_on_given_axes():
    """The pair of Axes from plt.subplots(1, 2), a NumPy array, is drawn on."""
    fig, axes = plt.subplots(1, 2)
    out = plotting.plot_function_and_derivative(torch.sin, torch.linspace(-1, 1, 5), axes=axes)
    assert out is fig and all(len(ax.get_lines()) == 1 for ax in axes)


@pytest.mark.parametrize(
    ("draw", "error", "match"),
    [
        (lambda: plotting.plot_loss_curves({"a": [1.0]}, logy="yes"), TypeError, "logy"),
        (lambda: plotting.plot_lines([1, 2], {"a": [1, 2]}, logx=1), TypeError, "logx"),
        (lambda: plotting.plot_lines([1, 2], {"a": [1, 2]}, marker=1), TypeError, "marker"),
        (lambda: plotting.plot_loss_curves({"a": [1.0]}, start=1.5), TypeError, "start"),
        (lambda: plotting.plot_loss_curves({"a": [1.0]}, title=5), TypeError, "title"),
        (lambda: plotting.plot_loss_curves({"a": None}), TypeError, r"curves\['a'\]"),
        (lambda: plotting.plot_loss_curves({"a": "1.5"}), TypeError, r"curves\['a'\]"),
        (lambda: plotting.plot_loss_curves({"a": [np.nan]}), ValueError, r"curves\['a'\].*finite"),
        (lambda: plotting.plot_lines([0, np.inf], {"a": [1, 2]}), ValueError, "x must hold finite"),
        (lambda: plotting.plot_layer_statistics({}), ValueError, "stats must hold at least one"),
        (lambda: plotting.subplots(figsize=5), TypeError, "figsize must be a pair"),
        (lambda: plotting.subplots(figsize=(0, 4)), ValueError, "figsize"),
        (lambda: plotting.subplots(True), TypeError, "nrows"),
    ],
)
def test_line_plots_and_subplots_validate_arguments(draw, error, match):
    """Each argument of the wrong kind or out of range is an error that names it."""
    with pytest.raises(error, match=match):
        draw()


def test_a_bad_argument_leaves_no_empty_figure():
    """A line plot that rejects an argument does so before it opens a figure."""
    with pytest.raises(ValueError):
        plotting.plot_loss_curves({"ok": [1.0, 0.5], "empty": []})
    assert plt.get_fignums() == []


def test_plot_loss_curves_leaves_a_gap_for_a_diverged_loss():
    """A curve that turns NaN / inf is drawn up to there, its points kept for the gap."""
    ax = plotting.plot_loss_curves({"lr=10": [1.0, 10.0, np.inf, np.nan]}, logy=False)
    assert list(ax.get_lines()[0].get_ydata()[:2]) == [1.0, 10.0]
