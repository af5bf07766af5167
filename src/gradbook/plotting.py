"""Figure helpers shared by the tutorials: one place for figure style.

Each helper draws one kind of figure that several tutorials need, labels its axes,
adds a legend where lines are compared, and returns the :class:`~matplotlib.figure.Figure`
or :class:`~matplotlib.axes.Axes` it drew on. Nothing here calls ``plt.show()``: the
caller (a script, a notebook, the docs build) decides how a figure is displayed.

Call :func:`use_style` once at the top of a script for the site's look (grid, no
top/right spines, font sizes readable at page width). The helpers work without it.

Every helper checks its arguments before it draws anything (with the shared checks of
``gradbook._validation``, one message format): a wrong kind of value is a ``TypeError``,
a value of the right kind that cannot be drawn (an empty dict, a NaN coordinate, a model
that does not take two inputs) a ``ValueError``, each naming the argument.

The module holds the style (``STYLE``, :func:`use_style`, :func:`subplots`), the line
plots (:func:`plot_lines`, :func:`plot_loss_curves`, :func:`plot_layer_statistics`), the
function-and-derivative panels (:func:`plot_function_and_derivative`) and the 2-D plots
(:func:`plot_contour_with_paths`, :func:`plot_decision_boundary`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from gradbook._validation import (
    check_bool,
    check_callable,
    check_instance,
    check_int,
    check_real,
    type_name,
)

__all__ = [
    "use_style",
    "subplots",
    "plot_lines",
    "plot_function_and_derivative",
    "plot_loss_curves",
    "plot_layer_statistics",
    "plot_contour_with_paths",
    "plot_decision_boundary",
]

# The rcParams that use_style() applies (public as ``gradbook.plotting.STYLE``).
STYLE: dict[str, Any] = {
    "figure.figsize": (8.0, 4.0),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "legend.fontsize": 10.5,
    "legend.frameon": False,
    "grid.alpha": 0.35,
    "grid.linewidth": 0.8,
    "lines.linewidth": 2.0,
    "lines.markersize": 5.0,
    "image.cmap": "viridis",
}

# Figure sizes at page width: one panel, two panels side by side.
_ONE_PANEL = (8.0, 4.0)
_TWO_PANELS = (10.0, 4.0)


def use_style() -> None:
    """Apply the site's figure style (``gradbook.plotting.STYLE``) to matplotlib's rcParams.

    Light grid, no top or right spines, font sizes that stay readable when a figure is
    shown at page width, and constrained layout so labels never overlap. Call it once at
    the top of a script; the docs build resets matplotlib before every tutorial.
    """
    plt.rcParams.update(STYLE)


def subplots(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Figure, Any]:
    """Create a figure with a grid of axes sized for page width.

    A thin wrapper over :func:`matplotlib.pyplot.subplots` that picks ``(8, 4)`` for one
    column and ``(10, 4)`` for two or more (taller for more rows) and uses constrained
    layout. Extra keyword arguments (``sharey=True``, ...) go to matplotlib.

    Returns
    -------
    fig, axes
        As :func:`matplotlib.pyplot.subplots` returns them.
    """
    check_int(nrows, "nrows", minimum=1)
    check_int(ncols, "ncols", minimum=1)
    if figsize is None:
        width, height = _ONE_PANEL if ncols == 1 else _TWO_PANELS
        figsize = (width, height * (1 + 0.75 * (nrows - 1)))
    elif min(_check_pair(figsize, "figsize", what="(width, height)")) <= 0:
        raise ValueError(f"figsize must be (width, height) in inches, both > 0, got {figsize!r}")
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=figsize, **kwargs)


# --------------------------------------------------------------------------- helpers


def _to_numpy(values: Any, name: str, *, finite: bool = False) -> np.ndarray:
    """Turn a tensor, array or sequence of numbers into a float NumPy array; with
    ``finite``, NaN and infinity are a ValueError naming ``name``."""
    if isinstance(values, torch.Tensor):
        array = values.detach().cpu().to(torch.float64).numpy()
    else:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        # np.asarray turns None into NaN and the string "1.5" into 1.5: neither is data.
        if array is None or values is None or isinstance(values, (str, bytes)):
            raise TypeError(
                f"{name} must be a tensor, an array or a sequence of numbers, "
                f"got {type_name(values)}"
            )
    if finite and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} must hold finite numbers, got {bad} NaN or infinite value(s)")
    return array


def _check_pair(
    value: Any, name: str, *, what: str, increasing: bool = False
) -> tuple[float, float]:
    """``value`` (a tuple, list, array or tensor) as two finite floats, such as
    ``xlim=(-2, 2)`` (``what`` says it in words: ``"(low, high)"``); the first below the
    second when ``increasing``."""
    array = _to_numpy(value, name)
    if array.ndim == 0:
        raise TypeError(f"{name} must be a pair {what}, got {type_name(value)}: {value!r}")
    if array.shape != (2,):
        raise ValueError(f"{name} must be a pair {what}, got shape {array.shape}")
    low, high = float(array[0]), float(array[1])
    if not (np.isfinite(low) and np.isfinite(high)) or (increasing and not low < high):
        condition = " with low < high" if increasing else ""
        raise ValueError(
            f"{name} must be a pair {what} of finite numbers{condition}, got {value!r}"
        )
    return low, high


def _check_labels(*, title: Any, **labels: Any) -> None:
    """Axis labels are strings; a title is a string or None."""
    check_instance(title, "title", str, "a str", allow_none=True)
    for name, text in labels.items():
        check_instance(text, name, str, "a str")


def _check_mapping(curves: Any, name: str, what: str = "a dict of label -> values") -> None:
    check_instance(curves, name, Mapping, what)
    if len(curves) == 0:
        raise ValueError(f"{name} must hold at least one entry, got an empty dict")


def _axes_or_new(ax: Axes | None) -> Axes:
    check_instance(ax, "ax", Axes, "a matplotlib Axes", allow_none=True)
    if ax is None:
        _, ax = subplots()
    return ax


def _label_axes(ax: Axes, *, xlabel: str, ylabel: str, title: str | None) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)


def _line_plot(
    curves: Any,
    name: str,
    *,
    x: np.ndarray | None = None,
    start: int = 1,
    ax: Axes | None,
    marker: str | None = None,
    logx: bool = False,
    logy: bool,
    xlabel: str,
    ylabel: str,
    title: str | None,
) -> Axes:
    """The line plot under :func:`plot_lines`, :func:`plot_loss_curves` and
    :func:`plot_layer_statistics`: one line per entry of ``curves`` (the argument ``name``).

    Every line is drawn against the shared ``x`` when it is given (each must have its
    shape), else against ``start, start + 1, ...`` (each must be non-empty and 1-D). NaN
    and infinite values leave a gap (a diverging run stays drawable up to where it
    diverged); an entry with no finite value at all is a ValueError. On a log axis an
    entry with nothing positive keeps its legend entry, marked ``(all zero, not drawn)``.
    A legend is added when there are two lines or more.
    """
    _check_mapping(curves, name)
    check_instance(marker, "marker", str, "a matplotlib marker such as 'o'", allow_none=True)
    check_bool(logx, "logx")
    check_bool(logy, "logy")
    check_int(start, "start")
    _check_labels(xlabel=xlabel, ylabel=ylabel, title=title)
    lines = {label: _curve(values, f"{name}[{label!r}]", x) for label, values in curves.items()}
    ax = _axes_or_new(ax)  # after every check: a bad argument leaves no empty figure
    for label, ys in lines.items():
        if logy and not np.any(ys > 0):
            # Keep the legend honest: the line exists but has nothing to show on a log axis.
            ax.plot([], [], marker=marker, label=f"{label} (all zero, not drawn)")
            continue
        xs = x if x is not None else np.arange(start, start + ys.size)
        ax.plot(xs, ys, marker=marker, label=str(label))
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    _label_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    if len(curves) > 1:
        ax.legend()
    return ax


def _curve(values: Any, where: str, x: np.ndarray | None) -> np.ndarray:
    """One entry of a line plot as an array: the shape of ``x``, or 1-D and non-empty."""
    ys = _to_numpy(values, where)
    if x is not None and ys.shape != x.shape:
        raise ValueError(f"{where} must have the shape of x {x.shape}, got {ys.shape}")
    if x is None and (ys.ndim != 1 or ys.size == 0):
        raise ValueError(f"{where} must be a non-empty 1-D sequence, got shape {ys.shape}")
    if not np.any(np.isfinite(ys)):
        raise ValueError(f"{where} must hold at least one finite number, got only NaN or inf")
    return ys


# --------------------------------------------------------------------------- lines


def plot_lines(
    x: Any,
    curves: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    xlabel: str = "x",
    ylabel: str = "y",
    title: str | None = None,
    logy: bool = False,
    logx: bool = False,
    marker: str | None = None,
) -> Axes:
    """Draw several curves over a shared ``x`` and label them in a legend.

    Parameters
    ----------
    x : array-like, shape (T,)
        The shared horizontal coordinates, finite.
    curves : dict[str, array-like of shape (T,)]
        One line per entry; the key is the legend label. NaN or infinite values leave a
        gap in their line; an entry must hold at least one finite value.
    ax : Axes, optional
        Where to draw; a new one-panel figure when omitted.
    xlabel, ylabel, title : str
        Axis labels and an optional title.
    logy, logx : bool
        Logarithmic axes. Non-positive values are not drawn on a log axis; a curve with
        nothing positive keeps a legend entry, marked ``(all zero, not drawn)``.
    marker : str, optional
        A matplotlib marker for every point (``"o"``), handy for few points.

    Returns
    -------
    Axes
    """
    xs = _to_numpy(x, "x", finite=True)
    if xs.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {tuple(xs.shape)}")
    return _line_plot(
        curves,
        "curves",
        x=xs,
        ax=ax,
        marker=marker,
        logx=logx,
        logy=logy,
        xlabel=xlabel,
        ylabel=ylabel,
        title=title,
    )


def plot_loss_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    logy: bool = True,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    title: str | None = None,
    start: int = 1,
) -> Axes:
    """Draw loss curves (one per run, optimizer or split) against the epoch.

    Parameters
    ----------
    curves : dict[str, sequence of float]
        ``{"train": history.train_loss, "validation": history.val_loss}`` or one entry per
        optimizer. Curves may differ in length. NaN or infinite losses (a run that
        diverged) leave a gap; a curve must hold at least one finite value.
    ax : Axes, optional
        Where to draw; a new one-panel figure when omitted.
    logy : bool
        Logarithmic loss axis (default), where a loss falling by orders of magnitude
        stays readable. A curve with nothing positive keeps a legend entry, marked
        ``(all zero, not drawn)``.
    xlabel, ylabel, title : str
        Axis labels and an optional title.
    start : int
        The number of the first epoch (or step) on the horizontal axis.

    Returns
    -------
    Axes
    """
    return _line_plot(
        curves, "curves", start=start, ax=ax, logy=logy, xlabel=xlabel, ylabel=ylabel, title=title
    )


def plot_layer_statistics(
    stats: Mapping[str, Sequence[float]], *, ax: Axes | None = None, logy: bool = False,
    xlabel: str = "layer", ylabel: str = "activation std", title: str | None = None, start: int = 1,
) -> Axes:  # fmt: skip
    """Draw one statistic per layer (activation std, gradient norm) for several networks.

    Parameters
    ----------
    stats : dict[str, sequence of float]
        One entry per network or initialisation; value ``l`` of a sequence is the
        statistic at layer ``start + l``.
    ax : Axes, optional
        Where to draw; a new one-panel figure when omitted.
    logy : bool
        Logarithmic vertical axis, for statistics that grow or shrink geometrically with
        depth. On a log axis an entry that is exactly zero at every layer cannot be drawn;
        it still gets a legend entry, marked ``(all zero, not drawn)``.
    xlabel, ylabel, title : str
        Axis labels and an optional title.
    start : int
        The number of the first layer.

    Returns
    -------
    Axes
    """
    ax = _line_plot(
        stats,
        "stats",
        start=start,
        ax=ax,
        marker="o",
        logy=logy,
        xlabel=xlabel,
        ylabel=ylabel,
        title=title,
    )
    ax.xaxis.get_major_locator().set_params(integer=True)  # layers are counted, not measured
    return ax


# --------------------------------------------------------------------------- functions


def _as_dict(fn: Any, name: str, default_label: str) -> dict[str, Callable]:
    """A callable as ``{default_label: fn}``; a dict of callables as a dict."""
    if callable(fn):
        return {default_label: fn}
    _check_mapping(fn, name, "a callable or a dict of label -> callable")
    for label, f in fn.items():
        check_callable(f, f"{name}[{label!r}]")
    return dict(fn)


def _autograd_derivative(fn: Callable, x: torch.Tensor, name: str) -> tuple[np.ndarray, ...]:
    """Value and elementwise derivative of ``fn`` (the argument ``name``) at every point of
    ``x``, by autograd."""
    xg = x.detach().clone().requires_grad_(True)
    y = fn(xg)
    if not isinstance(y, torch.Tensor) or y.shape != xg.shape:
        raise ValueError(
            f"{name} must map a 1-D tensor to a tensor of the same shape (elementwise), "
            f"got {type_name(y)} of shape {tuple(getattr(y, 'shape', ()))} for input "
            f"shape {tuple(xg.shape)}"
        )
    if not y.requires_grad:
        raise ValueError(
            f"{name}(x) is not connected to x by autograd, so it has no derivative to draw: "
            "compute it from x with torch operations (no .item(), .numpy() or torch.tensor() "
            "inside); write a constant c as x * 0 + c"
        )
    # Elementwise f: the Jacobian is diagonal, so one vector-Jacobian product with a vector
    # of ones returns every derivative f'(x_i) at once.
    (dy,) = torch.autograd.grad(y, xg, grad_outputs=torch.ones_like(y))
    return y.detach().cpu().double().numpy(), dy.detach().cpu().double().numpy()


def _check_panels(axes: Any, xlabel: Any, ylabels: Any, titles: Any) -> None:
    """``axes`` is None or two Axes; ``ylabels`` two strings; ``titles`` None or two
    strings (or Nones)."""
    if axes is not None:
        if not isinstance(axes, (Sequence, np.ndarray)) or not all(
            isinstance(a, Axes) for a in axes
        ):
            raise TypeError(f"axes must be a pair of matplotlib Axes, got {type_name(axes)}")
        if len(axes) != 2:
            raise ValueError(f"axes must be a pair of matplotlib Axes, got {len(axes)} Axes")
    check_instance(xlabel, "xlabel", str, "a str")
    for name, pair, allow_none in (("ylabels", ylabels, False), ("titles", titles, True)):
        if pair is None and allow_none:
            continue
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"{name} must be a pair of str, got {type_name(pair)}: {pair!r}")
        for i, text in enumerate(pair):
            check_instance(text, f"{name}[{i}]", str, "a str", allow_none=allow_none)


def plot_function_and_derivative(
    fn: Callable[[torch.Tensor], torch.Tensor]
    | Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    x: Any,
    *,
    closed_form: Callable | Mapping[str, Callable] | None = None,
    axes: Sequence[Axes] | None = None,
    xlabel: str = "x",
    ylabels: tuple[str, str] = ("f(x)", "f'(x)"),
    titles: tuple[str, str] | None = ("function", "derivative (autograd)"),
) -> Figure:
    r"""Draw functions on the left and their autograd derivatives on the right.

    Each function is applied elementwise to ``x`` and differentiated with one
    vector-Jacobian product :math:`v^T J` with :math:`v = \mathbf{1}`, which for an
    elementwise function returns :math:`f'(x_i)` at every point.

    Parameters
    ----------
    fn : callable or dict[str, callable]
        Elementwise functions of a 1-D tensor (``torch.sigmoid``), or a dict of them
        keyed by legend label. Each must compute its result from ``x`` with torch
        operations, so that autograd can differentiate it (a constant ``c`` is
        ``x * 0 + c``); one that returns a tensor unconnected to ``x`` is a ValueError.
    x : array-like, shape (T,)
        Where to evaluate, at least 2 finite points; converted to a float64 tensor.
    closed_form : callable or dict[str, callable], optional
        Closed-form derivatives to overlay as dashed black lines (for a dict, keys match
        those of ``fn``; functions without one are skipped). Each receives the same
        tensor ``x`` and returns ``f'(x)``.
    axes : pair of Axes, optional
        Where to draw; a new two-panel figure when omitted.
    xlabel : str
        The horizontal label of both panels.
    ylabels : (str, str)
        Vertical labels of the function panel and the derivative panel.
    titles : (str or None, str or None) or None
        Panel titles; ``None`` for none.

    Returns
    -------
    Figure
    """
    fns = _as_dict(fn, "fn", "f")
    derivs: dict[str, Callable] = {}
    if closed_form is not None:
        derivs = _as_dict(closed_form, "closed_form", next(iter(fns)))
        unknown = sorted(set(derivs) - set(fns))
        if unknown:
            raise ValueError(
                f"closed_form keys must be keys of fn {sorted(fns)}, got unknown {unknown}"
            )
    xt = torch.as_tensor(_to_numpy(x, "x", finite=True), dtype=torch.float64)
    if xt.ndim != 1 or xt.numel() < 2:
        raise ValueError(f"x must be 1-D with at least 2 points, got shape {tuple(xt.shape)}")
    _check_panels(axes, xlabel, ylabels, titles)
    # Every function is evaluated before anything is drawn: a bad one leaves no figure.
    curves = {
        label: _autograd_derivative(f, xt, "fn" if callable(fn) else f"fn[{label!r}]")
        for label, f in fns.items()
    }
    exact = {label: _closed_form(df, xt, label) for label, df in derivs.items()}
    fig, (ax_f, ax_d) = subplots(1, 2) if axes is None else (axes[0].figure, axes)
    xs = xt.numpy()
    for label, (y, dy) in curves.items():
        (line,) = ax_f.plot(xs, y, label=label)
        ax_d.plot(xs, dy, color=line.get_color(), label=label)
    # Overlays after every autograd line: drawn on top, and listed last in the legend.
    for i, values in enumerate(exact.values()):
        ax_d.plot(
            xs,
            values,
            linestyle=(0, (4, 3)),
            color="black",
            linewidth=1.2,
            # One legend entry for all overlays: they share a meaning.
            label="closed form" if i == 0 else None,
        )
    for ax, ylabel, title in zip((ax_f, ax_d), ylabels, titles or (None, None), strict=True):
        _label_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    if len(fns) > 1 or exact:
        ax_d.legend()
    if len(fns) > 1:
        ax_f.legend()
    return fig


def _closed_form(df: Callable, x: torch.Tensor, label: str) -> np.ndarray:
    """The closed-form derivative of ``fn[label]`` at ``x``, with the shape of ``x``."""
    where = f"closed_form[{label!r}](x)"
    values = _to_numpy(df(x.clone()), where)
    if values.shape != tuple(x.shape):
        raise ValueError(f"{where} must have the shape of x {tuple(x.shape)}, got {values.shape}")
    return values


# --------------------------------------------------------------------------- 2-D


def _evaluate_on_grid(f: Callable, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """``f`` at every grid point; vectorised when ``f`` broadcasts, else point by point."""
    grid = torch.stack([torch.from_numpy(xx), torch.from_numpy(yy)])  # (2, H, W)
    try:
        with torch.no_grad():
            z = f(grid)
        z = _to_numpy(z, "f(grid)")
        if z.shape == xx.shape:
            return z
    except (RuntimeError, ValueError, TypeError, IndexError):
        pass  # f does not broadcast (e.g. it uses a matrix product): fall back below
    flat = grid.reshape(2, -1).T  # (H*W, 2)
    with torch.no_grad():
        z = np.array([_one_number(f(p), p) for p in flat])
    return z.reshape(xx.shape)


def _one_number(z: Any, point: torch.Tensor) -> float:
    """``f``'s value at one point as a float: a number or a one-element tensor."""
    try:
        return float(z)
    except (TypeError, ValueError, RuntimeError) as exc:
        shape = f" of shape {tuple(z.shape)}" if isinstance(z, torch.Tensor) else ""
        raise ValueError(
            f"f must return one number for a point p of shape {tuple(point.shape)} "
            f"(p[0], p[1] the coordinates), got {type_name(z)}{shape}"
        ) from exc


def _check_paths(paths: Any) -> dict[str, np.ndarray]:
    """Each path as a finite ``(T, 2)`` array, ``T >= 1``."""
    _check_mapping(paths, "paths", "a dict of label -> (T, 2) iterates")
    arrays = {}
    for label, path in paths.items():
        where = f"paths[{label!r}]"
        arr = _to_numpy(path, where)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
            raise ValueError(f"{where} must have shape (T, 2) with T >= 1, got {arr.shape}")
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        if bad.size:
            raise ValueError(
                f"{where} must hold finite points, got NaN or inf from step {bad[0]} on "
                "(the optimizer diverged: lower its learning rate, or plot the steps before)"
            )
        arrays[label] = arr
    return arrays


def _contour_levels(zz: np.ndarray, levels: int, log_levels: bool) -> np.ndarray | None:
    """``levels`` increasing contour values over the finite part of ``zz``; None when
    ``f`` is constant there (a flat function has no contour lines)."""
    z_min, z_max = float(zz.min()), float(zz.max())
    if not z_max > z_min:
        return None
    if log_levels:
        # Geometric spacing above the floor: dense near the minimum, sparse on the walls.
        span = z_max - z_min
        return z_min + np.geomspace(span * 1e-4, span, levels)
    return np.linspace(z_min, z_max, levels)


def plot_contour_with_paths(
    f: Callable[[torch.Tensor], torch.Tensor],
    paths: Mapping[str, Any],
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    levels: int = 25,
    ax: Axes | None = None,
    log_levels: bool = True,
    resolution: int = 200,
    minimum: tuple[float, float] | None = None,
    title: str | None = None,
    xlabel: str = r"$x_1$",
    ylabel: str = r"$x_2$",
) -> Axes:
    r"""Draw the contours of a function of two variables and optimizer paths over them.

    Parameters
    ----------
    f : callable
        The function, called on a tensor ``p`` whose first dimension holds the two
        coordinates, as in ``f(torch.tensor([x1, x2]))``. A function written with ``p[0]``
        and ``p[1]`` is evaluated on the whole grid at once; one that does not broadcast
        is evaluated point by point, and must then return one number per point. Where
        ``f`` is NaN or infinite no contour is drawn; it must be finite somewhere in the
        region. A function that is constant over the region is drawn without contour
        lines, with a note saying so.
    paths : dict[str, array-like of shape (T, 2)]
        The iterates of each optimizer, keyed by legend label, all finite. Each path
        starts with a circle and ends with a square.
    xlim, ylim : (float, float)
        The plotted region: pairs ``(low, high)`` of finite numbers, ``low < high``.
    levels : int
        The number of contour levels, at least 2.
    ax : Axes, optional
        Where to draw; a new one-panel figure when omitted.
    log_levels : bool
        Space the levels geometrically above the minimum on the grid (default), which
        shows the floor of a narrow valley such as Rosenbrock's; linear spacing otherwise.
    resolution : int
        Grid points per axis, at least 2.
    minimum : (float, float), optional
        Where the minimum lies, marked with a star.
    title, xlabel, ylabel : str
        Title and axis labels.

    Returns
    -------
    Axes
    """
    check_callable(f, "f")
    arrays = _check_paths(paths)
    xlim = _check_pair(xlim, "xlim", what="(low, high)", increasing=True)
    ylim = _check_pair(ylim, "ylim", what="(low, high)", increasing=True)
    check_int(levels, "levels", minimum=2)
    check_bool(log_levels, "log_levels")
    check_int(resolution, "resolution", minimum=2)
    if minimum is not None:
        minimum = _check_pair(minimum, "minimum", what="(x1, x2)")
    _check_labels(xlabel=xlabel, ylabel=ylabel, title=title)
    check_instance(ax, "ax", Axes, "a matplotlib Axes", allow_none=True)

    xx, yy = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    zz = np.ma.masked_invalid(_evaluate_on_grid(f, xx, yy))  # NaN / inf: no contour there
    if zz.count() == 0:
        raise ValueError(
            f"f must be finite somewhere in xlim={xlim}, ylim={ylim}; got only NaN or inf"
        )
    ax = _axes_or_new(ax)
    level_values = _contour_levels(zz, levels, log_levels)
    if level_values is None:
        note = f"f is constant here (f = {float(zz.min()):.4g}): no contour lines"
        ax.text(
            0.5, 0.98, note, transform=ax.transAxes, ha="center", va="top", gid="constant",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8}, zorder=5,
        )  # fmt: skip
    else:
        ax.contour(xx, yy, zz, levels=level_values, cmap="Greys_r", linewidths=0.8, alpha=0.8)
    for label, arr in arrays.items():
        (line,) = ax.plot(arr[:, 0], arr[:, 1], marker=".", markersize=4, label=label, alpha=0.9)
        color = line.get_color()
        ax.plot(*arr[0], marker="o", color=color, markersize=7)
        ax.plot(*arr[-1], marker="s", color=color, markersize=7, markeredgecolor="black")
    if minimum is not None:
        ax.plot(
            *minimum, marker="*", color="gold", markersize=16, markeredgecolor="black",
            linestyle="none", label="minimum",
        )  # fmt: skip
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.grid(False)  # the contour lines are the grid here
    _label_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc="best")
    return ax


def plot_decision_boundary(
    model: Callable[[torch.Tensor], torch.Tensor],
    X: Any,
    y: Any,
    *,
    ax: Axes | None = None,
    resolution: int = 200,
    padding: float = 0.5,
    title: str | None = None,
    xlabel: str = r"$x_1$",
    ylabel: str = r"$x_2$",
) -> Axes:
    """Shade the class a 2-D classifier predicts over the plane and scatter the data.

    Parameters
    ----------
    model : callable
        Maps an ``(N, 2)`` tensor to logits: ``(N, K)`` for ``K >= 2`` classes (the
        prediction is the arg-max), or ``(N,)`` / ``(N, 1)`` for a binary classifier (class
        1 where the logit is positive). Called under :func:`torch.no_grad`, on a grid in
        the dtype and on the device of its first parameter; its train / eval mode is left
        as it is. A model that fails on two input features (its first layer expects
        another number) is a ValueError naming both sides.
    X : array-like, shape (N, 2)
        The points, finite, at least one.
    y : array-like of int, shape (N,)
        Their classes, ``0 .. K-1`` (``0`` or ``1`` for a binary classifier). Class
        labels are whole numbers: an integer tensor, or a float one whose values are all
        whole (``1.0``, as a BCE target is); ``0.5`` is a ValueError, not truncated.
    ax : Axes, optional
        Where to draw; a new one-panel figure when omitted.
    resolution : int
        Grid points per axis, at least 2.
    padding : float
        Margin around the data, in data units, at least 0.
    title, xlabel, ylabel : str
        Title and axis labels.

    Returns
    -------
    Axes
        Any number of classes is drawn: the ``tab10`` colours for up to 10, their light
        variants (``tab20``) for classes 10 to 19, evenly spaced ``turbo`` colours beyond.
    """
    check_callable(model, "model")
    Xn = _to_numpy(X, "X", finite=True)
    if Xn.ndim != 2 or Xn.shape[1] != 2 or Xn.shape[0] == 0:
        features = f"{Xn.shape[1]} features, " if Xn.ndim == 2 else ""
        raise ValueError(
            "X must have shape (N, 2), N >= 1 (two features, the plane that is shaded), "
            f"got {features}shape {Xn.shape}"
        )
    labels = _class_labels(y, Xn.shape[0])
    check_int(resolution, "resolution", minimum=2)
    padding = check_real(padding, "padding", minimum=0)
    _check_labels(xlabel=xlabel, ylabel=ylabel, title=title)
    check_instance(ax, "ax", Axes, "a matplotlib Axes", allow_none=True)

    lo, hi = Xn.min(axis=0) - padding, Xn.max(axis=0) + padding
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    pred, n_classes = _predict_classes(model, np.c_[xx.ravel(), yy.ravel()])  # (R*R,)
    if labels.max() >= n_classes:
        raise ValueError(
            f"y holds class {labels.max()}, but the model predicts {n_classes} classes "
            f"(0 .. {n_classes - 1}): give the model one logit per class"
        )

    ax = _axes_or_new(ax)
    colors = _class_colors(n_classes)
    zz = pred.reshape(xx.shape)
    ax.contourf(
        xx, yy, zz, levels=np.arange(n_classes + 1) - 0.5, cmap=ListedColormap(colors), alpha=0.25
    )
    for k in range(n_classes):
        mask = labels == k
        if mask.any():
            ax.scatter(
                Xn[mask, 0], Xn[mask, 1], s=14, color=colors[k], edgecolor="white",
                linewidth=0.4, label=f"class {k}",
            )  # fmt: skip
    ax.set_aspect("equal", adjustable="box")
    ax.grid(False)
    _label_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc="upper right", markerscale=1.5)
    return ax


def _class_labels(y: Any, n_points: int) -> np.ndarray:
    """``y`` as an int array of ``n_points`` class labels ``0, 1, ...``."""
    yn = _to_numpy(y, "y")
    if yn.shape != (n_points,):
        hint = " (flatten it: y.reshape(-1))" if yn.size == n_points else ""
        raise ValueError(f"y must have shape ({n_points},) to match X, got {yn.shape}{hint}")
    bad = yn[~np.isfinite(yn) | (yn != np.round(yn)) | (yn < 0)]
    if bad.size:
        raise ValueError(
            f"y must hold class labels 0, 1, 2, ... (whole numbers >= 0), got {float(bad[0])!r}; "
            "labels are not rounded: for probabilities use (p > 0.5).long()"
        )
    return yn.astype(np.int64)


def _predict_classes(model: Callable, points: np.ndarray) -> tuple[np.ndarray, int]:
    """The class ``model`` predicts at each of the ``(M, 2)`` points, and how many classes
    it predicts among (2 for a single logit)."""
    params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    dtype = params[0].dtype if params else torch.get_default_dtype()
    device = params[0].device if params else torch.device("cpu")
    grid = torch.as_tensor(points, dtype=dtype, device=device)  # (M, 2)
    try:
        with torch.no_grad():
            logits = model(grid)
    except RuntimeError as exc:
        raise ValueError(_input_mismatch(model, grid, exc)) from exc
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"model must return a torch.Tensor of logits, got {type_name(logits)}")
    shape = tuple(logits.shape)
    if logits.ndim == 1 or (logits.ndim == 2 and shape[1] == 1):
        pred, n_classes = (logits.reshape(-1) > 0).long(), 2
    elif logits.ndim == 2 and shape[1] >= 2:
        pred, n_classes = logits.argmax(dim=1), shape[1]
    else:
        pred = None
    if pred is None or shape[0] != grid.shape[0]:
        raise ValueError(
            f"model must return logits of shape (M,), (M, 1) or (M, K) with K >= 2 for an "
            f"input of shape {tuple(grid.shape)}, got {shape}"
        )
    return pred.cpu().numpy(), n_classes


def _input_mismatch(model: Callable, grid: torch.Tensor, exc: RuntimeError) -> str:
    """The message for a model that raised on the grid: both sides when the model's
    first layer says how many features it expects, else the model's own error."""
    modules = model.modules() if isinstance(model, torch.nn.Module) else ()
    # The first module with an in_features (nn.Linear and its kind) reads the input.
    first = next((m for m in modules if isinstance(getattr(m, "in_features", None), int)), None)
    if first is not None and first.in_features != grid.shape[1]:
        return (
            f"X has {grid.shape[1]} features but the model's first layer "
            f"({type(first).__name__}) expects {first.in_features}: plot_decision_boundary "
            "shades the plane of two features, so the model must take 2 inputs"
        )
    return (
        f"model raised {type(exc).__name__} on the grid it is drawn on, a tensor of shape "
        f"{tuple(grid.shape)} ({grid.dtype}) in X's {grid.shape[1]} features: {exc}"
    )


def _class_colors(n: int) -> list[tuple[float, ...]]:
    """``n`` distinct colours: tab10's, then its light variants (from tab20), then evenly
    spaced colours of a continuous map when more than 20 are needed."""
    if n > 20:
        turbo = matplotlib.colormaps["turbo"]
        return [turbo(i / (n - 1)) for i in range(n)]
    tab20 = matplotlib.colormaps["tab20"].colors
    # tab20 alternates dark and light: the dark ones are exactly tab10, so they come first.
    return list(tab20[0::2] + tab20[1::2])[:n]
