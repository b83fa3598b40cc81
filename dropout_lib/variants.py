"""The dropout variants of chapter 8, built on the mask kernel of `functional`.

Each is a `layers.DropoutLayer`: it checks its arguments when it is built, draws on the input's
device from an optional `generator`, and is the identity in evaluation mode and at p = 0. One
draw removes a weight (`DropConnectLinear`), a channel (`SpatialDropout`), a block
(`DropBlock2d`) or an example's residual branch (`DropPath`); `GaussianDropout` multiplies by
noise instead, `AlphaDropout` keeps SELU's moments.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from .functional import (
    alpha_dropout,
    apply_mask,
    check_input,
    example_shape,
    feature_dropout,
    inverted_scale,
    keep_mask,
    structured_dropout,
    validate_p,
)
from .initialisation import reset_parameters
from .layers import DropoutLayer

__all__ = [
    "AlphaDropout", "DropBlock2d", "DropConnectLinear", "DropPath", "GaussianDropout",
    "Residual", "SpatialDropout", "drop_path", "dropblock_gamma", "linear_survival",
    "moment_matching_relu",
]


class DropConnectLinear(nn.Linear, DropoutLayer):
    """A `Linear` layer whose *weights* are dropped (Wan et al., 2013).

    Training: $y = x (M \\odot W)^T / (1-p) + b$ with $M_{ij} \\sim \\text{Bernoulli}(1-p)$, one
    mask per forward pass, shared by the examples of the batch (Wan et al. draw one per
    example, which costs a batch of weight matrices). The bias is not dropped.

    Evaluation: the plain weights, the mean pre-activation over all masks ("mean rule"). Wan et
    al. instead match a Gaussian to its mean and variance (`moment_matching_relu`).

    Args:
        in_features, out_features, bias, device, dtype: as for `torch.nn.Linear`
            (float64 by default, like the rest of the course).
        p: probability of dropping each weight, in [0, 1].
        generator: a `torch.Generator` on the layer's device: the initial weights (drawn as
            `nn.Linear` draws them), then the masks; the global generator when None.
    """

    per_example = False  # one weight mask per forward pass, for the whole batch

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, bias: bool = True,
                 generator: torch.Generator | None = None,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float64) -> None:
        # Built on the meta device, which draws nothing, then initialised from `generator`.
        super().__init__(in_features, out_features, bias=bias, device="meta", dtype=dtype)
        self.p = validate_p(p)
        self.generator = generator
        self.to_empty(device=torch.get_default_device() if device is None else device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.generator is None:  # also while nn.Linear builds the layer on the meta device
            super().reset_parameters()
        else:
            reset_parameters(self, self.generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return super().forward(x)
        keep = keep_mask(self.weight, 1.0 - self.p, generator=self.generator)
        weight = apply_mask(self.weight, keep, inverted_scale(self.p))
        return nn.functional.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return nn.Linear.extra_repr(self) + f", p={self.p}"


def moment_matching_relu(layer: DropConnectLinear, x: torch.Tensor) -> torch.Tensor:
    """Expected ReLU of a Gaussian with the moments of DropConnect's pre-activation (Wan et al.).

    With inverted scaling, $u_i = \\sum_j M_{ij} W_{ij} x_j / (1-p) + b_i$ has mean
    $\\mu_i = (W x)_i + b_i$ and variance $\\sigma_i^2 = \\frac{p}{1-p} \\sum_j W_{ij}^2 x_j^2$;
    for $u \\sim N(\\mu, \\sigma^2)$,
    $E[\\max(u, 0)] = \\mu \\Phi(\\mu/\\sigma) + \\sigma \\varphi(\\mu/\\sigma)$.

    Args:
        layer: a `DropConnectLinear` with p < 1 (at p = 1 every weight is dropped).
        x: inputs, shape (n, in_features).

    Returns:
        Shape (n, out_features): the moment-matched expected ReLU output.
    """
    p = validate_p(layer.p, allow_one=False)
    with torch.no_grad():
        mean = nn.functional.linear(x, layer.weight, layer.bias)
        if p == 0.0:
            return mean.clamp(min=0)
        variance = p / (1 - p) * nn.functional.linear(x**2, layer.weight**2)
        std = variance.sqrt().clamp(min=torch.finfo(x.dtype).tiny)
        normal = torch.distributions.Normal(torch.zeros((), dtype=x.dtype, device=x.device), 1.0)
        z = mean / std
        return mean * normal.cdf(z) + std * normal.log_prob(z).exp()


class GaussianDropout(DropoutLayer):
    """Multiplicative Gaussian noise with the mean and variance of inverted dropout.

    Training: $y = x \\odot \\varepsilon$ with $\\varepsilon_i \\sim N(1, p/(1-p))$, drawn for
    every element. $E[y] = x$, so evaluation is the identity and nothing is rescaled.

    Args:
        p: the drop rate whose variance is matched, in [0, 1): the variance is infinite at 1.
        generator: optional `torch.Generator` on the input's device.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator, allow_one=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        if not self.training or self.p == 0.0 or x.numel() == 0:
            return x
        noise = torch.empty_like(x).normal_(generator=self.generator)  # in x's layout
        return x * noise.mul_(math.sqrt(self.p / (1.0 - self.p))).add_(1.0)


class SpatialDropout(DropoutLayer):
    """Drop whole channels (feature maps), as `torch.nn.Dropout2d` does (Tompson et al., 2015).

    Input (N, C, H, W): one Bernoulli(1-p) draw per (example, channel); a kept channel is
    scaled by $1/(1-p)$, a dropped one is all zeros. Input (N, C, L), 3-D: like PyTorch 2.13,
    read as a batch of 1-D maps and dropped per (example, channel), with the same warning.
    Other ranks raise a `ValueError` (PyTorch only warns that they are deprecated).

    Args:
        p: probability of dropping each channel, in [0, 1].
        generator: optional `torch.Generator` on the input's device.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, dims=(3, 4))
        if x.dim() == 3:
            warnings.warn("SpatialDropout received a 3-D input; like torch.nn.Dropout2d it "
                          "reads it as (N, C, L) and drops whole channels of each example",
                          UserWarning, stacklevel=2)
        return feature_dropout(x, self.p, training=self.training, generator=self.generator)


class AlphaDropout(DropoutLayer):
    """Dropout for SELU networks that keeps zero mean and unit variance (Klambauer et al., 2017).

    A dropped unit becomes SELU's lower limit, then an affine map restores the moments (see
    `functional.alpha_dropout`), as in `torch.nn.AlphaDropout`. Evaluation and p = 0: the
    identity. p = 1: zeros, as in PyTorch.

    Args:
        p: probability of dropping each element, in [0, 1].
        generator: optional `torch.Generator` on the input's device.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return alpha_dropout(x, self.p, training=self.training, generator=self.generator)


def dropblock_gamma(p: float, block_size: int, height: int, width: int) -> float:
    """The seed rate of DropBlock (Ghiasi et al., 2018, eq. 1, for a rectangular map).

    $\\gamma = \\frac{p}{b^2} \\cdot \\frac{H W}{(H - b + 1)(W - b + 1)}$: each seed drops a
    $b \\times b$ block, and seeds may only fall where a whole block fits. Overlapping blocks
    make the dropped fraction come out somewhat below p.
    """
    p = validate_p(p)
    if not 1 <= block_size <= min(height, width):
        raise ValueError(f"block_size must be between 1 and the map's smaller side "
                         f"({min(height, width)}), got {block_size}")
    valid = (height - block_size + 1) * (width - block_size + 1)
    return p / block_size**2 * height * width / valid


class DropBlock2d(DropoutLayer):
    """Drop contiguous square blocks of each feature map (Ghiasi et al., 2018).

    Training on (N, C, H, W): block seeds are drawn with rate `dropblock_gamma` at the
    positions where a whole block fits, separately for each example and channel; each seed
    zeros a `block_size` x `block_size` square. The output is rescaled by
    (number of elements) / (number kept), counted over the whole tensor. Ghiasi et al.
    lower the keep probability 1 - p linearly from 1 during training; set `p` as you go.

    Args:
        p: the drop rate to aim for (1 - keep_prob in the paper), in [0, 1]; p = 1 gives zeros.
        block_size: side of the square blocks, at least 1 (1 is ordinary dropout).
        generator: optional `torch.Generator` on the input's device.
    """

    def __init__(self, p: float = 0.1, block_size: int = 3,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive int, got {block_size!r}")
        self.block_size = block_size

    def block_mask(self, x: torch.Tensor) -> torch.Tensor:
        """A 0/1 mask in `x`'s dtype and shape (N, C, H, W): zeros where a block was dropped."""
        check_input(x, dims=(4,))
        n, c, height, width = x.shape
        size = self.block_size
        gamma = dropblock_gamma(self.p, size, height, width)
        # A seed (True, with probability gamma) marks a block's top-left corner; padding then a
        # size x size max-pool spreads each seed over the square it covers.
        seeds = keep_mask(x, gamma, (n, c, height - size + 1, width - size + 1),
                          generator=self.generator).to(x.dtype)
        padded = nn.functional.pad(seeds, (size - 1, size - 1, size - 1, size - 1))
        return 1.0 - nn.functional.max_pool2d(padded, kernel_size=size, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, dims=(4,))
        if self.block_size > min(x.shape[2], x.shape[3]):
            raise ValueError(f"block_size {self.block_size} does not fit in a "
                             f"{x.shape[2]}x{x.shape[3]} map")
        if not self.training or self.p == 0.0 or x.numel() == 0:
            return x
        if self.p == 1.0:
            return apply_mask(x, keep_mask(x, 0.0, ()), 0.0)  # zeros, with a (zero) gradient
        keep = self.block_mask(x) == 1.0
        kept = int(keep.sum())
        return apply_mask(x, keep, keep.numel() / kept if kept else 0.0)

    def extra_repr(self) -> str:
        return f"p={self.p}, block_size={self.block_size}"


def drop_path(x: torch.Tensor, p: float = 0.1, training: bool = True,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Drop whole examples of `x` (a residual branch's output): stochastic depth.

    $y_n = m_n x_n / (1-p)$ with one $m_n \\sim \\text{Bernoulli}(1-p)$ per example (the first
    dimension; a 0-dim `x` is one example), so a dropped example's branch contributes nothing
    and the block is the identity for it (Huang et al., 2016, in the per-example form of timm).
    Identity in evaluation mode and at p = 0; zeros at p = 1.

    Args:
        x: the branch output, shape (N, ...).
        p: probability of dropping the branch for each example, in [0, 1].
        training: when False, `x` is returned.
        generator: optional `torch.Generator` on `x`'s device.
    """
    return structured_dropout(x, p, training, generator, example_shape)


class DropPath(DropoutLayer):
    """`drop_path` as a module (rate `p`, optional `generator`): put it on a residual branch,
    never on the identity path."""

    def __init__(self, p: float = 0.1, generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, training=self.training, generator=self.generator)


class Residual(nn.Module):
    """$y = x + \\text{DropPath}(\\text{branch}(x))$: a residual block with stochastic depth.

    `branch` is any module whose output has its input's shape; `p` and `generator` go to
    DropPath.
    """

    def __init__(self, branch: nn.Module, p: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.branch = branch
        self.drop_path = DropPath(p, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.branch(x))


def linear_survival(n_blocks: int, final_survival: float = 0.5) -> list[float]:
    """Survival probabilities falling linearly from 1 to `final_survival` (Huang et al., 2016).

    Block $l$ of $L$ (counted from 1) survives with $1 - \\frac{l}{L}(1 - p_L)$; its DropPath
    rate is one minus that.
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 1:
        raise ValueError(f"n_blocks must be a positive int, got {n_blocks!r}")
    final_survival = validate_p(final_survival, "final_survival")
    return [1.0 - (block / n_blocks) * (1.0 - final_survival) for block in range(1, n_blocks + 1)]
