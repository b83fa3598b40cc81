"""Known answers for chapter 2's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as torch_functional

from ..registry import Known

# --- 2.1 ---------------------------------------------------------------------------------------


def _fixed_count_mask(shape, p, rng):
    """Keeps exactly round((1 - p) n) entries, shuffled: the right mean, not independent."""
    n = int(np.prod(shape))
    flat = np.zeros(n)
    flat[:round((1 - p) * n)] = 1
    rng.shuffle(flat)
    return flat.reshape(shape)


MASK_VARIANTS = (
    Known("binomial", lambda shape, p, rng: rng.binomial(1, 1 - p, size=shape).astype(bool)),
    Known("boolean comparison", lambda shape, p, rng: rng.random(shape) >= p),
    Known("float32 uniforms", lambda shape, p, rng: (rng.random(shape, dtype=np.float32) >= p)
          .astype(np.float32)),
    Known("integers", lambda shape, p, rng: (rng.random(shape) < 1 - p).astype(np.int64)),
)

MASK_MISTAKES = (
    Known("p as keep probability", lambda shape, p, rng: (rng.random(shape) < p).astype(float),
          "used p as the keep probability"),
    Known("binomial with p", lambda shape, p, rng: rng.binomial(1, p, size=shape),
          "used p as the keep probability"),
    Known("one mask for the batch",
          lambda shape, p, rng: np.broadcast_to(rng.random(shape[1]) >= p, shape),
          "one mask for the whole batch"),
    Known("one coin per example",
          lambda shape, p, rng: np.broadcast_to(rng.random((shape[0], 1)) >= p, shape),
          "keeps or drops whole examples"),
    Known("global np.random", lambda shape, p, rng: np.random.random(shape) >= p,
          "not from np.random"),
    Known("scaled mask", lambda shape, p, rng: (rng.random(shape) >= p) / (1 - p) if p < 1
          else np.zeros(shape), "the rescaling belongs to the forward pass"),
    Known("uniforms", lambda shape, p, rng: rng.random(shape), "only 0 (dropped) and 1 (kept)"),
    Known("transposed shape", lambda shape, p, rng: rng.random(shape[::-1]) >= p,
          "the requested shape"),
    Known("wrong rate", lambda shape, p, rng: rng.random(shape) >= 0.5 * p, "about 0.2 of them"),
    Known("torch tensor", lambda shape, p, rng: torch.rand(shape) >= p, "return a NumPy array"),
    Known("ones at p = 1", lambda shape, p, rng: np.ones(shape) if p == 1
          else rng.random(shape) >= p, "at p = 1 every entry should be 0"),
    Known("fixed count, shuffled", _fixed_count_mask, "a fixed count in a shuffled order"),
)

# --- 2.2 ---------------------------------------------------------------------------------------


def make_dropout(body):
    """A dropout function with a right skeleton (checks, edge cases) around a `body`."""
    def answer(x, p=0.5, training=True, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        if not training or p == 0:
            return x
        if p == 1:
            return torch.zeros_like(x)
        return body(x, p, generator)
    return answer


def keep_mask(x, p, generator):
    return (torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p).to(x.dtype)


def _bernoulli(x, p, g):
    return x * torch.bernoulli(torch.full_like(x, 1 - p), generator=g) / (1 - p)


def _float32_uniforms(x, p, g):
    return x * (torch.rand(x.shape, generator=g) >= p).to(x.dtype) / (1 - p)


def _fixed_count(x, p, g):
    keep = torch.zeros(x.numel(), dtype=x.dtype)
    keep[torch.randperm(x.numel(), generator=g)[:round((1 - p) * x.numel())]] = 1
    return x * keep.reshape(x.shape) / (1 - p)


def _right(x, p, g):
    return x * keep_mask(x, p, g) / (1 - p)


def _ignores_training(x, p=0.5, training=True, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    return torch.zeros_like(x) if p == 1 else _right(x, p, generator)


def _scales_in_eval(x, p=0.5, training=True, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    return x * (1 - p) if not training else make_dropout(_right)(x, p, True, generator)


def _off_by_default(x, p=0.5, training=False, generator=None):
    return make_dropout(_right)(x, p, training, generator)


def _no_special_case(x, p=0.5, training=True, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    return x if not training else x * keep_mask(x, p, generator) / (1 - p)


def _python_scale(x, p=0.5, training=True, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    return x if not training else x * keep_mask(x, p, generator) * (1 / (1 - p))


def _no_p_check(x, p=0.5, training=True, generator=None):
    if not training or p <= 0:
        return x
    return torch.zeros_like(x) if p >= 1 else _right(x, p, generator)


def _late_p_check(x, p=0.5, training=True, generator=None):
    return x if not training else make_dropout(_right)(x, p, training, generator)


def _assertion(x, p=0.5, training=True, generator=None):
    assert 0 <= p <= 1
    return make_dropout(_right)(x, p, training, generator)


def _drops_at_zero(x, p=0.5, training=True, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training:
        return x
    return torch.zeros_like(x) if p == 1 else x * keep_mask(x, max(p, 0.1), generator) / (1 - p)


DROPOUT_VARIANTS = (
    Known("torch.bernoulli", make_dropout(_bernoulli)),
    Known("float32 uniforms cast to x's dtype", make_dropout(_float32_uniforms)),
    Known("torch.where", make_dropout(lambda x, p, g: torch.where(
        torch.rand(x.shape, generator=g, dtype=x.dtype) < 1 - p, x / (1 - p),
        torch.zeros_like(x)))),
)

DROPOUT_MISTAKES = (
    Known("no rescaling", make_dropout(lambda x, p, g: x * keep_mask(x, p, g)),
          "you forgot to rescale"),
    Known("times 1 - p", make_dropout(lambda x, p, g: x * keep_mask(x, p, g) * (1 - p)),
          "rescale the other way"),
    Known("p as keep probability", make_dropout(
        lambda x, p, g: x * (torch.rand(x.shape, generator=g, dtype=x.dtype) < p) / p),
        "you used p as the keep probability"),
    Known("divided by p", make_dropout(lambda x, p, g: x * keep_mask(x, p, g) / p),
          "divided by p"),
    Known("drops in evaluation mode", _ignores_training,
          "with training=False your function still drops"),
    Known("rescales in evaluation mode", _scales_in_eval,
          "no mask and no rescaling in evaluation mode"),
    Known("training off by default", _off_by_default, "training should default to True"),
    Known("one mask for the batch", make_dropout(lambda x, p, g: x * (torch.rand(
        x.shape[-1], generator=g, dtype=x.dtype) >= p) / (1 - p)),
        "one mask for the whole batch"),
    Known("one coin per example", make_dropout(lambda x, p, g: x * (torch.rand(
        *x.shape[:-1], 1, generator=g, dtype=x.dtype) >= p) / (1 - p)),
        "keeps or drops whole examples"),
    Known("seeded inside", make_dropout(lambda x, p, g: _right(
        x, p, torch.Generator().manual_seed(0))), "two calls in a row gave the same mask"),
    Known("ignores the generator", lambda x, p=0.5, training=True, generator=None:
          torch_functional.dropout(x, p, training), "use the generator argument"),
    Known("in place", make_dropout(lambda x, p, g: x.mul_(keep_mask(x, p, g) / (1 - p))),
          "changed its input x in place"),
    Known("NaN at p = 1", _no_special_case, "at p = 1 the output holds NaN"),
    Known("ZeroDivisionError at p = 1", _python_scale,
          "at p = 1 your function raised ZeroDivisionError"),
    Known("detached", make_dropout(lambda x, p, g: _right(x.detach(), p, g)),
          "you broke autograd"),
    Known("through NumPy", make_dropout(lambda x, p, g: torch.from_numpy(
        x.numpy() * keep_mask(x, p, g).numpy() / (1 - p))), "given an input that requires grad"),
    Known("returns the mask", make_dropout(keep_mask), "you returned the mask"),
    Known("returns the scaled mask", make_dropout(lambda x, p, g: keep_mask(x, p, g) / (1 - p)),
          "you returned the mask"),
    Known("returns a boolean mask", make_dropout(lambda x, p, g: keep_mask(x, p, g).bool()),
          "you returned the mask (a boolean tensor)"),
    Known("float64 mask", make_dropout(lambda x, p, g: x * (torch.rand(
        x.shape, generator=g, dtype=torch.float64) >= p).double() / (1 - p)),
        "keep the input's dtype"),
    Known("no check of p", _no_p_check, "raise ValueError when it is outside [0, 1]"),
    Known("p checked in training only", _late_p_check, "even with training=False"),
    Known("assert on p", _assertion, "raise ValueError (as PyTorch does), not AssertionError"),
    Known("drops at p = 0", _drops_at_zero, "at p = 0 nothing is dropped"),
    Known("fixed count, shuffled", make_dropout(_fixed_count), "a fixed count in a shuffled"),
)

# --- 2.3 ---------------------------------------------------------------------------------------

BACKWARD_VARIANTS = (
    Known("torch.where", lambda g, m, p: torch.where(m.bool(), g / (1 - p), torch.zeros_like(g))),
    Known("float32", lambda g, m, p: g.float() * m.float() / (1 - p)),
)

BACKWARD_MISTAKES = (
    Known("no scale", lambda g, m, p: g * m, "you forgot the scale"),
    Known("times 1 - p", lambda g, m, p: g * m * (1 - p), "you multiplied by 1 - p"),
    Known("no mask", lambda g, m, p: g / (1 - p), "you ignored the mask"),
    Known("over p", lambda g, m, p: g * m / p, "you divided by p"),
    Known("unchanged", lambda g, m, p: g, "grad_output unchanged"),
    Known("no upstream gradient", lambda g, m, p: m / (1 - p), "the local derivative"),
    Known("in place", lambda g, m, p: g.mul_(m / (1 - p)), "changed grad_output or mask"),
    Known("NumPy", lambda g, m, p: (g * m / (1 - p)).numpy(), "return a torch.Tensor"),
    Known("summed", lambda g, m, p: (g * m / (1 - p)).sum(), "the shape of grad_output"),
)
