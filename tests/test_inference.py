"""Tests for `dropout_lib.inference`: the two scaling conventions, Monte-Carlo averaging, the
variance shift and the closed form of dropout in linear regression."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import inference, models
from dropout_lib.layers import Dropout


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- StandardDropout ----------------------------------------------------------------------------

def test_standard_dropout_training_keeps_or_zeros_without_scaling():
    x = torch.full((200_000,), 3.0, dtype=torch.float64)
    out = inference.StandardDropout(0.3, generator=gen())(x)
    assert set(out.unique().tolist()) <= {0.0, 3.0}
    assert abs((out == 0).double().mean().item() - 0.3) < 0.005
    assert abs(out.mean().item() - 0.7 * 3.0) < 0.02  # E[m x] = (1 - p) x


def test_standard_dropout_eval_scales_by_keep_probability():
    layer = inference.StandardDropout(0.25).eval()
    x = torch.randn(4, 5, dtype=torch.float64)
    assert torch.allclose(layer(x), 0.75 * x)
    assert "p=0.25" in repr(layer)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_standard_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError):
        inference.StandardDropout(p)


def test_inverted_and_standard_match_expectations_at_the_right_end():
    """Mean of inverted dropout in training = x = its eval output; mean of standard dropout in
    training = (1 - p) x = its eval output."""
    x = torch.full((400_000,), 1.5, dtype=torch.float64)
    for p in (0.2, 0.5, 0.8):
        standard = inference.StandardDropout(p, generator=gen(1))
        inverted = Dropout(p, generator=gen(2))
        assert abs(standard(x).mean() - standard.eval()(x).mean()) < 0.02
        assert abs(inverted(x).mean() - inverted.eval()(x).mean()) < 0.02


# --- conversions --------------------------------------------------------------------------------

def test_scale_weights_for_inference_scales_weight_not_bias_and_copies():
    weight, bias = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    before = weight.clone()
    new_weight, new_bias = inference.scale_weights_for_inference(weight, bias, 0.2)
    assert torch.allclose(new_weight, 0.8 * weight) and torch.equal(new_bias, bias)
    assert torch.equal(weight, before) and new_bias is not bias
    assert inference.scale_weights_for_inference(weight, None, 0.5)[1] is None


def test_replace_dropout_copies_and_swaps_every_dropout_kind():
    net = nn.Sequential(Dropout(0.2), nn.Linear(3, 4), nn.Dropout(0.4),
                        inference.StandardDropout(0.5), nn.Linear(4, 2))
    new = inference.replace_dropout(net, lambda p: inference.StandardDropout(p))
    assert [type(m).__name__ for m in new] == ["StandardDropout", "Linear", "StandardDropout",
                                               "StandardDropout", "Linear"]
    assert [m.p for m in new if isinstance(m, inference.StandardDropout)] == [0.2, 0.4, 0.5]
    assert new[1].weight is not net[1].weight
    assert torch.equal(new[1].weight, net[1].weight)
    with pytest.raises(TypeError):
        inference.replace_dropout(nn.Linear(2, 2), nn.Identity)


def test_standard_to_inverted_computes_the_same_function_in_both_modes():
    torch.manual_seed(0)
    standard = inference.replace_dropout(models.mlp([5, 8, 8, 3], dropout=[0.2, 0.5, 0.3]),
                                         inference.StandardDropout)
    converted = inference.standard_to_inverted(standard)
    assert not any(isinstance(m, inference.StandardDropout) for m in converted)
    x = torch.randn(10, 5, dtype=torch.float64)
    assert torch.allclose(standard.eval()(x), converted.eval()(x), atol=1e-12)
    # training mode with the same masks: give both the same generators
    for a, b, seed in zip([m for m in standard if isinstance(m, inference.StandardDropout)],
                          [m for m in converted if isinstance(m, Dropout)], range(3),
                          strict=True):
        a.generator, b.generator = gen(seed), gen(seed)
    assert torch.allclose(standard.train()(x), converted.train()(x), atol=1e-12)


def test_standard_to_inverted_needs_a_following_linear():
    with pytest.raises(ValueError, match="not followed"):
        inference.standard_to_inverted(nn.Sequential(nn.Linear(2, 2),
                                                      inference.StandardDropout(0.5)))


# --- Monte-Carlo averaging ----------------------------------------------------------------------

def test_mc_average_restores_mode_and_returns_probabilities():
    torch.manual_seed(1)
    net = models.mlp([4, 16, 3], dropout=0.5).eval()
    x = torch.randn(6, 4, dtype=torch.float64)
    probs = inference.mc_average(net, x, 10)
    assert probs.shape == (6, 3) and not net.training
    assert torch.allclose(probs.sum(1), torch.ones(6, dtype=torch.float64))
    net.train()
    inference.mc_average(net, x, 2, average="logits")
    assert net.training


def test_mc_average_converges_to_the_exact_arithmetic_mean():
    from dropout_lib import ensembles

    torch.manual_seed(2)
    net = models.mlp([3, 6, 3], dropout=0.5)
    x = torch.randn(4, 3, dtype=torch.float64)
    exact = ensembles.exact_ensemble(net, x)
    assert torch.allclose(inference.mc_average(net, x, 1500), exact.arithmetic, atol=0.04)
    # one layer before the softmax: the mean of the logits gives weight scaling
    assert torch.allclose(inference.mc_average(net, x, 1500, average="logits"),
                          exact.weight_scaled, atol=0.04)


def test_mc_average_without_dropout_equals_one_pass():
    net = models.mlp([3, 5, 2])
    x = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(inference.mc_average(net, x, 3), torch.softmax(net(x), -1))


@pytest.mark.parametrize("kwargs", [{"n_samples": 0}, {"n_samples": 2.5},
                                    {"n_samples": 3, "average": "median"}])
def test_mc_average_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        inference.mc_average(models.mlp([2, 2]), torch.zeros(1, 2, dtype=torch.float64),
                             **kwargs)


def test_mc_error_curve_shape_range_and_errors():
    torch.manual_seed(3)
    net = models.mlp([4, 8, 3], dropout=0.5).eval()
    x, y = torch.randn(20, 4, dtype=torch.float64), torch.randint(0, 3, (20,))
    errors = inference.mc_error_curve(net, x, y, [1, 3, 10], n_repeats=2)
    assert errors.shape == (3,) and ((0 <= errors) & (errors <= 1)).all()
    assert not net.training
    no_dropout = models.mlp([4, 8, 3])
    flat = inference.mc_error_curve(no_dropout, x, y, [1, 5])
    assert np.allclose(flat, flat[0])
    with pytest.raises(ValueError):
        inference.mc_error_curve(net, x, y, [])
    with pytest.raises(ValueError):
        inference.mc_error_curve(net, x, y, [1], n_repeats=0)


def test_looks_like_training_mode():
    torch.manual_seed(4)
    net = models.mlp([4, 16, 3], dropout=0.5)
    x = torch.randn(8, 4, dtype=torch.float64)
    assert inference.looks_like_training_mode(net.train(), x)
    assert not inference.looks_like_training_mode(net.eval(), x)
    assert not inference.looks_like_training_mode(models.mlp([4, 3]).train(), x)


# --- the variance shift -------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_variance_matches_simulation(p):
    generator = gen(5)
    x = 1.0 + 2.0 * torch.randn(400_000, dtype=torch.float64, generator=generator)
    out = Dropout(p, generator=generator)(x)
    formula = inference.dropout_variance(1.0, 4.0, p)
    assert abs(out.var().item() - formula) / formula < 0.02
    assert inference.dropout_variance(1.0, 4.0, 0.0) == pytest.approx(4.0)


def test_dropout_variance_rejects_bad_input():
    with pytest.raises(ValueError):
        inference.dropout_variance(0.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        inference.dropout_variance(0.0, -1.0, 0.5)


def test_bn_mlp_placements():
    before = inference.bn_mlp([4, 8, 8, 2], 0.5, dropout_before_bn=True)
    after = inference.bn_mlp([4, 8, 8, 2], 0.5, dropout_before_bn=False)
    kinds = lambda net: [type(m).__name__ for m in net]  # noqa: E731
    assert kinds(before).count("Dropout") == 2 and kinds(after).count("Dropout") == 1
    assert kinds(after)[-2:] == ["Dropout", "Linear"]
    # in `before`, a dropout layer comes before the second BatchNorm
    assert kinds(before).index("Dropout") < len(kinds(before)) - 1 - kinds(before)[::-1].index(
        "BatchNorm1d")
    with pytest.raises(ValueError):
        inference.bn_mlp([4, 2], 0.5, True)


def test_bn_variance_ratio_shows_the_shift_only_after_dropout():
    torch.manual_seed(6)
    x = torch.randn(256, 4, dtype=torch.float64)
    ratios = {}
    for before in (True, False):
        net = inference.bn_mlp([4, 32, 32, 2], 0.5, dropout_before_bn=before)
        for layer in net.modules():
            if isinstance(layer, nn.BatchNorm1d):
                layer.momentum = None  # a plain average over the passes below
        net.train()
        with torch.no_grad():
            for _ in range(10):
                net(x)
        ratios[before] = inference.bn_variance_ratio(net, x)
        assert net.training
    assert ratios[True][0] == pytest.approx(1.0, abs=0.05)
    assert ratios[True][1] < 0.85
    assert ratios[False] == pytest.approx([1.0, 1.0], abs=0.05)
    with pytest.raises(ValueError, match="no BatchNorm1d"):
        inference.bn_variance_ratio(models.mlp([2, 2]), torch.zeros(3, 2, dtype=torch.float64))


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
    formula = inference.dropout_expected_loss(x, y, w, p)
    sampled = inference.dropout_sampled_loss(x, y, w, p, n_samples=20_000, generator=gen(8))
    assert abs(sampled - formula) / formula < 0.02
    assert inference.dropout_expected_loss(x, y, w, 0.0) == pytest.approx(
        ((y.reshape(-1) - x @ w) ** 2).sum().item())


def test_regression_weights_minimise_the_expected_loss_and_reduce_to_least_squares():
    x, y = regression_data()
    w = inference.dropout_regression_weights(x, y, 0.3)
    best = inference.dropout_expected_loss(x, y, w, 0.3)
    generator = gen(9)
    for _ in range(10):
        nudged = w + 0.01 * torch.randn(w.shape, dtype=torch.float64, generator=generator)
        assert inference.dropout_expected_loss(x, y, nudged, 0.3) > best
    least_squares = torch.linalg.lstsq(x, y).solution.reshape(-1)
    assert torch.allclose(inference.dropout_regression_weights(x, y, 0.0), least_squares)
    with pytest.raises(ValueError):
        inference.dropout_regression_weights(x, y, 1.0)


def test_uncorrelated_features_shrink_by_the_keep_probability():
    q, _ = torch.linalg.qr(torch.randn(50, 3, dtype=torch.float64, generator=gen(10)))
    y = q @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    w = inference.dropout_regression_weights(q, y, 0.4)
    assert torch.allclose(w, 0.6 * torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))


def test_training_with_dropout_finds_the_closed_form():
    x, y = regression_data()
    x = x / x.norm(dim=0) * 5  # comparable features, so one learning rate suits all
    trained = inference.fit_linear_with_dropout(x, y, 0.3, steps=4000, lr=0.05,
                                                generator=gen(11))
    closed = inference.dropout_regression_weights(x, y, 0.3)
    assert ((trained - closed).norm() / closed.norm()).item() < 0.05


def test_regression_input_errors():
    with pytest.raises(ValueError, match="shape"):
        inference.dropout_regression_weights(torch.zeros(3, dtype=torch.float64),
                                             torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="rows"):
        inference.dropout_regression_weights(torch.zeros(3, 2, dtype=torch.float64),
                                             torch.zeros(4), 0.5)
