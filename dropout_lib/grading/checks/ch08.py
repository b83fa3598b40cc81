"""Checks for chapter 8, dropout variants (exercises 8.1 to 8.4)."""

from __future__ import annotations

import math

import torch

from ...variants import GaussianDropout, SpatialDropout, drop_path
from ..helpers import generator as _generator
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch08_answers as known
from .masks import check_count_spread

F64 = torch.float64
HUANG = ("Huang et al. (2016), who introduced stochastic depth, drew one coin per mini-batch, did "
         "not scale in training and multiplied the branch by its survival probability at test "
         "time. This exercise asks for the later per-example form (as in timm): one coin per "
         "example, kept branches divided by 1 - p in training, and x + branch(x) at test time.")


def gaussian_reference(x, p, training, generator):
    return GaussianDropout(p, generator=generator).train(training)(x)


def spatial_reference(x, p, training, generator):
    return SpatialDropout(p, generator=generator).train(training)(x)


def residual_reference(x, branch, p, training, generator):
    return x + drop_path(branch(x), p, training, generator)


def _share_hint(share: float, p: float, what: str) -> str:
    if abs(share - (1 - p)) < 0.05:
        return (f"with p = {p} about {share:.0%} of the {what} were dropped instead of {p:.0%}: "
                "you used p as the keep probability. p is the probability of DROPPING; keep "
                "with probability 1 - p.")
    return (f"with p = {p} about {p:.0%} of the {what} should be dropped, but {share:.0%} "
            "were; keep each with probability 1 - p.")


def _as_output(value, x: torch.Tensor, what: str) -> torch.Tensor:
    """The learner's output as a tensor of x's shape and dtype, or a hint."""
    if not isinstance(value, torch.Tensor):
        raise NotYet(f"{what} should return a torch.Tensor, got {type(value).__name__}.")
    if value.shape != x.shape:
        raise NotYet(f"the output should have the input's shape {tuple(x.shape)}, "
                     f"got {tuple(value.shape)}.")
    if value.dtype != x.dtype:
        raise NotYet(f"the output should keep the input's dtype ({x.dtype}), got {value.dtype}; "
                     "create random numbers with dtype=x.dtype and device=x.device.")
    return value.detach()


def _run(answer, x: torch.Tensor, *args, what: str) -> torch.Tensor:
    original = x.clone()
    out = _as_output(call(answer, x, *args), x, what)
    if not torch.equal(x, original):
        raise NotYet("your function changed its input in place; return a new tensor instead.")
    return out


def _check_generator(answer, make_args, what: str) -> None:
    """Same generator seed: same output; another seed: another output."""
    first = call(answer, *make_args(_generator(5)))
    again = call(answer, *make_args(_generator(5)))
    other = call(answer, *make_args(_generator(6)))
    if not (isinstance(first, torch.Tensor) and isinstance(again, torch.Tensor)
            and isinstance(other, torch.Tensor)):
        raise NotYet(f"{what} should return a torch.Tensor.")
    if not torch.equal(first, again) or torch.equal(first, other):
        raise NotYet("draw every random number from the `generator` argument (pass "
                     "generator=generator to torch.randn or torch.bernoulli), so that the same "
                     "seed gives the same output.")


# --- 8.1 Gaussian dropout ---------------------------------------------------------------------

def _check_normal(ratio: torch.Tensor) -> None:
    """The noise's skewness and excess kurtosis are 0 for a normal distribution; over 200,000
    draws their standard errors are 0.0055 and 0.011, so 0.05 and 0.1 are far outside."""
    z = (ratio - ratio.mean()) / ratio.std()
    skew, kurtosis = (z**3).mean().item(), (z**4).mean().item() - 3
    if abs(skew) > 0.05 or abs(kurtosis) > 0.1:
        raise NotYet(f"the noise has the right mean and spread but is not normal (skewness "
                     f"{skew:.2f} and excess kurtosis {kurtosis:.2f}, where a normal "
                     "distribution has 0 and 0): draw it with torch.randn, not torch.rand or "
                     "another distribution.")


@exercise("8.1", "Gaussian dropout", reference=gaussian_reference,
          fallback="multiply each element by its own normal noise with mean 1 and variance "
                   "p / (1 - p), in training mode only.",
          variants=known.GAUSSIAN_VARIANTS, mistakes=known.GAUSSIAN_MISTAKES)
def _check_gaussian(answer) -> None:
    what = "gaussian_dropout"
    for shape in ((7, 5), (3, 4, 5)):
        x = torch.randn(shape, generator=_generator(1), dtype=F64)
        evaluated = _run(answer, x, 0.5, False, _generator(2), what=what)
        if not torch.allclose(evaluated, x):
            raise NotYet("in evaluation mode (training=False) the layer must return its input "
                         "unchanged: no noise at test time.")
    for p in (0.5, 0.2, 0.8):
        x = torch.full((400, 500), 3.0, dtype=F64)
        y = _run(answer, x, p, True, _generator(3), what=what)
        std = math.sqrt(p / (1 - p))
        if (y == 0).double().mean().item() > 0.05:
            raise NotYet("many outputs are exactly 0: that is Bernoulli dropout. Gaussian "
                         "dropout multiplies by noise drawn from a normal distribution.")
        added = y - x
        ratio = y / x
        if p == 0.5 and bool((ratio == ratio[:, :1]).all()):
            raise NotYet("every element of an example got the same noise value; draw one noise "
                         "value per element (noise of x's full shape).")
        if abs(added.mean().item()) < 0.05 and abs(added.std().item() / std - 1) < 0.03 \
                and abs(ratio.std().item() / std - 1) > 0.1:
            raise NotYet("the noise is added to x; Gaussian dropout *multiplies* x by noise "
                         "with mean 1, so large inputs get proportionally large noise.")
        mean = ratio.mean().item()
        if abs(mean) < 0.05:
            raise NotYet("the noise has mean 0, so the output has mean 0; the multiplicative "
                         "noise must have mean 1 (1 + std * standard normal).")
        if abs(mean - 1 / (1 - p)) < 0.05:
            raise NotYet("the output has mean x / (1 - p): you rescaled by 1 / (1 - p). "
                         "Noise with mean 1 already keeps the mean; no rescaling is needed.")
        if abs(mean - (1 - p)) < 0.05:
            raise NotYet("the noise has mean 1 - p; it must have mean 1 so that E[y] = x.")
        if abs(mean - 1) > 0.05:
            raise NotYet(f"the noise should have mean 1, but y / x averages {mean:.2f}.")
        got = ratio.std().item()
        if abs(got / std - 1) < 0.03:
            _check_normal(ratio)
            continue
        if abs(got / math.sqrt(p) - 1) < 0.03:
            raise NotYet("the noise's standard deviation is sqrt(p); to match inverted "
                         "dropout's variance it must be sqrt(p / (1 - p)).")
        if abs(got / (p / (1 - p)) - 1) < 0.03:
            raise NotYet("the standard deviation is p / (1 - p), which is the *variance*; "
                         "take its square root.")
        if abs(got / math.sqrt((1 - p) / p) - 1) < 0.03:
            raise NotYet("the standard deviation is sqrt((1 - p) / p): p is the drop rate, "
                         "so use sqrt(p / (1 - p)).")
        raise NotYet(f"at p = {p} the noise has standard deviation {got:.3f}; Gaussian dropout's "
                     "has the variance of inverted dropout's mask, p / (1 - p).")
    x = torch.randn(6, 7, generator=_generator(4), dtype=F64)
    if not torch.allclose(_run(answer, x, 0.0, True, _generator(2), what=what), x):
        raise NotYet("at p = 0 the noise has variance 0, so the output equals the input.")
    _check_generator(answer, lambda g: (x, 0.5, True, g), what)


# --- 8.3 DropPath in a residual block ----------------------------------------------------------

def _branch(t: torch.Tensor) -> torch.Tensor:
    """A fixed residual branch whose output is never 0, so every drop is visible."""
    return 0.5 * t.abs() + 1.0


@exercise("8.3", "DropPath in a residual block", reference=residual_reference,
          fallback="return x + branch(x), with the branch of each example dropped with "
                   "probability p in training and the kept branches scaled by 1 / (1 - p).",
          variants=known.RESIDUAL_VARIANTS, mistakes=known.RESIDUAL_MISTAKES)
def _check_residual(answer) -> None:
    what = "residual_forward"
    p = 0.3
    for shape in ((5, 4), (3, 2, 4, 4)):
        x = torch.randn(shape, generator=_generator(1), dtype=F64)
        full = x + _branch(x)
        evaluated = _run(answer, x, _branch, p, False, _generator(2), what=what)
        if torch.allclose(evaluated, x + (1 - p) * _branch(x)):
            raise NotYet("in evaluation mode you scaled the branch by 1 - p, its survival "
                         "probability: " + HUANG)
        if not torch.allclose(evaluated, full):
            raise NotYet("in evaluation mode (training=False) the block must compute "
                         "x + branch(x): DropPath is off at test time.")
    for shape in ((4000, 6), (4000, 2, 3, 3)):
        x = torch.randn(shape, generator=_generator(3), dtype=F64)
        branch = _branch(x)
        y = _run(answer, x, _branch, p, True, _generator(4), what=what)
        rows = y.flatten(1)
        if (rows == 0).all(1).double().mean().item() > 0.1:
            raise NotYet("whole examples come out as zeros: you dropped the identity path too. "
                         "Only the branch is dropped; the block returns x + dropped branch.")
        factor = ((y - x) / branch).flatten(1)
        per_example = factor[:, :1]
        if not torch.allclose(factor, per_example.expand_as(factor)):
            raise NotYet("the mask varies inside an example: that is element-wise dropout. "
                         "Draw one coin per example (mask shape (N, 1, ...)), so the whole "
                         "branch is dropped or kept.")
        values = per_example.ravel()
        is_zero = torch.isclose(values, torch.zeros((), dtype=F64))
        if torch.allclose(values[~is_zero], torch.ones((), dtype=F64)):
            raise NotYet("kept branches are not rescaled in training. " + HUANG)
        if not torch.allclose(values[~is_zero], torch.tensor(1 / (1 - p), dtype=F64)):
            raise NotYet("a kept branch should be multiplied by exactly 1 / (1 - p).")
        share = is_zero.double().mean().item()
        if share in (0.0, 1.0):
            raise NotYet("every example got the same coin, one draw for the whole batch. " + HUANG)
        if abs(share - p) > 0.05:
            raise NotYet(_share_hint(share, p, "examples' branches"))
    x = torch.randn(40, 3, generator=_generator(6), dtype=F64)
    draws = _generator(7)
    check_count_spread(lambda: (_run(answer, x, _branch, p, True, draws, what=what) - x)
                       .flatten(1)[:, 0], 40, p)
    for shape in ((5, 4), (3, 2, 4, 4)):
        x = torch.randn(shape, generator=_generator(1), dtype=F64)
        if not torch.allclose(_run(answer, x, _branch, 0.0, True, _generator(2), what=what),
                              x + _branch(x)):
            raise NotYet("at p = 0 the block must compute x + branch(x).")
    x = torch.randn(50, 4, generator=_generator(5), dtype=F64)
    _check_generator(answer, lambda g: (x, _branch, 0.5, True, g), what)


# --- 8.2 spatial dropout -----------------------------------------------------------------------

@exercise("8.2", "spatial dropout", reference=spatial_reference,
          fallback="zero each whole channel of each example with probability p, independently, "
                   "and scale the kept channels by 1 / (1 - p), in training mode only.",
          variants=known.SPATIAL_VARIANTS, mistakes=known.SPATIAL_MISTAKES)
def _check_spatial(answer) -> None:
    what = "spatial_dropout"
    x = torch.rand(3, 4, 5, 5, generator=_generator(1), dtype=F64) + 0.5
    if not torch.allclose(_run(answer, x, 0.5, False, _generator(2), what=what), x):
        raise NotYet("in evaluation mode (training=False) return the input unchanged.")
    for p, shape in ((0.5, (300, 20, 4, 4)), (0.2, (200, 30, 3, 5))):
        x = torch.rand(shape, generator=_generator(3), dtype=F64) + 0.5
        y = _run(answer, x, p, True, _generator(4), what=what)
        zero = (y == 0).flatten(2)
        if not torch.equal(zero.all(-1), zero.any(-1)):
            raise NotYet("some channels are only partly zeroed: that is element-wise dropout. "
                         "Draw one coin per (example, channel), mask shape (N, C, 1, 1).")
        dropped = zero.all(-1)  # (N, C)
        if (dropped == dropped[:1]).all():
            raise NotYet("every example drops the same channels: the mask is shared across "
                         "the batch. Draw one coin per example *and* channel.")
        if (dropped == dropped[:, :1]).all():
            raise NotYet("an example loses all its channels or none: the mask is shared across "
                         "channels. Draw one coin per example *and* channel.")
        kept = y[~dropped] / x[~dropped]
        if torch.allclose(kept, torch.ones((), dtype=F64)):
            raise NotYet("kept channels are not rescaled; multiply them by 1 / (1 - p).")
        if not torch.allclose(kept, torch.tensor(1 / (1 - p), dtype=F64)):
            raise NotYet("kept channels should be multiplied by exactly 1 / (1 - p).")
        share = dropped.double().mean().item()
        if abs(share - p) > 0.05:
            raise NotYet(_share_hint(share, p, "channels"))
    few, draws = torch.rand(10, 20, 2, 2, generator=_generator(6), dtype=F64) + 0.5, _generator(7)
    check_count_spread(lambda: (_run(answer, few, 0.3, True, draws, what=what) != 0)
                       .flatten(2).any(-1), 200, 0.3)
    out = _run(answer, x[:4], 0.0, True, _generator(2), what=what)
    if not torch.allclose(out, x[:4]):
        if bool((out == 0).all()):
            raise NotYet("at p = 0 every channel was dropped: you keep a channel with "
                         "probability p. p is the probability of DROPPING; keep with "
                         "probability 1 - p.")
        raise NotYet("at p = 0 nothing is dropped: return the input unchanged.")
    x = torch.rand(8, 6, 3, 3, generator=_generator(5), dtype=F64)
    _check_generator(answer, lambda g: (x, 0.5, True, g), what)


# --- 8.4 the value of a dropped unit ---------------------------------------------------------

# The answer is stored as a digest; the known wrong numbers are written to three decimals.
quiz("8.4", "the value of a dropped unit",
     digest="e90fba8f0a943590d36e908ad8dfa40571dbb327c5f9fb441cff9cb80f014d52",
     step=0.001,
     fallback="a dropped unit starts at SELU's lower limit and then goes through a x + b; find "
              "a and b from the two conditions (mean 0 and variance 1 for a standard normal "
              "input, of which a share p is replaced), at p = 0.2, and give three decimals.",
     mistakes={
         -1.758: "that is SELU's lower limit, the value before the affine map: every unit, "
                 "dropped or kept, then goes through a x + b.",
         -1.545: "you applied the scale a but not the shift b: the map is a x + b.",
         -1.4065: "that scales the lower limit by the keep probability; a and b come from the "
                  "mean and variance conditions, not from 1 - p alone.",
         0.0: "alpha dropout does not zero a unit, as standard dropout does: a dropped unit is "
              "first set to SELU's lower limit.",
         0.309: "that is b alone, where a kept input of 0 ends up; a dropped unit starts from "
                "SELU's lower limit, not from 0.",
         -0.422: "that is the value at p = 0.8: p is the probability of *dropping* a unit.",
     })
