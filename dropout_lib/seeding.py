"""The one helper in the library that touches global random state."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["set_seed"]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators, so a cell reruns identically.

    Everything else in `dropout_lib` takes its randomness as an argument (`seed`, `rng` or
    `generator`); call this once before building and training a model whose initial weights
    and dropout masks come from the global PyTorch generator.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
