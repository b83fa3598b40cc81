"""Tests for `dropout_lib.uncertainty`: chapter 6's data, its trained model and `coverage`."""

from __future__ import annotations

import pytest
import torch

from dropout_lib import layers, mc, uncertainty


def test_coverage_counts_the_inside_of_a_two_sided_interval():
    y = torch.tensor([0.0, 0.5, 1.5, -2.5, 3.5])
    mean, std = torch.zeros(5), torch.ones(5)
    assert uncertainty.coverage(y, mean, std, z=1.0) == pytest.approx(2 / 5)
    assert uncertainty.coverage(y, mean, std, z=2.0) == pytest.approx(3 / 5)
    assert uncertainty.coverage(y, mean + 10, 2 * std, z=1.96) == 0.0
    with pytest.raises(ValueError, match="z must be positive"):
        uncertainty.coverage(y, mean, std, z=0)
    with pytest.raises(ValueError, match="one shape"):
        uncertainty.coverage(y, mean[:3], std, z=1)


def test_gap_regression_has_a_gap_and_a_wide_holdout():
    split = uncertainty.gap_regression(n_train=40, n_holdout=200, seed=1)
    x = split.x_train.ravel()
    assert split.x_train.shape == (40, 1) and split.y_holdout.shape == (200, 1)
    assert uncertainty.in_data(split.x_train).all()
    assert (x < 0).sum() == 20 and split.x_holdout.abs().max() > 10
    assert torch.equal(uncertainty.gap_regression(seed=1).y_train,
                       uncertainty.gap_regression(seed=1).y_train)


def test_chapter_model_is_reproducible_and_does_not_touch_global_state():
    state = torch.get_rng_state()
    first, split = uncertainty.chapter_model("tanh", steps=20)
    second, _ = uncertainty.chapter_model("tanh", steps=20)
    other, _ = uncertainty.chapter_model("tanh", steps=20, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert not first.training and all(layer.generator is None
                                      for layer in layers.dropout_layers(first))
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first[0].weight, other[0].weight)
    assert first(split.x_train).shape == split.y_train.shape


def test_chapter_model_learns_the_clusters_and_is_uncertain_far_out():
    model, split = uncertainty.chapter_model("relu", steps=300)
    with torch.no_grad():
        fitted = model(split.x_train)
    assert ((fitted - split.y_train) ** 2).mean() < 0.1  # the noise variance is 0.01
    grid = torch.linspace(-12, 12, 97, dtype=torch.float64)[:, None]
    _, std = mc.mc_predict(model, grid, 200, generator=torch.Generator().manual_seed(0))
    assert std[grid.abs() >= 10].mean() > 2 * std[uncertainty.in_data(grid)].mean()


@pytest.mark.parametrize("steps", [0, 2.5, True])
def test_chapter_model_rejects_bad_steps(steps):
    with pytest.raises(ValueError, match="steps"):
        uncertainty.chapter_model(steps=steps)
