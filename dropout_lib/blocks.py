"""Tiny convolutional models, to show where dropout goes in them (chapter 7).

- `tiny_cnn`: two 3x3 convolutions on 8x8 digit images, with element-wise dropout
  (`layers.Dropout`, like `nn.Dropout`) or whole-feature-map dropout
  (`variants.SpatialDropout`, like `nn.Dropout2d`) after each;
- `neighbour_correlation`: how alike adjacent pixels of feature maps are.

The attention models are in `transformer`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .functional import validate_p
from .initialisation import build
from .layers import Dropout
from .variants import SpatialDropout

__all__ = ["neighbour_correlation", "tiny_cnn"]


def tiny_cnn(
    p: float = 0.0,
    spatial: bool = False,
    channels: int = 16,
    n_classes: int = 10,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    layer: Callable[..., nn.Module] | None = None,
) -> nn.Sequential:
    """A small CNN for flat 64-pixel digits: it reshapes its input to (batch, 1, 8, 8) itself.

    Layout: `[conv 3x3 -> ReLU -> dropout] x 2 -> 2x2 max-pool -> Linear`. With `spatial=True`
    the dropout layers are `SpatialDropout`, which drops whole channels (Tompson et al., 2015)
    as `nn.Dropout2d` does; otherwise `Dropout`, which drops single pixels as `nn.Dropout`
    does. From the same generator state they draw the same masks as those torch layers.
    `layer` puts any other drop layer there instead (chapter 8's variants): it is called as
    `layer(p, generator=generator)`. `p = 0` adds no dropout layer.

    Args:
        p: drop rate of both dropout layers.
        spatial: drop whole feature maps instead of single activations.
        channels: feature maps per convolution.
        n_classes: outputs (logits).
        dtype, device: where the parameters live.
        generator: draws the initial weights and the masks (as in `models.mlp`); the global
            generator when None.
        layer: the drop layer's class (or any callable `(p, generator=...) -> module`);
            overrides `spatial`.

    Returns:
        An `nn.Sequential` mapping (batch, 64) to (batch, n_classes).
    """
    p = validate_p(p)
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    factory = {"dtype": dtype, "device": device, "generator": generator}

    def conv_stage(n_in: int) -> list[nn.Module]:
        stage: list[nn.Module] = [build(nn.Conv2d, n_in, channels, 3, padding=1, **factory),
                                  nn.ReLU()]
        if p > 0:
            kind = layer or (SpatialDropout if spatial else Dropout)
            stage.append(kind(p, generator=generator))
        return stage

    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        *conv_stage(1),
        *conv_stage(channels),
        nn.MaxPool2d(2),
        nn.Flatten(),
        build(nn.Linear, channels * 16, n_classes, **factory),
    )


def neighbour_correlation(maps: torch.Tensor) -> float:
    """Mean correlation between horizontally adjacent pixels of feature maps.

    For each channel, the values at (row, col) and (row, col + 1), pooled over the batch and
    all positions, give one Pearson correlation; the channels' correlations are averaged
    (channels that are constant are skipped).

    Args:
        maps: activations, shape (batch, channels, height, width), width at least 2.
    """
    if maps.dim() != 4 or maps.shape[-1] < 2:
        raise ValueError(f"maps must have shape (batch, channels, height, width >= 2), "
                         f"got {tuple(maps.shape)}")
    left = maps[..., :-1].transpose(0, 1).flatten(1)
    right = maps[..., 1:].transpose(0, 1).flatten(1)
    left = left - left.mean(dim=1, keepdim=True)
    right = right - right.mean(dim=1, keepdim=True)
    denominator = (left.norm(dim=1) * right.norm(dim=1))
    alive = denominator > 0
    if not alive.any():
        raise ValueError("every channel is constant; the correlation is undefined")
    return ((left * right).sum(dim=1)[alive] / denominator[alive]).mean().item()
