"""Choosing the dropout rate and pairing it with other regularisers (chapter 7).

- `project_max_norm` / `apply_max_norm`: the max-norm constraint of Srivastava et al. (2014),
  applied after every step of `training.fit` through its `after_step` argument;
- `rate_sweep` and `best_rate`: holdout error against the drop rate (the runs trained side by
  side by `stacked.fit`), and the rate to pick;
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
from .functional import validate_p
from .initialisation import build
from .layers import Dropout
from .models import mlp
from .stacked import fit as stacked_fit

__all__ = [
    "apply_max_norm", "best_rate", "block_with_dropout", "max_row_norm", "project_max_norm",
    "rate_sweep", "variance_shift_ratio",
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
    epochs: int | Sequence[int] = 100,
    lr: float = 1e-3,
    batch_size: int = 64,
) -> np.ndarray:
    """Holdout error of an MLP for each drop rate and seed (Srivastava et al., 2014, fig. 9).

    Each hidden layer drops units with probability `rate` (no input dropout). With
    `scale_width=True` the width becomes `round(n_hidden / (1 - rate))`, so the expected number
    of units kept, (1 - rate) * width, stays about `n_hidden`. Each run is trained with Adam
    as `training.fit(model, split, epochs, lr, batch_size, generator=shuffle)` trains it; the
    runs of one width are trained side by side by `stacked.fit`, which gives the same result.

    Args:
        split: a classification split.
        rates: drop rates in [0, 1).
        n_hidden: width of each hidden layer (at rate 0 when `scale_width`).
        scale_width: keep (1 - rate) * width fixed instead of the width.
        seeds: one run per seed. A generator seeded with it draws the initial weights and then
            the masks (`models.mlp`), another one seeded with it shuffles the batches; the
            global random state is not touched.
        n_layers: number of hidden layers.
        epochs: the training length; or increasing lengths, all measured in the same runs
            (the error after k epochs is that of a run of k epochs).
        lr, batch_size: Adam's learning rate and the mini-batch size.

    Returns:
        Holdout errors, shape (len(seeds), len(rates)) for one length, or
        (len(seeds), len(rates), len(epochs)) for a sequence of lengths.
    """
    rates = [validate_p(r, "rate", allow_one=False) for r in rates]
    if split.n_classes is None:
        raise ValueError("rate_sweep needs a classification split (integer labels)")
    lengths = [epochs] if isinstance(epochs, numbers.Integral) else [int(e) for e in epochs]
    steps_per_epoch = -(-len(split.x_train) // batch_size)
    device = split.x_train.device
    errors = np.zeros((len(seeds), len(rates), len(lengths)))
    runs = [(i, j) for j in range(len(rates)) for i in range(len(seeds))]

    def width(j: int) -> int:
        return round(n_hidden / (1 - rates[j])) if scale_width else n_hidden

    for w in sorted({width(j) for j in range(len(rates))}):  # one stack per width
        group = [(i, j) for i, j in runs if width(j) == w]
        nets = [mlp([split.n_features] + [w] * n_layers + [split.n_classes], dropout=rates[j],
                    dtype=split.x_train.dtype, device=device,
                    generator=torch.Generator(device=device).manual_seed(seeds[i]))
                for i, j in group]
        shuffles = [torch.Generator(device=device).manual_seed(seeds[i]) for i, _ in group]
        found = stacked_fit(nets, split, [k * steps_per_epoch for k in lengths], shuffles,
                            lr=lr, batch_size=batch_size)
        for (i, j), run in zip(group, found, strict=True):
            errors[i, j] = run
    return errors[:, :, 0] if isinstance(epochs, numbers.Integral) else errors


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
