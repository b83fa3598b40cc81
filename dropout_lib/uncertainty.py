"""Monte-Carlo dropout uncertainty on a 1-D regression with a gap in its data (chapter 6).

Gal and Ghahramani (2016) read a network trained with dropout as an approximate Bayesian model:
keep dropout on at test time, run $T$ forward passes with independent masks and read the mean
and spread of the outputs. The sampler is `mc.mc_predict`; this module holds the chapter's
data (`gap_regression`), its trained model (`chapter_model`) and the calibration check
(`coverage`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data import Split
from .layers import dropout_layers
from .models import mlp
from .training import fit

__all__ = ["chapter_model", "coverage", "gap_regression", "in_data", "spread_ratio", "target"]


def coverage(y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, z: float = 1.96) -> float:
    """The fraction of targets inside the central interval $[\\mu - z\\sigma, \\mu + z\\sigma]$.

    Reference for Exercise 6.3. For a calibrated Gaussian prediction, $z = 1.96$ gives 95%
    and $z = 1$ about 68%.

    Args:
        y, mean, std: tensors of the same shape (for example (n, 1)).
        z: half-width of the interval in standard deviations, positive.

    Returns:
        A float in [0, 1].
    """
    if not z > 0:
        raise ValueError(f"z must be positive, got {z}")
    if not (y.shape == mean.shape == std.shape):
        raise ValueError(f"y, mean and std must have one shape, got {tuple(y.shape)}, "
                         f"{tuple(mean.shape)}, {tuple(std.shape)}")
    inside = (y - mean).abs() <= z * std
    return inside.double().mean().item()


def spread_ratio(std: torch.Tensor, inside: torch.Tensor) -> float:
    """Mean spread where `inside` is False divided by the mean spread where it is True."""
    std, inside = std.reshape(-1), inside.reshape(-1)
    return (std[~inside].mean() / std[inside].mean()).item()


def target(x: torch.Tensor | np.ndarray):
    """The noise-free function behind `gap_regression`: $\\sin(x)$."""
    return torch.sin(x) if isinstance(x, torch.Tensor) else np.sin(x)


def gap_regression(
    n_train: int = 80, n_holdout: int = 400, noise: float = 0.1, seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Split:
    """$y = \\sin(x) + \\varepsilon$, trained on two clusters, held out on a wide range.

    Training inputs are uniform on $[-4, -1] \\cup [1, 4]$ (half in each cluster), so the
    data have a gap around 0 and nothing beyond $|x| = 4$. Holdout inputs are uniform on
    $[-12, 12]$: some inside the clusters, some in the gap, many far outside. The noise is
    $\\varepsilon \\sim N(0, \\text{noise}^2)$ on both sets.

    Returns:
        A `Split` with inputs and targets of shape (n, 1).
    """
    if noise < 0 or n_train < 2 or n_holdout < 1:
        raise ValueError(f"need noise >= 0, n_train >= 2, n_holdout >= 1; got {noise}, "
                         f"{n_train}, {n_holdout}")
    rng = np.random.default_rng(seed)
    half = n_train // 2
    x_train = np.concatenate([rng.uniform(-4, -1, half), rng.uniform(1, 4, n_train - half)])
    x_holdout = rng.uniform(-12, 12, n_holdout)
    y_train = target(x_train) + noise * rng.standard_normal(n_train)
    y_holdout = target(x_holdout) + noise * rng.standard_normal(n_holdout)
    col = lambda a: torch.as_tensor(a[:, None], dtype=dtype)  # noqa: E731
    return Split(col(x_train), col(y_train), col(x_holdout), col(y_holdout), None,
                 f"sin(x) on two clusters, noise {noise}")


def in_data(x: torch.Tensor) -> torch.Tensor:
    """True where an input lies inside the training clusters of `gap_regression`."""
    return (x.abs() >= 1) & (x.abs() <= 4)


def chapter_model(
    activation: str = "relu", dropout: float = 0.1, seed: int = 0, steps: int = 500,
    n_hidden: int = 64, n_train: int = 80, device: torch.device | str | None = None,
) -> tuple[nn.Sequential, Split]:
    """Build and train the chapter-6 regression model, reproducibly; returns `(model, split)`.

    A `1 - n_hidden - n_hidden - 1` MLP in float64 with dropout `dropout` in front of both
    hidden-to-next layers (`models.mlp`), trained on `gap_regression(n_train, seed=seed)` with
    full-batch Adam (learning rate 0.01, weight decay 1e-4) for `steps` steps (`training.fit`).
    The initial weights come from a CPU generator seeded `seed`, the training masks from a
    second generator seeded `seed` on `device`; the global random state is not touched. The
    model is returned in evaluation mode, on `device`, with the split moved there too, and
    its dropout layers hold no generator (pass one to `mc.mc_predict`). About a second of CPU
    time with the defaults.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    split = gap_regression(n_train, seed=seed).to(device or "cpu")
    device = split.x_train.device
    model = mlp([1, n_hidden, n_hidden, 1], dropout=dropout, activation=activation,
                generator=torch.Generator().manual_seed(seed)).to(device)
    masks = torch.Generator(device=device).manual_seed(seed)
    for layer in dropout_layers(model):
        layer.generator = masks
    fit(model, split, epochs=steps, lr=1e-2, batch_size=None, weight_decay=1e-4,
        record="none")
    for layer in dropout_layers(model):
        layer.generator = None
    return model.eval(), split
