"""Tests for the dropout variants of chapter 8 in `dropout_lib.variants`.

Held against PyTorch where PyTorch has the same layer (`Dropout2d`, `AlphaDropout`); checked
statistically, with fixed seeds and tolerances of several standard errors, otherwise.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from dropout_lib import variants
from dropout_lib.functional import ALPHA_PRIME
from dropout_lib.variants import (
    AlphaDropout,
    DropBlock2d,
    DropConnectLinear,
    DropPath,
    GaussianDropout,
    Residual,
    SpatialDropout,
    drop_path,
    dropblock_gamma,
    linear_survival,
    moment_matching_relu,
)

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=F64)


# Every variant built with a given p, as (name, factory, input shape).
VARIANTS = [
    ("gaussian", lambda p, g=None: GaussianDropout(p, generator=g), (8, 5)),
    ("spatial", lambda p, g=None: SpatialDropout(p, generator=g), (4, 3, 5, 5)),
    ("alpha", lambda p, g=None: AlphaDropout(p, generator=g), (8, 5)),
    ("dropblock", lambda p, g=None: DropBlock2d(p, block_size=3, generator=g), (4, 3, 6, 6)),
    ("droppath", lambda p, g=None: DropPath(p, generator=g), (8, 5)),
]
IDS = [name for name, _, _ in VARIANTS]


# --- common contract ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, make, shape", VARIANTS, ids=IDS)
def test_eval_mode_and_p_zero_are_the_identity(name, make, shape):
    x = randn(*shape)
    assert make(0.3).eval()(x) is x
    assert make(0.0)(x) is x


@pytest.mark.parametrize("name, make, shape", VARIANTS, ids=IDS)
@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan])
def test_bad_p_raises_value_error_at_construction(name, make, shape, p):
    with pytest.raises(ValueError, match="p"):
        make(p)


@pytest.mark.parametrize("name, make, shape", VARIANTS, ids=IDS)
def test_same_generator_seed_same_output_and_fresh_masks(name, make, shape):
    x = randn(*shape)
    a, b = make(0.4, gen(3)), make(0.4, gen(3))
    first = a(x)
    assert torch.equal(first, b(x))
    assert not torch.equal(first, a(x))
    assert not torch.equal(first, make(0.4, gen(4))(x))


@pytest.mark.parametrize("name, make, shape", VARIANTS, ids=IDS)
def test_output_keeps_shape_dtype_and_input(name, make, shape):
    x = randn(*shape)
    copy = x.clone()
    for dtype in (torch.float32, F64):
        y = make(0.4, gen())(x.to(dtype))
        assert y.shape == x.shape and y.dtype == dtype
    assert torch.equal(x, copy)


@pytest.mark.parametrize("name, make, shape", VARIANTS, ids=IDS)
def test_integer_input_raises_type_error(name, make, shape):
    with pytest.raises(TypeError, match="floating-point"):
        make(0.4)(torch.ones(shape, dtype=torch.int64))


@pytest.mark.parametrize("name, make, shape", VARIANTS, ids=IDS)
def test_gradient_is_the_same_multiplier_as_the_output(name, make, shape):
    """Every variant is affine in x for a fixed draw; its Jacobian is diagonal: dy/dx = slope."""
    x = (randn(*shape).abs() + 0.5).requires_grad_()
    layer = make(0.4, gen(5))
    y = layer(x)
    y.sum().backward()
    x2 = (x.detach() * 2).requires_grad_()
    y2 = make(0.4, gen(5))(x2)  # the same draw on a doubled input
    slope = (y2 - y).detach() / x.detach()  # (f(2x) - f(x)) / x for an affine f
    assert torch.allclose(x.grad, slope)


def test_every_variant_has_a_readable_repr():
    assert "p=0.3" in repr(GaussianDropout(0.3))
    assert "p=0.3, block_size=5" in repr(DropBlock2d(0.3, 5))
    assert "p=0.3" in repr(DropConnectLinear(2, 3, p=0.3))
    for cls in (SpatialDropout, AlphaDropout, DropPath):
        assert repr(cls(0.3)) == f"{cls.__name__}(p=0.3)"


def test_public_names_are_exported():
    for name in variants.__all__:
        assert hasattr(variants, name)


# --- DropConnect -------------------------------------------------------------------------------

def test_dropconnect_eval_is_the_plain_linear_layer():
    torch.manual_seed(0)
    layer = DropConnectLinear(6, 4, p=0.5)
    plain = nn.Linear(6, 4, dtype=F64)
    plain.load_state_dict(layer.state_dict())
    x = randn(10, 6)
    assert torch.equal(layer.eval()(x), plain(x))
    assert layer.weight.dtype == F64


def test_dropconnect_one_weight_mask_per_forward_pass():
    """The batch shares one mask: identical rows of the input give identical outputs."""
    layer = DropConnectLinear(50, 30, p=0.5, bias=False, generator=gen(1))
    x = randn(1, 50).expand(5, 50)
    y = layer(x)
    assert torch.allclose(y, y[:1].expand(5, 30))
    assert not torch.allclose(y[0], layer.eval()(x)[0])


def test_dropconnect_drops_weights_and_scales_survivors():
    """On one-hot inputs the output reads off single (masked) weights."""
    layer = DropConnectLinear(400, 500, p=0.3, bias=False, generator=gen(2))
    with torch.no_grad():
        layer.weight.fill_(1.0)
        y = layer(torch.eye(400, dtype=F64))  # y[j, i] = masked weight (i, j)
    assert torch.allclose(y[y != 0], torch.tensor(1 / 0.7, dtype=F64))
    assert abs((y == 0).double().mean().item() - 0.3) < 0.01


def test_dropconnect_mean_over_masks_is_the_eval_output():
    layer = DropConnectLinear(8, 3, p=0.5, generator=gen(3))
    x = randn(2, 8, seed=1)
    with torch.no_grad():
        average = torch.stack([layer(x) for _ in range(4000)]).mean(0)
        assert torch.allclose(average, layer.eval()(x), atol=0.15)


def test_dropconnect_p_one_leaves_only_the_bias_and_gradients_reach_the_weights():
    layer = DropConnectLinear(4, 3, p=1.0)
    x = randn(2, 4)
    assert torch.equal(layer(x), layer.bias.expand(2, 3))
    layer = DropConnectLinear(4, 3, p=0.5, generator=gen(4))
    layer(x).sum().backward()
    assert layer.weight.grad is not None and (layer.weight.grad == 0).any()


def test_moment_matching_relu_matches_a_monte_carlo_average():
    layer = DropConnectLinear(30, 5, p=0.5, generator=gen(5))
    x = randn(1, 30, seed=2)
    with torch.no_grad():
        samples = torch.stack([torch.relu(layer(x)) for _ in range(20000)])
    matched = moment_matching_relu(layer, x)
    assert torch.allclose(matched, samples.mean(0), rtol=0.1, atol=0.05)
    no_drop = DropConnectLinear(30, 5, p=0.0)
    with torch.no_grad():
        assert torch.equal(moment_matching_relu(no_drop, x), torch.relu(no_drop(x)))
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\)"):
        moment_matching_relu(DropConnectLinear(3, 2, p=1.0), x[:, :3])


# --- Gaussian dropout --------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_gaussian_noise_has_mean_one_and_variance_p_over_one_minus_p(p):
    x = torch.full((500, 400), 3.0, dtype=F64)
    noise = GaussianDropout(p, generator=gen(6))(x) / 3.0
    std = math.sqrt(p / (1 - p))
    assert abs(noise.mean().item() - 1.0) < 6 * std / math.sqrt(noise.numel())
    assert abs(noise.std().item() / std - 1.0) < 0.01


def test_gaussian_matches_inverted_dropout_mean_and_variance():
    x = torch.full((200_000,), 2.0, dtype=F64)
    gaussian = GaussianDropout(0.4, generator=gen(7))(x)
    bernoulli = nn.Dropout(0.4)(x)
    assert abs(gaussian.mean().item() - bernoulli.mean().item()) < 0.03
    assert abs(gaussian.var().item() / bernoulli.var().item() - 1) < 0.02


def test_gaussian_p_one_is_refused():
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\), got 1.0"):
        GaussianDropout(1.0)


# --- spatial dropout against torch.nn.Dropout2d ------------------------------------------------

def channel_pattern(y: torch.Tensor) -> torch.Tensor:
    """Per (example, channel): True where the whole map is zero; asserts all-or-nothing."""
    flat = (y == 0).flatten(2)
    assert torch.equal(flat.all(-1), flat.any(-1)), "a channel is partly zeroed"
    return flat.all(-1)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_spatial_matches_dropout2d_on_4d_input(p):
    x = torch.rand(400, 50, 3, 3, generator=gen(8), dtype=F64) + 0.5
    ours = SpatialDropout(p, generator=gen(9))(x)
    theirs = nn.Dropout2d(p)(x)
    n = 400 * 50
    tolerance = 6 * math.sqrt(p * (1 - p) / n)
    for y in (ours, theirs):
        dropped = channel_pattern(y)
        assert abs(dropped.double().mean().item() - p) < tolerance
        kept = y[~dropped]
        assert torch.allclose(kept, x[~dropped] / (1 - p))
    # masks differ between examples: not one pattern shared by the batch
    assert not (channel_pattern(ours) == channel_pattern(ours)[:1]).all()


def test_spatial_3d_input_is_channel_wise_like_torch_with_a_warning():
    x = torch.ones(300, 20, 7, dtype=F64)
    with pytest.warns(UserWarning, match="3-D"):
        ours = SpatialDropout(0.5, generator=gen(10))(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = nn.Dropout2d(0.5)(x)
    for y in (ours, theirs):
        dropped = channel_pattern(y)
        assert abs(dropped.double().mean().item() - 0.5) < 0.05
        assert torch.equal(torch.unique(y), torch.tensor([0.0, 2.0], dtype=F64))


@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 4, 5, 6)])
def test_spatial_other_ranks_raise(shape):
    with pytest.raises(ValueError, match="3 or 4 dimensions"):
        SpatialDropout(0.5)(torch.ones(shape))


def test_spatial_p_one_gives_zeros_like_torch():
    x = torch.ones(2, 3, 4, 4)
    assert torch.equal(SpatialDropout(1.0)(x), nn.Dropout2d(1.0)(x))


# --- alpha dropout against torch.nn.AlphaDropout -----------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_alpha_keeps_mean_and_std_of_standard_normal_input_like_torch(p):
    x = torch.randn(100_000, generator=gen(11), dtype=F64)
    ours = AlphaDropout(p, generator=gen(12))(x)
    theirs = nn.AlphaDropout(p)(x)
    for y in (ours, theirs):
        assert abs(y.mean().item() - x.mean().item()) < 0.03
        assert abs(y.std().item() - x.std().item()) < 0.03
    assert abs(ours.mean().item() - theirs.mean().item()) < 0.04
    assert abs(ours.std().item() - theirs.std().item()) < 0.04


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_outputs_are_the_same_affine_map_as_torch(p):
    """Both: a kept unit becomes a*x + b, a dropped one a*(-alpha') + b."""
    a = 1 / math.sqrt((ALPHA_PRIME**2 * p + 1) * (1 - p))
    b = a * ALPHA_PRIME * p
    dropped_value = -a * ALPHA_PRIME * (1 - p)
    x = torch.randn(20_000, generator=gen(13), dtype=F64)
    for y in (AlphaDropout(p, generator=gen(14))(x), nn.AlphaDropout(p)(x)):
        is_kept = torch.isclose(y, a * x + b)
        is_dropped = torch.isclose(y, torch.tensor(dropped_value, dtype=F64))
        assert (is_kept | is_dropped).all()
        assert abs(is_dropped.double().mean().item() - p) < 0.02
    if p == 0.2:
        assert dropped_value == pytest.approx(-1.2362, abs=1e-4)


def test_alpha_p_one_gives_zeros_like_torch():
    x = torch.randn(10, dtype=F64)
    assert torch.equal(AlphaDropout(1.0)(x).abs(), nn.AlphaDropout(1.0)(x).abs())


# --- DropBlock -------------------------------------------------------------------------------

def test_gamma_formula():
    assert dropblock_gamma(0.1, 1, 8, 8) == pytest.approx(0.1)
    assert dropblock_gamma(0.1, 3, 8, 8) == pytest.approx(0.1 / 9 * 64 / 36)
    assert dropblock_gamma(0.2, 2, 6, 4) == pytest.approx(0.2 / 4 * 24 / 15)
    with pytest.raises(ValueError, match="block_size"):
        dropblock_gamma(0.1, 9, 8, 8)


@pytest.mark.parametrize("block_size", [0, -1, 2.0, True])
def test_dropblock_bad_block_size(block_size):
    with pytest.raises(ValueError, match="block_size"):
        DropBlock2d(0.1, block_size)


def test_dropblock_block_too_big_or_wrong_rank_raises():
    with pytest.raises(ValueError, match="does not fit"):
        DropBlock2d(0.1, 5)(torch.ones(1, 1, 4, 8))
    with pytest.raises(ValueError, match="4 dimensions"):
        DropBlock2d(0.1, 1)(torch.ones(3, 8, 8))


def test_dropblock_drops_whole_squares():
    """Every dropped pixel lies in a fully dropped block_size x block_size square."""
    layer = DropBlock2d(0.3, block_size=3, generator=gen(15))
    mask = layer.block_mask(torch.ones(20, 4, 10, 10, dtype=F64))
    dropped = 1 - mask
    # a 3x3 square is fully dropped iff a 3x3 min-pool of `dropped` is 1; spread those back
    full = -nn.functional.max_pool2d(-dropped, 3, stride=1)
    covered = nn.functional.max_pool2d(nn.functional.pad(full, (2, 2, 2, 2)), 3, stride=1)
    assert torch.equal(covered, dropped)
    assert dropped.sum() > 0


def test_dropblock_with_block_size_one_is_dropout():
    x = torch.ones(100, 10, 8, 8, dtype=F64)
    y = DropBlock2d(0.3, block_size=1, generator=gen(16))(x)
    assert abs((y == 0).double().mean().item() - 0.3) < 0.01


def test_dropblock_rescales_by_the_count_kept_and_keeps_the_mean():
    x = torch.ones(50, 8, 12, 12, dtype=F64)
    y = DropBlock2d(0.2, block_size=3, generator=gen(17))(x)
    kept = (y != 0).sum().item()
    assert torch.allclose(y[y != 0], torch.tensor(x.numel() / kept, dtype=F64))
    assert y.mean().item() == pytest.approx(1.0)
    dropped = 1 - kept / x.numel()
    assert 0.12 < dropped < 0.2  # overlapping blocks drop somewhat less than p


def test_dropblock_p_one_gives_zeros():
    assert torch.equal(DropBlock2d(1.0, 2)(torch.ones(2, 2, 4, 4)), torch.zeros(2, 2, 4, 4))


# --- DropPath ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4000, 6), (4000, 2, 3, 3)])
def test_drop_path_drops_whole_examples_and_rescales(shape):
    x = torch.rand(shape, generator=gen(18), dtype=F64) + 0.5
    y = drop_path(x, 0.25, generator=gen(19))
    per_example = (y == 0).flatten(1)
    assert torch.equal(per_example.all(1), per_example.any(1))
    dropped = per_example.all(1)
    assert abs(dropped.double().mean().item() - 0.25) < 0.05
    assert torch.allclose(y[~dropped], x[~dropped] / 0.75)


def test_drop_path_identity_cases_and_p_one():
    x = randn(3, 4)
    assert drop_path(x, 0.5, training=False) is x
    assert drop_path(x, 0.0) is x
    assert torch.equal(drop_path(x, 1.0), torch.zeros_like(x))
    with pytest.raises(ValueError):
        drop_path(x, 1.2)


def test_residual_keeps_the_identity_path():
    branch = nn.Linear(5, 5, dtype=F64)
    block = Residual(branch, p=0.5, generator=gen(20))
    x = randn(2000, 5)
    with torch.no_grad():
        y = block(x)
        full = x + branch(x)
        dropped = torch.isclose(y, x).all(1)
        assert abs(dropped.double().mean().item() - 0.5) < 0.05
        assert torch.allclose(y[~dropped], x[~dropped] + 2 * branch(x[~dropped]))
        assert torch.equal(block.eval()(x), full)


def test_linear_survival_rule():
    rates = linear_survival(4, 0.5)
    assert rates == pytest.approx([0.875, 0.75, 0.625, 0.5])
    assert linear_survival(1, 0.5) == [0.5]
    with pytest.raises(ValueError):
        linear_survival(0)


# --- devices -----------------------------------------------------------------------------------

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name, make, shape", VARIANTS, ids=IDS)
def test_masks_are_made_on_the_input_device(name, make, shape):
    x = torch.ones(shape, device="cuda")
    y = make(0.4, torch.Generator(device="cuda").manual_seed(0))(x)
    assert y.device == x.device
    layer = DropConnectLinear(5, 3, p=0.5, device="cuda")
    assert layer(torch.ones(2, 5, dtype=F64, device="cuda")).device.type == "cuda"
