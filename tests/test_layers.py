"""Tests for `dropout_lib.layers`: `Dropout`, held against `torch.nn.Dropout`, and the
dropout-layer finder."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dropout_lib import layers
from dropout_lib.layers import Dropout

N_LARGE = 200_000


def fraction_zero(t: torch.Tensor) -> float:
    return (t == 0).double().mean().item()


def tolerance(p: float, n: int) -> float:
    """Six binomial standard deviations of a fraction of n draws."""
    return 6 * math.sqrt(p * (1 - p) / n)


def test_repr_shows_p():
    assert "p=0.3" in repr(Dropout(0.3))
    assert repr(Dropout(0.3)).startswith("Dropout(")


def test_default_p_matches_pytorch():
    assert Dropout().p == nn.Dropout().p == 0.5


def test_p_is_stored_as_float():
    layer = Dropout(1)
    assert type(layer.p) is float and layer.p == 1.0


@pytest.mark.parametrize("p", [-0.1, 1.1, math.nan])
def test_invalid_p_raises_at_construction(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Dropout(p)


@pytest.mark.parametrize("p", ["0.5", None, True])
def test_non_number_p_raises_type_error_at_construction(p):
    with pytest.raises(TypeError):
        Dropout(p)


def test_eval_mode_is_the_identity():
    layer = Dropout(0.5).eval()
    x = torch.randn(10, 4)
    assert layer(x) is x


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_train_mode_drops_about_p(p):
    layer = Dropout(p)
    assert layer.training  # a new module starts in training mode, as in PyTorch
    x = torch.ones(N_LARGE)
    y = layer(x)
    assert abs(fraction_zero(y) - p) < tolerance(p, N_LARGE)
    assert torch.allclose(y[:1000][y[:1000] != 0], torch.tensor(1 / (1 - p)))


def test_gradient_flows_through_the_layer():
    """d y / d x = mask / (1 - p), as for the functional form."""
    x = torch.rand(1000, dtype=torch.float64) + 0.5
    x.requires_grad_()
    y = Dropout(0.4)(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).double() / 0.6)


def test_same_generator_seed_gives_the_same_masks():
    x = torch.randn(1000)
    a = Dropout(0.5, generator=torch.Generator().manual_seed(3))
    b = Dropout(0.5, generator=torch.Generator().manual_seed(3))
    first_a, first_b = a(x), b(x)
    assert torch.equal(first_a, first_b)
    # the layer keeps drawing from its generator: the next masks agree too, and are new ones
    second_a, second_b = a(x), b(x)
    assert torch.equal(second_a, second_b)
    assert not torch.equal(first_a, second_a)


def test_different_generator_seeds_give_different_masks():
    x = torch.randn(1000)
    a = Dropout(0.5, generator=torch.Generator().manual_seed(3))
    b = Dropout(0.5, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(a(x), b(x))


def test_no_parameters_and_same_state_dict_as_pytorch():
    """Swapping nn.Dropout for ours leaves a model's parameters and checkpoints unchanged."""
    ours = nn.Sequential(nn.Linear(3, 4), Dropout(0.5), nn.Linear(4, 2))
    theirs = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    assert list(Dropout(0.5).parameters()) == []
    assert ours.state_dict().keys() == theirs.state_dict().keys()


def test_behaves_like_torch_dropout_in_a_sequential():
    """Same Linear weights: the same eval output, and matching train-mode statistics."""
    with torch.random.fork_rng():  # a fixed Linear without touching the global generator
        torch.manual_seed(0)
        linear = nn.Linear(10, 50)
    ours = nn.Sequential(linear, Dropout(0.4))
    theirs = nn.Sequential(linear, nn.Dropout(0.4))
    x = torch.randn(1, 10).expand(4000, 10)  # one input, many independent masks

    with torch.no_grad():
        ours.eval()
        theirs.eval()
        clean = theirs(x)
        assert torch.equal(ours(x), clean)

        ours.train()
        theirs.train()
        y_ours, y_theirs = ours(x), theirs(x)
    n = y_ours.numel()
    assert abs(fraction_zero(y_ours) - 0.4) < tolerance(0.4, n)
    assert abs(fraction_zero(y_ours) - fraction_zero(y_theirs)) < 2 * tolerance(0.4, n)
    # averaged over the masks, each unit's output is its eval-mode output (inverted dropout)
    per_unit_ours = y_ours.mean(dim=0)
    per_unit_theirs = y_theirs.mean(dim=0)
    scale = clean[0].abs().max().item()
    assert torch.allclose(per_unit_ours, clean[0], atol=0.1 * scale)
    assert torch.allclose(per_unit_theirs, clean[0], atol=0.1 * scale)


def test_train_eval_switching():
    """`.eval()` and `.train()` on a container reach the layer and switch it off and on."""
    layer = Dropout(0.5)
    model = nn.Sequential(nn.Identity(), layer)
    x = torch.ones(10_000)

    model.eval()
    assert not layer.training
    assert model(x) is x

    model.train()
    assert layer.training
    y = model(x)
    assert y is not x
    assert abs(fraction_zero(y) - 0.5) < tolerance(0.5, 10_000)

    model.train(False)
    assert model(x) is x


# --- the dropout-layer finder --------------------------------------------------------------------

def test_is_dropout_knows_every_dropout_layer_of_the_course_and_of_torch():
    from dropout_lib import inference, variants

    course = [Dropout(0.3), inference.StandardDropout(0.3), variants.GaussianDropout(0.3),
              variants.SpatialDropout(0.3), variants.AlphaDropout(0.3),
              variants.DropBlock2d(0.3), variants.DropPath(0.3),
              variants.DropConnectLinear(2, 3, p=0.3)]
    torch_layers = [nn.Dropout(0.3), nn.Dropout1d(0.3), nn.Dropout2d(0.3), nn.Dropout3d(0.3),
                    nn.AlphaDropout(0.3), nn.FeatureAlphaDropout(0.3)]
    for module in course + torch_layers:
        assert layers.is_dropout(module), type(module).__name__
    for module in (nn.Linear(2, 2), nn.ReLU(), nn.MultiheadAttention(4, 1, dropout=0.1),
                   variants.Residual(nn.Identity(), 0.3)):
        assert not layers.is_dropout(module), type(module).__name__


def test_dropout_layers_lists_them_in_module_order_at_any_depth():
    from dropout_lib import variants

    inner = nn.Sequential(nn.Linear(2, 2), nn.Dropout2d(0.1))
    residual = variants.Residual(nn.Linear(2, 2), p=0.2)
    model = nn.Sequential(Dropout(0.5), inner, residual, nn.TransformerEncoderLayer(4, 1, 8))
    found = layers.dropout_layers(model)
    assert found[:3] == [model[0], inner[1], residual.drop_path]
    assert len(found) == 3 + 3  # TransformerEncoderLayer holds three nn.Dropout modules
    assert layers.dropout_layers(nn.Linear(2, 2)) == []
    with pytest.raises(TypeError, match="torch.nn.Module"):
        layers.dropout_layers([Dropout(0.5)])


def test_draws_the_same_masks_as_torch_dropout_from_the_same_generator_state():
    """Chapter 2's "identical weights" rests on this: one stream, the same mask, any layout."""
    for x in (torch.randn(64, 32, dtype=torch.float64), torch.randn(32, 64).t(),
              torch.randn(4, 3, 5, 5).contiguous(memory_format=torch.channels_last)):
        torch.manual_seed(11)
        theirs = nn.Dropout(0.35)(x)
        ours = Dropout(0.35, generator=torch.Generator().manual_seed(11))(x)
        assert torch.equal(ours, theirs)
        assert ours.stride() == theirs.stride()
