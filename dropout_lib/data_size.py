"""Dropout on clean digits, by training length and data size (chapter 7).

- `clean_digits_history`: one run's history, epoch by epoch (the training-length effect);
- `clean_digits_errors`: one run's holdout error after given numbers of *updates*;
- `clean_digits_size_sweep`: `clean_digits_errors` for many sizes, rates and seeds, trained
  side by side by `stacked.fit` (each run as `training.fit` trains it alone).

After Srivastava et al. (2014), section 7.4 and appendix A.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .data import digits as data_digits
from .functional import validate_p
from .models import mlp
from .stacked import fit as stacked_fit
from .training import History, evaluate, fit

__all__ = ["clean_digits_errors", "clean_digits_history", "clean_digits_size_sweep"]


def clean_digits_history(n_train: int, rate: float, epochs: int, seed: int,
                         n_hidden: int = 64, lr: float = 3e-3, batch_size: int = 50,
                         record: str = "epoch") -> History:
    """Train a two-hidden-layer MLP on `n_train` clean digits (500 held out); its history.

    Hidden dropout `rate`, Adam for `epochs` epochs; `seed` draws the split, the weights and
    masks, and the batches (chapter 7's training-length experiment, Srivastava et al., 2014,
    section 7.4). Measuring every epoch draws no randomness, so the errors after epoch k
    equal those of a run of k epochs.
    """
    split = data_digits(n_train=n_train, n_holdout=500, seed=seed)
    model = mlp([split.n_features, n_hidden, n_hidden, split.n_classes], dropout=rate,
                generator=torch.Generator().manual_seed(seed))
    return fit(model, split, epochs=epochs, lr=lr, batch_size=batch_size, record=record,
               generator=torch.Generator().manual_seed(seed))


def clean_digits_errors(n_train: int, rate: float, checkpoints: Sequence[int], seed: int,
                        n_hidden: int = 64, lr: float = 3e-3,
                        batch_size: int = 50) -> np.ndarray:
    """Holdout error of `clean_digits_history`'s network after a given number of *updates*.

    The same split, network, optimiser and batches as `clean_digits_history(n_train, rate,
    ..., seed)`, but the budget is counted in optimiser steps, not epochs, so that a small
    training set gets many epochs (chapter 7's data-size sweep, Srivastava et al., 2014,
    section 7.4). The holdout error is measured, dropout off, right after each step listed in
    `checkpoints`; measuring draws no randomness, so the error after k steps equals that of a
    run stopped at k steps.

    Args:
        n_train: training examples (500 more are held out).
        rate: hidden drop rate.
        checkpoints: step counts, increasing, each positive.
        seed: draws the split, the weights and masks, and the batches.
        n_hidden, lr, batch_size: as in `clean_digits_history`.

    Returns:
        Holdout errors, shape (len(checkpoints),).
    """
    checkpoints = [int(k) for k in checkpoints]
    if not checkpoints or checkpoints[0] < 1 or any(
            b <= a for a, b in zip(checkpoints, checkpoints[1:], strict=False)):
        raise ValueError(f"checkpoints must be increasing positive step counts, "
                         f"got {checkpoints}")
    split = data_digits(n_train=n_train, n_holdout=500, seed=seed)
    model = mlp([split.n_features, n_hidden, n_hidden, split.n_classes], dropout=rate,
                generator=torch.Generator().manual_seed(seed))
    steps_per_epoch = -(-n_train // batch_size)
    wanted = {k: i for i, k in enumerate(checkpoints)}
    errors = np.full(len(checkpoints), np.nan)

    def measure(step: int) -> None:
        if step in wanted:
            errors[wanted[step]] = 1.0 - evaluate(model, split.x_holdout, split.y_holdout)[1]

    # fit finishes its last epoch: at most steps_per_epoch - 1 steps past the last checkpoint
    fit(model, split, epochs=-(-checkpoints[-1] // steps_per_epoch), lr=lr,
        batch_size=batch_size, record="none", after_step=measure,
        generator=torch.Generator().manual_seed(seed))
    return errors


def clean_digits_size_sweep(sizes: Sequence[int], rates: Sequence[float],
                            seeds: Sequence[int], checkpoints: Sequence[Sequence[int]],
                            n_hidden: int = 64, lr: float = 3e-3,
                            batch_size: int = 50) -> list[np.ndarray]:
    """`clean_digits_errors` for every size, rate and seed, all runs trained side by side.

    Chapter 7's data-size sweep (Srivastava et al., 2014, section 7.4) needs dozens of runs of
    a small network; `stacked.fit` trains them as one stacked network, each run with the
    split, initial weights, masks and batches that `clean_digits_errors` gives it, so the
    errors are those of `clean_digits_errors(n, rate, checkpoints[i], seed)` up to
    floating-point rounding (tested in `tests/test_practice.py`). A run leaves the stack after
    its last checkpoint.

    Args:
        sizes: training-set sizes, each a multiple of `batch_size` (every batch is full).
        rates: hidden drop rates.
        seeds: one run per size, rate and seed.
        checkpoints: for each size, increasing step counts at which the holdout error is
            measured (dropout off); the last one is that size's budget of updates.
        n_hidden, lr, batch_size: as in `clean_digits_history`.

    Returns:
        One array per size, shape (len(rates), len(seeds), len(checkpoints[i])).
    """
    if len(checkpoints) != len(sizes):
        raise ValueError("checkpoints needs one list of step counts per size")
    for n in sizes:
        if n < 1 or n % batch_size:
            raise ValueError(f"every size must be a positive multiple of batch_size "
                             f"({batch_size}), got {n}")
    rates = [validate_p(r, "rate", allow_one=False) for r in rates]
    runs = [(i, j, k) for i in range(len(sizes)) for j in range(len(rates))
            for k in range(len(seeds))]
    splits, models, shuffles = [], [], []
    for i, j, k in runs:
        split = data_digits(n_train=sizes[i], n_holdout=500, seed=seeds[k])
        splits.append(split)
        models.append(mlp([split.n_features, n_hidden, n_hidden, split.n_classes],
                          dropout=rates[j], generator=torch.Generator().manual_seed(seeds[k])))
        shuffles.append(torch.Generator().manual_seed(seeds[k]))
    found = stacked_fit(models, splits, [checkpoints[i] for i, _, _ in runs], shuffles, lr=lr,
                        batch_size=batch_size)
    errors = [np.full((len(rates), len(seeds), len(steps)), np.nan) for steps in checkpoints]
    for (i, j, k), run in zip(runs, found, strict=True):
        errors[i][j, k] = run
    return errors
