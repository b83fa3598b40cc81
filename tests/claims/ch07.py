"""Chapter 7's claims: the rate sweep (Fig. 9 in miniature), training length, data size, the
SDPA trap, and Adam at the SGD recipe's learning rates."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.functional import scaled_dot_product_attention

from claims import claim
from dropout_lib import data, data_size, models, practice, set_seed, training

SETTINGS = dict(epochs=30, lr=3e-3, batch_size=100)


def _noisy(seed: int):
    return data.digits(n_train=300, n_holdout=500, label_noise=0.3, seed=seed)


@claim(7, "with the width fixed at 64, drop rate 0.8 underfits: its error is far above "
          "that at 0.2; growing the width as 64/(1-p) removes most of that penalty")
def high_rate_underfits_unless_wider(seed: int) -> None:
    noisy = _noisy(seed)
    fixed = practice.rate_sweep(noisy, [0.2, 0.8], n_hidden=64, seeds=(seed,), **SETTINGS)[0]
    kept = practice.rate_sweep(noisy, [0.8], n_hidden=64, scale_width=True, seeds=(seed,),
                               **SETTINGS)[0]
    assert fixed[1] > fixed[0], fixed
    assert kept[0] < fixed[1], (kept, fixed)


@claim(7, "with the kept units fixed, drop rate 0.4 has a lower holdout error than no dropout")
def wider_dropout_beats_none(seed: int) -> None:
    kept = practice.rate_sweep(_noisy(seed), [0.0, 0.4], n_hidden=64, scale_width=True,
                               seeds=(seed,), **SETTINGS)[0]
    assert kept[1] < kept[0], kept


@claim(7, "on the noisy digits, input dropout 0.2 alone gives a lower holdout error than no "
          "dropout, and hidden dropout 0.5 is no better than none")
def light_input_dropout_beats_none(seed: int) -> None:
    noisy = _noisy(seed)
    errors = {}
    for name, rates in {"none": [0.0] * 3, "inputs": [0.2, 0.0, 0.0],
                        "hidden": [0.0, 0.5, 0.5]}.items():
        net = models.mlp([64, 64, 64, 10], dropout=rates,
                         generator=torch.Generator().manual_seed(seed))
        errors[name] = training.fit(net, noisy, record="final",
                                    generator=torch.Generator().manual_seed(seed),
                                    **SETTINGS).holdout_error
    assert errors["inputs"] < errors["none"] <= errors["hidden"], errors


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
          "dropout 0.5: averaged over the sizes its gain is below 0.015")
def no_clear_gain_at_any_size(seed: int) -> None:
    sizes = [50, 100, 200, 500, 1000]
    errors = data_size.clean_digits_size_sweep(sizes, [0.0, 0.5], (seed,), [[360]] * 5)
    difference = np.array([e[1, 0, 0] - e[0, 0, 0] for e in errors])
    assert difference.mean() > -0.015, difference


@claim(7, "scaled_dot_product_attention ignores eval mode: two calls differ unless dropout_p=0")
def sdpa_needs_dropout_p_zero(seed: int) -> None:
    set_seed(seed)
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))
    assert not torch.equal(scaled_dot_product_attention(x, x, x, dropout_p=0.1),
                           scaled_dot_product_attention(x, x, x, dropout_p=0.1))
    assert torch.equal(scaled_dot_product_attention(x, x, x, dropout_p=0.0),
                       scaled_dot_product_attention(x, x, x, dropout_p=0.0))


@claim(7, "Adam at a learning rate of 0.3 (100 times 3e-3) fails: error near chance")
def adam_at_sgd_recipe_rate_fails(seed: int) -> None:
    net = models.mlp([64, 64, 64, 10], dropout=0.5,
                     generator=torch.Generator().manual_seed(seed))
    history = training.fit(net, _noisy(seed), epochs=10, lr=0.3, batch_size=50,
                           record="final", generator=torch.Generator().manual_seed(seed))
    assert history.holdout_error > 0.8, history.holdout_error
