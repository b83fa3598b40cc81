"""A tiny Transformer on digits, to show where dropout goes in attention models (chapter 7).

- `AttentionBlock`: one pre-norm self-attention block with attention-weight dropout and
  residual dropout as separate, named modules;
- `FeedForwardBlock`: the per-token ReLU layer that follows, with its own residual dropout;
- `digit_transformer`: an 8x8 digit read as 8 tokens, one per row of pixels, through one
  Transformer layer (the two blocks), pooled and classified;
- `fit`: many `digit_transformer`s trained side by side (`stacked.train`), each exactly as
  `training.fit` trains it alone (tested in `tests/test_transformer.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .data import Split
from .functional import validate_p
from .initialisation import build
from .layers import Dropout
from .stacked import Masks, train

__all__ = ["AttentionBlock", "FeedForwardBlock", "MeanOverTokens", "Positions",
           "digit_transformer", "fit"]

ROWS = 8  # tokens per digit: its rows of 8 pixels


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


class FeedForwardBlock(nn.Module):
    """The other half of a Transformer layer: $x + \\text{Drop}_r(W_2\\,\\text{ReLU}(W_1\\,
    \\text{LN}(x)))$, applied to each token alone, with residual dropout as in `AttentionBlock`.

    Args:
        d_model: width of each token's vector.
        d_hidden: width of the hidden layer.
        residual_p: the drop rate on the block's output before the residual sum.
        dtype, device: where the parameters live.
        generator: draws the initial weights and the masks; the global generator when None.
    """

    def __init__(self, d_model: int, d_hidden: int, residual_p: float = 0.1,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        factory = {"dtype": dtype, "device": device, "generator": generator}
        self.norm = nn.LayerNorm(d_model, dtype=dtype, device=device)
        self.hidden = build(nn.Linear, d_model, d_hidden, **factory)
        self.out = build(nn.Linear, d_hidden, d_model, **factory)
        self.residual_dropout = Dropout(validate_p(residual_p, "residual_p"), generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (..., d_model) to the same shape."""
        return x + self.residual_dropout(self.out(torch.relu(self.hidden(self.norm(x)))))


class Positions(nn.Module):
    """Adds a learned vector to each token position: (batch, tokens, d) to the same shape.

    Attention alone does not know the order of its tokens; this tells it which row is which.
    The vectors start at 0.1 times a standard normal draw from `generator`.
    """

    def __init__(self, tokens: int, d_model: int, dtype: torch.dtype = torch.float64,
                 device: torch.device | str | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        start = torch.randn((tokens, d_model), dtype=dtype, device=device, generator=generator)
        self.weight = nn.Parameter(0.1 * start)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight


class MeanOverTokens(nn.Module):
    """(batch, tokens, d) to (batch, d): the mean over the tokens."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


def digit_transformer(
    attention_p: float = 0.0,
    residual_p: float = 0.0,
    d_model: int = 32,
    n_heads: int = 2,
    d_hidden: int = 64,
    n_classes: int = 10,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """A one-layer Transformer for flat 64-pixel digits, each row of 8 pixels one token.

    Layout: `rows as tokens -> Linear(8, d_model) -> Positions -> AttentionBlock ->
    FeedForwardBlock -> LayerNorm -> MeanOverTokens -> Linear(d_model, n_classes)`: one
    pre-norm Transformer layer. `attention_p` drops attention weights; `residual_p` drops the
    output of both blocks before each residual sum.

    Args:
        attention_p, residual_p: the drop rates.
        d_model, n_heads: token width and heads; `d_model` divisible by `n_heads`.
        d_hidden: width of the feed-forward block's hidden layer.
        n_classes: outputs (logits).
        dtype, device: where the parameters live.
        generator: draws the initial weights (in the order of the layout) and the masks; the
            global generator when None.

    Returns:
        An `nn.Sequential` mapping (batch, 64) to (batch, n_classes).
    """
    factory = {"dtype": dtype, "device": device}
    return nn.Sequential(
        nn.Unflatten(1, (ROWS, 64 // ROWS)),
        build(nn.Linear, 64 // ROWS, d_model, generator=generator, **factory),
        Positions(ROWS, d_model, generator=generator, **factory),
        AttentionBlock(d_model, n_heads, attention_p, residual_p, generator=generator,
                       **factory),
        FeedForwardBlock(d_model, d_hidden, residual_p, generator=generator, **factory),
        nn.LayerNorm(d_model, **factory),
        MeanOverTokens(),
        build(nn.Linear, d_model, n_classes, generator=generator, **factory),
    )


def _parts(model: nn.Module) -> tuple[nn.Module, ...]:
    """The layers of a `digit_transformer` that hold parameters."""
    kinds = [nn.Unflatten, nn.Linear, Positions, AttentionBlock, FeedForwardBlock, nn.LayerNorm,
             MeanOverTokens, nn.Linear]
    if (not isinstance(model, nn.Sequential) or len(model) != len(kinds)
            or not all(isinstance(m, k) for m, k in zip(model, kinds, strict=True))):
        raise TypeError("transformer.fit trains digit_transformer models")
    return model[1], model[2], model[3], model[4], model[5], model[7]


def fit(models: Sequence[nn.Module], splits: Split | Sequence[Split],
        checkpoints: Sequence[int] | Sequence[Sequence[int]],
        generators: Sequence[torch.Generator], lr: float = 1e-3, batch_size: int = 64,
        weight_decay: float = 0.0, with_train: bool = False) -> list[np.ndarray]:
    """Train `digit_transformer`s side by side with Adam, as `stacked.fit` trains MLPs.

    Run r is `models[r]` trained as `training.fit(models[r], splits[r], lr=lr,
    batch_size=batch_size, weight_decay=weight_decay, generator=generators[r])` trains it,
    for `checkpoints[r][-1]` steps, up to rounding; the arguments and the returned errors are
    those of `stacked.fit`. The models need the same `d_model`, `n_heads` and `d_hidden`;
    their rates may differ, and each run's three dropout layers draw from that run's own
    generator, which no other run may share.
    """
    models = list(models)
    if not models:
        raise ValueError("give at least one model")
    parts = [_parts(model) for model in models]
    if len({(p[2].n_heads, p[0].weight.shape, p[3].hidden.weight.shape)
            for p in parts}) != 1:
        raise ValueError("the models of one stack need the same d_model, n_heads and "
                         "d_hidden")
    n_heads = parts[0][2].n_heads
    d_model = parts[0][0].out_features
    # sites: 0 the attention weights, 1 and 2 the blocks' outputs; drawn in the order of
    # the forward pass
    masks = Masks([(p[2].attention_dropout, p[2].residual_dropout, p[3].residual_dropout)
                   for p in parts])

    def targets(run: int) -> list[torch.Tensor]:
        """Run `run`'s parameters, as the stack holds them (Linear weights transposed)."""
        embed, positions, attention, feed, final, head = parts[run]

        def linear(m: nn.Linear) -> list[torch.Tensor]:
            return [m.weight.T, m.bias[None]]

        def norm(m: nn.LayerNorm) -> list[torch.Tensor]:
            return [m.weight.view(1, 1, -1), m.bias.view(1, 1, -1)]

        return [*linear(embed), positions.weight[None], *norm(attention.norm),
                *linear(attention.qkv), *linear(attention.out), *norm(feed.norm),
                *linear(feed.hidden), *linear(feed.out), *norm(final), *linear(head)]

    params = [torch.stack([t.detach() for t in run])
              for run in zip(*(targets(r) for r in range(len(parts))), strict=True)]
    norm_shape = (d_model,)

    def forward(params: list[torch.Tensor], x: torch.Tensor,
                active: list[int] | None = None) -> torch.Tensor:
        (embed_w, embed_b, positions, norm_w, norm_b, qkv_w, qkv_b, out_w, out_b, norm2_w,
         norm2_b, hidden_w, hidden_b, out2_w, out2_b, final_w, final_b, head_w, head_b) = params
        runs, batch = x.shape[:2]
        tokens = x.reshape(runs, batch * ROWS, -1)
        h = torch.baddbmm(embed_b, tokens, embed_w).view(runs, batch, ROWS, d_model)
        h = h + positions
        n = nn.functional.layer_norm(h, norm_shape) * norm_w + norm_b
        qkv = torch.baddbmm(qkv_b, n.view(runs, batch * ROWS, d_model), qkv_w)
        qkv = qkv.view(runs, batch, ROWS, 3, n_heads, -1).permute(3, 0, 1, 4, 2, 5)
        query, key, value = qkv  # each (runs, batch, heads, tokens, d_head)
        scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
        weights = scores.softmax(dim=-1)
        if active is not None:
            weights = masks(weights, 0, active)
        mixed = (weights @ value).transpose(2, 3).reshape(runs, batch * ROWS, d_model)
        out = torch.baddbmm(out_b, mixed, out_w).view(runs, batch, ROWS, d_model)
        if active is not None:
            out = masks(out, 1, active)
        h = h + out
        n = nn.functional.layer_norm(h, norm_shape) * norm2_w + norm2_b
        hidden = torch.relu(torch.baddbmm(hidden_b, n.view(runs, batch * ROWS, d_model),
                                          hidden_w))
        out = torch.baddbmm(out2_b, hidden, out2_w).view(runs, batch, ROWS, d_model)
        if active is not None:
            out = masks(out, 2, active)
        h = h + out
        pooled = (nn.functional.layer_norm(h, norm_shape) * final_w + final_b).mean(dim=2)
        return torch.baddbmm(head_b, pooled, head_w)

    def write_back(runs: list[int], params: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for a, r in enumerate(runs):
                for target, value in zip(targets(r), params, strict=True):
                    target.copy_(value[a])

    return train(models, params, forward, write_back, splits, checkpoints, generators, lr,
                 batch_size, weight_decay, with_train)
