"""Tests for `dropout_lib.batchnorm`: the variance formula of dropout and the variance ratio of
batch-norm layers (chapters 5 and 7)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dropout_lib import batchnorm, inference, models
from dropout_lib.layers import Dropout


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_variance_matches_simulation(p):
    generator = gen(5)
    x = 1.0 + 2.0 * torch.randn(400_000, dtype=torch.float64, generator=generator)
    out = Dropout(p, generator=generator)(x)
    formula = batchnorm.dropout_variance(1.0, 4.0, p)
    assert abs(out.var().item() - formula) / formula < 0.02
    assert batchnorm.dropout_variance(1.0, 4.0, 0.0) == pytest.approx(4.0)


def test_dropout_variance_rejects_bad_input():
    with pytest.raises(ValueError):
        batchnorm.dropout_variance(0.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        batchnorm.dropout_variance(0.0, -1.0, 0.5)


def test_variance_ratio_shows_the_shift_only_after_dropout():
    x = torch.randn(256, 4, dtype=torch.float64, generator=gen(6))
    ratios = {}
    for before in (True, False):
        net = inference.bn_mlp([4, 32, 32, 2], 0.5, dropout_before_bn=before, generator=gen(7))
        for layer in net.modules():
            if isinstance(layer, nn.BatchNorm1d):
                layer.momentum = None  # a plain average over the passes below
        net.train()
        with torch.no_grad():
            for _ in range(10):
                net(x)
        ratios[before] = batchnorm.variance_ratio(net, x)
        assert net.training
    assert ratios[True][0] == pytest.approx(1.0, abs=0.05)
    assert ratios[True][1] < 0.85
    assert ratios[False] == pytest.approx([1.0, 1.0], abs=0.05)
    with pytest.raises(ValueError, match="no batch-norm layer"):
        batchnorm.variance_ratio(models.mlp([2, 2]), torch.zeros(3, 2, dtype=torch.float64))




def test_variance_ratio_is_one_for_a_batch_norm_fed_its_own_statistics():
    """A BatchNorm2d whose running variance is the (population) variance of x per channel."""
    x = torch.randn(50, 3, 4, 4, dtype=torch.float64, generator=gen(8)) * torch.tensor(
        [1.0, 2.0, 3.0], dtype=torch.float64).view(1, 3, 1, 1)
    norm = nn.BatchNorm2d(3, dtype=torch.float64)
    norm.running_var.copy_(x.transpose(0, 1).flatten(1).var(1, unbiased=False) * 4)
    model = nn.Sequential(nn.Identity(), norm).train()
    assert batchnorm.variance_ratio(model, x) == pytest.approx([0.25])
    assert model.training and norm.training  # modes restored
    assert not norm._forward_hooks  # hooks removed


def test_recalibrate_removes_the_shift_and_keeps_the_weights():
    x = torch.randn(256, 4, dtype=torch.float64, generator=gen(9))
    net = inference.bn_mlp([4, 32, 32, 2], 0.5, dropout_before_bn=True, generator=gen(10))
    net.train()
    with torch.no_grad():
        for _ in range(10):
            net(x)  # running statistics learned with dropout on
    before = [t.clone() for t in net.state_dict().values()]
    assert batchnorm.variance_ratio(net, x)[1] < 0.85
    fixed = batchnorm.recalibrate(net, x)
    assert not fixed.training and net.training  # a new model; the old one untouched
    assert all(torch.equal(a, b) for a, b in zip(before, net.state_dict().values(),
                                                      strict=True))
    # one batch, so the running variance is that batch's unbiased variance
    assert batchnorm.variance_ratio(fixed, x) == pytest.approx([255 / 256] * 2, rel=1e-9)
    for name, weight in net.named_parameters():
        assert torch.equal(weight, dict(fixed.named_parameters())[name])
    with pytest.raises(ValueError, match="no batch-norm layer"):
        batchnorm.recalibrate(models.mlp([2, 2]), torch.zeros(3, 2, dtype=torch.float64))
