"""Tests for `dropout_lib.inference`: the two scaling conventions, a model left in training
mode, Monte-Carlo averaging against weight scaling and `bn_mlp` (chapter 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import inference, mc, models, variants
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


def test_replace_dropout_refuses_the_variants():
    net = nn.Sequential(nn.Linear(3, 4), variants.GaussianDropout(0.3), nn.Linear(4, 2))
    with pytest.raises(TypeError, match="element-wise dropout only"):
        inference.replace_dropout(net, inference.StandardDropout)


def test_standard_dropout_identity_cases_and_masks_like_dropout():
    x = torch.randn(4, 5, dtype=torch.float64, generator=gen(3))
    assert inference.StandardDropout(0.0)(x) is x
    assert inference.StandardDropout(0.0).eval()(x) is x
    empty = torch.zeros(0, 3, dtype=torch.float64)
    assert inference.StandardDropout(0.4)(empty) is empty
    # the same kernel as the inverted layer: the same mask, without the 1 / (1 - p)
    standard = inference.StandardDropout(0.4, generator=gen(4))(x)
    inverted = Dropout(0.4, generator=gen(4))(x)
    torch.testing.assert_close(standard, inverted * 0.6)
    with pytest.raises(TypeError, match="floating-point"):
        inference.StandardDropout(0.4)(torch.ones(3, dtype=torch.int64))


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


# --- Monte-Carlo averaging against weight scaling ------------------------------------------

def test_mc_error_curve_shape_range_and_errors():
    net = models.mlp([4, 8, 3], dropout=0.5, generator=gen(3)).eval()
    x = torch.randn(20, 4, dtype=torch.float64, generator=gen(4))
    y = torch.randint(0, 3, (20,), generator=gen(5))
    errors = inference.mc_error_curve(net, x, y, [1, 3, 10], n_repeats=2, generator=gen(6))
    assert errors.shape == (3,) and ((0 <= errors) & (errors <= 1)).all()
    assert not net.training
    again = inference.mc_error_curve(net, x, y, [1, 3, 10], n_repeats=2, generator=gen(6))
    assert np.array_equal(errors, again)
    with pytest.raises(ValueError, match="no dropout layer"):
        inference.mc_error_curve(models.mlp([4, 8, 3], generator=gen(0)), x, y, [1, 5])
    with pytest.raises(ValueError):
        inference.mc_error_curve(net, x, y, [])
    with pytest.raises(ValueError):
        inference.mc_error_curve(net, x, y, [1], n_repeats=0)


def test_mc_error_curve_reads_the_running_average_of_one_stream():
    """The error at k samples is that of mc.mc_average over the first k samples of the stream."""
    net = models.mlp([4, 8, 3], dropout=0.5, generator=gen(3))
    x = torch.randn(30, 4, dtype=torch.float64, generator=gen(4))
    y = torch.randint(0, 3, (30,), generator=gen(5))
    errors = inference.mc_error_curve(net, x, y, [1, 4], generator=gen(7))
    for k, error in zip([1, 4], errors, strict=True):
        probs = mc.mc_average(net, x, k, generator=gen(7), batched=False)
        assert error == (probs.argmax(1) != y).double().mean().item()


def test_looks_like_training_mode():
    net = models.mlp([4, 16, 3], dropout=0.5, generator=gen(4))
    x = torch.randn(8, 4, dtype=torch.float64, generator=gen(5))
    assert inference.looks_like_training_mode(net.train(), x)
    assert not inference.looks_like_training_mode(net.eval(), x)
    assert not inference.looks_like_training_mode(models.mlp([4, 3]).train(), x)


# --- bn_mlp ----------------------------------------------------------------------------------

def test_bn_mlp_placements():
    before = inference.bn_mlp([4, 8, 8, 2], 0.5, dropout_before_bn=True)
    after = inference.bn_mlp([4, 8, 8, 2], 0.5, dropout_before_bn=False)
    kinds = lambda net: [type(m).__name__ for m in net]  # noqa: E731
    assert kinds(before).count("Dropout") == 1 and kinds(after).count("Dropout") == 1
    assert kinds(after)[-2:] == ["Dropout", "Linear"]
    # in `before`, a dropout layer comes before the second BatchNorm
    assert kinds(before).index("Dropout") < len(kinds(before)) - 1 - kinds(before)[::-1].index(
        "BatchNorm1d")
    with pytest.raises(ValueError):
        inference.bn_mlp([4, 2], 0.5, True)
    with pytest.raises(ValueError):  # dropout before a BN needs a second BN to feed
        inference.bn_mlp([4, 8, 2], 0.5, True)
    assert [type(m).__name__ for m in inference.bn_mlp([4, 8, 2], 0.5, False)][-2] == "Dropout"
