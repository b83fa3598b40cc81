"""Checks for chapter 8, dropout variants (exercises 8.1 to 8.4)."""

from __future__ import annotations

import math

import torch

from ..grading import NotYet, call, exercise, quiz

F64 = torch.float64


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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

@exercise("8.1", "Gaussian dropout")
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
        raise NotYet(f"at p = {p} the noise should have standard deviation "
                     f"sqrt(p / (1 - p)) = {std:.3f}, but y / x has {got:.3f}.")
    x = torch.randn(6, 7, generator=_generator(4), dtype=F64)
    if not torch.allclose(_run(answer, x, 0.0, True, _generator(2), what=what), x):
        raise NotYet("at p = 0 the noise has variance 0, so the output equals the input.")
    _check_generator(answer, lambda g: (x, 0.5, True, g), what)


# --- 8.3 DropPath in a residual block ----------------------------------------------------------

def _branch(t: torch.Tensor) -> torch.Tensor:
    """A fixed residual branch whose output is never 0, so every drop is visible."""
    return 0.5 * t.abs() + 1.0


@exercise("8.3", "DropPath in a residual block")
def _check_residual(answer) -> None:
    what = "residual_forward"
    p = 0.3
    for shape in ((5, 4), (3, 2, 4, 4)):
        x = torch.randn(shape, generator=_generator(1), dtype=F64)
        full = x + _branch(x)
        evaluated = _run(answer, x, _branch, p, False, _generator(2), what=what)
        if torch.allclose(evaluated, x + (1 - p) * _branch(x)):
            raise NotYet("in evaluation mode you scaled the branch by 1 - p; with the 1 / (1 - p) "
                         "scaling during training, nothing changes at test time.")
        if not torch.allclose(evaluated, full):
            raise NotYet("in evaluation mode (training=False) the block must compute "
                         "x + branch(x): DropPath is off at test time.")
        if not torch.allclose(_run(answer, x, _branch, 0.0, True, _generator(2), what=what),
                              full):
            raise NotYet("at p = 0 the block must compute x + branch(x).")
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
            raise NotYet("kept branches are not rescaled; divide them by 1 - p so the expected "
                         "output equals x + branch(x).")
        if not torch.allclose(values[~is_zero], torch.tensor(1 / (1 - p), dtype=F64)):
            raise NotYet("a kept branch should be multiplied by exactly 1 / (1 - p).")
        share = is_zero.double().mean().item()
        if share in (0.0, 1.0):
            raise NotYet("every example got the same coin: one draw for the whole batch. "
                         "Draw one coin per example.")
        if abs(share - p) > 0.05:
            raise NotYet(f"with p = {p} about {p:.0%} of the examples should lose their branch, "
                         f"but {share:.0%} did; keep each with probability 1 - p.")
    x = torch.randn(50, 4, generator=_generator(5), dtype=F64)
    _check_generator(answer, lambda g: (x, _branch, 0.5, True, g), what)


# --- 8.2 spatial dropout -----------------------------------------------------------------------

@exercise("8.2", "spatial dropout")
def _check_spatial(answer) -> None:
    what = "spatial_dropout"
    x = torch.rand(3, 4, 5, 5, generator=_generator(1), dtype=F64) + 0.5
    if not torch.allclose(_run(answer, x, 0.5, False, _generator(2), what=what), x):
        raise NotYet("in evaluation mode (training=False) return the input unchanged.")
    if not torch.allclose(_run(answer, x, 0.0, True, _generator(2), what=what), x):
        raise NotYet("at p = 0 nothing is dropped: return the input unchanged.")
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
            raise NotYet(f"with p = {p} about {p:.0%} of the channels should be dropped, but "
                         f"{share:.0%} were; keep each with probability 1 - p.")
    x = torch.rand(8, 6, 3, 3, generator=_generator(5), dtype=F64)
    _check_generator(answer, lambda g: (x, 0.5, True, g), what)


# --- 8.4 which variant --------------------------------------------------------------------------

quiz("8.4", "which variant",
     digest="701df451026be714391d89cb9458cd56f48933cee23a07a83446c8d024db60eb",
     hint="which variant keeps both the mean and the variance of its input, and so fits "
          "a network that relies on its activations staying standardised?",
     choices="abcd")
