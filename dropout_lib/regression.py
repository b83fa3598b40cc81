"""Dropout in linear regression: the closed form of Srivastava et al. (2014, section 9.1), with
inverted dropout on the inputs (chapter 5).

Each input $x_{ij}$ becomes $m_{ij} x_{ij}/(1-p)$, with mean $x_{ij}$ and variance
$x_{ij}^2\\,p/(1-p)$, so the expected squared error is least squares plus an L2 penalty whose
weight for each feature is that feature's squared norm: ridge regression on standardised
features. `p` is the *drop* probability, as in PyTorch.
"""

from __future__ import annotations

import torch
from torch import nn

from .data import Split
from .functional import apply_mask, inverted_scale, keep_mask, validate_p
from .layers import Dropout
from .training import fit

__all__ = [
    "dropout_expected_loss", "dropout_regression_weights", "dropout_sampled_loss",
    "fit_linear_with_dropout", "ridge_weights",
]


def _regression_inputs(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.dim() != 2:
        raise ValueError(f"x must have shape (n, n_features), got {tuple(x.shape)}")
    y = y.reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)} entries")
    return x, y.to(x.dtype)


def dropout_expected_loss(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, p: float) -> float:
    """$E\\|y - (M \\odot X / (1-p))\\,w\\|^2$ in closed form, inverted dropout on the inputs.

    $= \\|y - Xw\\|^2 + \\frac{p}{1-p}\\sum_j w_j^2 \\|X_{:,j}\\|^2$.

    Args:
        x: inputs, shape `(n, n_features)`; y: targets, `(n,)` or `(n, 1)`;
        w: weights, `(n_features,)`; p: drop probability in [0, 1).

    Returns:
        The expected sum of squared errors.
    """
    p = validate_p(p, allow_one=False)
    x, y = _regression_inputs(x, y)
    w = w.reshape(-1).to(x.dtype)
    fit_term = ((y - x @ w) ** 2).sum()
    penalty = (w**2 * (x**2).sum(0)).sum()
    return (fit_term + p / (1.0 - p) * penalty).item()


@torch.no_grad()
def dropout_sampled_loss(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, p: float,
                         n_samples: int, generator: torch.Generator | None = None) -> float:
    """The same expectation as `dropout_expected_loss`, estimated from `n_samples` masks."""
    p = validate_p(p, allow_one=False)
    x, y = _regression_inputs(x, y)
    w = w.reshape(-1).to(x.dtype)
    keep = keep_mask(x, 1.0 - p, (n_samples, *x.shape), generator=generator)
    predictions = apply_mask(x, keep, inverted_scale(p)) @ w   # (n_samples, n)
    return ((y - predictions) ** 2).sum(1).mean().item()


def dropout_regression_weights(x: torch.Tensor, y: torch.Tensor, p: float) -> torch.Tensor:
    """The minimiser of the expected dropout loss (reference for Exercise 5.5).

    $w = \\big(X^\\top X + \\tfrac{p}{1-p}\\,\\operatorname{diag}(X^\\top X)\\big)^{-1} X^\\top y$:
    ridge regression whose penalty on each weight is scaled by its feature's squared norm.

    Returns:
        Shape `(n_features,)`.
    """
    p = validate_p(p, allow_one=False)
    x, y = _regression_inputs(x, y)
    gram = x.T @ x
    penalised = gram + p / (1.0 - p) * torch.diag(torch.diagonal(gram))
    return torch.linalg.solve(penalised, x.T @ y)


def ridge_weights(x: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """Plain ridge regression, $w = (X^\\top X + \\lambda I)^{-1} X^\\top y$: the same penalty
    $\\lambda$ on every weight, whatever its feature's scale (chapter 5 compares it with
    `dropout_regression_weights`, whose penalty follows each feature's norm).

    Returns:
        Shape `(n_features,)`.
    """
    if lam < 0:
        raise ValueError(f"lam must be non-negative, got {lam}")
    x, y = _regression_inputs(x, y)
    gram = x.T @ x
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return torch.linalg.solve(gram + lam * eye, x.T @ y)


def fit_linear_with_dropout(x: torch.Tensor, y: torch.Tensor, p: float, steps: int = 4000,
                            lr: float = 0.1, generator: torch.Generator | None = None
                            ) -> torch.Tensor:
    """Fit $y \\approx Xw$ by gradient descent with fresh inverted-dropout masks on the inputs at
    every step; return the average of the iterates over the second half of training.

    The model is `Dropout(p) -> Linear` without bias, starting from zero weights, trained by
    `training.fit` with full-batch steps of plain gradient descent (SGD without momentum) on
    the mean squared error.

    Args:
        x, y: as in `dropout_expected_loss`.
        p: the drop probability; steps, lr: the number of steps and the learning rate.
        generator: where the masks come from; the global generator when None.

    Returns:
        Shape `(n_features,)`.
    """
    p = validate_p(p, allow_one=False)
    x, y = _regression_inputs(x, y)
    # Built without drawing initial weights (they start at zero), so no random state is touched.
    linear = nn.utils.skip_init(nn.Linear, x.shape[1], 1, bias=False, dtype=x.dtype,
                                device=x.device)
    with torch.no_grad():
        linear.weight.zero_()
    model = nn.Sequential(Dropout(p, generator=generator), linear)
    average = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)

    def accumulate(step: int) -> None:
        if step > steps // 2:  # steps counted from 1: the second half of training
            average.add_(linear.weight.detach()[0])

    targets = y[:, None]
    fit(model, Split(x, targets, x, targets, None, "linear regression"), epochs=steps, lr=lr,
        batch_size=None, optimizer="sgd", momentum=0.0, record="none", after_step=accumulate)
    return average / (steps - steps // 2)
