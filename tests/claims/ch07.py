"""Chapter 7's claims: the rate sweep (Fig. 9 in miniature), training length, data size, the
SDPA trap, the small Transformer, and Adam at the SGD recipe's learning rates."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.functional import scaled_dot_product_attention

from claims import claim
from dropout_lib import data, data_size, models, practice, set_seed, stacked, training, transformer

SETTINGS = dict(lr=3e-3, batch_size=100)


def _noisy(seed: int):
    return data.digits(n_train=300, n_holdout=500, label_noise=0.3, seed=seed)


def _sweep(seed: int, rates, scale_width: bool = False) -> np.ndarray:
    """Holdout errors (rates, [30 epochs, 100 epochs]) of the chapter's 32-unit network."""
    return practice.rate_sweep(_noisy(seed), rates, n_hidden=32, scale_width=scale_width,
                               seeds=(seed,), epochs=[30, 100], **SETTINGS)[0]


@claim(7, "after 100 epochs with the width fixed at 32, drop rate 0.75 underfits: its error "
          "is above that at 0.25; growing the width as 32/(1-p) brings 0.75 below no dropout")
def high_rate_underfits_unless_wider(seed: int) -> None:
    fixed = _sweep(seed, [0.0, 0.25, 0.75])[:, 1]
    kept = _sweep(seed, [0.75], scale_width=True)[:, 1]
    assert fixed[2] > fixed[1], fixed
    assert kept[0] < fixed[0], (kept, fixed)


@claim(7, "after 100 epochs, with the kept units fixed, every drop rate tried (0.25, 0.5, "
          "0.75) has a lower holdout error than no dropout")
def wider_dropout_beats_none(seed: int) -> None:
    kept = _sweep(seed, [0.0, 0.25, 0.5, 0.75], scale_width=True)[:, 1]
    assert (kept[1:] < kept[0]).all(), kept


@claim(7, "the best rate depends on the training length: with the width fixed, no dropout "
          "beats drop rate 0.25 after 30 epochs and loses to it after 100, when the plain "
          "network's error has risen; after 100 epochs 0.25 is also below 0.5")
def best_rate_depends_on_length(seed: int) -> None:
    fixed = _sweep(seed, [0.0, 0.25, 0.5])
    assert fixed[0, 0] < fixed[1, 0], fixed
    assert fixed[0, 1] > fixed[1, 1], fixed
    assert fixed[0, 1] > fixed[0, 0], fixed
    assert fixed[1, 1] < fixed[2, 1], fixed


@claim(7, "the 32-unit network without dropout fits more than the 70% correct labels after "
          "100 epochs on the noisy digits, and fewer after 30; at drop rate 0.75 it fits "
          "fewer than 70% even after 100 epochs (it underfits)")
def plain_network_memorises_by_100_epochs(seed: int) -> None:
    nets = [models.mlp([64, 32, 32, 10], dropout=rate,
                       generator=torch.Generator().manual_seed(seed)) for rate in (0.0, 0.75)]
    plain, heavy = stacked.fit(nets, _noisy(seed), [90, 300],
                               [torch.Generator().manual_seed(seed) for _ in nets],
                               with_train=True, **SETTINGS)
    assert 1 - plain[1, 0] > 0.7 > 1 - plain[0, 0], plain
    assert 1 - heavy[1, 0] < 0.7, heavy


@claim(7, "on the noisy digits, input dropout 0.2 has a lower holdout error than no dropout "
          "after 100 epochs, and hidden dropout 0.5 a higher one after 30")
def light_input_dropout_beats_none(seed: int) -> None:
    noisy = _noisy(seed)
    nets = [models.mlp([64, 32, 32, 10], dropout=rates,
                       generator=torch.Generator().manual_seed(seed))
            for rates in ([0.0] * 3, [0.2, 0.0, 0.0], [0.0, 0.5, 0.5])]
    none, inputs, hidden = stacked.fit(nets, noisy, [90, 300],
                                       [torch.Generator().manual_seed(seed) for _ in nets],
                                       **SETTINGS)
    assert inputs[1] < none[1], (inputs, none)
    assert hidden[0] > none[0], (hidden, none)


@claim(7, "on 200 clean digits dropout 0.5 costs holdout error after 30 epochs, and the cost "
          "shrinks when training three times as long")
def short_training_understates_dropout(seed: int) -> None:
    history = {rate: data_size.clean_digits_history(200, rate, 90, seed) for rate in (0.0, 0.5)}
    cost = {epochs: history[0.0].holdout_acc[epochs - 1] - history[0.5].holdout_acc[epochs - 1]
            for epochs in (30, 90)}
    assert cost[30] > 0, cost
    assert cost[90] < cost[30], cost


@claim(7, "on 1000 clean digits dropout 0.5 costs holdout error after 120 updates, and the "
          "cost shrinks by 360 updates")
def few_updates_understate_dropout_at_the_largest_size(seed: int) -> None:
    errors = {rate: data_size.clean_digits_errors(1000, rate, [120, 360], seed)
              for rate in (0.0, 0.5)}
    cost = errors[0.5] - errors[0.0]
    assert cost[0] > 0, cost
    assert cost[1] < cost[0], cost


@claim(7, "trained 360 updates, clean digits at sizes 50 to 1000 show no clear gain from "
          "dropout 0.5: averaged over the sizes its gain is below 0.015; so do the longer runs "
          "at 200 (600 updates) and 500 (720)")
def no_clear_gain_at_any_size(seed: int) -> None:
    sizes = [50, 100, 200, 500, 1000]
    checkpoints = [[360], [360], [360, 600], [360, 720], [360]]  # and the longer runs
    errors = data_size.clean_digits_size_sweep(sizes, [0.0, 0.5], (seed,), checkpoints)
    difference = np.array([e[1, 0, 0] - e[0, 0, 0] for e in errors])
    assert difference.mean() > -0.015, difference
    longer = np.array([errors[i][1, 0, 1] - errors[i][0, 0, 1] for i in (2, 3)])
    assert longer.mean() > -0.015, longer


@claim(7, "scaled_dot_product_attention ignores eval mode: two calls differ unless dropout_p=0")
def sdpa_needs_dropout_p_zero(seed: int) -> None:
    set_seed(seed)
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))
    assert not torch.equal(scaled_dot_product_attention(x, x, x, dropout_p=0.1),
                           scaled_dot_product_attention(x, x, x, dropout_p=0.1))
    assert torch.equal(scaled_dot_product_attention(x, x, x, dropout_p=0.0),
                       scaled_dot_product_attention(x, x, x, dropout_p=0.0))


@claim(7, "the one-layer Transformer on the noisy digits, 40 epochs: at attention and "
          "residual rate 0.3 the mean holdout error of three seeds is below no dropout's; on "
          "each seed the plain network's training error is below the 30% of wrong labels and "
          "below that at 0.3")
def transformer_dropout_slows_memorising(seed: int) -> None:
    noisy = _noisy(seed)
    runs = [(rate, 10 * seed + k) for rate in (0.0, 0.3) for k in range(3)]
    nets = [transformer.digit_transformer(rate, rate, d_model=24, d_hidden=48,
                                          generator=torch.Generator().manual_seed(s))
            for rate, s in runs]
    curves = transformer.fit(nets, noisy, [6 * e for e in range(5, 41, 5)],
                             [torch.Generator().manual_seed(s) for _, s in runs], lr=1e-2,
                             batch_size=50, with_train=True)
    plain, dropped = np.array(curves).reshape(2, 3, -1, 2)
    assert dropped[:, -1, 1].mean() < plain[:, -1, 1].mean(), (plain, dropped)
    assert (plain[:, -1, 0] < 0.3).all() and (dropped[:, -1, 0] > plain[:, -1, 0]).all()


@claim(7, "Adam at a learning rate of 0.3 (100 times 3e-3) fails: error near chance")
def adam_at_sgd_recipe_rate_fails(seed: int) -> None:
    net = models.mlp([64, 64, 64, 10], dropout=0.5,
                     generator=torch.Generator().manual_seed(seed))
    history = training.fit(net, _noisy(seed), epochs=10, lr=0.3, batch_size=50,
                           record="final", generator=torch.Generator().manual_seed(seed))
    assert history.holdout_error > 0.8, history.holdout_error

