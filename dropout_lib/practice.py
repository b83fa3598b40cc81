"""Choosing the dropout rate and pairing it with other regularisers (chapter 7).

- `project_max_norm` / `apply_max_norm`: the max-norm constraint of Srivastava et al. (2014),
  applied after every step of `training.fit` through its `after_step` argument;
- `rate_sweep` and `best_rate`: holdout error against the drop rate, and the rate to pick;
- `clean_digits_history`, `clean_digits_errors` and `clean_digits_size_sweep`: dropout on
  clean digits, by training length and data size;
- `block_with_dropout`: dropout placed after batch normalisation;
- `variance_shift_ratio`: what dropout placed before batch normalisation does at test time,
  measured with `batchnorm.variance_ratio`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .batchnorm import variance_ratio
from .data import Split
from .data import digits as data_digits
from .functional import inverted_scale, keep_mask, validate_p
from .initialisation import build
from .layers import Dropout
from .models import mlp
from .training import History, evaluate, fit

__all__ = [
    "apply_max_norm", "best_rate", "block_with_dropout", "clean_digits_errors",
    "clean_digits_history", "clean_digits_size_sweep",
    "max_row_norm", "project_max_norm", "rate_sweep", "variance_shift_ratio",
]


def _check_bound(c: float) -> float:
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not c > 0:
        raise ValueError(f"the max-norm bound c must be a positive number, got {c!r}")
    return float(c)


def project_max_norm(weight: torch.Tensor, c: float) -> torch.Tensor:
    """Rescale the rows of `weight` whose Euclidean norm exceeds `c` down to norm `c`.

    In `nn.Linear` (and `nn.Conv2d`) the weight has one row per *output* unit, holding that
    unit's incoming weights, so the constraint $\\lVert w_j \\rVert_2 \\le c$ is on rows; higher
    dimensions (a convolution's kernel) are flattened into the row. Rows within the bound are
    left exactly as they are. Reference for Exercise 7.4.

    Args:
        weight: shape (n_out, n_in) or (n_out, ...); not modified.
        c: the bound, positive.

    Returns:
        A new tensor of the same shape: $w_j \\cdot \\min(1, c / \\lVert w_j \\rVert_2)$.
    """
    c = _check_bound(c)
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        raise TypeError("weight must be a tensor with at least two dimensions (n_out, n_in)")
    norms = weight.detach().flatten(1).norm(dim=1)
    scale = (c / norms.clamp_min(torch.finfo(weight.dtype).tiny)).clamp(max=1.0)
    return weight * scale.view(-1, *([1] * (weight.dim() - 1)))


@torch.no_grad()
def apply_max_norm(model: nn.Module, c: float) -> None:
    """Project, in place, the weight of every `nn.Linear` and `nn.Conv2d` in `model` (not
    biases) onto rows of norm at most `c`. Call it after each optimiser step, for example with
    `training.fit(..., after_step=lambda step: apply_max_norm(model, c))`."""
    c = _check_bound(c)
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv2d):
            module.weight.copy_(project_max_norm(module.weight, c))


@torch.no_grad()
def max_row_norm(model: nn.Module) -> float:
    """The largest incoming-weight norm of any unit of any `nn.Linear` in `model`."""
    norms = [m.weight.flatten(1).norm(dim=1).max().item()
             for m in model.modules() if isinstance(m, nn.Linear)]
    if not norms:
        raise ValueError("the model has no nn.Linear layer")
    return max(norms)


def rate_sweep(
    split: Split,
    rates: Sequence[float],
    n_hidden: int,
    scale_width: bool = False,
    seeds: Sequence[int] = (0,),
    n_layers: int = 2,
    **fit_kwargs,
) -> np.ndarray:
    """Holdout error of an MLP for each drop rate and seed (Srivastava et al., 2014, fig. 9).

    Each hidden layer drops units with probability `rate` (no input dropout). With
    `scale_width=True` the width becomes `round(n_hidden / (1 - rate))`, so the expected number
    of units kept, (1 - rate) * width, stays about `n_hidden`.

    Args:
        split: a classification split.
        rates: drop rates in [0, 1).
        n_hidden: width of each hidden layer (at rate 0 when `scale_width`).
        scale_width: keep (1 - rate) * width fixed instead of the width.
        seeds: one run per seed. A generator seeded with it draws the initial weights and then
            the masks (`models.mlp`), another one seeded with it shuffles the batches; the
            global random state is not touched.
        n_layers: number of hidden layers.
        **fit_kwargs: passed to `training.fit` (epochs, lr, ...); only the final errors are
            measured.

    Returns:
        Holdout errors, shape (len(seeds), len(rates)).
    """
    rates = [validate_p(r, "rate", allow_one=False) for r in rates]
    if split.n_classes is None:
        raise ValueError("rate_sweep needs a classification split (integer labels)")
    device = split.x_train.device
    errors = np.zeros((len(seeds), len(rates)))
    for i, seed in enumerate(seeds):
        for j, rate in enumerate(rates):
            width = round(n_hidden / (1 - rate)) if scale_width else n_hidden
            model = mlp([split.n_features] + [width] * n_layers + [split.n_classes],
                        dropout=rate, dtype=split.x_train.dtype, device=device,
                        generator=torch.Generator(device=device).manual_seed(seed))
            shuffle = torch.Generator(device=device).manual_seed(seed)
            history = fit(model, split, generator=shuffle, record="final", **fit_kwargs)
            errors[i, j] = history.holdout_error
    return errors


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


def best_rate(rates: Sequence[float], errors: np.ndarray) -> float:
    """The rate with the lowest holdout error averaged over seeds (reference for Exercise 7.1).

    Args:
        rates: the drop rates tried, length n_rates.
        errors: holdout errors, shape (n_seeds, n_rates), as returned by `rate_sweep`.

    Returns:
        One of `rates`; the first one when several tie.
    """
    errors = np.asarray(errors, dtype=float)
    if errors.ndim != 2 or errors.shape[1] != len(rates):
        raise ValueError(f"errors must have shape (n_seeds, {len(rates)}), got {errors.shape}")
    return rates[int(np.argmin(errors.mean(axis=0)))]


def block_with_dropout(n_in: int, n_hidden: int, n_out: int, p: float,
                       generator: torch.Generator | None = None) -> nn.Sequential:
    """Linear -> BatchNorm1d -> ReLU -> Dropout(p) -> Linear, float64 (reference for Ex. 7.3).

    The dropout comes after the batch norm, so the statistics the batch norm collects during
    training are those it sees at test time, and the logits are not dropped. `generator`
    draws the initial weights and the masks, as in `models.mlp`.
    """
    f64 = torch.float64
    return nn.Sequential(
        build(nn.Linear, n_in, n_hidden, dtype=f64, generator=generator),
        nn.BatchNorm1d(n_hidden, dtype=f64),
        nn.ReLU(),
        Dropout(p, generator=generator),
        build(nn.Linear, n_hidden, n_out, dtype=f64, generator=generator),
    )


@torch.no_grad()
def variance_shift_ratio(
    x: torch.Tensor, p: float, dropout_first: bool, n_hidden: int = 32, n_batches: int = 50,
    batch_size: int = 64, seed: int = 0,
) -> float:
    """How far a batch norm's stored variance is from what it sees at test time.

    Builds `Dropout(p) -> Linear -> BatchNorm1d` (`dropout_first=True`) or
    `Linear -> BatchNorm1d -> Dropout(p)`, runs `n_batches` random training batches of `x`
    through it in training mode (no weight updates: only the batch norm's running statistics
    move, as a plain average), then returns `batchnorm.variance_ratio` of the batch norm on all
    of `x`. 1 means no shift (Li et al., 2019).

    Args:
        x: inputs, shape (n, n_features).
        p: drop rate.
        dropout_first: put the dropout before the batch norm (True) or after it (False).
        n_hidden, n_batches, batch_size: size of the layer and of the warm-up.
        seed: one generator seeded with it draws the weights (normal, variance 1 / n_features),
            then for each batch its rows and the dropout mask.
    """
    p = validate_p(p, allow_one=False)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    linear = nn.utils.skip_init(nn.Linear, x.shape[1], n_hidden, dtype=x.dtype, device=x.device)
    linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator, dtype=x.dtype,
                                    device=x.device) / x.shape[1] ** 0.5)
    linear.bias.zero_()
    norm = nn.BatchNorm1d(n_hidden, momentum=None, dtype=x.dtype, device=x.device)
    drop = Dropout(p, generator=generator)
    stack = (drop, linear, norm) if dropout_first else (linear, norm, drop)
    model = nn.Sequential(*stack)
    model.train()
    for _ in range(n_batches):
        model(x[torch.randint(len(x), (batch_size,), generator=generator, device=x.device)])
    return variance_ratio(model, x)[0]
