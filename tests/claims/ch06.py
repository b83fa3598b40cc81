"""Chapter 6's claims: where the MC-dropout spread grows, and what it does not shrink with."""

from __future__ import annotations

import torch

from claims import claim
from dropout_lib import mc, uncertainty

GRID = torch.linspace(-12, 12, 241, dtype=torch.float64)[:, None]


def _spread(net, where, seed: int) -> float:
    _, std = mc.mc_predict(net, GRID, 100, generator=torch.Generator().manual_seed(seed))
    return std[where].mean().item()


@claim(6, "far from the data a ReLU network's MC spread grows several-fold, a tanh "
          "network's stays about flat; in the gap neither grows much")
def relu_spread_grows_far_out_tanh_stays_flat(seed: int) -> None:
    inside, gap, far = uncertainty.in_data(GRID), GRID.abs() < 1, GRID.abs() >= 10
    ratios = {}
    for activation in ("relu", "tanh"):
        net, _ = uncertainty.chapter_model(activation, dropout=0.1, seed=seed, steps=500)
        ratios[activation] = [_spread(net, where, seed) / _spread(net, inside, seed)
                              for where in (far, gap)]
    assert ratios["relu"][0] > 3, ratios
    assert 0.5 < ratios["tanh"][0] < 2, ratios
    assert all(r[1] < 2 for r in ratios.values()), ratios


@claim(6, "eight times more data leaves the MC spread inside the clusters far from the "
          "posterior's 1/sqrt(8); a higher dropout rate widens it")
def spread_does_not_shrink_with_data(seed: int) -> None:
    inside = uncertainty.in_data(GRID)
    spreads = {}
    for n_train, rate in [(80, 0.1), (640, 0.1), (80, 0.3)]:
        net, _ = uncertainty.chapter_model("relu", dropout=rate, seed=seed, n_train=n_train)
        spreads[n_train, rate] = _spread(net, inside, seed)
    assert spreads[640, 0.1] / spreads[80, 0.1] > 0.6, spreads  # a posterior: about 0.35
    assert spreads[80, 0.3] > spreads[80, 0.1], spreads
