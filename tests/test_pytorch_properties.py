"""PyTorch's own dropout properties, ported (SCIENCE.md section 2), held by our layers and by
PyTorch's side by side.

The properties come from pytorch/pytorch `test/nn/test_dropout.py` and the dropout OpInfo
samples; the code is written anew. Masks are never compared across the two libraries (their
random streams differ): our layers draw from a seeded generator, PyTorch's from the global one,
seeded here. Each test runs on our layer and on the PyTorch layer it mirrors, so a property that
PyTorch itself did not have would show up as a failure on its side.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dropout_lib import functional, inference, variants
from dropout_lib.layers import Dropout

pytestmark = pytest.mark.filterwarnings("ignore:.*3-?D input:UserWarning")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def ours(cls):
    """Our layer class, built with a seeded generator."""
    return lambda p: cls(p, generator=gen(7))


def theirs(cls):
    """PyTorch's layer class; its masks come from the global generator, seeded here."""
    def make(p):
        torch.manual_seed(7)
        return cls(p)
    return make


ELEMENT_WISE = [("ours", ours(Dropout)), ("torch", theirs(nn.Dropout))]
CHANNEL_WISE = [("ours", ours(variants.SpatialDropout)), ("torch", theirs(nn.Dropout2d))]
ALPHA = [("ours", ours(variants.AlphaDropout)), ("torch", theirs(nn.AlphaDropout))]
IDS = lambda cases: [name for name, _ in cases]  # noqa: E731
BOTH_IDS = [f"{name}-{kind}" for kind in ("element", "channel") for name in ("ours", "torch")]


# --- 1. invalid p ---------------------------------------------------------------------------

LAYERS = [Dropout, variants.SpatialDropout, variants.AlphaDropout, variants.GaussianDropout,
          variants.DropBlock2d, variants.DropPath, inference.StandardDropout,
          lambda p: variants.DropConnectLinear(3, 2, p=p),
          nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout]
FUNCTIONS = [functional.dropout, functional.feature_dropout, functional.alpha_dropout,
             variants.drop_path, F.dropout, F.dropout2d, F.alpha_dropout]


@pytest.mark.parametrize("p", [-0.1, 1.1])
@pytest.mark.parametrize("layer", LAYERS)
def test_invalid_p_raises_value_error_at_construction(layer, p):
    with pytest.raises(ValueError):
        layer(p)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("p", [-0.1, 1.1])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_invalid_p_raises_value_error_in_the_function_even_in_eval_mode(function, p, training):
    with pytest.raises(ValueError):
        function(torch.ones(2, 3, 4), p, training=training)


# --- 2. _test_dropout: mean, gradient, memory format, eval, repr ------------------------------

def check_dropout(make, x, memory_format=torch.contiguous_format):
    """Input filled with 1 - p = 0.8 at p = 0.2: output and gradient average 0.8 (within 0.05),
    keep the memory format; evaluation mode gives the input back; repr works."""
    p = 0.2
    x = x.fill_(1 - p)
    layer = make(p)
    leaf = x.clone(memory_format=memory_format).requires_grad_()
    out = layer(leaf)
    assert out.is_contiguous(memory_format=memory_format)
    assert abs(out.detach().float().mean().item() - (1 - p)) < 0.05
    out.backward(x)
    assert leaf.grad.is_contiguous(memory_format=memory_format)
    assert abs(leaf.grad.float().mean().item() - (1 - p)) < 0.05
    torch.testing.assert_close(layer.eval()(x), x)
    assert repr(layer) and str(layer)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("name, make", ELEMENT_WISE, ids=IDS(ELEMENT_WISE))
def test_dropout_mean_gradient_and_eval(name, make, dtype):
    check_dropout(make, torch.empty(1000, dtype=dtype))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("b, w, h", [(1, 1, 1), (2, 5, 3), (5, 4, 4)])
@pytest.mark.parametrize("name, make", CHANNEL_WISE, ids=IDS(CHANNEL_WISE))
def test_spatial_dropout_mean_gradient_memory_format_and_eval(name, make, b, w, h,
                                                              memory_format):
    # as in PyTorch's test: 1000 examples of b channels of w x h
    check_dropout(make, torch.empty(1000, b, w, h), memory_format)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("name, make", ELEMENT_WISE, ids=IDS(ELEMENT_WISE))
def test_dropout_keeps_channels_last(name, make, memory_format):
    check_dropout(make, torch.empty(40, 5, 3, 3), memory_format)


# --- 3. discontiguous input and stride-preserving means -----------------------------------------

@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("name, make", ELEMENT_WISE + CHANNEL_WISE,
                         ids=BOTH_IDS)
def test_discontiguous_input_keeps_its_values_and_layout(name, make, memory_format):
    """At p = 0 and p = 1e-10 the output equals a sliced, non-dense input; at 1e-10 it is a new,
    dense tensor in the input's memory format."""
    for p in (0.0, 1e-10):
        x = torch.empty(2, 3, 3, 6, memory_format=memory_format)[..., ::2]
        x.copy_(torch.ones(2, 3, 3, 3))
        out = make(p)(x)
        if p != 0:
            assert out.is_contiguous(memory_format=memory_format)
        torch.testing.assert_close(out, x)


def channel_wise(make) -> bool:
    return any(make is m for _, m in CHANNEL_WISE)


def layout(t: torch.Tensor) -> list[int]:
    """The strides of the dimensions longer than 1 (a dimension of size 1 has no layout)."""
    return [stride for stride, size in zip(t.stride(), t.shape, strict=True) if size > 1]


def inverse(perm: tuple[int, ...]) -> list[int]:
    return [perm.index(i) for i in range(len(perm))]


@pytest.mark.parametrize("shift", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
@pytest.mark.parametrize("name, make", ELEMENT_WISE + CHANNEL_WISE,
                         ids=BOTH_IDS)
def test_strides_and_means_are_preserved_for_every_permutation(name, make, perm, shift):
    """An input laid out in any of the 24 axis orders, sliced or not: the output is laid out in
    the same order; for element-wise dropout (the layer PyTorch tests this on) its mean is near
    the input's, and only p = 1e-10 leaves the values alone."""
    ones = torch.ones(2, 3, 4, 5)
    for p in (1e-10, 0.3, 0.5, 0.7):
        x = ones.permute(perm).contiguous().permute(inverse(perm))[shift[0]:, shift[1]:]
        out = make(p)(x)
        assert out.permute(perm).is_contiguous()
        if channel_wise(make):
            continue  # with as few as 3 channel draws the mean says nothing (torch's too)
        torch.testing.assert_close(out.mean(), ones.mean(), rtol=0.5, atol=0.5)
        if p == 1e-10:
            torch.testing.assert_close(out, x)
        else:
            assert not torch.allclose(out, x)


def test_functional_dropout_keeps_strides_like_torch_for_every_permutation():
    ones = torch.ones(2, 3, 4, 5)
    for perm, shift in itertools.product(itertools.permutations(range(4)), [(0, 0), (1, 1)]):
        x = ones.permute(perm).contiguous().permute(inverse(perm))[shift[0]:, shift[1]:]
        ours_out = functional.dropout(x, 0.5, generator=gen())
        assert layout(ours_out) == layout(F.dropout(x, 0.5))
        assert layout(functional.feature_dropout(x, 0.5, generator=gen())) == \
            layout(F.dropout2d(x, 0.5))


# --- 4. whole channels -------------------------------------------------------------------------

@pytest.mark.parametrize("name, make", CHANNEL_WISE, ids=IDS(CHANNEL_WISE))
def test_each_channel_is_all_zero_or_all_non_zero(name, make):
    out = make(0.5)(torch.ones(10, 4, 2, 2))
    counts = out.flatten(2).count_nonzero(-1)
    assert set(counts.unique().tolist()) <= {0, 4}


def test_functional_feature_dropout_drops_whole_channels_of_any_rank():
    for shape in [(10, 4, 3), (10, 4, 2, 2), (10, 4, 2, 2, 2)]:
        out = functional.feature_dropout(torch.ones(shape), 0.5, generator=gen())
        counts = out.flatten(2).count_nonzero(-1)
        assert set(counts.unique().tolist()) <= {0, math.prod(shape[2:])}


# --- 5. no batch dimension ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda g: Dropout(0.5, generator=g), lambda g: variants.AlphaDropout(0.5, generator=g),
    lambda g: variants.GaussianDropout(0.5, generator=g),
    lambda g: inference.StandardDropout(0.5, generator=g),
], ids=["Dropout", "AlphaDropout", "GaussianDropout", "StandardDropout"])
def test_with_the_generator_frozen_an_unbatched_input_gives_the_batched_output(make):
    x = torch.rand(50, 2, generator=gen(1))
    torch.testing.assert_close(make(gen(3))(x), make(gen(3))(x.unsqueeze(0)).squeeze(0))


def test_spatial_dropout_reads_3d_input_as_a_batch_of_1d_maps_like_torch():
    """PyTorch 2.13's Dropout2d reads (N, C, L) as batched 1-D maps (its no-batch test is off for
    that reason); ours does the same: a 3-D input gives what (N, C, L, 1) gives."""
    x = torch.rand(50, 2, 2, generator=gen(1))
    out = variants.SpatialDropout(0.5, generator=gen(3))(x)
    four_d = variants.SpatialDropout(0.5, generator=gen(3))(x.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(out, four_d)
    torch.manual_seed(3)
    torch_out = nn.Dropout2d(0.5)(x)
    assert set(torch_out.count_nonzero(-1).unique().tolist()) <= {0, 2}


# --- 6. ranks: errors and warnings -------------------------------------------------------------

def test_ranks_spatial_dropout():
    for shape in [(1, 2, 2, 2, 2), (1, 2), (2,)]:
        with pytest.raises(ValueError, match=re.escape("x must have 3 or 4 dimensions")):
            variants.SpatialDropout(0.5)(torch.rand(shape))
    with pytest.warns(UserWarning, match="received a 3-D input"):
        variants.SpatialDropout(0.5)(torch.rand(1, 2, 2))
    # PyTorch only warns for the other ranks, and warns for 3-D input as well
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        nn.Dropout2d(0.5)(torch.rand(1, 2, 2, 2, 2))
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        nn.Dropout2d(0.5)(torch.rand(1, 2, 2))


def test_ranks_dropblock_and_feature_dropout():
    with pytest.raises(ValueError, match=re.escape("x must have 4 dimensions")):
        variants.DropBlock2d(0.5, 1)(torch.rand(2, 3, 3))
    with pytest.raises(ValueError, match="needs \\(N, C, \\.\\.\\.\\) input"):
        functional.feature_dropout(torch.rand(3), 0.5)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 4D input"):
        nn.Dropout1d(0.5)(torch.rand(1, 2, 2, 2))
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        nn.FeatureAlphaDropout(0.5)(torch.rand(2))
    with pytest.raises(ValueError, match="needs \\(N, C, \\.\\.\\.\\) input"):
        functional.alpha_dropout(torch.rand(2), 0.5, True, feature=True)


def test_integer_input_while_training():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="result type Float can't be cast"):
            F.dropout(torch.ones(3, dtype=torch.int64), 0.5)
    with pytest.raises(TypeError, match="floating-point"):
        functional.dropout(torch.ones(3, dtype=torch.int64), 0.5)


# --- 7. alpha dropout keeps mean and standard deviation -----------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("name, make", ALPHA + [
    ("ours-functional", lambda p: lambda x: functional.alpha_dropout(x, p, True, gen(7))),
    ("torch-functional", lambda p: lambda x: F.alpha_dropout(x, p, True)),
], ids=IDS(ALPHA) + ["ours-functional", "torch-functional"])
def test_alpha_dropout_keeps_mean_and_std(name, make, p):
    torch.manual_seed(7)
    x = torch.randn(5000, generator=gen(1)).requires_grad_()
    out = make(p)(x)
    assert abs(out.mean().item() - x.mean().item()) < 0.1
    assert abs(out.std().item() - x.std().item()) < 0.1
    out.backward(x.detach())


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_feature_alpha_dropout_keeps_mean_and_std(p):
    x = torch.randn(1000, 3, 2, 2, 2, generator=gen(1))
    for out in (functional.alpha_dropout(x, p, True, gen(7), feature=True),
                F.feature_alpha_dropout(x, p, True)):
        assert abs(out.mean().item() - x.mean().item()) < 0.1
        assert abs(out.std().item() - x.std().item()) < 0.1


# --- 8. the OpInfo samples: shapes (5, 5), (5,), (); p 0, 0.5, 1; training on and off -----------

PAIRS = [
    (functional.dropout, F.dropout, [(5, 5), (5,), ()]),
    (functional.alpha_dropout, F.alpha_dropout, [(5, 5), (5,), ()]),
    (functional.feature_dropout, F.dropout2d, [(5, 5, 5), (5, 5, 5, 5)]),
    (functional.alpha_dropout, F.feature_alpha_dropout, [(5, 5), (5, 5, 5), (5, 5, 5, 5)]),
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("index", range(len(PAIRS)),
                         ids=["dropout", "alpha_dropout", "dropout2d", "feature_alpha_dropout"])
def test_opinfo_samples_agree_with_torch(index, p, training, dtype):
    ours_fn, torch_fn, shapes = PAIRS[index]
    feature = torch_fn is F.feature_alpha_dropout
    for shape in shapes:
        x = torch.rand(shape, generator=gen(2)).to(dtype) + 0.5
        kwargs = {"feature": True} if feature else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dropout2d on 3-D input warns
            got = ours_fn(x, p, training, generator=gen(3), **kwargs)
            want = torch_fn(x, p, training)
        assert got.shape == want.shape and got.dtype == want.dtype and got.device == want.device
        if not training or p == 0.0:
            assert got is x  # PyTorch returns its input too, or a copy of it
            torch.testing.assert_close(want, x)
        elif p == 1.0:
            assert torch.equal(got, torch.zeros_like(x)) and torch.equal(want, torch.zeros_like(x))
        elif ours_fn is functional.alpha_dropout:
            a = 1.0 / math.sqrt((functional.ALPHA_PRIME**2 * p + 1.0) * (1.0 - p))
            low = a * -functional.ALPHA_PRIME + a * functional.ALPHA_PRIME * p
            for out in (got, want):
                kept = out != torch.tensor(low, dtype=dtype)
                torch.testing.assert_close(out[kept], (a * x.double() + a * functional.ALPHA_PRIME
                                                       * p)[kept].to(dtype), rtol=1e-2,
                                           atol=1e-2)
        else:
            for out in (got, want):  # each value is 0 or x / (1 - p), bit for bit
                assert torch.equal(out, torch.where(out != 0, x * (1 / (1 - p)), 0.0).to(dtype))
