"""Chapter 6's claims: where the MC-dropout spread grows, and what it does not shrink with."""

from __future__ import annotations

import torch

from claims import claim
from dropout_lib import mc, models, training, uncertainty

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


@claim(6, "eight times more data leaves the MC spread inside the clusters almost where it "
          "was, far from the posterior's 1/sqrt(8), also with the weight decay divided by 8; "
          "a higher dropout rate widens it")
def spread_does_not_shrink_with_data(seed: int) -> None:
    inside = uncertainty.in_data(GRID)
    settings = [(80, 0.1), (640, 0.1), (80, 0.3)]
    nets = uncertainty.chapter_models([("relu", rate, seed, n) for n, rate in settings])
    nets += uncertainty.chapter_models([("relu", 0.1, seed, 640)], weight_decay=1e-4 / 8)
    spreads = {key: _spread(net, inside, seed)
               for key, (net, _) in zip(settings + ["prior kept"], nets, strict=True)}
    for more in [(640, 0.1), "prior kept"]:  # a posterior: about 0.35
        assert 0.6 < spreads[more] / spreads[80, 0.1] < 1.2, spreads
    assert spreads[80, 0.3] > 1.2 * spreads[80, 0.1], spreads


@claim(6, "outside the clusters the 95% interval covers well under half of the holdout "
          "targets for both networks, even with the noise term; inside it covers most")
def coverage_collapses_outside(seed: int) -> None:
    for activation in ("relu", "tanh"):
        net, split = uncertainty.chapter_model(activation, dropout=0.1, seed=seed, steps=500)
        x, y = split.x_holdout, split.y_holdout
        mean, std = mc.mc_predict(net, x, 200, generator=torch.Generator().manual_seed(seed))
        train_mean, _ = mc.mc_predict(net, split.x_train, 200,
                                      generator=torch.Generator().manual_seed(seed + 1))
        total = (std**2 + ((train_mean - split.y_train) ** 2).mean()).sqrt()
        inside, outside = uncertainty.in_data(x), x.abs() > 4
        covered_out = uncertainty.coverage(y[outside], mean[outside], total[outside])
        covered_in = uncertainty.coverage(y[inside], mean[inside], total[inside])
        assert covered_out < 0.5, (activation, covered_out)
        assert covered_in > 0.85, (activation, covered_in)


@claim(6, "on digits with the 9s held out, the predictive entropy of the MC mean separates "
          "the unseen 9s from the test digits better than max-softmax does")
def entropy_flags_unseen_digits_better_than_max_softmax(seed: int) -> None:
    split, unseen = uncertainty.digits_without(9, n_train=1000, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    net = models.mlp([64, 128, 128, 9], dropout=0.5, generator=generator)
    training.fit(net, split, epochs=40, lr=3e-3, batch_size=256, generator=generator,
                 record="none")
    x = torch.cat([split.x_holdout, unseen])
    is_unseen = torch.arange(len(x)) >= len(split.x_holdout)
    scores = uncertainty.classifier_scores(net, x, 50, generator=torch.Generator()
                                           .manual_seed(seed))
    areas = {name: uncertainty.auroc(score, is_unseen) for name, score in scores.items()}
    assert areas["entropy"] > areas["max-softmax"], areas
