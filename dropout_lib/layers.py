"""Dropout as `torch.nn.Module`s, built on the reference functions (chapter 2 onwards)."""

from __future__ import annotations

import torch
from torch import nn

from .functional import dropout, validate_p

__all__ = ["Dropout"]


class Dropout(nn.Module):
    """Element-wise dropout with PyTorch's meaning of `p` (the drop probability).

    Active after `model.train()`, the identity after `model.eval()`.

    Args:
        p: probability of dropping each element, in [0, 1]; checked here, at construction.
        generator: optional `torch.Generator` for reproducible masks; the global one if None.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = validate_p(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, training=self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"
