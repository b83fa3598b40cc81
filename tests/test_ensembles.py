"""Tests for `dropout_lib.ensembles`: masks, their probabilities, exact subnetwork averages."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dropout_lib import ensembles, models
from dropout_lib.layers import Dropout


def test_count_subnetworks():
    assert ensembles.count_subnetworks(0) == 1
    assert ensembles.count_subnetworks(10) == 1024
    assert ensembles.count_subnetworks(576) == 2**576  # exact, no float overflow
    for bad in (-1, 2.0, True, "3"):
        with pytest.raises(ValueError, match="n_units"):
            ensembles.count_subnetworks(bad)


@pytest.mark.parametrize("n_units", [0, 1, 3, 7])
def test_enumerate_masks_lists_each_mask_once(n_units):
    masks = ensembles.enumerate_masks(n_units)
    assert masks.shape == (2**n_units, n_units) and masks.dtype == torch.float64
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    assert len({tuple(row) for row in masks.tolist()}) == 2**n_units


def test_enumerate_masks_order_dtype_and_limit():
    masks = ensembles.enumerate_masks(2, dtype=torch.float32)
    assert masks.dtype == torch.float32
    assert masks.tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    with pytest.raises(ValueError, match="at most"):
        ensembles.enumerate_masks(21)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_mask_probabilities_add_up_to_one(p):
    masks = ensembles.enumerate_masks(5)
    probs = ensembles.mask_probabilities(masks, p)
    assert probs.shape == (32,)
    assert torch.allclose(probs.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_mask_probabilities_values_and_errors():
    masks = torch.tensor([[1, 1, 0], [0, 0, 0]])  # integer masks are accepted
    probs = ensembles.mask_probabilities(masks, 0.2)
    assert torch.allclose(probs, torch.tensor([0.8 * 0.8 * 0.2, 0.2**3], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ensembles.mask_probabilities(masks, 1.5)
    with pytest.raises(ValueError, match="2-D"):
        ensembles.mask_probabilities(torch.ones(3), 0.5)


def random_probs(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=generator, dtype=torch.float64), -1)


def test_means_of_identical_members_are_that_member():
    member = random_probs(4, 6)
    probs = member.expand(3, 4, 6)
    weights = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    assert torch.allclose(ensembles.arithmetic_mean(probs, weights), member)
    assert torch.allclose(ensembles.geometric_mean(probs, weights), member)


def test_geometric_mean_by_hand_and_uniform_default():
    probs = random_probs(3, 2, 5, seed=1)
    weights = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    product = (probs**weights[:, None, None]).prod(0)
    assert torch.allclose(ensembles.geometric_mean(probs, weights),
                          product / product.sum(-1, keepdim=True))
    assert torch.allclose(ensembles.arithmetic_mean(probs), probs.mean(0))
    uniform = torch.full((3,), 1 / 3, dtype=torch.float64)
    assert torch.allclose(ensembles.geometric_mean(probs), ensembles.geometric_mean(probs, uniform))


def test_means_reject_bad_shapes():
    with pytest.raises(ValueError, match="weights must have shape"):
        ensembles.geometric_mean(random_probs(3, 5), torch.ones(2))
    with pytest.raises(ValueError, match="n_members"):
        ensembles.arithmetic_mean(torch.ones(5))


def test_dropout_sites_reads_rates_and_widths():
    net = models.mlp([4, 6, 5, 3], dropout=[0.2, 0.5, 0.3])
    assert [(p, n) for _, p, n in ensembles.dropout_sites(net)] == [(0.2, 4), (0.5, 6), (0.3, 5)]
    torch_net = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.4), nn.Linear(6, 2))
    assert ensembles.dropout_sites(torch_net) == [(1, 0.4, 6)]
    with pytest.raises(TypeError):
        ensembles.dropout_sites(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="not followed"):
        ensembles.dropout_sites(nn.Sequential(nn.Linear(2, 2), Dropout(0.5)))


def test_masked_forward_matches_a_dropout_layer_with_the_same_mask():
    torch.manual_seed(0)
    net = models.mlp([5, 7, 3], dropout=0.4)
    x = torch.randn(8, 5, dtype=torch.float64)
    mask = torch.tensor([1, 0, 1, 1, 0, 0, 1], dtype=torch.float64)
    hidden = net[1](net[0](x))
    want = net[3](hidden * mask / 0.6)
    assert torch.allclose(ensembles.masked_forward(net, x, [mask]), want)
    ones = torch.ones(7, dtype=torch.float64)
    assert torch.allclose(ensembles.masked_forward(net, x, [ones]), net[3](hidden / 0.6))
    with pytest.raises(ValueError, match="1 dropout layers, got 2"):
        ensembles.masked_forward(net, x, [mask, mask])


def test_masked_forward_stacked_masks_match_one_at_a_time():
    torch.manual_seed(1)
    net = models.mlp([3, 4, 4, 2], dropout=[0.2, 0.5, 0.5])
    x = torch.randn(5, 3, dtype=torch.float64)
    masks = [ensembles.enumerate_masks(n)[[1, 6, 7]] for n in (3, 4, 4)]
    stacked = ensembles.masked_forward(net, x, [m[:, None, :] for m in masks])
    for i in range(3):
        assert torch.allclose(stacked[i], ensembles.masked_forward(net, x, [m[i] for m in masks]))


def test_one_dropout_layer_before_softmax_weight_scaling_is_the_geometric_mean():
    """Baldi and Sadowski (2013): exact for a single dropout layer in front of the softmax."""
    torch.manual_seed(2)
    net = models.mlp([6, 9, 4], dropout=0.3)
    x = torch.randn(20, 6, dtype=torch.float64)
    result = ensembles.exact_ensemble(net, x)
    assert result.n_subnetworks == 512
    assert torch.allclose(result.geometric, result.weight_scaled, atol=1e-12)
    assert not torch.allclose(result.arithmetic, result.weight_scaled, atol=1e-3)
    assert torch.allclose(result.arithmetic.sum(-1), torch.ones(20, dtype=torch.float64))
    assert net.training  # the mode is restored


def test_exact_ensemble_matches_a_monte_carlo_average():
    torch.manual_seed(3)
    net = models.mlp([3, 5, 5, 3], dropout=0.5)
    x = torch.randn(4, 3, dtype=torch.float64)
    result = ensembles.exact_ensemble(net, x, chunk=100)
    assert result.n_subnetworks == 2**10
    net.train()
    with torch.no_grad():  # 20000 copies of the batch in one pass: every row gets its own masks
        samples = torch.softmax(net(x.repeat(20000, 1)), -1).reshape(20000, 4, 3)
    assert torch.allclose(samples.mean(0), result.arithmetic, atol=0.01)
    # two dropout layers: weight scaling is no longer exact
    assert (result.geometric - result.weight_scaled).abs().max() > 1e-4


def test_exact_ensemble_refuses_large_networks():
    with pytest.raises(ValueError, match="max_units"):
        ensembles.exact_ensemble(models.mlp([4, 32, 2], dropout=0.5),
                                 torch.zeros(1, 4, dtype=torch.float64))


def test_ensemble_probs_averages_members_in_eval_mode():
    torch.manual_seed(4)
    members = [models.mlp([3, 8, 2], dropout=0.5) for _ in range(3)]
    x = torch.randn(6, 3, dtype=torch.float64)
    want = sum(torch.softmax(m.eval()(x), -1) for m in members) / 3
    for m in members:
        m.train()
    assert torch.allclose(ensembles.ensemble_probs(members, x), want)
    assert all(m.training for m in members)
    with pytest.raises(ValueError, match="at least one"):
        ensembles.ensemble_probs([], x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_exact_ensemble_on_gpu():
    net = models.mlp([3, 4, 2], dropout=0.5, device="cuda")
    x = torch.randn(2, 3, dtype=torch.float64, device="cuda")
    result = ensembles.exact_ensemble(net, x)
    assert result.geometric.device.type == "cuda"
    assert torch.allclose(result.geometric, result.weight_scaled)
