"""Chapter 1's claims: capacity and the gap; dropout narrows the gap on noisy digits; more data,
a smaller gap."""

from __future__ import annotations

import torch

from claims import claim
from dropout_lib import data, models, training


def _fit(split, dropout, seed: int, epochs: int):
    generator = torch.Generator().manual_seed(seed)
    net = models.mlp([64, 128, 128, 10], dropout=dropout, generator=generator)
    return training.fit(net, split, epochs=epochs, lr=3e-3, batch_size=50,
                        generator=generator, record="final")


@claim(1, "with dropout the holdout error on noisy digits is far lower and the gap "
          "far smaller than without it")
def dropout_narrows_the_gap_on_noisy_digits(seed: int) -> None:
    noisy = data.digits(n_train=500, n_holdout=500, label_noise=0.3, seed=seed)
    plain = _fit(noisy, 0.0, seed, epochs=60)
    dropped = _fit(noisy, [0.2, 0.5, 0.5], seed, epochs=60)
    assert dropped.holdout_error < plain.holdout_error - 0.05
    assert training.generalization_gap(dropped) < training.generalization_gap(plain) - 0.1
    # the dropout net declines to memorise: its training accuracy stays near the clean share
    assert dropped.train_acc[-1] < 0.8 and plain.train_acc[-1] > 0.9


@claim(1, "on clean digits the holdout error falls as the training set grows")
def more_data_smaller_holdout_error(seed: int) -> None:
    errors = []
    for n_train in (125, 500):
        split = data.digits(n_train=n_train, n_holdout=500, label_noise=0.0, seed=seed)
        errors.append(_fit(split, 0.0, seed, epochs=30).holdout_error)
    assert errors[1] < errors[0]


@claim(1, "on the toy regression the training loss falls with the width, and the widest "
          "network fits below the noise floor on its training points but not on new ones (the "
          "order of the holdout losses and of the gaps changes from seed to seed: no claim)")
def training_loss_falls_with_the_width(seed: int) -> None:
    toy = data.two_input_regression(n_train=30, n_holdout=500, noise=0.3, seed=seed)
    train, holdout = {}, {}
    for width in (2, 8, 256):
        generator = torch.Generator().manual_seed(seed)
        net = models.mlp([2, width, width, 1], activation="tanh", generator=generator)
        history = training.fit(net, toy, epochs=300, lr=1e-2, batch_size=30,
                               generator=generator, record="final")
        train[width], holdout[width] = history.train_loss[-1], history.holdout_loss[-1]
    assert train[2] > train[8] > train[256]
    noise_floor = 0.3**2
    assert train[256] < noise_floor < holdout[256]
