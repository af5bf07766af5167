r"""Small models for the tutorials: the seed's ``SimpleNet``, a general ``MLP``, and helpers.

The parameter count of a fully connected network is a formula worth having as code:
a layer mapping :math:`d_{in}` features to :math:`d_{out}` holds a weight matrix
:math:`W \in \mathbb{R}^{d_{out} \times d_{in}}` and a bias :math:`b \in \mathbb{R}^{d_{out}}`,
so :math:`d_{in} d_{out} + d_{out}` numbers. :func:`mlp_parameter_count` adds that up and
:func:`count_parameters` counts what a model really holds; the tests check they agree.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from gradbook._validation import check_bool, check_choice, check_int, check_model, type_name

__all__ = [
    "MLP",
    "SimpleNet",
    "count_parameters",
    "init_weights",
    "mlp_parameter_count",
]

# Activations by name. Each value builds a fresh module, so layers never share one instance.
_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}

_INIT_SCHEMES = (
    "xavier",
    "xavier_normal",
    "xavier_uniform",
    "he",
    "he_normal",
    "he_uniform",
    "zeros",
)


class SimpleNet(nn.Module):
    r"""The seed notebook's network: ``Linear -> ReLU -> Linear``.

    .. math::

        f(x) = W_2 \, \mathrm{ReLU}(W_1 x + b_1) + b_2

    With ``input_size`` :math:`d`, ``hidden_size`` :math:`h` and ``output_size``
    :math:`k` it holds :math:`h(d + k) + (h + k)` parameters (83 for ``SimpleNet(4, 10, 3)``).

    Parameters
    ----------
    input_size : int
        Number of input features :math:`d`.
    hidden_size : int
        Width of the hidden layer :math:`h`.
    output_size : int
        Number of outputs :math:`k`.

    Examples
    --------
    >>> print(SimpleNet(4, 10, 3))
    SimpleNet(
      (linear1): Linear(in_features=4, out_features=10, bias=True)
      (relu): ReLU()
      (linear2): Linear(in_features=10, out_features=3, bias=True)
    )
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        for name, size in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("output_size", output_size),
        ):
            check_int(size, name, minimum=1)
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r"""The network's output for a batch: :math:`W_2 \, \mathrm{ReLU}(W_1 x + b_1) + b_2`.

        Call the model, ``net(x)``, rather than ``net.forward(x)``: the call runs the
        module's hooks around this method.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs, shape ``(N, input_size)``, or one input of shape
            ``(input_size,)``.

        Returns
        -------
        torch.Tensor
            Shape ``(N, output_size)`` (or ``(output_size,)`` for one input): raw scores
            (logits) or values, with no activation after the last layer.
        """
        out = self.linear1(x)  # (N, hidden_size)
        out = self.relu(out)
        out = self.linear2(out)  # (N, output_size)
        return out


class MLP(nn.Module):
    """A fully connected network of any depth: ``Linear``, activation, ..., ``Linear``.

    ``sizes = [d_0, d_1, ..., d_L]`` gives :math:`L` linear layers; the activation sits
    between them, never after the last one (the output is left for the loss to interpret).
    The layers live in ``self.layers``, an ``nn.Sequential``: ``mlp.layers[0]`` is the first
    ``nn.Linear``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first and output last; at least two entries, each >= 1.
    activation : str, nn.Module subclass or nn.Module instance, default "relu"
        A name (``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``, ``"gelu"``,
        ``"silu"``, ``"elu"``, ``"selu"``, ``"softplus"``, ``"identity"``), a module class
        (instantiated once per layer) or a module instance (copied once per layer).
    init : str or None, default None
        An :func:`init_weights` scheme; ``None`` keeps PyTorch's default initialisation.

    Examples
    --------
    >>> MLP([4, 10, 3])
    MLP(4 -> 10 -> 3, relu)
    >>> MLP([2, 16, 16, 1], activation="tanh", init="xavier")
    MLP(2 -> 16 -> 16 -> 1, tanh)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | type[nn.Module] | nn.Module = "relu",
        init: str | None = None,
    ) -> None:
        sizes = _check_sizes(sizes, name="sizes")
        make_activation, activation_name = _activation_factory(activation)
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(d_in, d_out))
            if i < len(sizes) - 2:
                layers.append(make_activation())
        super().__init__()
        self.sizes = tuple(sizes)
        self.activation_name = activation_name
        self.layers = nn.Sequential(*layers)
        if init is not None:
            init_weights(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output for a batch: ``x`` through ``self.layers`` in order.

        Call the model, ``mlp(x)``, rather than ``mlp.forward(x)``: the call runs the
        module's hooks around this method.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs, shape ``(N, sizes[0])``, or one input of shape
            ``(sizes[0],)``.

        Returns
        -------
        torch.Tensor
            Shape ``(N, sizes[-1])`` (or ``(sizes[-1],)`` for one input): raw scores
            (logits) or values, with no activation after the last layer.
        """
        return self.layers(x)  # (N, sizes[0]) -> (N, sizes[-1])

    def __repr__(self) -> str:
        widths = " -> ".join(str(s) for s in self.sizes)
        return f"MLP({widths}, {self.activation_name})"


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Count the numbers a model holds (each shared parameter once).

    Parameters
    ----------
    model : nn.Module
        The model.
    trainable_only : bool, default False
        Count only parameters with ``requires_grad=True``.

    Returns
    -------
    int
        The total number of scalar parameters.
    """
    check_model(model)
    check_bool(trainable_only, "trainable_only")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def mlp_parameter_count(sizes: Sequence[int]) -> int:
    r"""The parameter count of an :class:`MLP` with these widths, from the formula.

    .. math::

        \sum_{l=1}^{L} \left( d_{l-1} d_l + d_l \right)

    For one hidden layer, ``[d, h, k]``, this is :math:`h(d + k) + (h + k)`.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first and output last.

    Returns
    -------
    int
        The number of weights and biases.
    """
    sizes = _check_sizes(sizes, name="sizes")
    return sum(d_in * d_out + d_out for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True))


def init_weights(model: nn.Module, scheme: str) -> nn.Module:
    r"""Re-initialise every linear and convolution layer of ``model`` in place.

    Weights follow ``scheme``; biases are set to zero.

    - ``"xavier"`` / ``"xavier_normal"``: :math:`\mathcal{N}(0, \sigma^2)` with
      :math:`\sigma^2 = 2 / (n_{in} + n_{out})` (Glorot and Bengio, 2010).
    - ``"xavier_uniform"``: :math:`\mathcal{U}(-a, a)` with
      :math:`a = \sqrt{6 / (n_{in} + n_{out})}`.
    - ``"he"`` / ``"he_normal"``: :math:`\mathcal{N}(0, 2 / n_{in})` (He et al., 2015),
      for ReLU networks.
    - ``"he_uniform"``: :math:`\mathcal{U}(-a, a)` with :math:`a = \sqrt{6 / n_{in}}`.
    - ``"zeros"``: every weight zero: all hidden units stay identical, which is the point
      of showing it.

    Parameters
    ----------
    model : nn.Module
        The model; its ``nn.Linear`` and ``nn.Conv*`` layers are re-initialised.
    scheme : str
        One of the names above.

    Returns
    -------
    nn.Module
        The same ``model``, for chaining.
    """
    check_model(model)
    check_choice(scheme, "scheme", _INIT_SCHEMES)
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    if not layers:
        raise ValueError(
            f"init_weights found no nn.Linear or nn.Conv layers in {type(model).__name__}"
        )
    with torch.no_grad():
        for layer in layers:
            weight = layer.weight
            if scheme in ("xavier", "xavier_normal"):
                nn.init.xavier_normal_(weight)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(weight)
            elif scheme in ("he", "he_normal"):
                nn.init.kaiming_normal_(weight, nonlinearity="relu")
            elif scheme == "he_uniform":
                nn.init.kaiming_uniform_(weight, nonlinearity="relu")
            else:
                nn.init.zeros_(weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return model


def _check_sizes(sizes: Sequence[int], *, name: str) -> list[int]:
    """``sizes`` as a list: layer widths, input first and output last, each an int >= 1."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {type_name(sizes)}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"{name} needs at least 2 entries (input and output), got {sizes}")
    for i, size in enumerate(sizes):
        check_int(size, f"{name}[{i}]", minimum=1)
    return sizes


def _activation_factory(activation):
    """Return (callable building one activation module, name for the repr)."""
    if isinstance(activation, str):
        key = activation.lower()
        if key not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(_ACTIVATIONS)} "
                f"(or an nn.Module class or instance); got {activation!r}"
            )
        return _ACTIVATIONS[key], key
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation, activation.__name__
    if isinstance(activation, nn.Module):
        # A copy per layer: a module with state (PReLU) must not be shared by accident.
        return (lambda: copy.deepcopy(activation)), repr(activation)
    raise TypeError(
        "activation must be a name, an nn.Module class or an nn.Module instance, "
        f"got {type_name(activation)}"
    )
