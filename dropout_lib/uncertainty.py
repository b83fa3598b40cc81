"""Monte-Carlo dropout uncertainty: a 1-D regression with a gap, and a classifier (chapter 6).

Gal and Ghahramani (2016) read a network trained with dropout as an approximate Bayesian model:
keep dropout on at test time, run $T$ forward passes with independent masks and read the mean
and spread of the outputs. The sampler is `mc.mc_predict`; this module holds the chapter's
data (`gap_regression`), its trained model (`chapter_model`, or many side by side with
`chapter_models`) and the calibration check
(`coverage`). For a classifier it holds the digits with one class held out
(`digits_without`), three uncertainty scores (`max_softmax`, `predictive_entropy`,
`mutual_information`, all three from one call of `classifier_scores`) and the area under
the ROC curve that compares them (`auroc`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data import Split, digits
from .layers import dropout_layers
from .mc import sample
from .models import mlp
from .stacked import fit as stacked_fit
from .training import fit

__all__ = ["auroc", "chapter_model", "chapter_models", "classifier_scores", "coverage",
           "digits_without", "entropy", "gap_regression", "in_data", "max_softmax",
           "mutual_information", "predictive_entropy", "spread_ratio", "target"]


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
    return chapter_models([(activation, dropout, seed, n_train)], steps, n_hidden, device,
                          side_by_side=False)[0]


def chapter_models(
    runs: list[tuple[str, float, int, int]], steps: int = 500, n_hidden: int = 64,
    device: torch.device | str | None = None, side_by_side: bool = True,
    weight_decay: float = 1e-4,
) -> list[tuple[nn.Sequential, Split]]:
    """`chapter_model(activation, dropout, seed, steps, n_hidden, n_train, device)` for each
    `(activation, dropout, seed, n_train)` in `runs`, in that order; `weight_decay` replaces
    the chapter's `1e-4` for all of them.

    With `side_by_side`, the runs of one activation and training-set size are trained together
    by `stacked.fit`, each as `training.fit` trains it alone, up to rounding (tested in
    `tests/test_uncertainty.py`), in a fraction of the time.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    built = []
    for activation, rate, seed, n_train in runs:
        split = gap_regression(n_train, seed=seed).to(device or "cpu")
        model = mlp([1, n_hidden, n_hidden, 1], dropout=rate, activation=activation,
                    generator=torch.Generator().manual_seed(seed)).to(split.x_train.device)
        masks = torch.Generator(device=split.x_train.device).manual_seed(seed)
        for layer in dropout_layers(model):
            layer.generator = masks
        built.append((model, split))
    settings = {"lr": 1e-2, "weight_decay": weight_decay}
    if side_by_side:
        groups: dict[tuple[str, int], list[int]] = {}
        for i, (activation, _, _, n_train) in enumerate(runs):
            groups.setdefault((activation, n_train), []).append(i)
        for members in groups.values():
            stacked_fit([built[i][0] for i in members], [built[i][1] for i in members],
                        [steps], [torch.Generator(device=built[i][1].x_train.device)
                                  for i in members],  # full batch: they draw nothing
                        batch_size=None, **settings)
    else:
        for model, split in built:
            fit(model, split, epochs=steps, batch_size=None, record="none", **settings)
    for model, _ in built:
        for layer in dropout_layers(model):
            layer.generator = None
    return [(model.eval(), split) for model, split in built]


def entropy(probs: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in nats, $-\\sum_k p_k \\log p_k$ with $0 \\log 0 = 0$, over `dim`.

    Between 0 (one class certain) and $\\log K$ (all $K$ classes equally likely).
    """
    if not probs.is_floating_point():
        raise TypeError(f"probs must be a floating-point tensor, got {probs.dtype}")
    logs = torch.where(probs > 0, probs.log(), torch.zeros_like(probs))
    return -(probs * logs).sum(dim=dim)


def _check_samples(probs: torch.Tensor) -> None:
    if probs.dim() < 2:
        raise ValueError("probs must hold T samples of class probabilities: shape "
                         f"(T, ..., n_classes), got {tuple(probs.shape)}")


def max_softmax(logits: torch.Tensor) -> torch.Tensor:
    """The largest softmax probability of each row: shape (n, K) to (n,).

    Hendrycks and Gimpel's (2017) baseline confidence, here of the weight-scaled network
    (evaluation mode); $1 -$ it is an uncertainty score.
    """
    return torch.softmax(logits, dim=-1).amax(dim=-1)


def predictive_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy of the MC mean, $H[\\bar p]$ with $\\bar p = \\frac1T \\sum_t p_t$.

    Args:
        probs: softmax probabilities of $T$ passes, shape (T, n, K).

    Returns:
        Shape (n,), in nats, between 0 and $\\log K$.
    """
    _check_samples(probs)
    return entropy(probs.mean(dim=0))


def mutual_information(probs: torch.Tensor) -> torch.Tensor:
    """Mutual information between the prediction and the mask (BALD; Houlsby et al., 2011):
    $H[\\bar p] - \\frac1T \\sum_t H[p_t]$.

    Zero when all passes agree; positive when they disagree (Jensen's inequality), so it is
    the part of the entropy that comes from the masks. Rounding below zero is clipped to 0.

    Args:
        probs: softmax probabilities of $T$ passes, shape (T, n, K).

    Returns:
        Shape (n,), in nats, between 0 and $\\log K$.
    """
    _check_samples(probs)
    gap = entropy(probs.mean(dim=0)) - entropy(probs).mean(dim=0)
    return gap.clamp(min=0)


def classifier_scores(model: nn.Module, x: torch.Tensor, samples: int = 50, *,
                      generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Three uncertainty scores of a classifier on `x`, each of shape (n,), higher = less sure.

    "max-softmax": $1 -$ `max_softmax` of the model in evaluation mode (weight scaling);
    "entropy": `predictive_entropy` and "mutual information": `mutual_information` of
    `samples` MC-dropout passes (`mc.sample`, masks from `generator`).
    """
    was_training = model.training
    try:
        with torch.no_grad():
            plain = model.eval()(x)
    finally:
        model.train(was_training)
    probs = torch.softmax(sample(model, x, samples, generator=generator), dim=-1)
    return {"max-softmax": 1 - max_softmax(plain), "entropy": predictive_entropy(probs),
            "mutual information": mutual_information(probs)}


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve: the chance that a positive scores above a negative.

    The Mann-Whitney rank formula, ties counted as one half:
    $(R_+ - n_+(n_+ + 1)/2) / (n_+ n_-)$, with $R_+$ the sum of the positives' ranks (tied
    scores share their average rank). 1 separates perfectly, 0.5 is chance.

    Args:
        scores: shape (n,), higher meaning "more likely positive".
        positive: booleans, shape (n,), with at least one True and one False.
    """
    scores = torch.as_tensor(scores).detach().reshape(-1).cpu().double().numpy()
    positive = torch.as_tensor(positive).detach().reshape(-1).cpu().numpy()
    if positive.dtype != bool or positive.shape != scores.shape:
        raise ValueError("positive must be booleans of the same length as scores")
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("auroc needs at least one positive and one negative")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2)[inverse]  # ranks from 1; ties share their average
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def digits_without(
    label: int = 9, n_train: int = 1000, seed: int = 0, dtype: torch.dtype = torch.float64,
) -> tuple[Split, torch.Tensor]:
    """The 8x8 digits (`data.digits`) with one class taken out: `(split, unseen)`.

    `split` holds the other nine classes, relabelled 0 to 8 in order, in its training and
    holdout parts (the images of `data.digits(n_train, seed=seed)` minus those of `label`).
    `unseen` holds every image of `label`, shape (m, 64): inputs of a kind the network never
    saw in training.
    """
    if isinstance(label, bool) or label not in range(10):
        raise ValueError(f"label must be an int from 0 to 9, got {label!r}")
    full = digits(n_train, seed=seed, dtype=dtype)
    keep_train, keep_holdout = full.y_train != label, full.y_holdout != label
    relabel = lambda y: y - (y > label).long()  # noqa: E731
    split = Split(full.x_train[keep_train], relabel(full.y_train[keep_train]),
                  full.x_holdout[keep_holdout], relabel(full.y_holdout[keep_holdout]), 9,
                  f"digits without the {label}s")
    unseen = torch.cat([full.x_train[~keep_train], full.x_holdout[~keep_holdout]])
    return split, unseen
