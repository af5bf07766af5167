r"""The autograd graph behind a tensor or a :class:`~gradbook.autodiff.Value`: data and picture.

When PyTorch computes with tensors that require gradients, it records a directed acyclic
graph of *backward functions*: each result's ``grad_fn`` (``PowBackward0``,
``AddmmBackward0``, ...) points to the backward functions of its inputs through
``grad_fn.next_functions``, and the walk ends at ``AccumulateGrad`` nodes, one per leaf
tensor, which add the incoming gradient into ``leaf.grad``. This module walks that
structure, so the picture is the graph PyTorch actually recorded, not a drawing that can
drift from the code.

Three views of the same graph:

- :func:`autograd_graph` returns a :class:`networkx.DiGraph`;
- :func:`draw_autograd_graph` draws it with matplotlib (no Graphviz needed);
- :func:`to_dot` returns Graphviz DOT text, for those who have Graphviz.

:func:`autograd_graph` and :func:`to_dot` take a graph of any size. A drawing is readable
up to about 60 nodes and takes seconds at a few hundred, so :func:`draw_autograd_graph`
refuses, at once and before any layout work, a graph of more than ``max_nodes`` nodes
(500 by default), saying how many it has. A small :class:`~gradbook.autodiff.Value` MLP's
loss over a whole data set easily has 100,000.

Conventions
-----------
Edges point in the **forward** direction, from an input to the operation that used it,
so the leaves are sources and the output is the sink; backpropagation walks the edges
backwards. Drawings put the inputs on the left and the output on the right; DOT uses
``rankdir=LR`` for the same reading direction.

Every node has the attributes

- ``label``: the text drawn in its box;
- ``kind``: ``"leaf"`` (a leaf tensor or leaf value: an input or parameter),
  ``"op"`` (an operation) or ``"output"`` (the operation that produced ``output``);
- ``shape``: a tuple where it is known (leaf tensors, the output; ``()`` for values),
  else ``None``.

Torch nodes also carry ``fn`` (the backward function's class name, ``"AccumulateGrad"``
for leaves) and ``name`` (the name given through ``names``, or ``None``). Value nodes carry
``op``, ``data`` and ``grad``. An edge carries ``count``: how many times the input is used
by that operation (2 for ``x + x``).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from gradbook._validation import check_instance, check_int, type_name
from gradbook.autodiff import Value

# matplotlib is imported inside the functions that draw, so that `import gradbook` (which
# imports this module) does not load it: building a graph or its DOT text needs none.
# networkx too, inside the functions that build a graph: it costs about 0.4 s of start-up,
# which every process `gradbook.distributed.launch` starts would pay.
if TYPE_CHECKING:
    import networkx
    from matplotlib.axes import Axes

__all__ = ["autograd_graph", "draw_autograd_graph", "to_dot"]

# Box colours by node kind, shared by the matplotlib drawing and the DOT text.
_KIND_COLORS = {"leaf": "#cfe2f3", "op": "#eeeeee", "output": "#f9cb9c"}
_KIND_LEGEND = {
    "leaf": "leaf (input or parameter)",
    "op": "operation",
    "output": "output",
}


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")" if len(shape) != 1 else f"({shape[0]},)"


def _check_names(names: object) -> dict[int, str]:
    """Map ``id(tensor) -> name`` from a ``{name: tensor}`` mapping."""
    if names is None:
        return {}
    what = "a mapping {name: tensor} (e.g. dict(model.named_parameters()))"
    check_instance(names, "names", Mapping, what)
    by_id: dict[int, str] = {}
    for name, tensor in names.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise TypeError(
                "names must map str -> torch.Tensor, got an item "
                f"{type_name(name)} -> {type_name(tensor)}"
            )
        by_id[id(tensor)] = name
    return by_id


def _fn_name(fn: Any) -> str:
    # AccumulateGrad.name() is "torch::autograd::AccumulateGrad": keep the last part.
    return fn.name().rsplit("::", 1)[-1]


def _torch_graph(output: torch.Tensor, names: object) -> networkx.DiGraph:
    if output.grad_fn is None:
        if output.requires_grad:
            raise ValueError(
                "output is a leaf tensor (requires_grad=True, but not computed by an "
                "operation), so autograd recorded no graph behind it; pass a tensor computed "
                "from it, such as (x ** 2).sum()"
            )
        raise ValueError(
            "output has no autograd graph (its grad_fn is None and requires_grad is False): "
            "it was computed under torch.no_grad() or inference_mode(), detached, or from "
            "tensors that do not require grad; create the inputs with requires_grad=True "
            "and compute the output with gradient recording on"
        )
    import networkx as nx

    name_of = _check_names(names)
    graph = nx.DiGraph(direction="forward", source="torch")
    key_of: dict[Any, str] = {}  # backward function -> node key; holds a reference to each

    def add(fn: Any) -> str:
        key = f"n{len(key_of)}"
        key_of[fn] = key
        fn_name = _fn_name(fn)
        variable = getattr(fn, "variable", None)  # set only on AccumulateGrad
        if variable is not None:
            name = name_of.get(id(variable))
            shape = tuple(variable.shape)
            label = f"{name or 'leaf'}\n{_shape_text(shape)}"
            graph.add_node(key, label=label, kind="leaf", shape=shape, fn=fn_name, name=name)
        else:
            graph.add_node(key, label=fn_name, kind="op", shape=None, fn=fn_name, name=None)
        return key

    root = add(output.grad_fn)
    out_name = name_of.get(id(output))
    graph.nodes[root].update(
        kind="output",
        shape=tuple(output.shape),
        name=out_name,
        label=f"{graph.nodes[root]['fn']}\n{out_name or 'output'} {_shape_text(output.shape)}",
    )
    stack = [output.grad_fn]
    while stack:  # iterative: deep graphs must not hit the recursion limit
        fn = stack.pop()
        for next_fn, _ in fn.next_functions:
            if next_fn is None:  # an input that does not require grad
                continue
            if next_fn not in key_of:
                add(next_fn)
                stack.append(next_fn)
            _add_edge(graph, key_of[next_fn], key_of[fn])
    return graph


def _add_edge(graph: networkx.DiGraph, source: str, target: str) -> None:
    if graph.has_edge(source, target):
        graph.edges[source, target]["count"] += 1
    else:
        graph.add_edge(source, target, count=1)


def _value_label(v: Value) -> str:
    head = v.label if not v.op else (v.op if v.label is None else f"{v.op}  ({v.label})")
    return f"{head or 'leaf'}\ndata {v.data:.3g} | grad {v.grad:.3g}"


def _value_graph(output: Value) -> networkx.DiGraph:
    import networkx as nx

    graph = nx.DiGraph(direction="forward", source="value")
    key_of: dict[int, str] = {}
    for i, v in enumerate(output.topological_order()):  # parents come before children
        key_of[id(v)] = key = f"v{i}"
        kind = "output" if v is output else ("op" if v.parents else "leaf")
        graph.add_node(
            key, label=_value_label(v), kind=kind, shape=(), op=v.op, data=v.data, grad=v.grad
        )
        for parent in v.parents:
            _add_edge(graph, key_of[id(parent)], key)
    return graph


def autograd_graph(
    output: torch.Tensor | Value, *, names: Mapping[str, torch.Tensor] | None = None
) -> networkx.DiGraph:
    """Return the autograd DAG behind ``output`` as a :class:`networkx.DiGraph`.

    Parameters
    ----------
    output : torch.Tensor or Value
        A tensor computed with gradient recording on (it has a ``grad_fn``), or a
        :class:`~gradbook.autodiff.Value`.
    names : mapping of str to torch.Tensor, optional
        Names for leaf tensors, matched by identity, for example
        ``{"x": x, "y": y}`` or ``dict(model.named_parameters())``. Ignored for values
        (give a :class:`~gradbook.autodiff.Value` a ``label`` instead).

    Returns
    -------
    networkx.DiGraph
        Nodes keyed ``"n0", "n1", ...`` (tensors) or ``"v0", ...`` (values), with the
        attributes described in the module documentation; edges point from inputs to
        the operations that use them.

    Raises
    ------
    TypeError
        If ``output`` is neither a tensor nor a value, or ``names`` is not a mapping.
    ValueError
        If ``output`` is a tensor with no graph behind it (a leaf, or made under
        ``torch.no_grad()``).

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([2.0, 3.0], requires_grad=True)
    >>> g = autograd_graph((x**2).sum(), names={"x": x})
    >>> sorted(d["label"].split()[0] for _, d in g.nodes(data=True))
    ['PowBackward0', 'SumBackward0', 'x']
    """
    what = "a torch.Tensor or a gradbook.autodiff.Value"
    check_instance(output, "output", (torch.Tensor, Value), what)
    if isinstance(output, Value):
        _check_names(names)  # unused for values, but a wrong kind is still a mistake
        return _value_graph(output)
    return _torch_graph(output, names)


def _inputs(node: Any) -> tuple | list:
    """What a Value, or a backward function, was computed from."""
    if isinstance(node, Value):
        return node.parents
    return [fn for fn, _ in node.next_functions if fn is not None]


def _count_nodes(output: object, stop_after: int | None = None) -> int:
    """How many nodes ``autograd_graph(output)`` would have, by an iterative walk that
    builds nothing; it stops once it has seen ``stop_after`` nodes (when given)."""
    import networkx as nx

    if isinstance(output, nx.DiGraph):
        return len(output)
    if isinstance(output, Value):
        start = output
    elif isinstance(output, torch.Tensor) and output.grad_fn is not None:
        start = output.grad_fn
    else:
        return 0  # no graph to count: autograd_graph says why
    # A set of the nodes themselves (Values and backward functions hash by identity): it
    # holds a reference to each, so torch hands back the same Python object for a node.
    seen, stack = {start}, [start]
    while stack and (stop_after is None or len(seen) < stop_after):
        for node in _inputs(stack.pop()):
            if node not in seen:
                seen.add(node)
                stack.append(node)
    return len(seen)


def _check_size(output: object, max_nodes: int | None) -> None:
    """Refuse a graph of more than ``max_nodes`` nodes before any layout work."""
    check_int(max_nodes, "max_nodes", minimum=1, allow_none=True)
    if max_nodes is None or _count_nodes(output, stop_after=max_nodes + 1) <= max_nodes:
        return
    count = _count_nodes(output)  # the whole walk, only to say how far over the limit
    raise ValueError(
        f"output's autograd graph has {count:,} nodes, more than max_nodes={max_nodes}: a "
        "drawing is readable up to about 60 nodes, and it takes about 2 s per 500 nodes, more "
        "for wide graphs. Draw a smaller expression (one sample, one neuron), "
        "pass max_nodes=None (or a larger number) to draw it anyway, or use autograd_graph() "
        "or to_dot(), which take a graph of any size"
    )


def _as_graph(output: object, names: object) -> networkx.DiGraph:
    """Accept a graph already built by :func:`autograd_graph`, or build one."""
    import networkx as nx

    if isinstance(output, nx.DiGraph):
        if output.graph.get("direction") != "forward":
            raise TypeError("output must be a tensor, a Value, or a graph from autograd_graph()")
        return output
    return autograd_graph(output, names=names)


@functools.cache
def _horizontal_s() -> type:
    """The connection style of the drawing's edges, a matplotlib class made on first use."""
    from matplotlib.patches import ConnectionStyle
    from matplotlib.path import Path

    class HorizontalS(ConnectionStyle.Arc3):
        """A cubic Bezier that leaves and enters horizontally, so edges run between columns."""

        def connect(self, posA: tuple[float, float], posB: tuple[float, float]) -> Path:
            (x0, y0), (x1, y1) = posA, posB
            bend = (x1 - x0) / 2.0
            return Path(
                [(x0, y0), (x0 + bend, y0), (x1 - bend, y1), (x1, y1)],
                [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4],
            )

    return HorizontalS


_PAD = 0.35  # box padding, in units of the font size (matplotlib's boxstyle pad)
_COLUMN_GAP = 0.6  # inches between the widest boxes of neighbouring columns: room for arrows
_ROW_GAP = 0.2  # inches between boxes stacked in a column
_EDGE_SLOT = 0.14  # inches taken by an edge passing through a column


def _box_size(label: str, fontsize: float, bold: bool) -> tuple[float, float]:
    """Width and height in inches of a label's padded box, measured from the font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=fontsize, weight="bold" if bold else "normal")
    lines = label.split("\n")
    width = max(
        text_to_path.get_text_width_height_descent(ln, font, ismath=False)[0] for ln in lines
    )
    height = 1.2 * fontsize * len(lines)  # matplotlib's default line spacing
    return (width + 2 * _PAD * fontsize) / 72.0 * 1.05, (height + 2 * _PAD * fontsize) / 72.0


def _layout(
    graph: networkx.DiGraph, size: Mapping[str, tuple[float, float]]
) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str], list[tuple[float, float, float]]]]:
    """Place boxes (sizes in inches) in columns and route long edges, in inches.

    Returns the centre of each node, and for each edge the horizontal runs
    ``(x_left, x_right, y)`` it makes through the columns it crosses.

    One column per topological generation. Generations are counted back from the output
    (the output alone on the right, then what only it uses, ...), which puts every node in
    the column just before its first use: the bias of a last layer sits next to the
    operation that adds it instead of far left behind a long edge.

    An edge that skips columns gets a waypoint in each column it crosses (a "dummy node",
    as in Sugiyama's layered drawing), which is ordered with the boxes, so the edge has a
    slot of its own instead of running through a box. Within each column, boxes and
    waypoints are ordered by the mean height of their neighbours (the barycentre
    heuristic), sweeping left-to-right and back a few times, to limit crossings.
    """
    import networkx as nx

    generations = list(nx.topological_generations(graph.reverse(copy=False)))
    column: dict[Any, int] = {
        node: len(generations) - 1 - g
        for g, generation in enumerate(generations)
        for node in generation
    }
    routed = nx.DiGraph()
    routed.add_nodes_from(graph)
    chains: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for u, v in graph.edges:
        previous, chain = u, []
        for col in range(column[u] + 1, column[v]):
            dummy = ("edge", u, v, col)
            column[dummy] = col
            routed.add_edge(previous, dummy)
            chain.append(dummy)
            previous = dummy
        routed.add_edge(previous, v)
        chains[u, v] = chain

    layers: list[list[Any]] = [[] for _ in generations]
    for node in nx.dfs_postorder_nodes(routed.reverse(copy=False)):  # a stable first order
        layers[column[node]].append(node)

    y: dict[Any, float] = {}

    def stack_column(layer: list[Any]) -> None:
        slots = [_EDGE_SLOT if isinstance(n, tuple) else size[n][1] + _ROW_GAP for n in layer]
        top = sum(slots) / 2.0  # centre the column on y = 0
        for node, slot in zip(layer, slots, strict=True):
            y[node] = top - slot / 2.0
            top -= slot

    for layer in layers:
        stack_column(layer)
    for sweep in range(6):
        forward = sweep % 2 == 0
        neighbours = routed.predecessors if forward else routed.successors
        for layer in layers[1:] if forward else layers[-2::-1]:
            centre = {}
            for node in layer:
                ys = [y[n] for n in neighbours(node)]
                centre[node] = sum(ys) / len(ys) if ys else y[node]
            layer.sort(key=lambda n: -centre[n])  # top of the column first
            stack_column(layer)

    # Columns as wide as their widest box; an edge crossing a column runs straight through.
    widths = [max((size[n][0] for n in layer if not isinstance(n, tuple)), default=0.3)
              for layer in layers]  # fmt: skip
    left = [sum(widths[:c]) + _COLUMN_GAP * c for c in range(len(layers))]
    xy = {node: (left[column[node]] + widths[column[node]] / 2.0, y[node]) for node in graph}
    routes = {
        edge: [(left[column[d]], left[column[d]] + widths[column[d]], y[d]) for d in chain]
        for edge, chain in chains.items()
    }
    return xy, routes


def draw_autograd_graph(
    output: torch.Tensor | Value | networkx.DiGraph,
    ax: Axes | None = None,
    *,
    names: Mapping[str, torch.Tensor] | None = None,
    max_nodes: int | None = 500,
) -> Axes:
    """Draw the autograd DAG behind ``output`` with matplotlib: inputs left, output right.

    Nodes are boxes coloured by kind (leaf, operation, output; see the legend), in one
    column per topological generation, connected by arrows in the forward direction.
    Readable up to about 60 nodes. Pure matplotlib and networkx: no Graphviz needed.
    A graph of more than ``max_nodes`` nodes is refused at once, before any layout work.

    Parameters
    ----------
    output : torch.Tensor, Value or networkx.DiGraph
        What to draw, as for :func:`autograd_graph` (or a graph it returned).
    ax : matplotlib.axes.Axes, optional
        Where to draw. By default a new figure is created, sized so that no two boxes
        overlap (data coordinates are inches). Given axes should be about as large.
    names : mapping of str to torch.Tensor, optional
        Names for leaf tensors, as for :func:`autograd_graph`.
    max_nodes : int or None
        The largest graph drawn, 500 by default (laid out and drawn in about 2 seconds;
        a small Value MLP's loss over a data set can have 100,000 nodes and would take
        many minutes). ``None`` draws any size. :func:`autograd_graph` and :func:`to_dot`
        have no limit.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on. Each node box is a text artist with ``gid`` ``"node:<key>"``.

    Raises
    ------
    ValueError
        If the graph has more than ``max_nodes`` nodes (the message says how many), or as
        :func:`autograd_graph` raises.
    TypeError
        If ``ax`` is not a matplotlib Axes, ``max_nodes`` not an int or None, or as
        :func:`autograd_graph` raises.
    """
    import matplotlib.axes

    check_instance(ax, "ax", matplotlib.axes.Axes, "a matplotlib Axes", allow_none=True)
    _check_size(output, max_nodes)  # counted without building: a huge graph fails fast
    graph = _as_graph(output, names)
    fontsize, xy, routes, (x0, x1, y0, y1) = _fit_layout(graph)
    if ax is None:
        ax = _inch_axes(x0, x1, y0, y1)
    boxes = _draw_boxes(ax, graph, xy, fontsize)
    _draw_edges(ax, graph, xy, routes, boxes, fontsize)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    _draw_legend(ax, graph, fontsize)
    return ax


def _fit_layout(graph: networkx.DiGraph) -> tuple[float, dict, dict, tuple[float, ...]]:
    """Lay the graph out at the largest font (9 pt down to 6 pt) that keeps the drawing
    under about 30 inches; return the font size, the box centres, the edge routes and the
    extent ``(x0, x1, y0, y1)``, all in inches."""
    fontsize = 9.0
    while True:
        size = {
            n: _box_size(d["label"], fontsize, d["kind"] == "output")
            for n, d in graph.nodes(data=True)
        }
        xy, routes = _layout(graph, size)
        x0 = min(x - size[n][0] / 2 for n, (x, _) in xy.items())
        x1 = max(x + size[n][0] / 2 for n, (x, _) in xy.items())
        ys = [y + s * size[n][1] / 2 for n, (_, y) in xy.items() for s in (-1, 1)]
        ys += [y for route in routes.values() for *_, y in route]
        y0, y1 = min(ys) - 0.1, max(ys) + 0.1
        if fontsize <= 6.0 or max(x1 - x0, y1 - y0) <= 30.0:
            return fontsize, xy, routes, (x0, x1, y0, y1)
        fontsize -= 0.5


def _inch_axes(x0: float, x1: float, y0: float, y1: float) -> Axes:
    """New axes in which 1 data unit is 1 inch, with room for a title and the legend."""
    import matplotlib.pyplot as plt

    margin_x, below, above = 0.25, 0.55, 0.45
    width, height = x1 - x0 + 2 * margin_x, y1 - y0 + below + above
    fig = plt.figure(figsize=(width, height))
    return fig.add_axes((margin_x / width, below / height, (x1 - x0) / width, (y1 - y0) / height))


def _draw_boxes(ax: Axes, graph: networkx.DiGraph, xy: dict, fontsize: float) -> dict[str, Any]:
    """One text box per node, coloured by kind; returns the text artists by node key."""
    boxes = {}
    for node, data in graph.nodes(data=True):
        kind = data["kind"]
        boxes[node] = ax.text(
            *xy[node],
            data["label"],
            ha="center",
            va="center",
            fontsize=fontsize,
            weight="bold" if kind == "output" else "normal",
            gid=f"node:{node}",
            zorder=3,
            bbox={
                "boxstyle": f"round,pad={_PAD}",
                "facecolor": _KIND_COLORS[kind],
                "edgecolor": "#444444",
                "linewidth": 1.2 if kind == "output" else 0.8,
            },
        )
    return boxes


def _draw_edges(
    ax: Axes, graph: networkx.DiGraph, xy: dict, routes: dict, boxes: dict, fontsize: float
) -> None:
    """One arrow per edge, through its waypoints, clipped at both boxes; ``×n`` on an edge
    that carries an input used n times."""
    style = {"color": "#555555", "linewidth": 0.9, "connectionstyle": _horizontal_s()()}
    for (source, target), route in routes.items():
        # Waypoints: a horizontal run through each crossed column, in the edge's own slot.
        points = [xy[source]]
        for x_left, x_right, y in route:
            points += [(x_left, y), (x_right, y)]
        points.append(xy[target])
        last = len(points) - 2
        for i, (start, stop) in enumerate(itertools.pairwise(points)):
            props = {"arrowstyle": "-|>" if i == last else "-", "shrinkA": 0, "shrinkB": 0}
            if i == 0:  # clip at the source box
                props.update(patchA=boxes[source].get_bbox_patch(), shrinkA=2)
            if i == last:  # clip at the target box, leaving room for the head
                props.update(patchB=boxes[target].get_bbox_patch(), shrinkB=2, mutation_scale=12)
            # Drawn above the boxes (zorder 4): a clipped arrow must be drawn after the box it
            # is clipped at has been placed, or it would run to the centre, under the box.
            ax.annotate(
                "", xy=stop, xytext=start, zorder=4, arrowprops={**style, **props},
                gid=f"edge:{source}->{target}" if i == last else None,
            )  # fmt: skip
        count = graph.edges[source, target]["count"]
        if count > 1:
            (xa, ya), (xb, yb) = points[-2], points[-1]
            ax.text(
                (xa + xb) / 2, (ya + yb) / 2, f"\u00d7{count}", fontsize=fontsize,
                ha="center", va="bottom", color="#555555",
            )  # fmt: skip


def _draw_legend(ax: Axes, graph: networkx.DiGraph, fontsize: float) -> None:
    """A legend below the drawing, for the node kinds that occur in it."""
    from matplotlib.patches import Patch

    kinds = [k for k in _KIND_COLORS if any(d["kind"] == k for _, d in graph.nodes(data=True))]
    ax.legend(
        handles=[
            Patch(facecolor=_KIND_COLORS[k], edgecolor="#444444", label=_KIND_LEGEND[k])
            for k in kinds
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=len(kinds),
        frameon=False,
        fontsize=max(fontsize, 8.0),
    )


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(
    output: torch.Tensor | Value | networkx.DiGraph,
    *,
    names: Mapping[str, torch.Tensor] | None = None,
) -> str:
    """Return Graphviz DOT text for the autograd DAG behind ``output``.

    Same nodes, labels, colours and forward edge direction as :func:`draw_autograd_graph`
    (``rankdir=LR``: inputs left, output right). Render it with ``dot -Tsvg`` or the
    ``graphviz`` Python package; one line per node and per edge.

    Parameters
    ----------
    output : torch.Tensor, Value or networkx.DiGraph
        What to describe, as for :func:`autograd_graph` (or a graph it returned).
    names : mapping of str to torch.Tensor, optional
        Names for leaf tensors, as for :func:`autograd_graph`.

    Returns
    -------
    str
        A ``digraph`` in DOT syntax with every label quoted and escaped.
    """
    graph = _as_graph(output, names)
    lines = [
        "digraph autograd {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    for node, data in graph.nodes(data=True):
        width = ", penwidth=2" if data["kind"] == "output" else ""
        lines.append(
            f"  {_dot_quote(node)} [label={_dot_quote(data['label'])}, "
            f'fillcolor="{_KIND_COLORS[data["kind"]]}"{width}];'
        )
    for source, target, data in graph.edges(data=True):
        count = data["count"]
        label = f" [label={_dot_quote(f'x{count}')}]" if count > 1 else ""
        lines.append(f"  {_dot_quote(source)} -> {_dot_quote(target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
