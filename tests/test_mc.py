"""Tests for `dropout_lib.mc`: the one MC-dropout sampler, batched against the loop, and its two
views `mc_predict` (mean, std) and `mc_average` (class probabilities)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dropout_lib import ensembles, mc, models, variants
from dropout_lib.layers import Dropout

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one_dropout_net(p: float = 0.3) -> nn.Sequential:
    """Linear -> tanh -> Dropout -> Linear: its MC mean and variance are known exactly."""
    return nn.Sequential(models.mlp([3, 16], generator=gen(0))[0], nn.Tanh(), Dropout(p),
                         models.mlp([16, 2], generator=gen(1))[0])


def exact_moments(net: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E and sd of w . (m * h) / (1 - p) + b with m ~ Bernoulli(1 - p), per output."""
    p = net[2].p
    hidden = torch.tanh(net[0](x))
    weight = net[3].weight
    mean = net[3](hidden)
    var = (hidden**2) @ (weight**2).T * p / (1 - p)
    return mean.detach(), var.sqrt().detach()


X = torch.randn(7, 3, dtype=F64, generator=gen(5))


def test_batched_and_loop_draw_identical_masks_with_one_dropout_layer():
    net = one_dropout_net()
    batched = mc.mc_predict(net, X, 50, generator=gen(1))
    looped = mc.mc_predict(net, X, 50, generator=gen(1), batched=False)
    for a, b in zip(batched, looped, strict=True):
        torch.testing.assert_close(a, b)


def test_sample_is_sample_major_and_the_views_read_it():
    net = one_dropout_net()
    out = mc.sample(net, X, 6, generator=gen(2))
    assert out.shape == (6, 7, 2)
    mean, std = mc.mc_predict(net, X, 6, generator=gen(2))
    torch.testing.assert_close(mean, out.mean(0))
    torch.testing.assert_close(std, out.std(0, correction=0))
    torch.testing.assert_close(mc.mc_average(net, X, 6, generator=gen(2)),
                               torch.softmax(out, -1).mean(0))
    torch.testing.assert_close(mc.mc_average(net, X, 6, generator=gen(2), average="logits"),
                               torch.softmax(out.mean(0), -1))


def test_moments_match_the_exact_ones():
    net = one_dropout_net()
    mean, std = mc.mc_predict(net, X, 20000, generator=gen(2))
    want_mean, want_std = exact_moments(net, X)
    torch.testing.assert_close(mean, want_mean, atol=4 * want_std.max().item() / 20000**0.5,
                               rtol=0)
    torch.testing.assert_close(std, want_std, rtol=0.05, atol=0)


@pytest.mark.parametrize("layer", [Dropout, nn.Dropout])
def test_batched_and_loop_agree_in_distribution_with_several_layers(layer):
    body = models.mlp([3, 32, 1], generator=gen(0))
    net = nn.Sequential(layer(0.2), body[0], body[1], layer(0.5), body[2])
    a_mean, a_std = mc.mc_predict(net, X, 8000, generator=gen(3))
    b_mean, b_std = mc.mc_predict(net, X, 8000, generator=gen(4), batched=False)
    assert not torch.equal(a_mean, b_mean)  # other masks ...
    # the difference of two means of 8000 samples: sd sqrt(2 / 8000) std; 7 sd
    torch.testing.assert_close(a_mean, b_mean, atol=7 * a_std.max().item() * (2 / 8000)**0.5,
                               rtol=0)
    torch.testing.assert_close(a_std, b_std, rtol=0.05, atol=0)  # ... the same distribution


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("layer", [Dropout, nn.Dropout, nn.AlphaDropout])
def test_generator_makes_it_reproducible_and_leaves_global_state(batched, layer):
    net = nn.Sequential(models.mlp([3, 8], generator=gen(0))[0], layer(0.5),
                        models.mlp([8, 1], generator=gen(1))[0])
    state = torch.get_rng_state()
    first = mc.mc_predict(net, X, 10, generator=gen(7), batched=batched)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not used
    again = mc.mc_predict(net, X, 10, generator=gen(7), batched=batched)
    other = mc.mc_predict(net, X, 10, generator=gen(8), batched=batched)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])
    assert net[1].training and not net[1]._forward_hooks  # its mode back, no hook left
    if layer is Dropout:
        assert net[1].generator is None  # the layer's own generator is put back


# (layer, input shape, leading dimensions that index one channel: 0 for element-wise layers)
TORCH_LAYERS = [
    (nn.Dropout(0.4), (500, 6), 0),
    (nn.Dropout1d(0.4), (500, 6, 3), 2),
    (nn.Dropout1d(0.4), (600, 3), 1),         # no batch dimension: 600 channels
    (nn.Dropout2d(0.4), (500, 6, 3, 3), 2),
    (nn.Dropout3d(0.4), (500, 6, 2, 2, 2), 2),
    (nn.Dropout3d(0.4), (600, 2, 2, 2), 1),   # no batch dimension
    (nn.AlphaDropout(0.4), (500, 6), 0),
    (nn.FeatureAlphaDropout(0.4), (500, 6, 3), 2),
]


@pytest.mark.parametrize("torch_layer, shape, channel_dims", TORCH_LAYERS)
def test_torch_layers_with_a_generator_follow_their_own_rule(torch_layer, shape, channel_dims):
    """With a generator, a torch.nn layer is applied with the course kernel: the same kind of
    mask at the same rate, every channel dropped whole where torch drops channels."""
    x = torch.rand(shape, dtype=F64, generator=gen(0)) + 0.5  # positive
    out = mc.sample(torch_layer, x, 1, generator=gen(1))[0]
    assert out.shape == x.shape
    # alpha dropout sends a dropped unit below zero; the other layers to exactly zero
    alpha = isinstance(torch_layer, nn.AlphaDropout | nn.FeatureAlphaDropout)
    dropped = out < 0 if alpha else out == 0
    assert abs(dropped.double().mean().item() - 0.4) < 0.1
    if channel_dims:
        maps = dropped.reshape(*shape[:channel_dims], -1)
        assert torch.all(maps.all(-1) | (~maps).all(-1))


@pytest.mark.parametrize("batched", [True, False])
def test_batchnorm_stays_in_eval_and_every_mode_is_restored(batched):
    body = models.mlp([3, 8, 1], generator=gen(0))
    net = nn.Sequential(body[0], nn.BatchNorm1d(8, dtype=F64), nn.ReLU(), Dropout(0.5), body[2])
    net[1].running_mean.fill_(0.5)
    net[1].running_var.fill_(2.0)
    net.train()
    net[4].eval()  # a mixed state, to see that each module gets its own mode back
    before = {name: m.training for name, m in net.named_modules()}
    stats = net[1].running_mean.clone(), net[1].running_var.clone()
    mean, _ = mc.mc_predict(net, X, 2000, generator=gen(0), batched=batched)
    assert {name: m.training for name, m in net.named_modules()} == before
    assert torch.equal(net[1].running_mean, stats[0]) and torch.equal(net[1].running_var, stats[1])
    net.eval()
    with torch.no_grad():
        plain = net(X)
    # With ReLU before dropout and a linear layer after it, the MC mean estimates the eval output.
    torch.testing.assert_close(mean, plain, atol=0.1, rtol=0)


def test_a_layer_with_one_mask_per_pass_is_sampled_in_a_loop():
    """DropConnect draws one weight mask for the whole batch: a repeated batch would give T
    copies of one sample, so the sampler runs T passes instead."""
    net = nn.Sequential(variants.DropConnectLinear(3, 4, p=0.5, generator=gen(0)))
    out = mc.sample(net, X[:1], 200, generator=gen(1))
    assert out.shape == (200, 1, 4)
    assert len({tuple(row.flatten().tolist()) for row in out}) > 100  # independent samples


@pytest.mark.parametrize("shape_in, make", [
    ((5, 3), lambda: models.mlp([3, 16, 4], dropout=0.5, generator=gen(0))),
    ((6, 2, 10), lambda: nn.Sequential(nn.Conv1d(2, 4, 3, dtype=F64), nn.Dropout1d(0.5))),
    ((4, 2, 6, 6), lambda: nn.Sequential(variants.DropBlock2d(0.3, 3, generator=gen(0)))),
])
def test_outputs_are_shaped_like_the_model_output(shape_in, make):
    net = make()
    x = torch.randn(*shape_in, dtype=F64, generator=gen(1))
    mean, std = mc.mc_predict(net, x, 9, generator=gen(0))
    assert mean.shape == std.shape == net.eval()(x).shape
    assert (std > 0).any() and mean.dtype == F64


def test_mc_average_converges_to_the_exact_arithmetic_mean():
    net = models.mlp([3, 6, 3], dropout=0.5, generator=gen(2))
    x = torch.randn(4, 3, dtype=F64, generator=gen(3))
    exact = ensembles.exact_ensemble(net, x)
    torch.testing.assert_close(mc.mc_average(net, x, 1500, generator=gen(4)), exact.arithmetic,
                               atol=0.04, rtol=0)
    # one layer before the softmax: the mean of the logits gives weight scaling
    torch.testing.assert_close(mc.mc_average(net, x, 1500, generator=gen(5), average="logits"),
                               exact.weight_scaled, atol=0.04, rtol=0)


def test_mc_average_rows_are_probabilities_and_modes_come_back():
    net = models.mlp([4, 16, 3], dropout=0.5, generator=gen(1)).eval()
    x = torch.randn(6, 4, dtype=F64, generator=gen(2))
    probs = mc.mc_average(net, x, 10, generator=gen(3))
    assert probs.shape == (6, 3) and not net.training
    torch.testing.assert_close(probs.sum(1), torch.ones(6, dtype=F64))
    net.train()
    mc.mc_average(net, x, 1, generator=gen(3))
    assert net.training


def test_bad_arguments_raise():
    net = one_dropout_net()
    with pytest.raises(ValueError, match="no dropout layer"):
        mc.mc_predict(nn.Linear(3, 1, dtype=F64), X)
    with pytest.raises(ValueError, match="samples must be"):
        mc.mc_predict(net, X, 1)
    with pytest.raises(ValueError, match="samples must be"):
        mc.sample(net, X, 0)
    with pytest.raises(ValueError, match="samples must be"):
        mc.mc_average(net, X, 2.5)
    with pytest.raises(ValueError, match="average must be"):
        mc.mc_average(net, X, 3, average="median")
    with pytest.raises(TypeError, match="x must be"):
        mc.mc_predict(net, [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="model must be"):
        mc.sample(lambda x: x, X, 2)
    with pytest.raises(ValueError, match="batch dimension"):
        mc.sample(net, torch.tensor(1.0, dtype=F64), 2)
