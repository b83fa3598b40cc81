"""Plots for the chapters. Each `plot_*` function takes an optional `Axes` and returns it.

The only module of the library that imports matplotlib; the measurements come from the
chapter modules as numbers and tensors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from .training import History

__all__ = [
    "new_axes", "offline_player", "plot_activation_histogram", "plot_deletion_curve",
    "plot_gap", "plot_history", "plot_mask", "plot_predictive_band", "plot_regression_fit",
    "plot_weight_images",
]

# Colours that stay distinct on the website's light theme and for common colour blindness.
TRAIN_COLOUR, HOLDOUT_COLOUR = "#1f77b4", "#d62728"


def new_axes(ncols: int = 1, width: float = 5.0, height: float = 3.4):
    """A row of `ncols` axes, sized for the book's text column. Returns `(figure, axes)`."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), layout="constrained")
    return fig, axes


def plot_history(
    history: History,
    metric: str = "loss",
    ax: Axes | None = None,
    label: str = "",
    linestyle: str = "-",
) -> Axes:
    """Training and holdout curves of one run against the epoch.

    Args:
        history: what `training.fit` returned.
        metric: "loss", "accuracy" or "error" (1 - accuracy).
        ax: where to draw; a new figure when None.
        label: prefix for the legend entries, to tell several runs apart.
        linestyle: line style of both curves.
    """
    if ax is None:
        _, ax = new_axes()
    if metric == "loss":
        train, holdout, ylabel = history.train_loss, history.holdout_loss, "loss"
    elif metric in ("accuracy", "error"):
        if not history.train_acc:
            raise ValueError("this history has no accuracy (a regression run); use metric='loss'")
        train, holdout = np.array(history.train_acc), np.array(history.holdout_acc)
        if metric == "error":
            train, holdout = 1 - train, 1 - holdout
        ylabel = f"{metric} (fraction)"
    else:
        raise ValueError(f"metric must be 'loss', 'accuracy' or 'error', got {metric!r}")
    prefix = f"{label}: " if label else ""
    ax.plot(history.epochs, train, linestyle, color=TRAIN_COLOUR, label=f"{prefix}training")
    ax.plot(history.epochs, holdout, linestyle, color=HOLDOUT_COLOUR, label=f"{prefix}holdout")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_gap(
    xs: Sequence[float],
    train: Sequence[float],
    holdout: Sequence[float],
    xlabel: str,
    ylabel: str = "error (fraction)",
    ax: Axes | None = None,
    logx: bool = False,
) -> Axes:
    """Final training and holdout values against a setting (width, data set size, rate...),
    with the generalisation gap between them shaded."""
    if ax is None:
        _, ax = new_axes()
    ax.plot(xs, train, "o-", color=TRAIN_COLOUR, label="training")
    ax.plot(xs, holdout, "s-", color=HOLDOUT_COLOUR, label="holdout")
    ax.fill_between(xs, train, holdout, color="0.85", label="generalisation gap")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_regression_fit(
    predict, split, target=None, ax: Axes | None = None, title: str = ""
) -> Axes:
    """A two-input regression seen along its first input, with the second held at 0.

    Args:
        predict: maps an (n, 2) float64 array to n predictions (for example a trained model
            wrapped in `torch.no_grad`).
        split: a `Split` from `data.two_input_regression`; its training points are drawn.
        target: the noise-free function of an (n, 2) array, drawn for reference when given.
    """
    if ax is None:
        _, ax = new_axes()
    grid = np.zeros((300, 2))
    grid[:, 0] = np.linspace(-2, 2, 300)
    if target is not None:
        ax.plot(grid[:, 0], target(grid), "k--", lw=1, label="true function ($x_2 = 0$)")
    ax.plot(grid[:, 0], predict(grid), color=HOLDOUT_COLOUR, label="network ($x_2 = 0$)")
    x, y = split.x_train.numpy(), split.y_train.numpy().ravel()
    near = np.abs(x[:, 1]) < 0.7  # the training points close to the slice we draw
    ax.scatter(x[near, 0], y[near], s=18, color=TRAIN_COLOUR, label="training points, $|x_2|<0.7$")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$y$")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


# --- chapter 2 ---

def plot_mask(mask, ax: Axes | None = None, title: str = "") -> Axes:
    """A 2-D dropout mask as a grid of squares: dark for a kept unit, light for a dropped one.

    Args:
        mask: array or tensor of shape (rows, units) holding 0 (dropped) and 1 (kept); any
            non-zero entry counts as kept, so a scaled mask or a dropout output works too.
        ax: where to draw; a new figure when None.
        title: the axes title.
    """
    kept = np.asarray(mask) != 0
    if kept.ndim != 2:
        raise ValueError(f"mask must be 2-D (rows, units), got shape {kept.shape}")
    if ax is None:
        _, ax = new_axes()
    ax.imshow(kept, cmap="Greys", vmin=-0.25, vmax=1.25, aspect="auto", interpolation="nearest")
    ax.set_xlabel("unit")
    ax.set_ylabel("example in the batch")
    if title:
        ax.set_title(title)
    return ax


# Text for the player's buttons, in place of matplotlib's Font Awesome icons (a CDN font).
_BUTTON_TEXT = {
    "fa-minus": "\u2212", "fa-fast-backward": "\u23ee", "fa-step-backward": "\u25c0|",
    "fa-play fa-flip-horizontal": "\u25c0", "fa-pause": "\u23f8", "fa-play": "\u25b6",
    "fa-step-forward": "|\u25b6", "fa-fast-forward": "\u23ed", "fa-plus": "+",
}


def offline_player(animation, alt: str, fps: float = 2) -> str:
    """A matplotlib animation as HTML that plays offline and passes an accessibility audit.

    `animation.to_jshtml()` links Font Awesome from a CDN for its button icons, and leaves its
    frame image without alt text and its frame slider without a label. This returns the same
    player with the link removed, each icon replaced by a text symbol (every button keeps its
    spoken `aria-label`), `alt` on the image and a label on the slider.
    """
    page = animation.to_jshtml(fps=fps, default_mode="loop")
    page = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">', "",
                  page)

    def icon(match: re.Match) -> str:
        classes = match.group(1).removeprefix("fa ").strip()
        return f'<span aria-hidden="true">{_BUTTON_TEXT[classes]}</span>'

    page = re.sub(r'<i class="(fa [^"]+)"></i>', icon, page)
    page = re.sub(r'<img id="(_anim_img\w+)">',
                  lambda m: f'<img id="{m.group(1)}" alt="{alt}">', page)
    page = page.replace('type="range" class="anim-slider"',
                        'type="range" class="anim-slider" aria-label="frame"')
    return page


# --- chapter 3 ---

def plot_deletion_curve(
    fractions: Sequence[float],
    mean: Sequence[float],
    std: Sequence[float] | None = None,
    label: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Accuracy against the fraction of hidden units deleted, with a band of one std."""
    if ax is None:
        _, ax = new_axes(width=6.0, height=3.5)
    line, = ax.plot(fractions, mean, "o-", label=label or None)
    if std is not None:
        mean, std = np.asarray(mean), np.asarray(std)
        ax.fill_between(fractions, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("fraction of hidden units deleted")
    ax.set_ylabel("holdout accuracy")
    ax.grid(alpha=0.3)
    if label:
        ax.legend(frameon=False)
    return ax


def plot_activation_histogram(
    activations: torch.Tensor, label: str = "", bins: int = 40, max_value: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of all activation values (log scale on the count, so the zeros fit)."""
    if ax is None:
        _, ax = new_axes(width=6.0, height=3.5)
    values = activations.detach().flatten().cpu().to(torch.float64).numpy()
    top = float(values.max()) if max_value is None else max_value
    ax.hist(values, bins=np.linspace(min(0.0, float(values.min())), top, bins + 1),
            histtype="step", linewidth=1.5, label=label or None)
    ax.set_yscale("log")
    ax.set_xlabel("activation")
    ax.set_ylabel("count (log scale)")
    if label:
        ax.legend(frameon=False)
    return ax


def plot_weight_images(
    weight: torch.Tensor, n_images: int = 32, n_columns: int = 8, image_shape=(8, 8),
    ax: Axes | None = None,
) -> Axes:
    """The incoming weights of the first `n_images` units, each drawn as an image.

    Each row of `weight` (shape (n_units, n_pixels)) becomes a tile of `image_shape`, scaled
    to its own largest absolute value: red is positive, blue negative, white zero.
    """
    if ax is None:
        _, ax = new_axes(width=6.0, height=3.5)
    rows = weight.detach().cpu().to(torch.float64).numpy()[:n_images]
    height, width = image_shape
    if rows.shape[1] != height * width:
        raise ValueError(f"each row must hold {height * width} weights, got {rows.shape[1]}")
    n_rows = -(-len(rows) // n_columns)
    canvas = np.full((n_rows * (height + 1) - 1, n_columns * (width + 1) - 1), np.nan)
    for i, row in enumerate(rows):
        top, left = (i // n_columns) * (height + 1), (i % n_columns) * (width + 1)
        scale = np.abs(row).max() or 1.0
        canvas[top:top + height, left:left + width] = row.reshape(height, width) / scale
    ax.imshow(canvas, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


# --- chapter 6 ---

def plot_predictive_band(
    x, mean, std, split=None, target=None, ax: Axes | None = None, title: str = "",
    z: float = 2.0, label: str = "MC mean",
) -> Axes:
    """A 1-D regression: predictive mean with a band of `z` standard deviations (chapter 6).

    Args:
        x, mean, std: tensors or arrays of shape (n, 1) or (n,), `x` sorted.
        split: a `Split` with 1-D inputs; its training points are drawn when given.
        target: the noise-free function of an array, drawn dashed when given.
        z: half-width of the band in standard deviations; no band where `std` is all zero.
    """
    if ax is None:
        _, ax = new_axes()
    x, mean, std = (np.asarray(t, dtype=float).ravel() for t in (x, mean, std))
    if target is not None:
        ax.plot(x, target(x), "k--", lw=1, label="true function")
    if np.any(std > 0):  # no band at all for a deterministic prediction
        ax.fill_between(x, mean - z * std, mean + z * std, color=HOLDOUT_COLOUR, alpha=0.2,
                        lw=0, label=f"mean $\\pm$ {z:g} std")
    ax.plot(x, mean, color=HOLDOUT_COLOUR, label=label)
    if split is not None:
        ax.scatter(split.x_train.cpu().numpy().ravel(), split.y_train.cpu().numpy().ravel(),
                   s=10, color=TRAIN_COLOUR, label="training points", zorder=3)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax
