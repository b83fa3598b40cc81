"""Tests for `dropout_lib.practice` and `dropout_lib.blocks` (chapter 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import blocks, data, data_size, layers, models, practice, training, transformer
from dropout_lib.layers import Dropout
from dropout_lib.variants import GaussianDropout, SpatialDropout


def test_project_max_norm_scales_only_long_rows():
    weight = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]], dtype=torch.float64)
    projected = practice.project_max_norm(weight, 1.0)
    assert torch.allclose(projected[0], torch.tensor([0.6, 0.8], dtype=torch.float64))
    assert torch.equal(projected[1:], weight[1:])
    assert torch.equal(weight[0], torch.tensor([3.0, 4.0], dtype=torch.float64))  # untouched


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 9), (3, 2, 3, 3)])
@pytest.mark.parametrize("c", [0.5, 1.0, 3.0])
def test_project_max_norm_matches_torch_renorm(shape, c):
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # torch.renorm bounds sub-tensors along dim 0: the same constraint.
    want = torch.renorm(weight, p=2, dim=0, maxnorm=c)
    assert torch.allclose(practice.project_max_norm(weight, c), want, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1.0, True, "3"])
def test_project_max_norm_rejects_bad_bound(bad):
    with pytest.raises(ValueError, match="c must be a positive"):
        practice.project_max_norm(torch.ones(2, 2), bad)


def test_project_max_norm_rejects_vectors():
    with pytest.raises(TypeError):
        practice.project_max_norm(torch.ones(3), 1.0)


def test_apply_max_norm_in_place_on_linear_and_conv():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Conv2d(1, 2, 3))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(10)
    bias = model[0].bias.clone()
    practice.apply_max_norm(model, 0.7)
    assert practice.max_row_norm(model) <= 0.7 + 1e-6
    assert model[1].weight.flatten(1).norm(dim=1).max() <= 0.7 + 1e-6
    assert torch.equal(model[0].bias, bias)


def test_max_norm_after_every_step_of_fit_bounds_the_rows():
    split = data.digits(n_train=60, n_holdout=40, seed=0)

    def run():
        net = models.mlp([64, 16, 10], dropout=0.2, generator=torch.Generator().manual_seed(0))
        history = training.fit(net, split, epochs=3, lr=0.1, optimizer="sgd", record="final",
                               generator=torch.Generator().manual_seed(0),
                               after_step=lambda step: practice.apply_max_norm(net, 0.5))
        return history, practice.max_row_norm(net)

    (first, norm), (second, _) = run(), run()
    assert first == second
    assert 0 <= first.holdout_error <= 1 and norm <= 0.5 + 1e-9


def test_rate_sweep_shape_and_width_scaling():
    split = data.digits(n_train=40, n_holdout=40, seed=0)
    errors = practice.rate_sweep(split, [0.0, 0.5], n_hidden=8, scale_width=True,
                                 seeds=(0, 1), epochs=1)
    assert errors.shape == (2, 2) and np.all((errors >= 0) & (errors <= 1))
    with pytest.raises(ValueError, match=r"rate must be a probability in \[0, 1\)"):
        practice.rate_sweep(split, [1.0], n_hidden=8, epochs=1)
    with pytest.raises(ValueError, match="classification"):
        practice.rate_sweep(data.two_input_regression(n_train=5, n_holdout=5), [0.0],
                            n_hidden=4, epochs=1)


def test_rate_sweep_is_the_fit_of_an_mlp_seeded_by_the_seed():
    """One run of the sweep, written out: the same numbers, and no global random state used."""
    split = data.digits(n_train=40, n_holdout=40, seed=0)
    state = torch.get_rng_state()
    errors = practice.rate_sweep(split, [0.5], n_hidden=8, seeds=(3,), epochs=2, lr=1e-2)
    assert torch.equal(torch.get_rng_state(), state)
    net = models.mlp([64, 8, 8, 10], dropout=0.5, generator=torch.Generator().manual_seed(3))
    history = training.fit(net, split, epochs=2, lr=1e-2, record="final",
                           generator=torch.Generator().manual_seed(3))
    assert errors[0, 0] == history.holdout_error


def test_best_rate_averages_over_seeds():
    errors = np.array([[0.3, 0.1, 0.2], [0.3, 0.4, 0.2]])
    assert practice.best_rate([0.0, 0.2, 0.5], errors) == 0.5
    assert practice.best_rate([0.1, 0.2], np.array([[0.2, 0.2]])) == 0.1  # ties: the first
    with pytest.raises(ValueError, match="shape"):
        practice.best_rate([0.1, 0.2], np.zeros(2))


def test_block_with_dropout_order_and_eval():
    block = practice.block_with_dropout(5, 7, 3, 0.4)
    kinds = [type(m) for m in block]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, Dropout, nn.Linear]
    block.eval()
    x = torch.randn(4, 5, dtype=torch.float64)
    assert torch.equal(block(x), block(x)) and block(x).shape == (4, 3)


def test_variance_shift_formula_and_placement():
    x = torch.rand(400, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    state = torch.get_rng_state()
    before = practice.variance_shift_ratio(x, 0.5, dropout_first=True)
    after = practice.variance_shift_ratio(x, 0.5, dropout_first=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert before < 0.8 and abs(after - 1) < 0.1
    assert practice.variance_shift_ratio(x, 0.0, dropout_first=True) == pytest.approx(1, abs=0.05)
    assert before == practice.variance_shift_ratio(x, 0.5, dropout_first=True)  # seeded
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        practice.variance_shift_ratio(x, 1.0, dropout_first=True)


def test_tiny_cnn_layers_and_shapes():
    element = blocks.tiny_cnn(p=0.3, channels=4)
    spatial = blocks.tiny_cnn(p=0.3, spatial=True, channels=4)
    plain = blocks.tiny_cnn(p=0.0, channels=4)
    assert sum(type(m) is Dropout for m in element) == 2
    assert sum(isinstance(m, SpatialDropout) for m in spatial) == 2
    assert not layers.dropout_layers(plain)
    assert element(torch.rand(3, 64, dtype=torch.float64)).shape == (3, 10)
    with pytest.raises(ValueError):
        blocks.tiny_cnn(p=1.5)


def test_tiny_cnn_takes_any_drop_layer_with_its_rate_and_generator():
    generator = torch.Generator().manual_seed(0)
    net = blocks.tiny_cnn(p=0.3, channels=4, layer=GaussianDropout, generator=generator)
    drops = [m for m in net if isinstance(m, GaussianDropout)]
    assert len(drops) == 2 and all(m.p == 0.3 and m.generator is generator for m in drops)
    assert not any(type(m) is Dropout for m in net)
    assert not layers.dropout_layers(blocks.tiny_cnn(p=0.0, layer=GaussianDropout))


@pytest.mark.parametrize("spatial", [False, True])
def test_tiny_cnn_trains_like_the_same_network_with_torch_dropout(spatial):
    """The course layers draw torch's masks from the same generator state, so a tiny CNN with
    them trains to the very same weights as one with nn.Dropout / nn.Dropout2d."""
    split = data.digits(n_train=40, n_holdout=10, seed=0)
    ours = blocks.tiny_cnn(p=0.3, spatial=spatial, channels=4,
                           generator=torch.Generator().manual_seed(0))
    theirs = blocks.tiny_cnn(p=0.0, channels=4, generator=torch.Generator().manual_seed(0))
    torch_layer = nn.Dropout2d if spatial else nn.Dropout
    theirs = nn.Sequential(*theirs[:3], torch_layer(0.3), *theirs[3:5], torch_layer(0.3),
                           *theirs[5:])
    # one stream for all the masks: a generator shared by the course layers, torch's global one
    shared = torch.Generator().manual_seed(9)
    for layer in layers.dropout_layers(ours):
        layer.generator = shared
    torch.manual_seed(9)
    for net in (ours, theirs):
        training.fit(net, split, epochs=2, lr=1e-2, record="none",
                     generator=torch.Generator().manual_seed(1))
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)


def test_blocks_with_a_generator_leave_the_global_state_and_are_reproducible():
    state = torch.get_rng_state()
    first = transformer.AttentionBlock(8, 2, generator=torch.Generator().manual_seed(0))
    second = transformer.AttentionBlock(8, 2, generator=torch.Generator().manual_seed(0))
    cnn = blocks.tiny_cnn(p=0.2, generator=torch.Generator().manual_seed(0))
    cnn.train()(torch.rand(2, 64, dtype=torch.float64, generator=torch.Generator()))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.qkv.weight, second.qkv.weight)


def test_dropout2d_zeroes_whole_maps():
    torch.manual_seed(0)
    out = nn.Dropout2d(0.5)(torch.ones(20, 6, 4, 4))
    per_map = out.flatten(2)
    assert torch.all((per_map == 0).all(-1) | (per_map == 2).all(-1))


def test_neighbour_correlation():
    smooth = torch.linspace(0, 1, 8).repeat(10, 2, 8, 1) + torch.rand(10, 2, 8, 8) * 0.01
    noise = torch.rand(50, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    assert blocks.neighbour_correlation(smooth) > 0.9
    assert abs(blocks.neighbour_correlation(noise)) < 0.1
    with pytest.raises(ValueError):
        blocks.neighbour_correlation(torch.ones(2, 2, 4, 4))


def test_clean_digits_history_is_seeded_and_an_error():
    from dropout_lib.data_size import clean_digits_history
    first = clean_digits_history(50, 0.5, 2, seed=3, record="final").holdout_error
    assert first == clean_digits_history(50, 0.5, 2, seed=3, record="final").holdout_error
    assert 0.0 <= first <= 1.0


def test_clean_digits_history_after_epoch_k_equals_a_run_of_k_epochs():
    from dropout_lib.data_size import clean_digits_history
    history = clean_digits_history(50, 0.5, 3, seed=4)
    assert len(history.holdout_acc) == 3
    final = clean_digits_history(50, 0.5, 2, seed=4, record="final")
    assert 1 - history.holdout_acc[1] == final.holdout_error


def test_clean_digits_errors_is_the_history_of_a_run_stopped_there():
    # 100 examples in batches of 50: 2 updates per epoch, so update 6 ends epoch 3
    errors = data_size.clean_digits_errors(100, 0.5, [2, 6], seed=1)
    history = data_size.clean_digits_history(100, 0.5, 3, seed=1)
    assert errors.tolist() == pytest.approx([1 - history.holdout_acc[0],
                                            1 - history.holdout_acc[2]], abs=1e-12)
    with pytest.raises(ValueError, match="increasing"):
        data_size.clean_digits_errors(100, 0.5, [6, 2], seed=1)


def test_clean_digits_size_sweep_trains_each_run_as_alone():
    sizes, rates, seeds = [50, 100], [0.0, 0.5], (0, 3)
    checkpoints = [[3, 7], [2, 5, 9]]  # different budgets: runs leave the stack early
    errors = data_size.clean_digits_size_sweep(sizes, rates, seeds, checkpoints)
    for i, n in enumerate(sizes):
        assert errors[i].shape == (2, 2, len(checkpoints[i]))
        for j, rate in enumerate(rates):
            for k, seed in enumerate(seeds):
                alone = data_size.clean_digits_errors(n, rate, checkpoints[i], seed)
                np.testing.assert_allclose(errors[i][j, k], alone, atol=1e-12)
    with pytest.raises(ValueError, match="multiple of batch_size"):
        data_size.clean_digits_size_sweep([60], rates, seeds, [[2]])
    with pytest.raises(ValueError, match="one list"):
        data_size.clean_digits_size_sweep(sizes, rates, seeds, [[2]])
