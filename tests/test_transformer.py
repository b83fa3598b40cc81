"""The attention blocks, the digit Transformer, and `transformer.fit`, which trains each run
exactly as `training.fit` trains it alone (chapter 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import data, layers, stacked, training, transformer


def split(n_train: int = 60, seed: int = 0):
    return data.digits(n_train=n_train, n_holdout=40, label_noise=0.3, seed=seed)


def net(attention_p: float, residual_p: float, seed: int, d_model: int = 8) -> nn.Sequential:
    return transformer.digit_transformer(attention_p, residual_p, d_model=d_model, n_heads=2,
                                         d_hidden=12, generator=torch.Generator().manual_seed(seed))


# (attention rate, residual rate, seed): none, both, each alone, and p = 1 on the weights
CONFIGS = [(0.0, 0.0, 0), (0.3, 0.3, 1), (0.5, 0.0, 2), (0.0, 0.2, 3), (1.0, 0.1, 4)]


@pytest.mark.parametrize("batch_size", [20, 25])  # 25: the last batch of an epoch is smaller
def test_each_run_is_trained_as_fit_trains_it_alone(batch_size):
    data_ = split()
    nets = [net(a, r, s) for a, r, s in CONFIGS]
    steps = -(-60 // batch_size)
    errors = transformer.fit(nets, data_, [steps, 3 * steps],
                             [torch.Generator().manual_seed(10 + s) for *_, s in CONFIGS],
                             lr=3e-3, batch_size=batch_size, weight_decay=1e-3,
                             with_train=True)
    for (a, r, s), trained, found in zip(CONFIGS, nets, errors, strict=True):
        alone = net(a, r, s)
        history = training.fit(alone, data_, epochs=3, lr=3e-3, batch_size=batch_size,
                               weight_decay=1e-3, generator=torch.Generator().manual_seed(10 + s))
        np.testing.assert_allclose(found[:, 1], [1 - history.holdout_acc[0],
                                                 1 - history.holdout_acc[2]], atol=1e-12)
        np.testing.assert_allclose(found[:, 0], [1 - history.train_acc[0],
                                                 1 - history.train_acc[2]], atol=1e-12)
        for x, y in zip(trained.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=1e-12)
        assert not trained.training


def test_dropout_changes_the_training():
    data_ = split()
    plain, dropped = net(0.0, 0.0, 0), net(0.3, 0.3, 0)
    transformer.fit([plain, dropped], data_, [3], [torch.Generator().manual_seed(1)] * 2,
                    batch_size=20)
    assert not torch.equal(plain[-1].weight, dropped[-1].weight)


def test_what_it_cannot_stack_is_refused():
    shuffle = [torch.Generator(), torch.Generator()]
    with pytest.raises(ValueError, match="same d_model"):
        transformer.fit([net(0.0, 0.0, 0), net(0.0, 0.0, 1, d_model=12)], split(), [1],
                        shuffle)
    with pytest.raises(TypeError, match="digit_transformer"):
        transformer.fit([nn.Sequential(nn.Linear(64, 10))], split(), [1], shuffle[:1])
    with pytest.raises(ValueError, match="at least one"):
        transformer.fit([], split(), [1], [])
    with pytest.raises(ValueError, match="one split"):
        transformer.fit([net(0.0, 0.0, 0)], split(), [1], shuffle)


def test_masks_draw_as_keep_mask_draws_for_each_run_alone():
    h = torch.ones(3, 4, 5, dtype=torch.float64)
    drops = [[layers.Dropout(0.5, torch.Generator().manual_seed(s))] for s in range(2)]
    masks = stacked.Masks(drops + [[None]])
    out = masks(h, 0, [0, 1, 2])
    for s in range(2):
        want = layers.Dropout(0.5, torch.Generator().manual_seed(s)).train()(h[s])
        assert torch.equal(out[s], want)
    assert torch.equal(out[2], h[2])
    # p = 1 draws nothing and drops everything; p = 0 is no dropout at all
    never, always = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    masks = stacked.Masks([[layers.Dropout(1.0, never)], [layers.Dropout(0.0, always)]])
    out = masks(h[:2], 0, [0, 1])
    assert torch.equal(out[0], torch.zeros_like(h[0])) and torch.equal(out[1], h[1])
    assert torch.equal(never.get_state(), torch.Generator().manual_seed(0).get_state())


def test_the_model_reads_rows_as_tokens():
    model = net(0.0, 0.0, 0).eval()
    x = torch.rand(2, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert model(x).shape == (2, 10)
    assert model[0](x).shape == (2, 8, 8)
    assert torch.equal(model[0](x)[:, 3], x[:, 24:32])
    assert torch.equal(model[6](torch.ones(2, 8, 3)), torch.ones(2, 3))  # MeanOverTokens


def test_feed_forward_block_is_residual_and_drops_only_in_training():
    block = transformer.FeedForwardBlock(4, 6, residual_p=0.5,
                                         generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        branch = block.out(torch.relu(block.hidden(block.norm(x))))
        torch.testing.assert_close(block.eval()(x), x + branch)
        out = block.train()(x)
    kept = torch.isclose(out - x, 2 * branch)
    assert (kept | torch.isclose(out, x)).all() and kept.any() and not kept.all()


def test_attention_block_modes():
    torch.manual_seed(0)
    block = transformer.AttentionBlock(d_model=8, n_heads=2, attention_p=0.5, residual_p=0.2)
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    block.eval()
    assert torch.equal(block(x), block(x))
    assert torch.allclose(block.last_attention.sum(-1), torch.ones(3, 2, 5, dtype=torch.float64))
    block.train()
    block(x)
    assert block.last_attention.shape == (3, 2, 5, 5)
    assert (block.last_attention == 0).any()
    with pytest.raises(ValueError):
        transformer.AttentionBlock(d_model=7, n_heads=2)


def test_attention_block_matches_torch_attention_without_dropout():
    torch.manual_seed(0)
    block = transformer.AttentionBlock(d_model=8, n_heads=2, attention_p=0.0, residual_p=0.0)
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    query, key, value = block.qkv(block.norm(x)).view(2, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
    mixed = nn.functional.scaled_dot_product_attention(query, key, value)
    want = x + block.out(mixed.transpose(1, 2).reshape(2, 4, 8))
    assert torch.allclose(block(x), want)
