"""Tests for gradbook.graph: the autograd DAG as a networkx graph, a drawing and DOT text."""

from __future__ import annotations

import io
import itertools
import re
import shutil
import subprocess
from collections import Counter

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn

from gradbook.autodiff import Value
from gradbook.graph import autograd_graph, draw_autograd_graph, to_dot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def notebook_loss():
    """The notebook's example: loss = (x**2 + y**3).sum() with two leaf vectors."""
    x = torch.tensor([2.0, 3.0], requires_grad=True)
    y = torch.tensor([1.0, 4.0], requires_grad=True)
    z = x**2 + y**3
    return z.sum(), {"x": x, "y": y}


def simple_net_loss():
    """A SimpleNet-like Sequential applied to a batch, then summed."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 3))
    return net(torch.randn(8, 4)).sum(), dict(net.named_parameters())


def head(graph: nx.DiGraph, node: str) -> str:
    """First line of a node's label: the function name or the leaf's name."""
    return graph.nodes[node]["label"].split("\n")[0]


def test_notebook_graph_has_exactly_the_expected_nodes_and_edges():
    """(x**2 + y**3).sum(): Sum <- Add <- Pow, Pow <- x, y; nothing else."""
    loss, names = notebook_loss()
    g = autograd_graph(loss, names=names)
    fns = Counter(d["fn"] for _, d in g.nodes(data=True))
    assert fns == Counter(
        {"SumBackward0": 1, "AddBackward0": 1, "PowBackward0": 2, "AccumulateGrad": 2}
    )
    edges = Counter((head(g, u), head(g, v)) for u, v in g.edges)
    assert edges == Counter(
        {
            ("x", "PowBackward0"): 1,
            ("y", "PowBackward0"): 1,
            ("PowBackward0", "AddBackward0"): 2,
            ("AddBackward0", "SumBackward0"): 1,
        }
    )
    # The two PowBackward0 nodes are distinct, each fed by one leaf.
    pows = [n for n, d in g.nodes(data=True) if d["fn"] == "PowBackward0"]
    assert sorted(head(g, next(iter(g.predecessors(p)))) for p in pows) == ["x", "y"]
    kinds = {head(g, n): d["kind"] for n, d in g.nodes(data=True)}
    assert kinds == {
        "x": "leaf",
        "y": "leaf",
        "PowBackward0": "op",
        "AddBackward0": "op",
        "SumBackward0": "output",
    }
    leaves = {d["name"]: d["shape"] for _, d in g.nodes(data=True) if d["kind"] == "leaf"}
    assert leaves == {"x": (2,), "y": (2,)}
    out = next(d for _, d in g.nodes(data=True) if d["kind"] == "output")
    assert out["shape"] == () and out["label"] == "SumBackward0\noutput ()"
    assert nx.is_directed_acyclic_graph(g) and g.graph["direction"] == "forward"


def test_leaves_without_names_are_labelled_by_shape():
    """Without names, a leaf still shows its shape."""
    loss, _ = notebook_loss()
    labels = sorted(d["label"] for _, d in autograd_graph(loss).nodes(data=True))
    assert labels.count("leaf\n(2,)") == 2


def test_mlp_graph_has_addmm_transpose_and_one_leaf_per_parameter():
    """Sequential(Linear, ReLU, Linear): Addmm and T nodes, a named leaf per parameter."""
    loss, params = simple_net_loss()
    g = autograd_graph(loss, names=params)
    fns = Counter(d["fn"] for _, d in g.nodes(data=True))
    assert fns["AddmmBackward0"] == 2 and fns["TBackward0"] == 2
    assert fns["ReluBackward0"] == 1 and fns["SumBackward0"] == 1
    assert fns["AccumulateGrad"] == len(params) == 4
    leaves = {d["name"]: d["shape"] for _, d in g.nodes(data=True) if d["kind"] == "leaf"}
    assert leaves == {name: tuple(p.shape) for name, p in params.items()}
    consumer = {
        g.nodes[n]["name"]: g.nodes[next(iter(g.successors(n)))]["fn"]
        for n, d in g.nodes(data=True)
        if d["kind"] == "leaf"
    }
    # A Linear layer computes bias + input @ weight.T: weights go through TBackward0.
    assert consumer == {
        "0.weight": "TBackward0",
        "0.bias": "AddmmBackward0",
        "2.weight": "TBackward0",
        "2.bias": "AddmmBackward0",
    }


def test_graph_is_available_after_backward():
    """backward frees saved tensors but not the graph's structure: drawing still works."""
    loss, names = notebook_loss()
    before = autograd_graph(loss, names=names)
    loss.backward()
    after = autograd_graph(loss, names=names)
    assert dict(after.nodes(data=True)) == dict(before.nodes(data=True))
    assert dict(after.edges) == dict(before.edges)
    ax = draw_autograd_graph(loss, names=names)
    assert render(ax).startswith(b"\x89PNG")
    assert sorted(t.get_text() for t in node_boxes(ax)) == sorted(
        d["label"] for _, d in before.nodes(data=True)
    )
    arrows = [t.get_gid() for t in ax.texts if (t.get_gid() or "").startswith("edge:")]
    assert sorted(arrows) == sorted(f"edge:{u}->{v}" for u, v in before.edges)


def test_repeated_input_is_one_edge_with_a_count():
    """x * x uses x twice: one edge with count 2, for tensors and values alike."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    g = autograd_graph((x * x).sum())
    assert sorted(d["count"] for _, _, d in g.edges(data=True)) == [1, 2]
    v = Value(3.0)
    gv = autograd_graph(v * v)
    assert [d["count"] for _, _, d in gv.edges(data=True)] == [2]


def test_deep_torch_graph_does_not_recurse():
    """A 3,000-operation chain is walked iteratively (no RecursionError)."""
    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    assert len(autograd_graph(y)) == 3001


def test_value_graph_has_one_node_per_value():
    """A Value graph: leaves, op nodes labelled by their op, the output, with data and grad."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = (a * b + a).tanh()
    c.backward()
    g = autograd_graph(c)
    assert len(g) == len(c.topological_order()) == 5
    kinds = Counter(d["kind"] for _, d in g.nodes(data=True))
    assert kinds == Counter({"leaf": 2, "op": 2, "output": 1})
    out = next(d for _, d in g.nodes(data=True) if d["kind"] == "output")
    assert out["op"] == "tanh" and out["grad"] == 1.0 and out["shape"] == ()
    by_label = {head(g, n): n for n in g}
    assert g.has_edge(by_label["a"], by_label["+"]) and g.has_edge(by_label["a"], by_label["*"])
    assert g.nodes[by_label["a"]]["grad"] == a.grad


# ---------------------------------------------------------------------------------------
# Errors.
# ---------------------------------------------------------------------------------------


def test_leaf_tensor_raises_value_error_saying_what_to_do():
    """A leaf has no graph behind it: the error says so and how to get one."""
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="leaf tensor.*pass a tensor computed from it"):
        autograd_graph(x)


@pytest.mark.parametrize("make", ["no_grad", "plain", "detached"])
def test_tensor_without_graph_raises_value_error(make):
    """A tensor made under no_grad, without grad, or detached: ValueError with the cause."""
    x = torch.ones(2, requires_grad=True)
    if make == "no_grad":
        with torch.no_grad():
            out = (x * 2).sum()
    elif make == "plain":
        out = torch.ones(2).sum()
    else:
        out = (x * 2).sum().detach()
    for fn in (autograd_graph, draw_autograd_graph, to_dot):
        with pytest.raises(ValueError, match="no autograd graph.*no_grad"):
            fn(out)


@pytest.mark.parametrize("bad", [[1.0, 2.0], 3.0, "loss", None])
def test_non_tensor_raises_type_error(bad):
    """Only tensors and Values have an autograd graph."""
    for fn in (autograd_graph, draw_autograd_graph, to_dot):
        with pytest.raises(TypeError, match=f"torch.Tensor or .*Value, got {type(bad).__name__}"):
            fn(bad)


@pytest.mark.parametrize("names", [["x"], {"x": [1.0]}, {1: torch.ones(1)}])
def test_bad_names_raise_type_error(names):
    """names must map str to tensors."""
    loss, _ = notebook_loss()
    with pytest.raises(TypeError, match="names must"):
        autograd_graph(loss, names=names)


# ---------------------------------------------------------------------------------------
# Drawing.
# ---------------------------------------------------------------------------------------


def node_boxes(ax):
    return [t for t in ax.texts if (t.get_gid() or "").startswith("node:")]


def render(ax) -> bytes:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    return buf.getvalue()


@pytest.mark.parametrize("example", [notebook_loss, simple_net_loss])
def test_drawing_renders_one_box_per_node_and_one_arrow_per_edge(example):
    """Under Agg, the drawing saves to PNG with a box per node and a visible arrow per edge."""
    loss, names = example()
    ax = draw_autograd_graph(loss, names=names)
    png = render(ax)  # the first draw
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    g = autograd_graph(loss, names=names)
    boxes = node_boxes(ax)
    assert len(boxes) == len(g)
    assert sorted(t.get_text() for t in boxes) == sorted(d["label"] for _, d in g.nodes(data=True))
    arrows = [t.get_gid()[5:] for t in ax.texts if (t.get_gid() or "").startswith("edge:")]
    assert sorted(arrows) == sorted(f"{u}->{v}" for u, v in g.edges)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["leaf (input or parameter)", "operation", "output"]


@pytest.mark.parametrize("example", [notebook_loss, simple_net_loss])
def test_arrowheads_are_visible_at_the_first_draw(example):
    """Arrows stop at their target box with a visible head (not hidden under the box)."""
    loss, names = example()
    ax = draw_autograd_graph(loss, names=names)
    fig = ax.figure
    fig.canvas.draw()  # the first draw: arrows must already be clipped at the boxes
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].min(axis=-1)  # (H, W) darkness
    height = pixels.shape[0]
    g = autograd_graph(loss, names=names)
    for box in node_boxes(ax):
        key = box.get_gid()[5:]
        if g.in_degree(key) == 0:
            continue
        # Just left of the box, a filled head makes a vertical run of dark pixels at least
        # 5 px tall in some pixel column; a bare line (head hidden under the box) 1 or 2 px.
        extent = box.get_bbox_patch().get_window_extent()
        window = pixels[
            height - int(extent.y1) : height - int(extent.y0),
            int(extent.x0) - 10 : int(extent.x0) - 1,
        ]
        assert (window < 140).sum(axis=0).max() >= 4, f"no arrowhead into {box.get_text()!r}"


def test_layout_puts_inputs_left_of_their_uses_and_output_rightmost():
    """Every edge points rightwards, and the output is the rightmost box."""
    loss, names = simple_net_loss()
    ax = draw_autograd_graph(loss, names=names)
    g = autograd_graph(loss, names=names)
    x = {t.get_gid()[5:]: t.get_position()[0] for t in node_boxes(ax)}
    assert all(x[u] < x[v] for u, v in g.edges)
    out = next(n for n, d in g.nodes(data=True) if d["kind"] == "output")
    assert x[out] == max(x.values())


def test_sixty_node_drawing_has_no_overlapping_boxes():
    """A ~60-node graph draws with no two node boxes overlapping."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid()
    )
    x = torch.randn(5, 3, requires_grad=True)
    out = ((net(x) - 0.5) ** 2).mean() + (x.exp() * x.sin()).sum() + x.tanh().prod()
    a = [Value(float(i), label=f"a{i}") for i in range(4)]
    value_out = sum((ai * aj).tanh() for ai, aj in itertools.combinations(a, 2))
    for output, names in [(out, dict(net.named_parameters()) | {"x": x}), (value_out, None)]:
        ax = draw_autograd_graph(output, names=names)
        ax.figure.canvas.draw()
        extents = [t.get_bbox_patch().get_window_extent() for t in node_boxes(ax)]
        assert len(extents) >= 20
        for e1, e2 in itertools.combinations(extents, 2):
            assert not e1.overlaps(e2)


def test_drawing_uses_a_given_axes_and_accepts_a_prebuilt_graph():
    """draw_autograd_graph draws on the axes it is given and returns them."""
    loss, names = notebook_loss()
    fig, ax = plt.subplots()
    assert draw_autograd_graph(autograd_graph(loss, names=names), ax) is ax
    assert len(node_boxes(ax)) == 6
    assert len(fig.axes) == 1


# ---------------------------------------------------------------------------------------
# DOT.
# ---------------------------------------------------------------------------------------

STRING = r'"(?:[^"\\]|\\.)*"'


def check_dot(text: str, graph: nx.DiGraph) -> None:
    """Structure of DOT text: braces balanced outside strings, one line per node and edge."""
    lines = text.strip().split("\n")
    assert lines[0] == "digraph autograd {" and lines[-1] == "}"
    outside = re.sub(STRING, '""', text)
    assert outside.count("{") == outside.count("}") == 1
    assert outside.count('"') % 2 == 0
    node_lines = [ln for ln in lines if re.fullmatch(rf"  {STRING} \[label={STRING}.*\];", ln)]
    edge_lines = [ln for ln in lines if re.fullmatch(rf"  {STRING} -> {STRING}( \[.*\])?;", ln)]
    assert len(node_lines) == len(graph) and len(edge_lines) == graph.number_of_edges()
    assert len(lines) == 3 + len(graph) + graph.number_of_edges() + 1


def test_dot_is_well_formed_for_the_notebook_graph():
    """to_dot: the same nodes and edges as autograd_graph, quoted, in LR direction."""
    loss, names = notebook_loss()
    text = to_dot(loss, names=names)
    check_dot(text, autograd_graph(loss, names=names))
    assert "rankdir=LR;" in text
    assert '[label="SumBackward0\\noutput ()"' in text
    assert text.count('label="PowBackward0"') == 2


def test_dot_escapes_quotes_backslashes_and_newlines():
    """Labels with quotes and backslashes stay inside their DOT string."""
    a = Value(1.0, label='say "hi" \\ bye')
    text = to_dot(a * a)
    check_dot(text, autograd_graph(a * a))
    assert r"say \"hi\" \\ bye\ndata 1" in text
    assert '[label="x2"]' in text  # a used twice


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_graphviz_accepts_the_dot_text():
    """Graphviz itself parses and lays out the DOT text."""
    loss, params = simple_net_loss()
    result = subprocess.run(
        ["dot", "-Tsvg"], input=to_dot(loss, names=params), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('class="node"') == 10


# ---------------------------------------------------------------------------------------
# Size limit and argument checks of the drawing (issue 13).
# ---------------------------------------------------------------------------------------


def value_chain(n_nodes: int) -> Value:
    """A chain of tanh operations with exactly ``n_nodes`` values."""
    v = Value(0.5, label="x")
    for _ in range(n_nodes - 1):
        v = v.tanh()
    return v


def test_a_5000_node_value_graph_is_refused_at_once():
    """A 5,000-node Value chain: a ValueError with the count, the limit and what to do,
    raised before any figure is made."""
    with pytest.raises(ValueError, match="5,000 nodes, more than max_nodes=500") as info:
        draw_autograd_graph(value_chain(5000))
    message = str(info.value)
    assert "max_nodes=None" in message and "to_dot()" in message
    assert plt.get_fignums() == []


def test_autograd_graph_and_to_dot_take_a_graph_of_any_size():
    """The limit is the drawing's only: autograd_graph and to_dot take 5,000 nodes."""
    out = value_chain(5000)
    assert len(autograd_graph(out)) == 5000
    assert to_dot(out).count(" -> ") == 4999


@pytest.mark.parametrize("example", ["value", "tensor", "prebuilt"])
def test_max_nodes_draws_up_to_the_limit_and_refuses_one_more(example):
    """A graph of exactly max_nodes nodes is drawn; with max_nodes one less it is refused,
    for values, tensors and a graph from autograd_graph alike."""
    loss, _ = notebook_loss()
    output = {"value": value_chain(6), "tensor": loss, "prebuilt": autograd_graph(loss)}[example]
    n = len(autograd_graph(output) if example != "prebuilt" else output)
    assert len(node_boxes(draw_autograd_graph(output, max_nodes=n))) == n
    with pytest.raises(ValueError, match=f"has {n} nodes, more than max_nodes={n - 1}"):
        draw_autograd_graph(output, max_nodes=n - 1)


def test_a_deep_tensor_graph_is_refused_with_its_count():
    """A 3,000-operation tensor chain: refused, and the count is autograd_graph's."""
    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    with pytest.raises(ValueError, match="3,001 nodes, more than max_nodes=500"):
        draw_autograd_graph(y)


def test_max_nodes_none_draws_any_size():
    """max_nodes=None lifts the limit."""
    ax = draw_autograd_graph(value_chain(12), max_nodes=None)
    assert len(node_boxes(ax)) == 12


@pytest.mark.parametrize(
    ("max_nodes", "error"),
    [("500", TypeError), (True, TypeError), (2.5, TypeError), (0, ValueError)],
)
def test_bad_max_nodes_raises_naming_it(max_nodes, error):
    """max_nodes must be an int >= 1 or None (a bool or a string is a slip)."""
    loss, _ = notebook_loss()
    with pytest.raises(error, match="max_nodes must be an int"):
        draw_autograd_graph(loss, max_nodes=max_nodes)


@pytest.mark.parametrize("ax", ["left", 1, plt])
def test_ax_of_the_wrong_type_raises_type_error(ax):
    """ax must be matplotlib Axes or None; anything else is a TypeError naming ax."""
    loss, _ = notebook_loss()
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or None"):
        draw_autograd_graph(loss, ax)


def test_a_foreign_networkx_graph_raises_type_error():
    """A DiGraph not made by autograd_graph is refused by the drawing and by to_dot."""
    for fn in (draw_autograd_graph, to_dot):
        with pytest.raises(TypeError, match="graph from autograd_graph"):
            fn(nx.path_graph(3, create_using=nx.DiGraph))
