"""Dropout as a `torch.nn.Module` (chapter 2 onwards), the base of every dropout layer of the
course, and the one way to find the dropout layers of a model.

Every dropout layer of the library (`Dropout` here, `inference.StandardDropout`, the variants of
chapter 8 in `variants`) subclasses `DropoutLayer`: it checks its rate `p` (the *drop*
probability, as in PyTorch) when it is built, draws its masks from an optional `generator`, is
active after `model.train()` and the identity after `model.eval()`.
"""

from __future__ import annotations

import torch
from torch import nn

from .functional import dropout, validate_p

__all__ = ["Dropout", "DropoutLayer", "dropout_layers", "is_dropout"]

# The base class of every torch.nn dropout layer: Dropout, Dropout1d/2d/3d, AlphaDropout and
# FeatureAlphaDropout.
_TORCH_DROPOUT = nn.modules.dropout._DropoutNd


class DropoutLayer(nn.Module):
    """Base of the course's dropout layers: a checked rate `p` and an optional `generator`.

    Args:
        p: the drop probability, in [0, 1] ([0, 1) with `allow_one=False`).
        generator: a `torch.Generator` on the input's device for reproducible masks; the global
            one when None. `mc.mc_predict` swaps it for the call when given its own.
        allow_one: whether p = 1 is allowed.

    Attributes:
        per_example: True when every example of a batch gets its own random draw, so that a
            batch repeated T times gives T independent samples (`mc.sample` relies on it);
            False for a layer that draws once per forward pass (`variants.DropConnectLinear`).
    """

    per_example: bool = True

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None, *,
                 allow_one: bool = True) -> None:
        super().__init__()
        self.p = validate_p(p, allow_one=allow_one)
        self.generator = generator

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(DropoutLayer):
    """Element-wise dropout with PyTorch's meaning of `p` (the drop probability), chapter 2.

    Active after `model.train()`, the identity after `model.eval()`. From the same generator
    state it draws the same masks as `torch.nn.Dropout`.

    Args:
        p: probability of dropping each element, in [0, 1]; checked here, at construction.
        generator: optional `torch.Generator` for reproducible masks; the global one if None.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, training=self.training, generator=self.generator)


def is_dropout(module: nn.Module) -> bool:
    """Whether `module` is a dropout layer: one of the course's (`DropoutLayer`) or of `torch.nn`
    (`Dropout`, `Dropout1d/2d/3d`, `AlphaDropout`, `FeatureAlphaDropout`).

    A module that calls `torch.nn.functional.dropout` in its own `forward`, such as
    `torch.nn.MultiheadAttention`, is not a dropout layer: its rate is not a module of its own.
    """
    return isinstance(module, DropoutLayer | _TORCH_DROPOUT)


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The dropout layers of `model` (see `is_dropout`), in `model.modules()` order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [module for module in model.modules() if is_dropout(module)]
