"""Figure helpers shared by the tutorials: one place for figure style.

Each helper draws one kind of figure that several tutorials need, labels its axes,
adds a legend where lines are compared, and returns the :class:`~matplotlib.figure.Figure`
or :class:`~matplotlib.axes.Axes` it drew on. Nothing here calls ``plt.show()``: the
caller (a script, a notebook, the docs build) decides how a figure is displayed.

Call :func:`use_style` once at the top of a script for the site's look (grid, no
top/right spines, font sizes readable at page width). The helpers work without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from gradbook._validation import check_callable, check_instance, check_int

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
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=figsize, **kwargs)


# --------------------------------------------------------------------------- helpers


def _to_numpy(values: Any, name: str) -> np.ndarray:
    """Turn a tensor, array or sequence of numbers into a float NumPy array."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().to(torch.float64).numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a tensor, an array or a sequence of numbers, "
            f"got {type(values).__name__}"
        ) from exc


def _check_mapping(curves: Any, name: str) -> None:
    check_instance(curves, name, Mapping, "a dict of label -> values")
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
    shape), else against ``start, start + 1, ...`` (each must be non-empty and 1-D). On a
    log axis an entry with nothing positive keeps its legend entry, marked ``(all zero, not
    drawn)``. A legend is added when there are two lines or more.
    """
    _check_mapping(curves, name)
    ax = _axes_or_new(ax)
    for label, values in curves.items():
        where = f"{name}[{label!r}]"
        ys = _to_numpy(values, where)
        if x is not None and ys.shape != x.shape:
            raise ValueError(f"{where} must have the shape of x {x.shape}, got {ys.shape}")
        if x is None and (ys.ndim != 1 or ys.size == 0):
            raise ValueError(f"{where} must be a non-empty 1-D sequence, got shape {ys.shape}")
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
        The shared horizontal coordinates.
    curves : dict[str, array-like of shape (T,)]
        One line per entry; the key is the legend label.
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
    xs = _to_numpy(x, "x")
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
        optimizer. Curves may differ in length.
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
    if callable(fn):
        return {default_label: fn}
    _check_mapping(fn, name)
    for label, f in fn.items():
        check_callable(f, f"{name}[{label!r}]")
    return dict(fn)


def _autograd_derivative(fn: Callable, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Value and elementwise derivative of ``fn`` at every point of ``x``, by autograd."""
    xg = x.detach().clone().requires_grad_(True)
    y = fn(xg)
    if not isinstance(y, torch.Tensor) or y.shape != xg.shape:
        raise ValueError(
            "each function must map a 1-D tensor to a tensor of the same shape (elementwise), "
            f"got {type(y).__name__} of shape {tuple(getattr(y, 'shape', ()))} for input "
            f"shape {tuple(xg.shape)}"
        )
    # Elementwise f: the Jacobian is diagonal, so one vector-Jacobian product with a vector
    # of ones returns every derivative f'(x_i) at once.
    (dy,) = torch.autograd.grad(y, xg, grad_outputs=torch.ones_like(y))
    return y.detach().cpu().double().numpy(), dy.detach().cpu().double().numpy()


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
        keyed by legend label.
    x : array-like, shape (T,)
        Where to evaluate; converted to a float64 tensor.
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
    titles : (str, str) or None
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
    xt = torch.as_tensor(_to_numpy(x, "x"), dtype=torch.float64)
    if xt.ndim != 1 or xt.numel() < 2:
        raise ValueError(f"x must be 1-D with at least 2 points, got shape {tuple(xt.shape)}")
    if axes is None:
        fig, axes = subplots(1, 2)
    else:
        if len(axes) != 2 or not all(isinstance(a, Axes) for a in axes):
            raise TypeError(f"axes must be a pair of matplotlib Axes, got {axes!r}")
        fig = axes[0].figure
    ax_f, ax_d = axes
    xs = xt.numpy()
    for label, f in fns.items():
        y, dy = _autograd_derivative(f, xt)
        (line,) = ax_f.plot(xs, y, label=label)
        ax_d.plot(xs, dy, color=line.get_color(), label=label)
    # Overlays after every autograd line: drawn on top, and listed last in the legend.
    overlay_labelled = False
    for label, df in derivs.items():
        exact = _to_numpy(df(xt.clone()), f"closed_form[{label!r}](x)")
        ax_d.plot(
            xs,
            exact,
            linestyle=(0, (4, 3)),
            color="black",
            linewidth=1.2,
            # One legend entry for all overlays: they share a meaning.
            label=None if overlay_labelled else "closed form",
        )
        overlay_labelled = True
    for ax, ylabel, title in zip(axes, ylabels, titles or (None, None), strict=True):
        _label_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    if len(fns) > 1 or overlay_labelled:
        ax_d.legend()
    if len(fns) > 1:
        ax_f.legend()
    return fig


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
    with torch.no_grad():
        flat = grid.reshape(2, -1).T  # (H*W, 2)
        z = np.array([float(f(p)) for p in flat])
    return z.reshape(xx.shape)


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
        is evaluated point by point.
    paths : dict[str, array-like of shape (T, 2)]
        The iterates of each optimizer, keyed by legend label. Each path starts with a
        circle and ends with a square.
    xlim, ylim : (float, float)
        The plotted region.
    levels : int
        The number of contour levels.
    ax : Axes, optional
        Where to draw; a new one-panel figure when omitted.
    log_levels : bool
        Space the levels geometrically above the minimum on the grid (default), which
        shows the floor of a narrow valley such as Rosenbrock's; linear spacing otherwise.
    resolution : int
        Grid points per axis.
    minimum : (float, float), optional
        Where the minimum lies, marked with a star.
    title, xlabel, ylabel : str
        Title and axis labels.

    Returns
    -------
    Axes
    """
    _check_mapping(paths, "paths")
    for name, lim in (("xlim", xlim), ("ylim", ylim)):
        if len(lim) != 2 or not lim[0] < lim[1]:
            raise ValueError(f"{name} must be (low, high) with low < high, got {lim!r}")
    check_int(levels, "levels", minimum=2)
    check_int(resolution, "resolution", minimum=2)
    arrays = {}
    for label, path in paths.items():
        arr = _to_numpy(path, f"paths[{label!r}]")
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
            raise ValueError(
                f"paths[{label!r}] must have shape (T, 2) with T >= 1, got {tuple(arr.shape)}"
            )
        arrays[label] = arr

    ax = _axes_or_new(ax)
    xx, yy = np.meshgrid(
        np.linspace(*map(float, xlim), resolution), np.linspace(*map(float, ylim), resolution)
    )
    zz = _evaluate_on_grid(f, xx, yy)
    z_min, z_max = float(np.nanmin(zz)), float(np.nanmax(zz))
    if log_levels and z_max > z_min:
        # Geometric spacing above the floor: dense near the minimum, sparse on the walls.
        span = z_max - z_min
        level_values = z_min + np.geomspace(span * 1e-4, span, levels)
    else:
        level_values = np.linspace(z_min, z_max, levels)
    ax.contour(xx, yy, zz, levels=level_values, cmap="Greys_r", linewidths=0.8, alpha=0.8)
    for label, arr in arrays.items():
        (line,) = ax.plot(arr[:, 0], arr[:, 1], marker=".", markersize=4, label=label, alpha=0.9)
        color = line.get_color()
        ax.plot(*arr[0], marker="o", color=color, markersize=7)
        ax.plot(*arr[-1], marker="s", color=color, markersize=7, markeredgecolor="black")
    if minimum is not None:
        ax.plot(
            *minimum,
            marker="*",
            color="gold",
            markersize=16,
            markeredgecolor="black",
            linestyle="none",
            label="minimum",
        )
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
        1 where the logit is positive). Called under :func:`torch.no_grad`; its train /
        eval mode is left as it is.
    X : array-like, shape (N, 2)
        The points.
    y : array-like of int, shape (N,)
        Their classes, ``0 .. K-1``.
    ax : Axes, optional
        Where to draw; a new one-panel figure when omitted.
    resolution : int
        Grid points per axis.
    padding : float
        Margin around the data, in data units.
    title, xlabel, ylabel : str
        Title and axis labels.

    Returns
    -------
    Axes
    """
    check_callable(model, "model")
    check_int(resolution, "resolution", minimum=2)
    Xn = _to_numpy(X, "X")
    yn = _to_numpy(y, "y")
    if Xn.ndim != 2 or Xn.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {tuple(Xn.shape)}")
    if yn.shape != (Xn.shape[0],):
        raise ValueError(f"y must have shape ({Xn.shape[0]},) to match X, got {tuple(yn.shape)}")
    labels = yn.astype(int)

    lo, hi = Xn.min(axis=0) - padding, Xn.max(axis=0) + padding
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    dtype = params[0].dtype if params else torch.get_default_dtype()
    device = params[0].device if params else torch.device("cpu")
    grid = torch.as_tensor(np.c_[xx.ravel(), yy.ravel()], dtype=dtype, device=device)  # (R*R, 2)
    with torch.no_grad():
        logits = model(grid)
    if logits.ndim == 1 or (logits.ndim == 2 and logits.shape[1] == 1):
        pred = (logits.reshape(-1) > 0).long()
        n_classes = max(2, labels.max() + 1)
    elif logits.ndim == 2:
        pred = logits.argmax(dim=1)
        n_classes = max(logits.shape[1], labels.max() + 1)
    else:
        raise ValueError(
            f"model must return logits of shape (N,), (N, 1) or (N, K), got {tuple(logits.shape)}"
        )
    zz = pred.cpu().numpy().reshape(xx.shape)

    ax = _axes_or_new(ax)
    colors = plt.get_cmap("tab10").colors[:n_classes]
    ax.contourf(
        xx, yy, zz, levels=np.arange(n_classes + 1) - 0.5, cmap=ListedColormap(colors), alpha=0.25
    )
    for k in range(n_classes):
        mask = labels == k
        if mask.any():
            ax.scatter(
                Xn[mask, 0],
                Xn[mask, 1],
                s=14,
                color=colors[k],
                edgecolor="white",
                linewidth=0.4,
                label=f"class {k}",
            )
    ax.set_aspect("equal", adjustable="box")
    ax.grid(False)
    _label_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc="upper right", markerscale=1.5)
    return ax
