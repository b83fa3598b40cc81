"""Chapter 3's claims: what dropout changes inside a 64-256-10 network on clean digits."""

from __future__ import annotations

import torch

from claims import claim
from dropout_lib import analysis, data, models, training


def _pair(seed: int) -> tuple[data.Split, dict]:
    split = data.digits(n_train=500, n_holdout=500, seed=seed)
    nets = {}
    for name, rate in [("plain", 0.0), ("dropout", 0.5)]:
        nets[name] = models.mlp([64, 256, 10], dropout=rate,
                                generator=torch.Generator().manual_seed(seed))
        training.fit(nets[name], split, epochs=40, lr=1e-3, batch_size=50,
                     generator=torch.Generator().manual_seed(seed), record="none")
    return split, nets


@claim(3, "the dropout network's hidden units are less correlated, and its activations "
          "have a lower mean, more exact zeros and a smaller share above 1")
def dropout_lowers_correlation_and_sparsifies(seed: int) -> None:
    split, nets = _pair(seed)
    acts = {n: analysis.hidden_activations(m, split.x_holdout) for n, m in nets.items()}
    assert (analysis.mean_abs_correlation(acts["dropout"])
            < analysis.mean_abs_correlation(acts["plain"]))
    assert acts["dropout"].mean() < acts["plain"].mean()
    assert (analysis.fraction_inactive(acts["dropout"])
            > analysis.fraction_inactive(acts["plain"]))
    # share above 1 = 1 - share at most 1: more at most 1 means fewer above
    assert (analysis.fraction_inactive(acts["dropout"], threshold=1.0)
            > analysis.fraction_inactive(acts["plain"], threshold=1.0))


@claim(3, "deleting half or three quarters of the hidden units costs the dropout network "
          "less accuracy")
def dropout_network_degrades_gracefully(seed: int) -> None:
    split, nets = _pair(seed)
    lost = {}
    for name, net in nets.items():
        mean, _ = analysis.deletion_curve(
            net, split.x_holdout, split.y_holdout, [0.0, 0.5, 0.75], repeats=5,
            generator=torch.Generator().manual_seed(seed))
        lost[name] = mean[0] - mean[1:]
    assert (lost["dropout"] < lost["plain"]).all(), lost
