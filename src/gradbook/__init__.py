"""gradbook: autograd and neural networks with PyTorch, explained and tested."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gradbook")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
