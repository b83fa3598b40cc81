"""Property tests (Hypothesis) of the contract every dropout layer and variant of the library
shares, each with its own rule where it differs:

- p = 0 is the identity and evaluation mode is the identity (standard dropout: $(1-p)x$);
- p = 1 gives zeros (alpha dropout too; Gaussian dropout refuses p = 1);
- the mean is preserved (standard dropout: $(1-p)x$; alpha dropout: its affine map), within six
  standard deviations of the mean of the independent draws;
- the gradient is mask / (1 - p) (or the variant's own multiplier);
- the input is never modified; shape, dtype, device and memory layout are kept;
- 0-dim and empty inputs work (layers that need (N, C, ...) raise a `ValueError` for 0-dim);
- inf and NaN in dropped places never leak into the output.

Hypothesis runs derandomized, so the examples are the same on every run; every random draw
inside comes from a seeded `torch.Generator`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dropout_lib import functional, inference, layers, variants
from dropout_lib.functional import ALPHA_PRIME

SETTINGS = settings(max_examples=12, derandomize=True, deadline=None, database=None)
# SpatialDropout warns on 3-D input, as torch.nn.Dropout2d does; tests/test_variants.py checks it.
pytestmark = pytest.mark.filterwarnings("ignore:SpatialDropout received a 3-D input")
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA device on this machine")),
]


def gen(seed: int, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def alpha_constants(p: float) -> tuple[float, float, float]:
    """(a, b, value of a dropped unit) of alpha dropout at rate p."""
    low = -ALPHA_PRIME
    a = 1.0 / math.sqrt((low**2 * p + 1.0) * (1.0 - p))
    b = -a * low * p
    return a, b, a * low + b


@dataclass(frozen=True)
class Subject:
    """A dropout layer or function under test, and its own rules."""

    name: str
    train: Callable  # (p, generator) -> function of x, in training mode
    evaluate: Callable  # p -> function of x, in evaluation mode
    kind: str  # "inverted", "standard", "alpha" or "gaussian": the value rule
    per: str  # what one draw covers: "element", "channel", "example" or "block"
    ranks: tuple[int, ...]  # the ranks it accepts
    allow_one: bool = True

    def __repr__(self) -> str:
        return self.name


def module(cls, **kwargs):
    return (lambda p, g: cls(p, generator=g, **kwargs).train(),
            lambda p: cls(p, **kwargs).eval())


def function(fn, **kwargs):
    return (lambda p, g: functools.partial(fn, p=p, training=True, generator=g, **kwargs),
            lambda p: functools.partial(fn, p=p, training=False, **kwargs))


ANY_RANK = (0, 1, 2, 3, 4)
SUBJECTS = [
    Subject("functional.dropout", *function(functional.dropout), "inverted", "element", ANY_RANK),
    Subject("layers.Dropout", *module(layers.Dropout), "inverted", "element", ANY_RANK),
    Subject("inference.StandardDropout", *module(inference.StandardDropout), "standard",
            "element", ANY_RANK),
    Subject("variants.GaussianDropout", *module(variants.GaussianDropout), "gaussian", "element",
            ANY_RANK, allow_one=False),
    Subject("functional.feature_dropout", *function(functional.feature_dropout), "inverted",
            "channel", (2, 3, 4)),
    Subject("variants.SpatialDropout", *module(variants.SpatialDropout), "inverted", "channel",
            (3, 4)),
    Subject("functional.alpha_dropout", *function(functional.alpha_dropout), "alpha", "element",
            ANY_RANK),
    Subject("functional.alpha_dropout(feature)",
            *function(functional.alpha_dropout, feature=True), "alpha", "channel", (2, 3, 4)),
    Subject("variants.AlphaDropout", *module(variants.AlphaDropout), "alpha", "element",
            ANY_RANK),
    Subject("variants.DropBlock2d", *module(variants.DropBlock2d, block_size=2), "inverted",
            "block", (4,)),
    Subject("variants.drop_path", *function(variants.drop_path), "inverted", "example",
            ANY_RANK),
    Subject("variants.DropPath", *module(variants.DropPath), "inverted", "example", ANY_RANK),
]


def rates(subject: Subject, low: float = 0.0):
    """Drop rates to try: the edges and values in between."""
    top = 1.0 if subject.allow_one else 0.95
    edges = [p for p in (0.0, 0.5, 1.0) if low <= p <= top]
    return st.sampled_from(edges) | st.floats(max(low, 1e-3), min(top, 0.99))


@st.composite
def inputs(draw, subject: Subject, positive: bool = True, device: str = "cpu"):
    """A float tensor of an accepted rank (at least 2x2 maps for DropBlock), in a drawn layout:
    contiguous, permuted, channels_last or sliced (not dense)."""
    rank = draw(st.sampled_from([r for r in subject.ranks if r > 0]))
    least = 2 if subject.per == "block" else 1
    shape = [draw(st.integers(least if i >= 2 else 1, 5)) for i in range(rank)]
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**16))
    base = torch.rand(shape, generator=gen(seed), dtype=torch.float64) + 0.5
    values = base if positive else base - 1.0
    layout = draw(st.sampled_from(["contiguous", "permuted", "channels_last", "sliced"]))
    if layout == "permuted" and rank >= 2:
        order = draw(st.permutations(range(rank)))
        inverse = [order.index(i) for i in range(rank)]
        values = values.permute(order).contiguous().permute(inverse)
    elif layout == "channels_last" and rank == 4:
        values = values.contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":
        values = torch.cat([values, values], dim=-1)[..., ::2]
    return values.to(dtype=dtype, device=device)


def layout(t: torch.Tensor) -> list[int]:
    """The strides of the dimensions longer than 1 (a dimension of size 1 has no layout)."""
    return [stride for stride, size in zip(t.stride(), t.shape, strict=True) if size > 1]


def expected_layout(x: torch.Tensor) -> list[int]:
    """The layout `torch.nn.functional.dropout` gives its output: that of `empty_like(x)`."""
    return layout(torch.empty_like(x))


def dropped_value(subject: Subject, p: float, dtype: torch.dtype) -> torch.Tensor:
    """The value of a dropped place, computed in `dtype` as the kernel computes it."""
    if subject.kind != "alpha" or p == 1.0:
        return torch.zeros((), dtype=dtype)
    a, b, _ = alpha_constants(p)
    return torch.full((), a * -ALPHA_PRIME, dtype=dtype).add_(b)


@pytest.mark.parametrize("subject", SUBJECTS, ids=repr)
@pytest.mark.parametrize("device", DEVICES)
@SETTINGS
@given(data=st.data())
def test_shape_dtype_device_layout_kept_and_input_untouched(subject, device, data):
    x = data.draw(inputs(subject, device=device))
    p = data.draw(rates(subject))
    before = x.clone()
    out = subject.train(p, gen(data.draw(st.integers(0, 99)), device))(x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out is x or layout(out) == expected_layout(x)
    assert torch.equal(x, before)
    evaluated = subject.evaluate(p)(x)
    if subject.kind == "standard" and p > 0:
        torch.testing.assert_close(evaluated, x * (1 - p))
    else:
        assert evaluated is x


@pytest.mark.parametrize("subject", SUBJECTS, ids=repr)
@SETTINGS
@given(data=st.data())
def test_p_zero_is_the_identity_and_p_one_its_own_rule(subject, data):
    x = data.draw(inputs(subject))
    assert subject.train(0.0, gen(0))(x) is x
    if not subject.allow_one:
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            subject.train(1.0, gen(0))(x)
        return
    out = subject.train(1.0, gen(0))(x)
    assert torch.equal(out, torch.zeros_like(x))  # alpha dropout too, as in PyTorch


@pytest.mark.parametrize("subject", [s for s in SUBJECTS if s.kind != "gaussian"], ids=repr)
@SETTINGS
@given(data=st.data())
def test_inf_and_nan_never_leak_from_dropped_places(subject, data):
    clean = data.draw(inputs(subject))
    p = data.draw(rates(subject, low=0.05))
    seed = data.draw(st.integers(0, 99))
    reference = subject.train(p, gen(seed))(clean)
    fill = dropped_value(subject, p, clean.dtype)
    dropped = reference == fill  # the inputs are positive: a kept value is never `fill`
    poisoned = clean.clone()  # the same memory order, so the same masks are drawn
    every_other = torch.arange(clean.numel()).reshape(clean.shape) % 2 == 0
    poisoned[every_other] = math.inf
    poisoned[~every_other] = math.nan
    out = subject.train(p, gen(seed))(poisoned)
    assert torch.all(out[dropped] == fill), "a dropped place does not hold its fill value"
    assert torch.equal(out.isnan(), ~dropped & ~every_other)  # NaN only where kept


@pytest.mark.parametrize("subject", [s for s in SUBJECTS if s.kind != "gaussian"], ids=repr)
@SETTINGS
@given(data=st.data())
def test_gradient_is_the_mask_times_the_scale(subject, data):
    x = data.draw(inputs(subject)).to(torch.float64).requires_grad_()
    p = data.draw(rates(subject, low=0.05))
    out = subject.train(p, gen(data.draw(st.integers(0, 99))))(x)
    out.sum().backward()
    if p == 1.0:
        assert torch.equal(x.grad, torch.zeros_like(x))
        return
    a = alpha_constants(p)[0]
    # the inputs are positive, so a kept value is never the value of a dropped place
    kept = (out != dropped_value(subject, p, out.dtype)).double()
    if subject.kind == "alpha":
        scale = a
    elif subject.kind == "standard":
        scale = 1.0
    elif subject.per == "block":
        n_kept = kept.sum().item()
        scale = kept.numel() / n_kept if n_kept else 0.0  # nothing kept: no gradient
    else:
        scale = 1.0 / (1.0 - p)
    torch.testing.assert_close(x.grad, kept * scale, rtol=1e-12, atol=0)


@pytest.mark.parametrize("subject", [s for s in SUBJECTS if s.kind == "gaussian"], ids=repr)
@SETTINGS
@given(data=st.data())
def test_gaussian_gradient_is_its_noise(subject, data):
    x = data.draw(inputs(subject)).to(torch.float64).requires_grad_()
    p = data.draw(rates(subject, low=0.05))
    out = subject.train(p, gen(1))(x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out / x).detach(), rtol=1e-12, atol=0)


# The mean: a constant input c, many independent draws.
BIG = {"element": (200, 100), "channel": (5000, 4, 2, 2), "example": (20_000, 3),
       "block": (50, 4, 8, 8)}


def draws(subject: Subject, shape: tuple[int, ...]) -> int:
    """The number of independent Bernoulli (or Gaussian) draws in one call on `shape`."""
    return {"element": math.prod(shape), "channel": shape[0] * shape[1],
            "example": shape[0], "block": 1}[subject.per]


@pytest.mark.parametrize("subject", SUBJECTS, ids=repr)
@settings(max_examples=8, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_the_mean_is_preserved_within_six_standard_deviations(subject, data):
    c = 0.8
    shape = BIG[subject.per]
    p = data.draw(st.floats(0.01, 0.95))
    out = subject.train(p, gen(data.draw(st.integers(0, 99))))(
        torch.full(shape, c, dtype=torch.float64))
    n = draws(subject, shape)
    a, b, fill = alpha_constants(p)
    if subject.kind == "standard":
        mean, variance = (1 - p) * c, c**2 * p * (1 - p)
    elif subject.kind == "alpha":
        mean, variance = (1 - p) * (a * c + b) + p * fill, (a * c + b - fill) ** 2 * p * (1 - p)
    else:  # inverted and Gaussian dropout: a factor with mean 1 and variance p / (1 - p)
        mean, variance = c, c**2 * p / (1 - p)
    if subject.per == "block":
        # DropBlock rescales by the share actually kept: the mean is exact
        assert out.mean().item() == pytest.approx(c, rel=1e-12)
    else:
        assert abs(out.mean().item() - mean) < 6 * math.sqrt(variance / n)


@pytest.mark.parametrize("subject", SUBJECTS, ids=repr)
def test_zero_dim_and_empty_inputs(subject):
    scalar = torch.tensor(2.0, dtype=torch.float64)
    if 0 in subject.ranks:
        out = subject.train(0.5, gen(0))(scalar)
        assert out.shape == () and out.dtype == scalar.dtype
    else:
        with pytest.raises(ValueError):
            subject.train(0.5, gen(0))(scalar)
    rank = max(subject.ranks)
    for empty in (torch.zeros((0,) + (3,) * (rank - 1), dtype=torch.float64),
                  torch.zeros((2, 0) + (3,) * (rank - 2), dtype=torch.float64)):
        if subject.per == "block":
            empty = torch.zeros(0, 2, 3, 3, dtype=torch.float64)
        out = subject.train(0.5, gen(0))(empty)
        assert out.shape == empty.shape


# --- DropConnect: the mask is on the weight ------------------------------------------------------

@SETTINGS
@given(p=st.floats(0.05, 0.95), seed=st.integers(0, 99), n=st.integers(0, 4))
def test_dropconnect_contract(p, seed, n):
    layer = variants.DropConnectLinear(5, 3, p=p, generator=gen(seed))
    x = torch.rand(n, 5, dtype=torch.float64, generator=gen(seed + 1)) + 0.5
    before = x.clone()
    out = layer(x)
    assert out.shape == (n, 3) and torch.equal(x, before)
    plain = torch.nn.functional.linear(x, layer.weight, layer.bias)
    assert torch.equal(layer.eval()(x), plain)  # evaluation: the plain layer
    layer.train()
    # the weight gradient is mask / (1 - p) times the plain layer's
    keep = functional.keep_mask(layer.weight, 1 - p, generator=gen(seed + 2))
    layer.generator = gen(seed + 2)
    layer(torch.ones(1, 5, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(layer.weight.grad, keep.double() / (1 - p) * 1.0)
    # an inf weight that is dropped does not reach the output
    with torch.no_grad():
        layer.weight[~keep] = math.inf
    layer.generator = gen(seed + 2)
    assert torch.isfinite(layer(torch.ones(1, 5, dtype=torch.float64))).all()


def test_dropconnect_p_zero_and_p_one():
    layer = variants.DropConnectLinear(5, 3, p=0.0, generator=gen(0))
    x = torch.rand(4, 5, dtype=torch.float64, generator=gen(1))
    assert torch.equal(layer(x), torch.nn.functional.linear(x, layer.weight, layer.bias))
    layer.p = 1.0
    assert torch.equal(layer(x), layer.bias.expand(4, 3))


@pytest.mark.parametrize("subject", [s for s in SUBJECTS if s.name in
                                     ("functional.dropout", "layers.Dropout")], ids=repr)
@SETTINGS
@given(data=st.data())
def test_per_element_masks_are_those_of_torch_dropout_in_any_layout(subject, data):
    """From the same generator state, the very mask of F.dropout; in float64 the very output
    (in float32 PyTorch rounds 1 / (1 - p) to float32 first, so the last bit may differ)."""
    x = data.draw(inputs(subject))
    p = data.draw(rates(subject, low=0.05))
    seed = data.draw(st.integers(0, 99))
    torch.manual_seed(seed)
    want = torch.nn.functional.dropout(x, p)
    got = subject.train(p, gen(seed))(x)
    assert torch.equal(got != 0, want != 0)
    if x.dtype == torch.float64:
        assert torch.equal(got, want)
    else:
        torch.testing.assert_close(got, want)
