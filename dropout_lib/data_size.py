"""Dropout on clean digits, by training length and data size (chapter 7).

- `clean_digits_history`: one run's history, epoch by epoch (the training-length effect);
- `clean_digits_errors`: one run's holdout error after given numbers of *updates*;
- `clean_digits_size_sweep`: `clean_digits_errors` for many sizes, rates and seeds, trained
  side by side as one stacked network (each run as `training.fit` trains it alone).

After Srivastava et al. (2014), section 7.4 and appendix A.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .data import digits as data_digits
from .functional import inverted_scale, keep_mask, validate_p
from .models import mlp
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
    a small network, where one run spends most of its time in per-step overhead. Here the
    runs' weights are stacked, each layer is one batched matrix product (`torch.baddbmm`), and
    one Adam updates the stack: Adam's update is element-wise and the summed loss gives each
    run exactly its own gradient, so each run is trained as `training.fit` trains it alone.
    Each run draws its split, initial weights, masks and batches from its own generators, in
    the order `clean_digits_errors` draws them, so the errors are those of
    `clean_digits_errors(n, rate, checkpoints[i], seed)` up to floating-point rounding (tested
    in `tests/test_practice.py`). A run leaves the stack after its last checkpoint.

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
    checkpoints = [[int(k) for k in steps] for steps in checkpoints]
    for n, steps in zip(sizes, checkpoints, strict=True):
        if n < 1 or n % batch_size:
            raise ValueError(f"every size must be a positive multiple of batch_size "
                             f"({batch_size}), got {n}")
        if not steps or steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError(f"checkpoints must be increasing positive step counts, "
                             f"got {steps}")
    rates = [validate_p(r, "rate", allow_one=False) for r in rates]
    runs = [(i, j, k) for i in range(len(sizes)) for j in range(len(rates))
            for k in range(len(seeds))]
    x_train, y_train, x_holdout, y_holdout, weights, masks, orders = ([] for _ in range(7))
    for i, j, k in runs:
        n, rate, seed = sizes[i], rates[j], seeds[k]
        split = data_digits(n_train=n, n_holdout=500, seed=seed)
        generator = torch.Generator().manual_seed(seed)
        model = mlp([split.n_features, n_hidden, n_hidden, split.n_classes], dropout=rate,
                    generator=generator)
        weights.append([m for m in model if isinstance(m, nn.Linear)])
        masks.append(generator if rate > 0 else None)
        shuffle = torch.Generator().manual_seed(seed)
        budget = checkpoints[i][-1]
        epochs = -(-budget * batch_size // n)
        orders.append(torch.cat([torch.randperm(n, generator=shuffle) for _ in range(epochs)])
                      [:budget * batch_size].view(budget, batch_size))
        pad = max(sizes) - n
        x_train.append(nn.functional.pad(split.x_train, (0, 0, 0, pad)))
        y_train.append(nn.functional.pad(split.y_train, (0, pad)))
        x_holdout.append(split.x_holdout)
        y_holdout.append(split.y_holdout)
    x_train, y_train = torch.stack(x_train), torch.stack(y_train)
    x_holdout, y_holdout = torch.stack(x_holdout), torch.stack(y_holdout)
    params = []
    for layer in range(3):
        params.append(torch.stack([w[layer].weight.detach().T for w in weights]).contiguous())
        params.append(torch.stack([w[layer].bias.detach()[None] for w in weights]))
    params = [p.requires_grad_() for p in params]
    scales = [inverted_scale(rates[j]) for _, j, _ in runs]

    def forward(params: list[torch.Tensor], x: torch.Tensor,
                active: list[int] | None = None) -> torch.Tensor:
        h = x
        for layer in range(3):
            if layer > 0 and active is not None:  # training: each run draws its own masks
                drop = [torch.ones_like(h[a]) if masks[r] is None else
                        keep_mask(h[a], 1 / scales[r], generator=masks[r]).to(h.dtype)
                        * scales[r] for a, r in enumerate(active)]
                h = h * torch.stack(drop)
            h = torch.baddbmm(params[2 * layer + 1], h, params[2 * layer])
            if layer < 2:
                h = h.relu()
        return h

    errors = [np.full((len(rates), len(seeds), len(steps)), np.nan) for steps in checkpoints]
    active = list(range(len(runs)))
    optimizer = torch.optim.Adam(params, lr=lr)
    for step in range(1, max(steps[-1] for steps in checkpoints) + 1):
        where = torch.tensor(active)[:, None]
        batch = torch.stack([orders[r][step - 1] for r in active])
        logits = forward(params, x_train[where, batch], active)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y_train[where, batch].flatten(),
                                           reduction="none").view(len(active), -1)
        optimizer.zero_grad()
        loss.mean(dim=1).sum().backward()
        optimizer.step()
        due = [a for a, r in enumerate(active) if step in checkpoints[runs[r][0]]]
        if due:
            with torch.no_grad():
                chosen = [p[due] for p in params]
                rows = torch.tensor([active[a] for a in due])
                right = forward(chosen, x_holdout[rows]).argmax(dim=2) == y_holdout[rows]
                for a, acc in zip(due, right.double().mean(dim=1).tolist(), strict=True):
                    i, j, k = runs[active[a]]
                    errors[i][j, k, checkpoints[i].index(step)] = 1.0 - acc
        keep = [a for a, r in enumerate(active) if checkpoints[runs[r][0]][-1] > step]
        if len(keep) < len(active) and keep:  # finished runs leave the stack
            state = [optimizer.state[p] for p in params]
            params = [p.detach()[keep].clone().requires_grad_() for p in params]
            optimizer = torch.optim.Adam(params, lr=lr)
            for p, old in zip(params, state, strict=True):
                optimizer.state[p] = {"step": old["step"].clone(),
                                      "exp_avg": old["exp_avg"][keep].clone(),
                                      "exp_avg_sq": old["exp_avg_sq"][keep].clone()}
            active = [active[a] for a in keep]
    return errors
