"""Tests for `dropout_lib.regression`: the closed form of dropout in linear regression
(chapter 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dropout_lib import regression


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- linear regression --------------------------------------------------------------------------

def regression_data(seed=7, n=60, d=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) @ (np.eye(d) + 0.5 * rng.normal(size=(d, d)))
    y = x @ rng.normal(size=d) + 0.3 * rng.normal(size=n)
    return torch.as_tensor(x), torch.as_tensor(y[:, None])


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_expected_loss_matches_sampled_loss(p):
    x, y = regression_data()
    w = torch.linspace(-1, 1, 4, dtype=torch.float64)
    formula = regression.dropout_expected_loss(x, y, w, p)
    sampled = regression.dropout_sampled_loss(x, y, w, p, n_samples=20_000, generator=gen(8))
    assert abs(sampled - formula) / formula < 0.02
    assert regression.dropout_expected_loss(x, y, w, 0.0) == pytest.approx(
        ((y.reshape(-1) - x @ w) ** 2).sum().item())


def test_regression_weights_minimise_the_expected_loss_and_reduce_to_least_squares():
    x, y = regression_data()
    w = regression.dropout_regression_weights(x, y, 0.3)
    best = regression.dropout_expected_loss(x, y, w, 0.3)
    generator = gen(9)
    for _ in range(10):
        nudged = w + 0.01 * torch.randn(w.shape, dtype=torch.float64, generator=generator)
        assert regression.dropout_expected_loss(x, y, nudged, 0.3) > best
    least_squares = torch.linalg.lstsq(x, y).solution.reshape(-1)
    assert torch.allclose(regression.dropout_regression_weights(x, y, 0.0), least_squares)
    with pytest.raises(ValueError):
        regression.dropout_regression_weights(x, y, 1.0)


def test_uncorrelated_features_shrink_by_the_keep_probability():
    q, _ = torch.linalg.qr(torch.randn(50, 3, dtype=torch.float64, generator=gen(10)))
    y = q @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    w = regression.dropout_regression_weights(q, y, 0.4)
    assert torch.allclose(w, 0.6 * torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))


def test_training_with_dropout_finds_the_closed_form():
    x, y = regression_data()
    x = x / x.norm(dim=0) * 5  # comparable features, so one learning rate suits all
    trained = regression.fit_linear_with_dropout(x, y, 0.3, steps=4000, lr=0.05,
                                                generator=gen(11))
    closed = regression.dropout_regression_weights(x, y, 0.3)
    assert ((trained - closed).norm() / closed.norm()).item() < 0.05


def test_regression_input_errors():
    with pytest.raises(ValueError, match="shape"):
        regression.dropout_regression_weights(torch.zeros(3, dtype=torch.float64),
                                             torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="rows"):
        regression.dropout_regression_weights(torch.zeros(3, 2, dtype=torch.float64),
                                             torch.zeros(4), 0.5)


def test_ridge_weights_against_a_direct_minimisation_and_the_scale_story():
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(40, 3, dtype=torch.float64, generator=generator)
    y = torch.randn(40, dtype=torch.float64, generator=generator)
    w = regression.ridge_weights(x, y, 2.0)
    # the gradient of |y - Xw|^2 + lam |w|^2 vanishes at the solution
    gradient = -2 * x.T @ (y - x @ w) + 2 * 2.0 * w
    assert gradient.abs().max() < 1e-10
    assert torch.allclose(regression.ridge_weights(x, y, 0.0),
                          torch.linalg.lstsq(x, y[:, None]).solution.reshape(-1))
    # equal feature norms: dropout's penalty is plain ridge with lam = p/(1-p) |x_j|^2
    x_equal = x / x.norm(dim=0)
    p = 0.3
    assert torch.allclose(regression.ridge_weights(x_equal, y, p / (1 - p)),
                          regression.dropout_regression_weights(x_equal, y, p))
    # rescaling a feature: dropout's predictions stay, plain ridge's move
    scaled = x_equal.clone()
    scaled[:, 0] *= 10
    dropout_change = (scaled @ regression.dropout_regression_weights(scaled, y, p)
                      - x_equal @ regression.dropout_regression_weights(x_equal, y, p))
    ridge_change = (scaled @ regression.ridge_weights(scaled, y, p / (1 - p))
                    - x_equal @ regression.ridge_weights(x_equal, y, p / (1 - p)))
    assert dropout_change.abs().max() < 1e-12 and ridge_change.abs().max() > 1e-3
    with pytest.raises(ValueError):
        regression.ridge_weights(x, y, -1.0)
