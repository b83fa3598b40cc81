"""`stacked.fit` trains each run exactly as `training.fit` trains it alone (chapter 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import data, layers, models, stacked, training


def split(n_train: int = 60, seed: int = 0):
    return data.digits(n_train=n_train, n_holdout=40, label_noise=0.3, seed=seed)


def net(dropout, seed: int, width: int = 8, activation: str = "relu") -> nn.Sequential:
    return models.mlp([64, width, width, 10], dropout=dropout, activation=activation,
                      generator=torch.Generator().manual_seed(seed))


# rates per Linear layer: none, hidden only, inputs only, everywhere
CONFIGS = [(0.0, 0), (0.5, 1), ([0.2, 0.0, 0.0], 2), ([0.2, 0.5, 0.3], 3)]


@pytest.mark.parametrize("batch_size", [20, 25])  # 25: the last batch of an epoch is smaller
def test_each_run_is_trained_as_fit_trains_it_alone(batch_size):
    data_ = split()
    nets = [net(rates, seed) for rates, seed in CONFIGS]
    steps = -(-60 // batch_size)
    errors = stacked.fit(nets, data_, [steps, 3 * steps],
                         [torch.Generator().manual_seed(10 + s) for _, s in CONFIGS],
                         lr=3e-3, batch_size=batch_size, weight_decay=1e-3)
    for (rates, seed), trained, found in zip(CONFIGS, nets, errors, strict=True):
        alone = net(rates, seed)
        history = training.fit(alone, data_, epochs=3, lr=3e-3, batch_size=batch_size,
                               weight_decay=1e-3,
                               generator=torch.Generator().manual_seed(10 + seed))
        np.testing.assert_allclose(found, [1 - history.holdout_acc[0],
                                           1 - history.holdout_acc[2]], atol=1e-12)
        for a, b in zip(trained.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        assert not trained.training


def test_runs_with_their_own_data_and_budgets_leave_the_stack():
    splits = [split(40, seed=0), split(60, seed=1), split(40, seed=2)]
    checkpoints = [[2, 4], [1, 5, 9], [3]]
    nets = [net(0.5, s, activation="tanh") for s in range(3)]
    errors = stacked.fit(nets, splits, checkpoints,
                         [torch.Generator().manual_seed(s) for s in range(3)], batch_size=20)
    for s in range(3):
        alone = net(0.5, s, activation="tanh")
        steps = -(-len(splits[s].x_train) // 20)
        want = []
        training.fit(alone, splits[s], epochs=-(-checkpoints[s][-1] // steps), batch_size=20,
                     record="none", generator=torch.Generator().manual_seed(s),
                     after_step=lambda k, a=alone, s=s, want=want: want.append(
                         1 - training.evaluate(a, splits[s].x_holdout,
                                               splits[s].y_holdout)[1]))
        np.testing.assert_allclose(errors[s], [want[k - 1] for k in checkpoints[s]],
                                   atol=1e-12)
    pairs = list(zip(nets, splits, strict=True))
    train = [1 - training.evaluate(n, s.x_train, s.y_train)[1] for n, s in pairs]
    hold = [1 - training.evaluate(n, s.x_holdout, s.y_holdout)[1] for n, s in pairs]
    assert hold[2] == pytest.approx(errors[2][-1], abs=1e-12)
    again = [net(0.5, s, activation="tanh") for s in range(3)]
    both = stacked.fit(again, splits, checkpoints,
                       [torch.Generator().manual_seed(s) for s in range(3)], batch_size=20,
                       with_train=True)
    for s in range(3):
        np.testing.assert_allclose(both[s][:, 1], errors[s], atol=1e-12)
        assert both[s][-1, 0] == pytest.approx(train[s], abs=1e-12)  # each run's own rows


def test_what_it_cannot_stack_is_refused():
    shuffle = [torch.Generator(), torch.Generator()]
    with pytest.raises(ValueError, match="same widths"):
        stacked.fit([net(0.0, 0), net(0.0, 0, width=9)], split(), [1], shuffle)
    with pytest.raises(ValueError, match="multiples of batch_size"):
        stacked.fit([net(0.0, 0), net(0.0, 1)], [split(40), split(50)], [1], shuffle,
                    batch_size=20)
    with pytest.raises(ValueError, match="increasing"):
        stacked.fit([net(0.0, 0), net(0.0, 1)], split(), [2, 1], shuffle)
    with pytest.raises(ValueError, match="one split"):
        stacked.fit([net(0.0, 0)], split(), [1], shuffle)
    with pytest.raises(ValueError, match="models.mlp"):
        stacked.fit([nn.Sequential(nn.Linear(64, 10), nn.BatchNorm1d(10))], split(), [1],
                    shuffle[:1])
    with pytest.raises(TypeError):
        stacked.fit([nn.Linear(64, 10)], split(), [1], shuffle[:1])
    drop_first = nn.Sequential(layers.Dropout(0.1), nn.Linear(64, 10, dtype=torch.float64))
    assert len(stacked.fit([drop_first], split(), [1], shuffle[:1])) == 1


@pytest.mark.parametrize("batch_size", [None, 20])  # None: the whole set at every step
def test_regression_runs_are_trained_as_fit_trains_them(batch_size):
    from dropout_lib.uncertainty import gap_regression
    splits = [gap_regression(40, n_holdout=30, seed=s) for s in range(2)]
    nets = [models.mlp([1, 8, 8, 1], dropout=0.2, generator=torch.Generator().manual_seed(s))
            for s in range(2)]
    steps = 1 if batch_size is None else 2
    errors = stacked.fit(nets, splits, [steps, 3 * steps],
                         [torch.Generator().manual_seed(5 + s) for s in range(2)], lr=1e-2,
                         batch_size=batch_size, weight_decay=1e-4, with_train=True)
    for s, (trained, split_, found) in enumerate(zip(nets, splits, errors, strict=True)):
        alone = models.mlp([1, 8, 8, 1], dropout=0.2, generator=torch.Generator().manual_seed(s))
        history = training.fit(alone, split_, epochs=3, lr=1e-2, batch_size=batch_size,
                               weight_decay=1e-4, generator=torch.Generator().manual_seed(5 + s))
        np.testing.assert_allclose(found[:, 1], [history.holdout_loss[0],
                                                 history.holdout_loss[2]], atol=1e-12)
        np.testing.assert_allclose(found[:, 0], [history.train_loss[0],
                                                 history.train_loss[2]], atol=1e-12)
        for a, b in zip(trained.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
