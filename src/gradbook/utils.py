"""Small shared helpers: one place for seeding."""

from __future__ import annotations

import random

import numpy as np
import torch

from gradbook._validation import check_seed

__all__ = ["seed_everything"]


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and, when present, CUDA).

    Two runs that call ``seed_everything(s)`` with the same ``s`` and then do the same
    work print the same numbers. The docs build calls it before every tutorial.
    """
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
