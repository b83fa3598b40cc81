"""Small, seeded data sets that load in milliseconds and download nothing (chapter 1 onwards).

Every function takes a `seed` and returns a `Split` of torch tensors. Inputs are float64 by
default: the course trains in double precision so that a rerun on another CPU, whose kernels
round differently, prints the same digits as the book.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "Split", "corrupt_labels", "diabetes", "digits", "regression_target", "two_input_regression",
]


@dataclass
class Split:
    """A training set and a holdout set (the data that training never sees).

    Attributes:
        x_train: inputs, shape (n_train, n_features).
        y_train: class indices (int64, shape (n_train,)) or targets (float, shape (n_train, 1)).
        x_holdout, y_holdout: the same for the holdout set.
        n_classes: number of classes, or None for regression.
        name: a short description for titles and printouts.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_holdout: torch.Tensor
    y_holdout: torch.Tensor
    n_classes: int | None
    name: str

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    def to(self, device: torch.device | str) -> Split:
        """A copy with every tensor on `device`."""
        move = lambda t: t.to(device)  # noqa: E731
        return Split(move(self.x_train), move(self.y_train), move(self.x_holdout),
                     move(self.y_holdout), self.n_classes, self.name)

    def __repr__(self) -> str:
        task = f"{self.n_classes} classes" if self.n_classes else "regression"
        sizes = f"{len(self.x_train)} training, {len(self.x_holdout)} holdout"
        return f"Split({self.name!r}: {sizes}, {self.n_features} features, {task})"


def _check_fraction(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def corrupt_labels(
    labels: np.ndarray, fraction: float, n_classes: int, rng: np.random.Generator
) -> np.ndarray:
    """Replace a given fraction of the labels by a *different* class, chosen uniformly.

    Exactly `round(fraction * len(labels))` labels change; the input array is left as it is.
    This is the reference answer to Exercise 1.2.

    Args:
        labels: integer class labels, shape (n,).
        fraction: share of labels to corrupt, in [0, 1].
        n_classes: labels lie in 0 .. n_classes - 1.
        rng: where the randomness comes from.

    Returns:
        A new array of shape (n,).
    """
    _check_fraction(fraction, "fraction")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    noisy = np.array(labels, copy=True)
    n_corrupt = int(round(fraction * len(noisy)))
    chosen = rng.choice(len(noisy), size=n_corrupt, replace=False)
    # Adding 1..n_classes-1 modulo n_classes always lands on another class, each equally likely.
    offsets = rng.integers(1, n_classes, size=n_corrupt)
    noisy[chosen] = (noisy[chosen] + offsets) % n_classes
    return noisy


def _as_split(x, y, n_train, n_holdout, rng, n_classes, name, dtype) -> Split:
    order = rng.permutation(len(x))
    if n_holdout is None:
        n_holdout = len(x) - n_train
    if n_train < 1 or n_holdout < 1 or n_train + n_holdout > len(x):
        raise ValueError(
            f"n_train ({n_train}) and n_holdout ({n_holdout}) must be positive and add up to "
            f"at most {len(x)}"
        )
    train, holdout = order[:n_train], order[n_train:n_train + n_holdout]
    y_dtype = torch.int64 if n_classes else dtype
    as_x = lambda idx: torch.as_tensor(x[idx], dtype=dtype)  # noqa: E731
    as_y = lambda idx: torch.as_tensor(y[idx], dtype=y_dtype)  # noqa: E731
    return Split(as_x(train), as_y(train), as_x(holdout), as_y(holdout), n_classes, name)


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits (pixels 0 to 16) and labels, read from scikit-learn's data file.

    The same arrays as `sklearn.datasets.load_digits()` (tests/test_data.py checks it) without
    importing scikit-learn, which takes about two seconds. Returned arrays are read-only.
    """
    package = importlib.util.find_spec("sklearn")
    table = np.loadtxt(Path(package.origin).parent / "datasets" / "data" / "digits.csv.gz",
                       delimiter=",")
    images, labels = table[:, :-1], table[:, -1].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits(
    n_train: int = 500,
    n_holdout: int | None = None,
    label_noise: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Split:
    """Handwritten digits, 8x8 pixels scaled to [0, 1] (1797 images, 10 classes).

    The optdigits test set of Alpaydin and Kaynak (1998), as shipped with scikit-learn.
    Label noise, when asked for, corrupts the *training* labels only, so holdout accuracy still
    measures what we care about: recognising the true digit.

    Args:
        n_train: training images; the rest (or `n_holdout` of them) form the holdout set.
        n_holdout: holdout images; all the remaining ones when None.
        label_noise: fraction of training labels replaced by a wrong class, in [0, 1].
        seed: fixes the shuffle and the noise.
        dtype: dtype of the inputs.
    """
    _check_fraction(label_noise, "label_noise")
    images, labels = _digits_arrays()
    rng = np.random.default_rng(seed)
    split = _as_split(images / 16.0, labels, n_train, n_holdout, rng, 10,
                      f"digits, {label_noise:.0%} label noise", dtype)
    if label_noise > 0:
        noisy = corrupt_labels(split.y_train.numpy(), label_noise, 10, rng)
        split.y_train = torch.as_tensor(noisy, dtype=torch.int64)
    return split


def regression_target(x: np.ndarray) -> np.ndarray:
    """The noise-free function behind `two_input_regression`: $\\sin(2x_1) + x_2^2/2$."""
    return np.sin(2.0 * x[:, 0]) + 0.5 * x[:, 1] ** 2


def two_input_regression(
    n_train: int = 30,
    n_holdout: int = 500,
    noise: float = 0.3,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Split:
    """Two inputs, one output: $y = \\sin(2x_1) + x_2^2/2 + \\varepsilon$ on $[-2, 2]^2$.

    Small enough to see every point, smooth enough that a net with too much freedom visibly
    chases the noise $\\varepsilon \\sim N(0, \\text{noise}^2)$.
    """
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    n = n_train + n_holdout
    x = rng.uniform(-2.0, 2.0, size=(n, 2))
    y = regression_target(x) + noise * rng.standard_normal(n)
    return _as_split(x, y[:, None], n_train, n_holdout, rng, None,
                     f"two-input regression, noise {noise}", dtype)


def diabetes(
    n_train: int = 100, seed: int = 0, dtype: torch.dtype = torch.float64
) -> Split:
    """Disease progression from 10 clinical measurements (442 patients; Efron et al., 2004).

    Inputs and target are standardised with the training set's mean and standard deviation,
    so a root-mean-square error of 1 means "no better than predicting the mean".
    """
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    rng = np.random.default_rng(seed)
    split = _as_split(bunch.data, bunch.target[:, None], n_train, None, rng, None,
                      "diabetes", dtype)
    for attr, ref in (("x", split.x_train), ("y", split.y_train)):
        mean, std = ref.mean(0), ref.std(0)
        setattr(split, f"{attr}_train", (getattr(split, f"{attr}_train") - mean) / std)
        setattr(split, f"{attr}_holdout", (getattr(split, f"{attr}_holdout") - mean) / std)
    return split
