"""Tests for gradbook.models: SimpleNet, MLP, parameter counts and weight initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gradbook.models import MLP, SimpleNet, count_parameters, init_weights, mlp_parameter_count

SIMPLENET_PRINT = """\
SimpleNet(
  (linear1): Linear(in_features=4, out_features=10, bias=True)
  (relu): ReLU()
  (linear2): Linear(in_features=10, out_features=3, bias=True)
)"""


def test_simplenet_prints_like_the_notebook():
    """SimpleNet(4, 10, 3) prints the notebook's module tree and holds 83 parameters."""
    model = SimpleNet(4, 10, 3)
    assert str(model) == SIMPLENET_PRINT
    assert count_parameters(model) == 83
    assert [name for name, _ in model.named_children()] == ["linear1", "relu", "linear2"]


def test_simplenet_forward_is_linear_relu_linear():
    """The forward pass is linear2(relu(linear1(x)))."""
    torch.manual_seed(0)
    model = SimpleNet(4, 10, 3)
    x = torch.randn(5, 4)
    expected = model.linear2(torch.relu(model.linear1(x)))
    assert model(x).shape == (5, 3)
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([4, 10, 3], "MLP(4 -> 10 -> 3, relu)"),
        ([2, 1], "MLP(2 -> 1, relu)"),
        ([3, 8, 8, 8, 2], "MLP(3 -> 8 -> 8 -> 8 -> 2, relu)"),
    ],
)
def test_mlp_repr_reads_as_the_architecture(sizes, expected):
    """repr(MLP) shows the widths and the activation."""
    assert repr(MLP(sizes)) == expected


def test_mlp_layers_alternate_linear_and_activation():
    """An MLP of L+1 widths has L linear layers with an activation between each pair only."""
    model = MLP([3, 5, 7, 2], activation="tanh")
    kinds = [type(m) for m in model.layers]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [(m.in_features, m.out_features) for m in model.layers if isinstance(m, nn.Linear)] == [
        (3, 5),
        (5, 7),
        (7, 2),
    ]
    x = torch.randn(4, 3)
    manual = x
    for m in model.layers:
        manual = m(manual)
    torch.testing.assert_close(model(x), manual)


def test_mlp_of_two_sizes_is_one_linear_layer():
    """MLP([d, k]) is a single Linear layer with no activation."""
    model = MLP([6, 2])
    assert len(model.layers) == 1 and isinstance(model.layers[0], nn.Linear)


@pytest.mark.parametrize(
    ("activation", "cls"),
    [
        ("relu", nn.ReLU),
        ("tanh", nn.Tanh),
        ("sigmoid", nn.Sigmoid),
        ("gelu", nn.GELU),
        ("leaky_relu", nn.LeakyReLU),
        ("identity", nn.Identity),
        ("ReLU", nn.ReLU),
        (nn.SiLU, nn.SiLU),
    ],
)
def test_mlp_activation_by_name_or_class(activation, cls):
    """The activation can be named (case-insensitively) or given as a module class."""
    model = MLP([2, 4, 4, 1], activation=activation)
    acts = [m for m in model.layers if not isinstance(m, nn.Linear)]
    assert len(acts) == 2 and all(type(a) is cls for a in acts)


def test_mlp_activation_instance_is_copied_per_layer():
    """A module instance is copied, so a stateful activation (PReLU) is not shared."""
    act = nn.PReLU()
    model = MLP([2, 4, 4, 1], activation=act)
    acts = [m for m in model.layers if isinstance(m, nn.PReLU)]
    assert len(acts) == 2 and acts[0] is not acts[1] and act not in acts
    assert count_parameters(model) == mlp_parameter_count([2, 4, 4, 1]) + 2
    assert "PReLU" in repr(model)


def test_mlp_unknown_activation_lists_the_names():
    """An unknown activation name is a ValueError listing the known ones."""
    with pytest.raises(ValueError, match="activation must be one of relu.*tanh.*'swish'"):
        MLP([2, 3, 1], activation="swish")
    with pytest.raises(TypeError, match="activation"):
        MLP([2, 3, 1], activation=42)


@pytest.mark.parametrize(
    ("sizes", "error", "match"),
    [
        ([4], ValueError, "at least 2"),
        ([], ValueError, "at least 2"),
        ([4, 0, 3], ValueError, r"sizes\[1\] must be an int >= 1, got 0"),
        ([4, -2], ValueError, ">= 1, got -2"),
        ([4, 2.5, 3], TypeError, r"sizes\[1\] must be an int, got float: 2.5"),
        ([4, True], TypeError, r"sizes\[1\] must be an int, got bool"),
        ("43", TypeError, "sequence of ints"),
        (7, TypeError, "sequence of ints"),
    ],
)
def test_bad_sizes_are_rejected(sizes, error, match):
    """MLP and mlp_parameter_count reject sizes that are not >= 2 positive ints."""
    with pytest.raises(error, match=match):
        MLP(sizes)
    with pytest.raises(error, match=match):
        mlp_parameter_count(sizes)


def test_simplenet_rejects_bad_sizes():
    """SimpleNet validates its three sizes, naming the one that is wrong."""
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1, got 0"):
        SimpleNet(4, 0, 3)
    with pytest.raises(TypeError, match="output_size must be an int, got float"):
        SimpleNet(4, 10, 3.0)


@pytest.mark.parametrize(
    "sizes",
    [[1, 1], [4, 10, 3], [2, 1], [784, 128, 10], [3, 7, 11, 5], [5, 1, 1, 1, 1, 9], [10] * 6],
)
def test_parameter_count_formula_matches_the_model(sizes):
    """mlp_parameter_count(sizes) equals the number of parameters MLP(sizes) holds."""
    assert mlp_parameter_count(sizes) == count_parameters(MLP(sizes))


@pytest.mark.parametrize(("d", "h", "k"), [(4, 10, 3), (1, 1, 1), (20, 64, 1), (7, 3, 9)])
def test_one_hidden_layer_formula(d, h, k):
    """For [d, h, k] the count is h(d + k) + (h + k), as in the notebook."""
    assert mlp_parameter_count([d, h, k]) == h * (d + k) + (h + k)
    assert count_parameters(SimpleNet(d, h, k)) == h * (d + k) + (h + k)


def test_count_parameters_trainable_only():
    """Frozen parameters are left out with trainable_only=True."""
    model = SimpleNet(4, 10, 3)
    model.linear1.requires_grad_(False)
    assert count_parameters(model) == 83
    assert count_parameters(model, trainable_only=True) == 10 * 3 + 3
    with pytest.raises(TypeError, match="model"):
        count_parameters([1, 2])


def test_count_parameters_rejects_a_non_bool_flag():
    """trainable_only="no" is a TypeError: a non-empty string would count as True."""
    with pytest.raises(TypeError, match="trainable_only must be True or False, got str"):
        count_parameters(SimpleNet(4, 10, 3), trainable_only="no")


def test_count_parameters_counts_shared_weights_once():
    """A parameter shared between two layers counts once."""
    lin = nn.Linear(3, 3)
    assert count_parameters(nn.Sequential(lin, lin)) == 12


def _big_layer() -> nn.Module:
    return nn.Sequential(nn.Linear(400, 600), nn.Linear(600, 300))


@pytest.mark.parametrize(
    ("scheme", "std_fn"),
    [
        ("xavier", lambda fi, fo: math.sqrt(2 / (fi + fo))),
        ("xavier_normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
        ("xavier_uniform", lambda fi, fo: math.sqrt(6 / (fi + fo)) / math.sqrt(3)),
        ("he", lambda fi, fo: math.sqrt(2 / fi)),
        ("he_normal", lambda fi, fo: math.sqrt(2 / fi)),
        ("he_uniform", lambda fi, fo: math.sqrt(6 / fi) / math.sqrt(3)),
    ],
)
def test_init_schemes_give_the_documented_spread(scheme, std_fn):
    """Each scheme draws weights with its formula's standard deviation; biases become 0."""
    torch.manual_seed(0)
    model = _big_layer()
    assert init_weights(model, scheme) is model
    for layer in model:
        fan_in, fan_out = layer.in_features, layer.out_features
        std = layer.weight.std().item()
        assert std == pytest.approx(std_fn(fan_in, fan_out), rel=0.03)
        assert layer.weight.mean().item() == pytest.approx(0.0, abs=0.01)
        assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize(
    ("scheme", "bound"), [("xavier_uniform", 6 / 1000), ("he_uniform", 6 / 400)]
)
def test_uniform_schemes_stay_within_their_bound(scheme, bound):
    """Uniform schemes never exceed a = sqrt(6 / fan)."""
    layer = init_weights(nn.Linear(400, 600), scheme)
    assert layer.weight.abs().max().item() <= math.sqrt(bound)
    assert layer.weight.abs().max().item() > 0.9 * math.sqrt(bound)


def test_zeros_scheme_zeroes_everything():
    """The zeros scheme sets every weight and bias to 0, conv layers included."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), MLP([8, 4, 2]))
    init_weights(model, "zeros")
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())


def test_mlp_init_argument_applies_the_scheme():
    """MLP(init=...) re-initialises its layers with that scheme."""
    model = MLP([4, 8, 2], init="zeros")
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())


def test_init_weights_errors():
    """Unknown schemes list the known ones; a model without layers is refused."""
    with pytest.raises(ValueError, match="xavier.*he.*zeros.*'glorot'"):
        init_weights(nn.Linear(2, 2), "glorot")
    with pytest.raises(ValueError, match="no nn.Linear"):
        init_weights(nn.ReLU(), "he")
    with pytest.raises(TypeError, match="model"):
        init_weights("model", "he")
    with pytest.raises(ValueError, match="scheme"):
        MLP([2, 2], init="bogus")
