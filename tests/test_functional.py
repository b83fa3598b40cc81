"""Tests for `dropout_lib.functional`: the reference `dropout` against PyTorch's contract.

PyTorch's `torch.nn.functional.dropout` is the reference (see SCIENCE.md section 2). Masks are
never compared element by element with PyTorch's (the random streams differ); the statistics,
the identity cases, the gradient and the errors are.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

from dropout_lib.functional import dropout, validate_p

RATES = [0.1, 0.3, 0.5, 0.8]
N_LARGE = 200_000  # elements in the statistical tests: 6 sigma of the drop fraction is < 0.007
FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA device on this machine")),
]


def fixed_generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def binomial_tolerance(p: float, n: int, sigmas: float = 6.0) -> float:
    """`sigmas` standard deviations of the fraction of successes in n Bernoulli(p) draws."""
    return sigmas * math.sqrt(p * (1 - p) / n)


# --- the signature ---------------------------------------------------------------------------

def test_defaults_match_pytorch():
    """p defaults to 0.5 and training to True, as in torch.nn.functional.dropout."""
    ours = inspect.signature(dropout).parameters
    theirs = inspect.signature(torch_F.dropout).parameters
    assert ours["p"].default == theirs["p"].default == 0.5
    assert ours["training"].default is theirs["training"].default is True
    assert ours["generator"].default is None


def test_default_call_drops_about_half():
    """`dropout(x)` with no other argument is active dropout at p = 0.5."""
    x = torch.ones(N_LARGE)
    frac_zero = (dropout(x) == 0).double().mean().item()
    assert abs(frac_zero - 0.5) < binomial_tolerance(0.5, N_LARGE)


# --- statistics, at several p ------------------------------------------------------------------

@pytest.mark.parametrize("p", RATES)
def test_fraction_dropped_is_p_like_pytorch(p):
    """About a fraction p of the elements is zeroed, as with PyTorch's dropout."""
    x = torch.rand(N_LARGE, generator=fixed_generator(1)) + 0.5  # positive: zeros come from drops
    tol = binomial_tolerance(p, N_LARGE)
    ours = (dropout(x, p, generator=fixed_generator(2)) == 0).double().mean().item()
    theirs = (torch_F.dropout(x, p) == 0).double().mean().item()
    assert abs(ours - p) < tol
    assert abs(theirs - p) < tol


@pytest.mark.parametrize("p", RATES)
def test_kept_values_are_scaled_by_one_over_keep_prob(p):
    """Every surviving element equals x / (1 - p); every other element is exactly 0."""
    x = torch.rand(N_LARGE, generator=fixed_generator(1)) + 0.5
    y = dropout(x, p, generator=fixed_generator(2))
    kept = y != 0
    assert kept.any()
    # compared through `where` rather than boolean indexing, which is slow on large tensors
    assert torch.allclose(y, torch.where(kept, x / (1 - p), 0.0), rtol=1e-6, atol=0)
    # the same relation holds for PyTorch's own output
    ref = torch_F.dropout(x, p)
    assert torch.allclose(ref, torch.where(ref != 0, x / (1 - p), 0.0), rtol=1e-6, atol=0)


@pytest.mark.parametrize("p", RATES)
def test_mean_is_preserved_in_output_and_gradient(p):
    """PyTorch's `_test_dropout`: input filled with 0.8, |mean - 0.8| < 0.05, same for the grad."""
    x = torch.full((N_LARGE,), 0.8, requires_grad=True)
    y = dropout(x, p)
    assert abs(y.mean().item() - 0.8) < 0.05
    y.backward(torch.full_like(y, 0.8))
    assert abs(x.grad.mean().item() - 0.8) < 0.05


@pytest.mark.parametrize("p", RATES)
def test_gradient_is_mask_over_keep_prob(p):
    """d y_i / d x_i = m_i / (1 - p), exactly, with the mask read off the output."""
    x = (torch.rand(10_000, dtype=torch.float64, generator=fixed_generator(1)) + 0.5)
    x.requires_grad_()
    y = dropout(x, p, generator=fixed_generator(2))
    y.sum().backward()
    mask = (y != 0).double()
    assert torch.equal(x.grad, mask / (1 - p))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_gradcheck_with_a_fixed_generator(p):
    """Finite differences agree with autograd when the mask is fixed by a re-seeded generator."""

    def fixed_mask_dropout(t):
        # a fresh generator at every call: the same mask for every evaluation gradcheck makes
        return dropout(t, p, generator=torch.Generator().manual_seed(0))

    x = torch.randn(4, 5, dtype=torch.float64, generator=fixed_generator(3), requires_grad=True)
    assert torch.autograd.gradcheck(fixed_mask_dropout, (x,))
    # the one-pass backward is itself differentiable (a second derivative, 0 here)
    assert torch.autograd.gradgradcheck(fixed_mask_dropout, (x,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_equals_torchs_from_the_same_generator_state(dtype):
    x = torch.randn(6, 7, dtype=dtype, generator=fixed_generator(4))
    grads = []
    for function in (dropout, torch.nn.functional.dropout):
        leaf = x.clone().requires_grad_()
        torch.manual_seed(5)
        (function(leaf, 0.3) * torch.arange(42.0, dtype=dtype).view(6, 7)).sum().backward()
        grads.append(leaf.grad)
    assert torch.equal(grads[0], grads[1])


# --- identity cases ----------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_eval_mode_returns_the_input_object(p):
    """training=False returns x itself, whatever p is (as PyTorch does)."""
    x = torch.randn(5, 3)
    assert dropout(x, p, training=False) is x
    assert torch_F.dropout(x, p, training=False) is x  # PyTorch's contract


@pytest.mark.parametrize("p", [0.0, 0])
def test_p_zero_returns_the_input_object(p):
    x = torch.randn(5, 3, requires_grad=True)
    assert dropout(x, p) is x
    assert torch_F.dropout(x, p) is x


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 2)])
def test_empty_tensor_returns_the_input_object(shape):
    x = torch.empty(shape)
    assert dropout(x, 0.5) is x
    assert torch_F.dropout(x, 0.5) is x


def test_eval_mode_returns_integer_input_unchanged():
    """The dtype check is for training only: in eval mode dropout is the identity for any x."""
    x = torch.arange(6)
    assert dropout(x, 0.5, training=False) is x


# --- p = 1 ------------------------------------------------------------------------------------

def test_p_one_gives_zeros():
    x = torch.randn(1000)
    y = dropout(x, 1.0)
    assert torch.equal(y, torch.zeros_like(x))


def test_p_one_gives_zeros_and_zero_gradient_even_for_inf_and_nan():
    """The library's documented choice: exact zeros, no NaN (PyTorch gives x * 0 = NaN here)."""
    x = torch.tensor([1.0, math.inf, math.nan, -math.inf, -2.0], requires_grad=True)
    y = dropout(x, 1.0)
    assert torch.equal(y.detach(), torch.zeros(5))
    y.sum().backward()
    assert not torch.isnan(x.grad).any()
    assert torch.equal(x.grad, torch.zeros(5))


# --- the input is never modified -----------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_input_is_not_modified(p):
    x = torch.randn(100, 10)
    before = x.clone()
    dropout(x, p)
    assert torch.equal(x, before)


def test_input_is_not_modified_with_autograd():
    x = torch.randn(100, 10, requires_grad=True)
    before = x.detach().clone()
    y = dropout(x, 0.5)
    (y * 3).sum().backward()
    assert torch.equal(x.detach(), before)
    assert y.data_ptr() != x.data_ptr()


# --- dtype, shape, device ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dtype_is_preserved_like_pytorch(dtype):
    x = torch.full((20_000,), 0.8, dtype=dtype)
    y = dropout(x, 0.3)
    assert y.dtype == torch_F.dropout(x, 0.3).dtype == dtype
    # low precision still gives the right statistics and scaling
    assert abs((y == 0).double().mean().item() - 0.3) < binomial_tolerance(0.3, 20_000)
    kept = y[y != 0]
    assert torch.allclose(kept.double(), torch.full_like(kept, 0.8 / 0.7).double(), rtol=1e-2)


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (2, 3, 4, 5), (1, 1, 1)])
def test_shape_is_preserved(shape):
    x = torch.randn(shape)
    assert dropout(x, 0.4).shape == torch_F.dropout(x, 0.4).shape == x.shape


@pytest.mark.parametrize("device", DEVICES)
def test_device_is_preserved(device):
    x = torch.randn(8, 3, device=device)
    y = dropout(x, 0.5)
    assert y.device == x.device
    assert y.shape == x.shape
    assert y.dtype == x.dtype


def test_non_contiguous_input():
    """A transposed view gives an output with the view's shape and the right statistics."""
    x = torch.full((400, 500), 0.8).t()
    assert not x.is_contiguous()
    y = dropout(x, 0.3, generator=fixed_generator(0))
    assert y.shape == x.shape
    assert abs(y.mean().item() - 0.8) < 0.05


# --- randomness ------------------------------------------------------------------------------

def test_same_seed_same_output_different_seed_different_output():
    x = torch.randn(1000)
    a = dropout(x, 0.5, generator=fixed_generator(42))
    b = dropout(x, 0.5, generator=fixed_generator(42))
    c = dropout(x, 0.5, generator=fixed_generator(43))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_explicit_generator_leaves_the_global_generator_alone():
    """Randomness comes in as an argument: the global RNG state is not consumed."""
    x = torch.randn(1000)
    state = torch.get_rng_state()
    y = dropout(x, 0.5, generator=fixed_generator(0))
    assert (y == 0).any()
    assert torch.equal(torch.get_rng_state(), state)


def test_masks_of_two_halves_are_uncorrelated():
    """Independent Bernoulli draws per element: the correlation of two halves is ~0."""
    n = 100_000
    y = dropout(torch.ones(2 * n), 0.5, generator=fixed_generator(5))
    first, second = (y[:n] != 0).double().numpy(), (y[n:] != 0).double().numpy()
    corr = np.corrcoef(first, second)[0, 1]
    assert abs(corr) < 6 / math.sqrt(n)
    # neighbouring elements are uncorrelated too
    mask = (y != 0).double().numpy()
    assert abs(np.corrcoef(mask[:-1], mask[1:])[0, 1]) < 6 / math.sqrt(2 * n)


def test_rows_of_a_batch_get_different_masks():
    """The mask is drawn per element, not once per feature and shared across the batch."""
    y = dropout(torch.ones(64, 100), 0.5, generator=fixed_generator(6))
    masks = (y != 0)
    assert torch.unique(masks, dim=0).shape[0] == 64  # 64 distinct row masks
    assert torch.unique(masks, dim=1).shape[1] == 100  # 100 distinct column masks


def test_consecutive_calls_give_different_masks():
    """Each call draws a new mask; two masks agree on about p^2 + (1 - p)^2 of the elements."""
    x = torch.ones(N_LARGE)
    generator = fixed_generator(7)
    a = dropout(x, 0.3, generator=generator) != 0
    b = dropout(x, 0.3, generator=generator) != 0
    assert not torch.equal(a, b)
    agreement = (a == b).double().mean().item()
    expected = 0.3**2 + 0.7**2
    assert abs(agreement - expected) < binomial_tolerance(expected, N_LARGE)
    # and with the global generator
    assert not torch.equal(dropout(x, 0.3), dropout(x, 0.3))


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("p", [-0.1, 1.1, math.nan, math.inf])
def test_invalid_p_raises_value_error_naming_p_and_range(p, training):
    """Like PyTorch, p is checked in evaluation mode too (PyTorch raises RuntimeError for nan)."""
    with pytest.raises(ValueError, match=r"^p .*\[0, 1\]"):
        dropout(torch.ones(3), p, training=training)


@pytest.mark.parametrize("p", ["0.5", None, True, False, torch.tensor(0.5), [0.5]])
def test_p_that_is_not_a_real_number_raises_type_error(p):
    with pytest.raises(TypeError, match=r"^p must be a probability in \[0, 1\], got "):
        dropout(torch.ones(3), p)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("x", [[1.0, 2.0], np.ones(3), 1.5], ids=["list", "numpy", "float"])
def test_non_tensor_input_raises_type_error(x, training):
    with pytest.raises(TypeError, match="torch.Tensor"):
        dropout(x, 0.5, training=training)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_integer_or_bool_tensor_while_training_raises_type_error(dtype):
    with pytest.raises(TypeError, match="floating-point"):
        dropout(torch.ones(4, dtype=dtype), 0.5)


# --- validate_p ------------------------------------------------------------------------------

@pytest.mark.parametrize("p, expected", [(0, 0.0), (1, 1.0), (0.25, 0.25),
                                         (np.float32(0.5), 0.5), (np.float64(0.75), 0.75)])
def test_validate_p_returns_a_float(p, expected):
    result = validate_p(p)
    assert type(result) is float
    assert result == expected


def test_validate_p_names_the_argument():
    with pytest.raises(ValueError, match=r"^dropout rate must be a probability in \[0, 1\], "
                                         r"got 1.5$"):
        validate_p(1.5, "dropout rate")
    with pytest.raises(TypeError, match=r"^rate must be a probability in \[0, 1\], got str "):
        validate_p("high", "rate")


@pytest.mark.parametrize("p", [1, 1.0, 1.5, -0.1, math.nan])
def test_validate_p_below_one_uses_the_same_message_with_an_open_interval(p):
    with pytest.raises(ValueError, match=r"^p must be a probability in \[0, 1\), got "):
        validate_p(p, allow_one=False)
    assert validate_p(0.999, allow_one=False) == 0.999
