"""Seeding before each example: ``reset_seeds``, a sphinx-gallery ``reset_modules`` hook.

conf.py names it ``"gradbook_sphinx.seeding.reset_seeds"``: sphinx-gallery imports a
dotted string in ``reset_modules`` as ``module.function``. It re-seeds Python, NumPy and
PyTorch before every example, so two builds print the same numbers.
"""

from __future__ import annotations

__all__ = ["reset_seeds"]


def reset_seeds(gallery_conf, fname):
    """Seed ``random``, NumPy and PyTorch before each example (sphinx-gallery hook).

    Also runs PyTorch on one thread: the tutorials' tensors are small, and on a
    shared 2-core machine a second thread makes small operations many times slower.
    """
    # imported here, not at the top: loading the extension must not import torch,
    # or a rebuild that runs no example would pay for it
    import torch

    from gradbook.utils import seed_everything

    seed_everything(0)
    torch.set_num_threads(1)
