"""Tests for `dropout_lib.uncertainty`: the batched MC-dropout predictor against the loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dropout_lib import models, uncertainty
from dropout_lib.layers import Dropout


def one_dropout_net(seed: int = 0, p: float = 0.3) -> nn.Sequential:
    """Linear -> tanh -> Dropout -> Linear: its MC mean and variance are known exactly."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 16, dtype=torch.float64), nn.Tanh(), Dropout(p),
                         nn.Linear(16, 2, dtype=torch.float64))


def exact_moments(net: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E and sd of w . (m * h) / (1 - p) + b with m ~ Bernoulli(1 - p), per output."""
    p = net[2].p
    hidden = torch.tanh(net[0](x))
    weight = net[3].weight
    mean = net[3](hidden)
    var = (hidden**2) @ (weight**2).T * p / (1 - p)
    return mean.detach(), var.sqrt().detach()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


X = torch.randn(7, 3, dtype=torch.float64, generator=gen(5))


def test_batched_and_loop_draw_identical_masks_with_one_dropout_layer():
    net = one_dropout_net()
    batched = uncertainty.mc_predict(net, X, 50, generator=gen(1))
    looped = uncertainty.mc_predict_loop(net, X, 50, generator=gen(1))
    for a, b in zip(batched, looped, strict=True):
        torch.testing.assert_close(a, b)


def test_moments_match_the_exact_ones():
    net = one_dropout_net()
    mean, std = uncertainty.mc_predict(net, X, 20000, generator=gen(2))
    want_mean, want_std = exact_moments(net, X)
    torch.testing.assert_close(mean, want_mean, atol=4 * want_std.max().item() / 20000**0.5,
                               rtol=0)
    torch.testing.assert_close(std, want_std, rtol=0.05, atol=0)


@pytest.mark.parametrize("layer", [Dropout, nn.Dropout])
def test_batched_and_loop_agree_in_distribution_with_several_layers(layer):
    torch.manual_seed(0)
    net = nn.Sequential(layer(0.2), nn.Linear(3, 32, dtype=torch.float64), nn.ReLU(),
                        layer(0.5), nn.Linear(32, 1, dtype=torch.float64))
    a_mean, a_std = uncertainty.mc_predict(net, X, 20000, generator=gen(3))
    b_mean, b_std = uncertainty.mc_predict_loop(net, X, 20000, generator=gen(4))
    assert not torch.equal(a_mean, b_mean)  # other masks ...
    torch.testing.assert_close(a_mean, b_mean, atol=5 * a_std.max().item() / 20000**0.5, rtol=0)
    torch.testing.assert_close(a_std, b_std, rtol=0.05, atol=0)  # ... the same distribution


@pytest.mark.parametrize("predict", [uncertainty.mc_predict, uncertainty.mc_predict_loop])
@pytest.mark.parametrize("layer", [Dropout, nn.Dropout])
def test_generator_makes_it_reproducible_and_leaves_global_state(predict, layer):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8, dtype=torch.float64), layer(0.5),
                        nn.Linear(8, 1, dtype=torch.float64))
    state = torch.get_rng_state()
    first = predict(net, X, 10, generator=gen(7))
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not used
    again = predict(net, X, 10, generator=gen(7))
    other = predict(net, X, 10, generator=gen(8))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])
    if layer is Dropout:
        assert net[1].generator is None  # the layer's own generator is put back


@pytest.mark.parametrize("predict", [uncertainty.mc_predict, uncertainty.mc_predict_loop])
def test_batchnorm_stays_in_eval_and_every_mode_is_restored(predict):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8, dtype=torch.float64),
                        nn.BatchNorm1d(8, dtype=torch.float64),
                        nn.ReLU(), Dropout(0.5), nn.Linear(8, 1, dtype=torch.float64))
    net[1].running_mean.fill_(0.5)
    net[1].running_var.fill_(2.0)
    net.train()
    net[4].eval()  # a mixed state, to see that each module gets its own mode back
    before = {name: m.training for name, m in net.named_modules()}
    stats = net[1].running_mean.clone(), net[1].running_var.clone()
    mean, _ = predict(net, X, 4000, generator=gen(0))
    assert {name: m.training for name, m in net.named_modules()} == before
    assert torch.equal(net[1].running_mean, stats[0]) and torch.equal(net[1].running_var, stats[1])
    net.eval()
    with torch.no_grad():
        plain = net(X)
    # With ReLU before dropout and a linear layer after it, the MC mean estimates the eval output.
    torch.testing.assert_close(mean, plain, atol=0.1, rtol=0)


@pytest.mark.parametrize("shape_in, make", [
    ((5, 3), lambda: models.mlp([3, 16, 4], dropout=0.5)),
    ((6, 2, 10), lambda: nn.Sequential(nn.Conv1d(2, 4, 3, dtype=torch.float64),
                                       nn.Dropout1d(0.5))),
])
def test_outputs_are_shaped_like_the_model_output(shape_in, make):
    torch.manual_seed(0)
    net = make()
    x = torch.randn(*shape_in, dtype=torch.float64)
    mean, std = uncertainty.mc_predict(net, x, 9, generator=gen(0))
    assert mean.shape == std.shape == net.eval()(x).shape
    assert (std > 0).any() and mean.dtype == torch.float64


def test_bad_arguments_raise():
    net = one_dropout_net()
    with pytest.raises(ValueError, match="no dropout layer"):
        uncertainty.mc_predict(nn.Linear(3, 1, dtype=torch.float64), X)
    with pytest.raises(ValueError, match="samples must be"):
        uncertainty.mc_predict(net, X, 1)
    with pytest.raises(TypeError, match="x must be"):
        uncertainty.mc_predict(net, [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="model must be"):
        uncertainty.mc_predict_loop(lambda x: x, X)


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
    assert torch.equal(torch.get_rng_state(), state)
    assert not first.training and all(layer.generator is None
                                      for layer in uncertainty.dropout_layers(first))
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert first(split.x_train).shape == split.y_train.shape
