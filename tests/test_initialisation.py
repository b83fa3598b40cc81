"""Tests for `dropout_lib.initialisation`: PyTorch's default initialisation, from a generator."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dropout_lib import initialisation, variants


@pytest.mark.parametrize("cls, args, kwargs", [
    (nn.Linear, (7, 3), {}),
    (nn.Linear, (5, 4), {"bias": False}),
    (nn.Conv1d, (2, 4, 3), {}),
    (nn.Conv2d, (3, 5, 3), {"padding": 1}),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_build_gives_the_weights_torch_draws_after_the_same_seed(cls, args, kwargs, dtype):
    torch.manual_seed(4)
    reference = cls(*args, dtype=dtype, **kwargs)
    state = torch.get_rng_state()
    ours = initialisation.build(cls, *args, dtype=dtype, generator=torch.Generator().manual_seed(4),
                                **kwargs)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not used
    assert type(ours) is cls and repr(ours) == repr(reference)
    for a, b in zip(reference.parameters(), ours.parameters(), strict=True):
        assert torch.equal(a, b) and a.dtype == b.dtype == dtype


def test_build_without_a_generator_is_the_plain_constructor():
    torch.manual_seed(1)
    a = initialisation.build(nn.Linear, 3, 2)
    torch.manual_seed(1)
    b = nn.Linear(3, 2)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_build_refuses_other_layers():
    with pytest.raises(TypeError, match="nn.Linear and convolution"):
        initialisation.build(nn.Embedding, 4, 2, generator=torch.Generator())


def test_reset_parameters_follows_module_order_and_leaves_other_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.fill_(2.0)
    initialisation.reset_parameters(model, torch.Generator().manual_seed(3))
    torch.manual_seed(3)
    first, second = nn.Linear(3, 4), nn.Linear(4, 2)
    assert torch.equal(model[0].weight, first.weight) and torch.equal(model[2].bias, second.bias)
    assert torch.equal(model[1].weight, torch.full((4,), 2.0))
    with pytest.raises(TypeError, match="generator"):
        initialisation.reset_parameters(model, 0)


def test_dropconnect_initialises_like_linear_from_its_generator():
    torch.manual_seed(2)
    reference = nn.Linear(6, 3, dtype=torch.float64)
    state = torch.get_rng_state()
    layer = variants.DropConnectLinear(6, 3, p=0.4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(layer.weight, reference.weight) and torch.equal(layer.bias, reference.bias)
    torch.manual_seed(2)
    plain = variants.DropConnectLinear(6, 3, p=0.4)  # no generator: the global one, as nn.Linear
    assert torch.equal(plain.weight, reference.weight)
