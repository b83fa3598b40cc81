"""Tiny convolutional and attention models, to show where dropout goes in them (chapter 7).

- `tiny_cnn`: two 3x3 convolutions on 8x8 digit images, with element-wise dropout
  (`layers.Dropout`, like `nn.Dropout`) or whole-feature-map dropout
  (`variants.SpatialDropout`, like `nn.Dropout2d`) after each;
- `neighbour_correlation`: how alike adjacent pixels of feature maps are;
- `AttentionBlock`: one pre-norm self-attention block with attention-weight dropout and
  residual dropout as separate, named modules.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .functional import validate_p
from .initialisation import build
from .layers import Dropout
from .variants import SpatialDropout

__all__ = ["AttentionBlock", "neighbour_correlation", "tiny_cnn"]


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


class AttentionBlock(nn.Module):
    """One pre-norm self-attention block: $x + \\text{Drop}_r(\\text{Attn}(\\text{LN}(x)))$.

    Two dropout layers, in the places Transformers put them (residual dropout: Vaswani et
    al., 2017, section 5.4; attention dropout: the tensor2tensor code and BERT):

    - `attention_dropout` on the attention weights (each row of the softmax), so a query
      randomly ignores some keys; the surviving weights are scaled by $1/(1-p)$, so a row no
      longer sums to 1 in training;
    - `residual_dropout` on the block's output before it is added to the residual stream; the
      stream itself is never dropped.

    The weights of the last forward pass are kept in `last_attention`, shape
    (batch, heads, queries, keys).

    Args:
        d_model: width of each token's vector; divisible by `n_heads`.
        n_heads: attention heads.
        attention_p, residual_p: the two drop rates.
        dtype, device: where the parameters live.
        generator: draws the initial weights and the masks; the global generator when None.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 1,
        attention_p: float = 0.1,
        residual_p: float = 0.1,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if d_model < 1 or n_heads < 1 or d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a positive multiple of n_heads "
                             f"({n_heads})")
        factory = {"dtype": dtype, "device": device, "generator": generator}
        self.n_heads = n_heads
        self.norm = nn.LayerNorm(d_model, dtype=dtype, device=device)
        self.qkv = build(nn.Linear, d_model, 3 * d_model, **factory)
        self.attention_dropout = Dropout(validate_p(attention_p, "attention_p"), generator)
        self.out = build(nn.Linear, d_model, d_model, **factory)
        self.residual_dropout = Dropout(validate_p(residual_p, "residual_p"), generator)
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, tokens, d_model) to the same shape."""
        if x.dim() != 3:
            raise ValueError(f"x must have shape (batch, tokens, d_model), got {tuple(x.shape)}")
        batch, tokens, d_model = x.shape
        heads = self.qkv(self.norm(x)).view(batch, tokens, 3, self.n_heads, -1)
        query, key, value = heads.permute(2, 0, 3, 1, 4)  # each (batch, heads, tokens, d_head)
        scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
        weights = self.attention_dropout(scores.softmax(dim=-1))
        self.last_attention = weights.detach()
        mixed = (weights @ value).transpose(1, 2).reshape(batch, tokens, d_model)
        return x + self.residual_dropout(self.out(mixed))
