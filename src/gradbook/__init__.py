"""gradbook: autograd and neural networks with PyTorch, explained and tested.

The main names are available from the package root::

    from gradbook import MLP, fit, Adam, check_gradients, Value

Figure helpers live in :mod:`gradbook.plotting` (imported on demand, so that
``import gradbook`` does not set up matplotlib).
"""

from importlib.metadata import PackageNotFoundError, version

from gradbook.autodiff import Value
from gradbook.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from gradbook.data import make_moons, make_regression, make_spirals
from gradbook.distributed import launch
from gradbook.gradcheck import (
    GradientCheckError,
    GradientReport,
    assert_gradgrad,
    assert_gradients,
    check_gradgrad,
    check_gradients,
    check_module,
    numerical_jacobian,
)
from gradbook.graph import autograd_graph, draw_autograd_graph, to_dot
from gradbook.models import MLP, SimpleNet, count_parameters, init_weights, mlp_parameter_count
from gradbook.monitor import GradientFlowRecorder
from gradbook.optim import SGD, Adam, AdamW, RMSprop
from gradbook.train import Callback, EarlyStopping, History, evaluate, fit
from gradbook.utils import seed_everything

try:
    __version__ = version("gradbook")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Callback",
    "CheckpointError",
    "EarlyStopping",
    "GradientCheckError",
    "GradientFlowRecorder",
    "GradientReport",
    "History",
    "RMSprop",
    "SimpleNet",
    "Value",
    "__version__",
    "assert_gradgrad",
    "assert_gradients",
    "autograd_graph",
    "check_gradgrad",
    "check_gradients",
    "check_module",
    "count_parameters",
    "draw_autograd_graph",
    "evaluate",
    "fit",
    "init_weights",
    "launch",
    "load_checkpoint",
    "make_moons",
    "make_regression",
    "make_spirals",
    "mlp_parameter_count",
    "numerical_jacobian",
    "save_checkpoint",
    "seed_everything",
    "to_dot",
]
