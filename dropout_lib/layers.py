"""Dropout as `torch.nn.Module`s (chapter 2 onwards) and its variants (chapter 8)."""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from .functional import dropout, validate_p

__all__ = [
    "AlphaDropout", "DropBlock2d", "DropConnectLinear", "DropPath", "Dropout", "GaussianDropout",
    "Residual", "SpatialDropout", "drop_path", "dropblock_gamma", "linear_survival",
    "moment_matching_relu",
]


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


# --- chapter 8: variants -------------------------------------------------------------------------
# Each variant draws its random numbers on the input's device from an optional `generator`, is
# the identity in evaluation mode and at p = 0, and checks its arguments when it is built.

# SELU's constants (Klambauer et al., 2017); -SELU_SCALE * SELU_ALPHA is SELU's lower limit.
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
ALPHA_PRIME = SELU_SCALE * SELU_ALPHA  # 1.7580993408473766, the constant in PyTorch's kernel


def _keep_mask(
    shape: tuple[int, ...], keep_prob: float, like: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Ones with probability `keep_prob`, zeros otherwise, in `like`'s dtype and on its device."""
    mask = torch.empty(shape, dtype=like.dtype, device=like.device)
    return mask.bernoulli_(keep_prob, generator=generator)


def _check_tensor(x: object, min_dim: int = 1, allowed: tuple[int, ...] | None = None) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if allowed is not None and x.dim() not in allowed:
        raise ValueError(f"x must have {' or '.join(map(str, allowed))} dimensions, "
                         f"got shape {tuple(x.shape)}")
    if x.dim() < min_dim:
        raise ValueError(f"x needs at least {min_dim} dimensions, got shape {tuple(x.shape)}")


class DropConnectLinear(nn.Linear):
    """A `Linear` layer whose *weights* are dropped (Wan et al., 2013), chapter 8.

    Training: $y = x (M \\odot W)^T / (1-p) + b$ with $M_{ij} \\sim \\text{Bernoulli}(1-p)$, one
    mask per forward pass, shared by the examples of the batch (Wan et al. draw one per
    example, which costs a batch of weight matrices). The bias is not dropped.

    Evaluation (the inference rule used here): the plain weights, $y = x W^T + b$. Because the
    kept weights were scaled by $1/(1-p)$, this is the mean of the training-time pre-activation
    over all masks, the same "mean rule" as inverted dropout. Wan et al. instead match a
    Gaussian to the pre-activation's mean and variance and average the activation over samples
    of it; `moment_matching_relu` computes that average for a ReLU in closed form.

    Args:
        in_features, out_features, bias, device, dtype: as for `torch.nn.Linear`
            (float64 by default, like the rest of the course).
        p: probability of dropping each weight, in [0, 1].
        generator: optional `torch.Generator` on the layer's device, for reproducible masks.
    """

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, bias: bool = True,
                 generator: torch.Generator | None = None,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.p = validate_p(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return super().forward(x)
        keep_prob = 1.0 - self.p
        if keep_prob == 0.0:
            weight = torch.zeros_like(self.weight)
        else:
            mask = _keep_mask(tuple(self.weight.shape), keep_prob, self.weight, self.generator)
            weight = self.weight * mask / keep_prob
        return nn.functional.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", p={self.p}"


def moment_matching_relu(layer: DropConnectLinear, x: torch.Tensor) -> torch.Tensor:
    """Expected ReLU of a Gaussian with the moments of DropConnect's pre-activation (Wan et al.).

    With inverted scaling, $u_i = \\sum_j M_{ij} W_{ij} x_j / (1-p) + b_i$ has mean
    $\\mu_i = (W x)_i + b_i$ and variance $\\sigma_i^2 = \\frac{p}{1-p} \\sum_j W_{ij}^2 x_j^2$;
    for $u \\sim N(\\mu, \\sigma^2)$,
    $E[\\max(u, 0)] = \\mu \\Phi(\\mu/\\sigma) + \\sigma \\varphi(\\mu/\\sigma)$.

    Args:
        layer: a `DropConnectLinear`.
        x: inputs, shape (n, in_features).

    Returns:
        Shape (n, out_features): the moment-matched expected ReLU output.
    """
    with torch.no_grad():
        mean = nn.functional.linear(x, layer.weight, layer.bias)
        if layer.p == 0.0:
            return mean.clamp(min=0)
        if layer.p == 1.0:
            raise ValueError("moment matching needs p < 1: at p = 1 every weight is dropped")
        variance = layer.p / (1 - layer.p) * nn.functional.linear(x**2, layer.weight**2)
        std = variance.sqrt().clamp(min=torch.finfo(x.dtype).tiny)
        normal = torch.distributions.Normal(torch.zeros((), dtype=x.dtype, device=x.device), 1.0)
        z = mean / std
        return mean * normal.cdf(z) + std * normal.log_prob(z).exp()


class GaussianDropout(nn.Module):
    """Multiplicative Gaussian noise with the mean and variance of inverted dropout, chapter 8.

    Training: $y = x \\odot \\varepsilon$ with $\\varepsilon_i \\sim N(1, p/(1-p))$, drawn for
    every element. $E[y] = x$, so evaluation is the identity and nothing is rescaled.

    Args:
        p: the drop rate whose variance is matched, in [0, 1); p = 1 would need infinite
            variance.
        generator: optional `torch.Generator` on the input's device.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = validate_p(p)
        if self.p == 1.0:
            raise ValueError("p must be below 1 for Gaussian dropout: the noise variance "
                             "p / (1 - p) is infinite at p = 1")
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tensor(x)
        if not self.training or self.p == 0.0 or x.numel() == 0:
            return x
        std = math.sqrt(self.p / (1.0 - self.p))
        noise = torch.randn(x.shape, generator=self.generator, dtype=x.dtype, device=x.device)
        return x * (1.0 + std * noise)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SpatialDropout(nn.Module):
    """Drop whole channels (feature maps), as `torch.nn.Dropout2d` does (Tompson et al., 2015).

    Input (N, C, H, W): one Bernoulli(1-p) draw per (example, channel); a kept channel is
    scaled by $1/(1-p)$, a dropped one is all zeros. Input (N, C, L), 3-D: like PyTorch 2.13,
    read as a batch of 1-D maps and dropped per (example, channel), with the same warning.
    Other ranks raise a `ValueError` (PyTorch only warns that they are deprecated).

    Args:
        p: probability of dropping each channel, in [0, 1].
        generator: optional `torch.Generator` on the input's device.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = validate_p(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tensor(x, allowed=(3, 4))
        if x.dim() == 3:
            warnings.warn("SpatialDropout received a 3-D input; like torch.nn.Dropout2d it "
                          "reads it as (N, C, L) and drops whole channels of each example",
                          UserWarning, stacklevel=2)
        if not self.training or self.p == 0.0 or x.numel() == 0:
            return x
        keep_prob = 1.0 - self.p
        if keep_prob == 0.0:
            return torch.zeros_like(x)
        shape = (x.shape[0], x.shape[1]) + (1,) * (x.dim() - 2)  # broadcasts over the map
        return x * _keep_mask(shape, keep_prob, x, self.generator) / keep_prob

    def extra_repr(self) -> str:
        return f"p={self.p}"


class AlphaDropout(nn.Module):
    """Dropout for SELU networks that keeps zero mean and unit variance (Klambauer et al., 2017).

    Training: a dropped unit is set to SELU's lower limit $\\alpha' = -\\lambda\\alpha$, then every
    unit goes through the affine map $a x + b$ with $a = ((\\alpha'^2 p + 1)(1-p))^{-1/2}$ and
    $b = -a \\alpha' p$, chosen so that an input with mean 0 and variance 1 keeps both. So a
    kept unit becomes $a x + b$ and a dropped one $a \\alpha' + b$, as in `torch.nn.AlphaDropout`.
    Evaluation and p = 0: the identity. p = 1: zeros, as in PyTorch.

    Args:
        p: probability of dropping each element, in [0, 1].
        generator: optional `torch.Generator` on the input's device.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = validate_p(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tensor(x)
        if not self.training or self.p == 0.0 or x.numel() == 0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        low = -ALPHA_PRIME
        a = 1.0 / math.sqrt((low**2 * self.p + 1.0) * (1.0 - self.p))
        b = -a * low * self.p
        keep = _keep_mask(tuple(x.shape), 1.0 - self.p, x, self.generator)
        return a * (x * keep + low * (1.0 - keep)) + b

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dropblock_gamma(p: float, block_size: int, height: int, width: int) -> float:
    """The seed rate of DropBlock (Ghiasi et al., 2018, eq. 1, for a rectangular map).

    $\\gamma = \\frac{p}{b^2} \\cdot \\frac{H W}{(H - b + 1)(W - b + 1)}$: each seed drops a
    $b \\times b$ block, and seeds may only fall where a whole block fits. Overlapping blocks
    make the dropped fraction come out somewhat below p.
    """
    if not 1 <= block_size <= min(height, width):
        raise ValueError(f"block_size must be between 1 and the map's smaller side "
                         f"({min(height, width)}), got {block_size}")
    valid = (height - block_size + 1) * (width - block_size + 1)
    return p / block_size**2 * height * width / valid


class DropBlock2d(nn.Module):
    """Drop contiguous square blocks of each feature map (Ghiasi et al., 2018), chapter 8.

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
        super().__init__()
        self.p = validate_p(p)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive int, got {block_size!r}")
        self.block_size = block_size
        self.generator = generator

    def block_mask(self, x: torch.Tensor) -> torch.Tensor:
        """A 0/1 mask of `x`'s shape (N, C, H, W): zeros where a block was dropped."""
        _check_tensor(x, allowed=(4,))
        n, c, height, width = x.shape
        size = self.block_size
        gamma = dropblock_gamma(self.p, size, height, width)
        seeds = torch.empty((n, c, height - size + 1, width - size + 1), dtype=x.dtype,
                            device=x.device).bernoulli_(gamma, generator=self.generator)
        # A seed marks a block's top-left corner; padding then a size x size max-pool spreads
        # each seed over the square it covers.
        padded = nn.functional.pad(seeds, (size - 1, size - 1, size - 1, size - 1))
        dropped = nn.functional.max_pool2d(padded, kernel_size=size, stride=1)
        return 1.0 - dropped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tensor(x, allowed=(4,))
        if self.block_size > min(x.shape[2], x.shape[3]):
            raise ValueError(f"block_size {self.block_size} does not fit in a "
                             f"{x.shape[2]}x{x.shape[3]} map")
        if not self.training or self.p == 0.0 or x.numel() == 0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        mask = self.block_mask(x)
        kept = mask.sum()
        if kept == 0:
            return torch.zeros_like(x)
        return x * mask * (mask.numel() / kept)

    def extra_repr(self) -> str:
        return f"p={self.p}, block_size={self.block_size}"


def drop_path(x: torch.Tensor, p: float = 0.1, training: bool = True,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Drop whole examples of `x` (a residual branch's output): stochastic depth, chapter 8.

    $y_n = m_n x_n / (1-p)$ with one $m_n \\sim \\text{Bernoulli}(1-p)$ per example (the first
    dimension), so a dropped example's branch contributes nothing and the block is the identity
    for it (Huang et al., 2016). Identity in evaluation mode and at p = 0; zeros at p = 1.

    Args:
        x: the branch output, shape (N, ...).
        p: probability of dropping the branch for each example, in [0, 1].
        training: when False, `x` is returned.
        generator: optional `torch.Generator` on `x`'s device.
    """
    _check_tensor(x)
    p = validate_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    keep_prob = 1.0 - p
    if keep_prob == 0.0:
        return torch.zeros_like(x)
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    return x * _keep_mask(shape, keep_prob, x, generator) / keep_prob


class DropPath(nn.Module):
    """`drop_path` as a module: put it on a residual branch, never on the identity path.

    Args:
        p: probability of dropping the branch for each example, in [0, 1].
        generator: optional `torch.Generator` on the input's device.
    """

    def __init__(self, p: float = 0.1, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = validate_p(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, training=self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Residual(nn.Module):
    """$y = x + \\text{DropPath}(\\text{branch}(x))$: a residual block with stochastic depth.

    Args:
        branch: any module whose output has its input's shape.
        p: DropPath's drop rate for the branch.
        generator: optional `torch.Generator` for DropPath.
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
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be positive, got {n_blocks}")
    final_survival = validate_p(final_survival, "final_survival")
    return [1.0 - (block / n_blocks) * (1.0 - final_survival) for block in range(1, n_blocks + 1)]
