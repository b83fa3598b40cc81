"""Tests for `dropout_lib.by_hand`, the reference answers of chapter 2's exercises, and for the
mask statistics its checks use. The checks themselves (right answers, mistakes and their hints)
are declared in `dropout_lib.grading.checks.ch02_answers` and run by `test_checks_generic.py`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dropout_lib import by_hand, dropout, plotting
from dropout_lib.grading import NotYet
from dropout_lib.grading.checks.masks import check_count_spread
from dropout_lib.grading.helpers import count_spread

# --- by_hand: the library's reference answers ---------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.3, 0.8])
def test_bernoulli_mask_keeps_with_probability_one_minus_p(p):
    mask = by_hand.bernoulli_mask((500, 400), p, np.random.default_rng(0))
    assert mask.shape == (500, 400) and mask.dtype == np.float64
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(mask.mean() - (1 - p)) < 6 * np.sqrt(p * (1 - p) / mask.size)


def test_bernoulli_mask_edges_and_seeding():
    assert by_hand.bernoulli_mask(10, 0.0, np.random.default_rng(0)).tolist() == [1.0] * 10
    assert by_hand.bernoulli_mask(10, 1.0, np.random.default_rng(0)).tolist() == [0.0] * 10
    first = by_hand.bernoulli_mask((20, 30), 0.5, np.random.default_rng(3))
    assert np.array_equal(first, by_hand.bernoulli_mask((20, 30), 0.5, np.random.default_rng(3)))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_bernoulli_mask_rejects_bad_p(p):
    with pytest.raises(ValueError, match="p must be a probability"):
        by_hand.bernoulli_mask(5, p, np.random.default_rng(0))


def test_bernoulli_mask_needs_a_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        by_hand.bernoulli_mask(5, 0.5, 0)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.6, 1.0])
def test_dropout_forward_matches_its_mask(p):
    x = np.random.default_rng(1).standard_normal((30, 20))
    copy = x.copy()
    y, mask = by_hand.dropout_forward(x, p, np.random.default_rng(2))
    assert np.array_equal(x, copy)
    scale = 0.0 if p == 1 else 1 / (1 - p)
    assert np.allclose(y, mask * x * scale) and np.isfinite(y).all()


def test_dropout_forward_preserves_the_mean():
    y, _ = by_hand.dropout_forward(np.ones(200_000), 0.3, np.random.default_rng(0))
    assert abs(y.mean() - 1.0) < 0.01


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_dropout_backward_equals_autograd_of_the_reference(p):
    x = torch.randn(40, 30, dtype=torch.float64, requires_grad=True)
    grad_output = torch.randn(40, 30, dtype=torch.float64)
    y = dropout(x, p, generator=torch.Generator().manual_seed(0))
    y.backward(grad_output)
    mask = (y.detach() != 0).double()
    assert torch.allclose(by_hand.dropout_backward(grad_output, mask, p), x.grad)


def test_dropout_backward_on_numpy_and_at_p_one():
    grad, mask = np.ones(4), np.array([1.0, 0.0, 1.0, 0.0])
    assert by_hand.dropout_backward(grad, mask, 0.5).tolist() == [2.0, 0.0, 2.0, 0.0]
    assert by_hand.dropout_backward(grad, np.zeros(4), 1.0).tolist() == [0.0] * 4


def test_plot_mask_draws_and_rejects_non_2d():
    ax = plotting.plot_mask(np.eye(4), title="a mask")
    assert ax.get_title() == "a mask" and ax.get_xlabel() == "unit"
    with pytest.raises(ValueError, match="must be 2-D"):
        plotting.plot_mask(np.ones(3))
    import matplotlib.pyplot as plt
    plt.close("all")


# --- the spread of the kept count: independent draws against a fixed count ----------------------

def test_count_spread_is_near_one_for_independent_draws():
    rng = np.random.default_rng(0)
    counts = [(rng.random(500) >= 0.3).sum() for _ in range(2000)]
    assert abs(count_spread(counts, 500, 0.3) - 1) < 0.1


def test_check_count_spread_rejects_a_fixed_count_and_accepts_bernoulli():
    rng = np.random.default_rng(1)
    check_count_spread(lambda: rng.random(500) >= 0.3, 500, 0.3)
    with pytest.raises(NotYet, match="a fixed count in a shuffled order"):
        check_count_spread(lambda: rng.permutation(500) < 350, 500, 0.3)
    with pytest.raises(NotYet, match="two calls in a row gave the same mask"):
        check_count_spread(lambda: np.arange(500) < 350, 500, 0.3)
    with pytest.raises(NotYet, match="varies far more"):  # whole rows kept or dropped together
        check_count_spread(lambda: np.repeat(rng.random(5) >= 0.3, 100), 500, 0.3)
