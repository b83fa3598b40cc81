"""Known answers for chapter 8's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import math

import torch

from ...variants import drop_path
from ..registry import Known


def _noise(x, generator, mean=1.0, std=1.0):
    return mean + std * torch.randn(x.shape, generator=generator, dtype=x.dtype)


def _std(p):
    return math.sqrt(p / (1 - p))


# --- 8.1 ---------------------------------------------------------------------------------------


def _normal_(x, p, training, generator):
    if not training or p == 0:
        return x
    return torch.empty_like(x).normal_(1.0, _std(p), generator=generator) * x


def _float32_noise(x, p, training, generator):
    noise = 1 + _std(p) * torch.randn(x.shape, generator=generator)
    return x * noise.to(x.dtype) if training else x


def _uniform(x, p, training, generator):
    """Mean 1 and the right spread, but uniform: not Gaussian dropout."""
    if not training:
        return x
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return x * (1 + _std(p) * math.sqrt(3) * (2 * u - 1))


def _per_example(x, p, training, generator):
    if not training:
        return x
    return x * _noise(x[..., :1], generator, std=_std(p))


def _bernoulli(x, p, training, generator):
    if not training or p == 0:
        return x
    return x * torch.empty_like(x).bernoulli_(1 - p, generator=generator) / (1 - p)


GAUSSIAN_VARIANTS = (
    Known("normal_", _normal_),
    Known("noise drawn in float32", _float32_noise),
    Known("randn_like times std plus one", lambda x, p, training, generator: x * _noise(
        x, generator, std=_std(p)) if training else x.clone()),
)

GAUSSIAN_MISTAKES = (
    Known("std sqrt(p)", lambda x, p, t, g: x * _noise(x, g, std=math.sqrt(p)) if t else x,
          "standard deviation is sqrt(p);"),
    Known("std is the variance", lambda x, p, t, g: x * _noise(x, g, std=p / (1 - p)) if t else x,
          "which is the *variance*"),
    Known("sqrt((1 - p) / p)", lambda x, p, t, g: x * _noise(x, g, std=math.sqrt((1 - p) / p))
          if t and p > 0 else x, "sqrt((1 - p) / p)"),
    Known("noise added", lambda x, p, t, g: x + _noise(x, g, mean=0.0, std=_std(p)) if t else x,
          "the noise is added to x"),
    Known("noise in evaluation mode", lambda x, p, t, g: x * _noise(x, g, std=_std(p)),
          "no noise at test time"),
    Known("mean 0", lambda x, p, t, g: x * _noise(x, g, mean=0.0, std=_std(p)) if t else x,
          "the noise has mean 0"),
    Known("rescaled", lambda x, p, t, g: x * _noise(x, g, std=_std(p)) / (1 - p) if t else x,
          "no rescaling is needed"),
    Known("mean 1 - p", lambda x, p, t, g: x * _noise(x, g, mean=1 - p, std=_std(p)) if t else x,
          "the noise has mean 1 - p"),
    Known("Bernoulli", _bernoulli, "that is Bernoulli dropout"),
    Known("global generator", lambda x, p, t, g: x * (1 + _std(p) * torch.randn_like(x))
          if t else x, "from the `generator` argument"),
    Known("float32 output", lambda x, p, t, g: _normal_(x, p, t, g).float(),
          "keep the input's dtype"),
    Known("zeros at p = 0", lambda x, p, t, g: x * _noise(x, g, std=_std(p)) * (p > 0) if t else x,
          "at p = 0 the noise has variance 0"),
    Known("in place", lambda x, p, t, g: x.mul_(_noise(x, g, std=_std(p))) if t else x,
          "changed its input in place"),
    Known("a list", lambda x, p, t, g: x.tolist(), "should return a torch.Tensor"),
    Known("one row", lambda x, p, t, g: x[0], "the input's shape"),
    Known("uniform noise", _uniform, "is not normal"),
    Known("one noise value per example", _per_example, "one noise value per element"),
)

# --- 8.2 ---------------------------------------------------------------------------------------


def _channel_mask(shape, keep, x, generator):
    return torch.empty(shape, dtype=x.dtype).bernoulli_(keep, generator=generator)


def spatial_with(shape_of, keep_with_p=False, special_zero=True, scale=True):
    def answer(x, p, training, generator):
        if not training or (special_zero and p == 0):
            return x
        keep = _channel_mask(shape_of(x), p if keep_with_p else 1 - p, x, generator)
        return x * keep / (1 - p) if scale else x * keep
    return answer


def _fixed_count_channels(x, p, training, generator):
    """Drops exactly round(p C) channels of every example: the right share, no spread."""
    if not training or p == 0:
        return x
    n, c = x.shape[:2]
    keep = torch.ones(n, c, dtype=x.dtype)
    for i in range(n):
        keep[i, torch.randperm(c, generator=generator)[:round(p * c)]] = 0
    return x * keep[:, :, None, None] / (1 - p)


def _channels(x):
    return x.shape[:2] + (1, 1)


SPATIAL_VARIANTS = (
    Known("a (N, C, 1, 1) mask", spatial_with(_channels)),
    Known("comparison of uniforms", lambda x, p, t, g: x * (torch.rand(
        _channels(x), generator=g, dtype=x.dtype) >= p) / (1 - p) if t and p > 0 else x),
    Known("float32 coins", lambda x, p, t, g: x * (torch.rand(_channels(x), generator=g) >= p)
          .to(x.dtype) / (1 - p) if t and p > 0 else x),
)

SPATIAL_MISTAKES = (
    Known("element-wise", spatial_with(lambda x: x.shape), "that is element-wise dropout"),
    Known("shared across the batch", spatial_with(lambda x: (1, x.shape[1], 1, 1)),
          "shared across the batch"),
    Known("shared across channels", spatial_with(lambda x: (x.shape[0], 1, 1, 1)),
          "shared across channels"),
    Known("no rescaling", spatial_with(_channels, scale=False), "kept channels are not rescaled"),
    Known("active in evaluation mode", lambda x, p, t, g: spatial_with(_channels)(x, p, True, g),
          "in evaluation mode"),
    Known("keep and drop swapped", spatial_with(_channels, keep_with_p=True),
          "you used p as the keep probability"),
    Known("keep and drop swapped, no special case at p = 0",
          spatial_with(_channels, keep_with_p=True, special_zero=False),
          "you used p as the keep probability"),
    Known("global generator", lambda x, p, t, g: spatial_with(_channels)(x, p, t, None),
          "from the `generator` argument"),
    Known("a fixed count per example", _fixed_count_channels, "a fixed count in a shuffled"),
)

# --- 8.3 ---------------------------------------------------------------------------------------


def _per_example_mask(x, p, generator, keep_with_p=False):
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    draw = torch.rand(shape, generator=generator, dtype=x.dtype)
    return (draw < p) if keep_with_p else (draw >= p)


def _written_out(x, branch, p, training, generator):
    out = branch(x)
    if training and p > 0:
        out = out * _per_example_mask(x, p, generator) / (1 - p)
    return x + out


def _huang(x, branch, p, training, generator):
    """Huang et al.'s stochastic depth: one coin per batch, no scaling, (1 - p) at test time."""
    if not training:
        return x + (1 - p) * branch(x)
    keep = torch.rand((), generator=generator).item() >= p
    return x + branch(x) * keep


def _one_coin_scaled(x, branch, p, training, generator):
    if not training or p == 0:
        return x + branch(x)
    keep = torch.rand((), generator=generator).item() >= p
    return x + branch(x) * keep / (1 - p)


def _fixed_count_examples(x, branch, p, training, generator):
    if not training or p == 0:
        return x + branch(x)
    keep = torch.ones(x.shape[0], dtype=x.dtype)
    keep[torch.randperm(x.shape[0], generator=generator)[:round(p * x.shape[0])]] = 0
    return x + branch(x) * keep.reshape((-1,) + (1,) * (x.dim() - 1)) / (1 - p)


RESIDUAL_VARIANTS = (
    Known("a per-example mask", _written_out),
    Known("float32 coins", lambda x, branch, p, t, g: x + (branch(x) * (torch.rand(
        (x.shape[0],) + (1,) * (x.dim() - 1), generator=g) >= p).to(x.dtype) / (1 - p)
        if t and p > 0 else branch(x))),
)

RESIDUAL_MISTAKES = (
    Known("element-wise", lambda x, branch, p, t, g: x + branch(x) * (torch.empty_like(x)
          .bernoulli_(1 - p, generator=g) / (1 - p) if t else 1), "that is element-wise"),
    Known("no rescaling", lambda x, branch, p, t, g: x + drop_path(branch(x), p, t, g)
          * ((1 - p) if t else 1), "kept branches are not rescaled"),
    Known("identity dropped too", lambda x, branch, p, t, g: drop_path(x + branch(x), p, t, g),
          "you dropped the identity path too"),
    Known("active in evaluation mode", lambda x, branch, p, t, g: x + drop_path(
        branch(x), p, True, g), "DropPath is off at test time"),
    Known("Huang et al.'s form", _huang, "Huang et al. (2016)"),
    Known("one coin for the batch", _one_coin_scaled, "one coin per mini-batch"),
    Known("keep and drop swapped", lambda x, branch, p, t, g: x + branch(x) * (
        _per_example_mask(x, p, g, keep_with_p=True) / (1 - p) if t and p > 0 else 1),
        "you used p as the keep probability"),
    Known("global generator", lambda x, branch, p, t, g: x + drop_path(branch(x), p, t),
          "from the `generator` argument"),
    Known("the branch alone", lambda x, branch, p, t, g: branch(x), "evaluation mode"),
    Known("a fixed count of examples", _fixed_count_examples, "a fixed count in a shuffled"),
)
