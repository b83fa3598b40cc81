"""Tests for `dropout_lib.analysis`: hidden activations, correlation, sparsity, deletion, plots."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import analysis, models, plotting, set_seed

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture
def net():
    set_seed(0)
    return models.mlp([6, 8, 5, 3], dropout=[0.2, 0.5, 0.5])


@pytest.fixture
def inputs():
    return torch.randn(20, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


# --- hidden_activations ------------------------------------------------------------------------

def test_hidden_activations_match_the_layers_computed_by_hand(net, inputs):
    first, second = net[1], net[4]  # Dropout, Linear, ReLU, Dropout, Linear, ReLU, ...
    assert isinstance(first, nn.Linear) and isinstance(second, nn.Linear)
    hidden0 = torch.relu(first(inputs))
    hidden1 = torch.relu(second(hidden0))
    torch.testing.assert_close(analysis.hidden_activations(net, inputs, layer=0), hidden0)
    torch.testing.assert_close(analysis.hidden_activations(net, inputs, layer=1), hidden1)


def test_hidden_activations_are_deterministic_and_restore_the_mode(net, inputs):
    net.train()
    a = analysis.hidden_activations(net, inputs)
    b = analysis.hidden_activations(net, inputs)
    assert torch.equal(a, b)  # dropout was off
    assert net.training
    assert not a.requires_grad


@pytest.mark.parametrize("layer", [-1, 2, 0.0, True])
def test_hidden_activations_reject_a_bad_layer(net, inputs, layer):
    with pytest.raises(ValueError, match="layer must be an int in 0 .. 1"):
        analysis.hidden_activations(net, inputs, layer=layer)


def test_linear_positions_and_bad_models():
    assert analysis.linear_positions(models.mlp([4, 3, 2], dropout=0.5)) == [0, 3]
    with pytest.raises(TypeError, match="nn.Sequential"):
        analysis.linear_positions(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="no hidden layer"):
        analysis.linear_positions(nn.Sequential(nn.Linear(3, 2)))


# --- mean_abs_correlation ------------------------------------------------------------------------

def test_correlation_matches_numpy():
    values = np.random.default_rng(0).normal(size=(30, 5))
    values[:, 1] += 2 * values[:, 0]
    c = np.corrcoef(values, rowvar=False)
    want = np.abs(c[~np.eye(5, dtype=bool)]).mean()
    assert math.isclose(analysis.mean_abs_correlation(torch.tensor(values)), want, rel_tol=1e-12)


def test_copies_and_mirror_images_correlate_fully():
    column = torch.randn(50, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    copies = torch.cat([column, 3 * column + 1, -column], dim=1)
    assert math.isclose(analysis.mean_abs_correlation(copies), 1.0, rel_tol=1e-12)


def test_correlation_ignores_constant_units_and_scale():
    values = torch.randn(40, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    padded = torch.cat([values, torch.zeros(40, 2, dtype=torch.float64),
                        torch.full((40, 1), 0.3, dtype=torch.float64)], dim=1)
    want = analysis.mean_abs_correlation(values)
    assert math.isclose(analysis.mean_abs_correlation(padded), want, rel_tol=1e-12)
    assert math.isclose(analysis.mean_abs_correlation(5 * values - 2), want, rel_tol=1e-9)
    assert math.isclose(analysis.mean_abs_correlation(values.float()), want, rel_tol=1e-5)


def test_correlation_of_fewer_than_two_varying_units_is_nan():
    values = torch.zeros(10, 3)
    values[:, 0] = torch.arange(10)
    assert math.isnan(analysis.mean_abs_correlation(values))


@pytest.mark.parametrize("bad", [torch.zeros(5), torch.zeros(1, 4), torch.zeros(2, 3, 4)])
def test_measurements_reject_bad_shapes(bad):
    with pytest.raises(ValueError, match="n_examples, n_units"):
        analysis.mean_abs_correlation(bad)
    with pytest.raises(ValueError, match="n_examples, n_units"):
        analysis.fraction_inactive(bad)


def test_measurements_reject_non_tensors():
    with pytest.raises(TypeError, match="torch.Tensor"):
        analysis.mean_abs_correlation(np.zeros((4, 3)))


# --- sparsity ------------------------------------------------------------------------------------

def test_fraction_inactive_and_dead():
    acts = torch.tensor([[0.0, 0.05, 1.0, 0.0], [0.0, 0.0, 2.0, 0.5], [0.0, 0.2, 0.0, 0.0]])
    assert analysis.fraction_inactive(acts) == pytest.approx(7 / 12)
    assert analysis.fraction_inactive(acts, threshold=0.1) == pytest.approx(8 / 12)
    assert analysis.fraction_dead(acts) == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="threshold must be non-negative"):
        analysis.fraction_inactive(acts, threshold=-0.1)


# --- delete_units and UnitMask -------------------------------------------------------------------

def test_unit_mask_is_the_same_in_both_modes():
    mask = analysis.UnitMask(torch.tensor([1.0, 0.0, 1.0]))
    x = torch.ones(4, 3)
    assert torch.equal(mask.train()(x), mask.eval()(x))
    assert torch.equal(mask(x)[:, 1], torch.zeros(4))
    assert "deleted=1 of 3" in repr(mask)


@pytest.mark.parametrize("layer, n_delete", [(0, 0), (0, 3), (1, 2), (1, 5)])
def test_delete_units_silences_exactly_n_units_of_the_copy(net, inputs, layer, n_delete):
    state = {k: v.clone() for k, v in net.state_dict().items()}
    before = analysis.hidden_activations(net, inputs, layer)
    pruned = analysis.delete_units(net, layer, n_delete, torch.Generator().manual_seed(0))
    after = analysis.hidden_activations(pruned, inputs, layer)
    masks = [m for m in pruned if isinstance(m, analysis.UnitMask)]
    assert len(masks) == 1 and int((masks[0].keep == 0).sum()) == n_delete
    # deleted units output zero, the others exactly what they did (no rescaling)
    assert torch.equal(after, before * masks[0].keep)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert pruned is not net and pruned.training == net.training


def test_delete_units_follows_the_generator(net, inputs):
    def deleted(seed):
        pruned = analysis.delete_units(net, 0, 4, torch.Generator().manual_seed(seed))
        mask = next(m for m in pruned if isinstance(m, analysis.UnitMask))
        return tuple(torch.nonzero(mask.keep == 0).flatten().tolist())

    assert deleted(5) == deleted(5)
    assert len({deleted(seed) for seed in range(6)}) > 1


def test_deleting_every_unit_leaves_only_the_downstream_biases(inputs):
    set_seed(0)
    model = models.mlp([6, 8, 3], activation="sigmoid")
    pruned = analysis.delete_units(model, 0, 8, torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = pruned(inputs)
    torch.testing.assert_close(out, model[2].bias.detach().expand_as(out))


@pytest.mark.parametrize("n_delete", [-1, 9, 2.0])
def test_delete_units_rejects_a_bad_count(net, n_delete):
    with pytest.raises(ValueError, match="n_delete must be an int in 0 .. 8"):
        analysis.delete_units(net, 0, n_delete)


# --- deletion_curve ------------------------------------------------------------------------------

def test_deletion_curve_at_the_ends(net, inputs):
    labels = torch.arange(20) % 3
    with torch.no_grad():
        net.eval()
        accuracy = (net(inputs).argmax(1) == labels).double().mean().item()
        constant = (net[-1].bias.argmax() == labels).double().mean().item()
    mean, std = analysis.deletion_curve(net, inputs, labels, [0.0, 1.0], layer=1, repeats=3,
                                        generator=torch.Generator().manual_seed(0))
    assert mean.shape == std.shape == (2,)
    assert mean[0] == pytest.approx(accuracy) and std[0] == 0
    assert mean[1] == pytest.approx(constant) and std[1] == 0


def test_deletion_curve_rejects_bad_arguments(net, inputs):
    labels = torch.zeros(20, dtype=torch.int64)
    with pytest.raises(ValueError, match="each fraction must be in"):
        analysis.deletion_curve(net, inputs, labels, [1.5])
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        analysis.deletion_curve(net, inputs, labels, [0.5], repeats=0)


# --- plots ---------------------------------------------------------------------------------------

def test_plots_draw_on_and_return_the_axes(net, inputs):
    fig, axes = plt.subplots(1, 3)
    try:
        assert plotting.plot_deletion_curve([0, 0.5], [0.9, 0.7], [0.0, 0.1], label="x",
                                            ax=axes[0]) is axes[0]
        acts = analysis.hidden_activations(net, inputs)
        assert plotting.plot_activation_histogram(acts, label="h", ax=axes[1]) is axes[1]
        weight = torch.randn(5, 64, dtype=torch.float64)
        assert plotting.plot_weight_images(weight, n_images=5, n_columns=3, ax=axes[2]) \
            is axes[2]
        with pytest.raises(ValueError, match="each row must hold 64 weights"):
            plotting.plot_weight_images(torch.zeros(2, 10), ax=axes[2])
    finally:
        plt.close(fig)
