"""Checks for chapter 1, overfitting (exercises 1.1 to 1.4)."""

from __future__ import annotations

import math

import numpy as np

from ..grading import NotYet, call, exercise, quiz
from ..training import History


def _history(train_acc, holdout_acc, train_loss, holdout_loss) -> History:
    return History(train_loss=list(train_loss), holdout_loss=list(holdout_loss),
                   train_acc=list(train_acc), holdout_acc=list(holdout_acc))


# Made-up histories in which each plausible mistake gives a different number.
_HISTORIES = [
    _history([0.60, 0.90, 1.00], [0.55, 0.80, 0.70], [1.2, 0.4, 0.01], [1.3, 0.7, 1.1]),
    _history([0.50, 0.75, 0.85, 0.95], [0.45, 0.70, 0.75, 0.72],
             [1.5, 0.9, 0.6, 0.2], [1.6, 1.0, 0.8, 0.9]),
    _history([0.30, 0.70], [0.35, 0.60], [2.0, 0.8], [1.9, 1.1]),
]


def _as_float(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NotYet(f"{what} should be a single number, got {type(value).__name__}.") from None
    if not math.isfinite(number):
        raise NotYet(f"{what} should be a finite number, got {number}.")
    return number


def _close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9


@exercise("1.1", "the generalisation gap")
def _check_gap(answer) -> None:
    for h in _HISTORIES:
        got = _as_float(call(answer, h), "The gap")
        want = h.train_acc[-1] - h.holdout_acc[-1]
        if _close(got, want):
            continue
        if _close(got, -want):
            raise NotYet("the sign is flipped: the gap is holdout error minus training error, "
                         "and it is positive when the network does better on its training data.")
        if _close(got, 100 * want):
            raise NotYet("give the gap as a fraction (0.25), not in percent (25).")
        if _close(got, h.holdout_loss[-1] - h.train_loss[-1]):
            raise NotYet("that is the gap in loss; the exercise asks for the gap in error, "
                         "where error = 1 - accuracy.")
        if _close(got, h.train_acc[0] - h.holdout_acc[0]):
            raise NotYet("that is the gap after the first epoch; use the last one (index -1).")
        if _close(got, max(h.train_acc) - max(h.holdout_acc)):
            raise NotYet("use the values after the last epoch, not the best values of each curve.")
        raise NotYet("compute (1 - holdout accuracy) - (1 - training accuracy) after the last "
                     "epoch, from history.train_acc and history.holdout_acc.")


@exercise("1.2", "label noise")
def _check_corrupt(answer) -> None:
    n_classes = 10
    labels = np.random.default_rng(123).integers(0, n_classes, size=1000)
    original = labels.copy()
    for fraction in (0.3, 0.0, 1.0, 0.05):
        noisy = call(answer, labels, fraction, n_classes, np.random.default_rng(7))
        if not np.array_equal(labels, original):
            raise NotYet("your function changed the labels it was given; work on a copy "
                         "(np.array(labels, copy=True) or labels.copy()).")
        noisy = np.asarray(noisy)
        if noisy.shape != labels.shape:
            raise NotYet(f"return one label per input label: expected shape {labels.shape}, "
                         f"got {noisy.shape}.")
        if not np.issubdtype(noisy.dtype, np.integer):
            raise NotYet(f"labels should stay integers, got dtype {noisy.dtype}.")
        if noisy.min() < 0 or noisy.max() >= n_classes:
            raise NotYet(f"every label must stay in 0 .. {n_classes - 1}.")
        n_changed = int((noisy != labels).sum())
        n_wanted = round(fraction * len(labels))
        if n_changed < n_wanted and fraction > 0:
            raise NotYet(
                f"with fraction={fraction} only {n_changed} of the {n_wanted} chosen labels "
                "changed. Either a position was chosen twice (pick positions without "
                "replacement), or a new random class equalled the true one (make sure every "
                "chosen label moves to a *different* class)."
            )
        if n_changed != n_wanted:
            raise NotYet(f"with fraction={fraction}, {n_wanted} of {len(labels)} labels should "
                         f"change, but {n_changed} did. Choose exactly round(fraction * n) "
                         "positions, without replacement.")
    again = call(answer, labels, 0.3, n_classes, np.random.default_rng(7))
    other = call(answer, labels, 0.3, n_classes, np.random.default_rng(8))
    if not np.array_equal(np.asarray(again), np.asarray(call(
            answer, labels, 0.3, n_classes, np.random.default_rng(7)))):
        raise NotYet("two calls with the same rng seed gave different labels; draw every "
                     "random number from the `rng` argument, not from np.random.")
    if np.array_equal(np.asarray(again), np.asarray(other)):
        raise NotYet("different rng seeds gave the same labels; use the `rng` argument.")
    # The wrong class should be any of the other nine, not always the next one.
    offsets = (np.asarray(again) - labels) % n_classes
    used = np.unique(offsets[offsets != 0])
    if len(used) < n_classes - 1:
        raise NotYet("the new labels always move by the same few steps (for example label + 1); "
                     "pick the wrong class uniformly among all the other classes.")


# For 1.3: the right epoch (4), one less (3), the worst holdout epoch (5), the best training
# epoch (6) and the last epoch (7) all differ, so each mistake gets its own hint.
_EARLY_STOPPING = _history([0.2] * 7, [0.2] * 7, [2.0, 1.5, 1.0, 0.8, 0.6, 0.3, 0.4],
                           [1.5, 1.1, 0.9, 0.6, 2.0, 1.2, 1.3])


@exercise("1.3", "early stopping")
def _check_best_epoch(answer) -> None:
    for h in [_EARLY_STOPPING, *_HISTORIES]:
        got = call(answer, h)
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            raise NotYet(f"return the epoch as an int, got {type(got).__name__}.")
        want = int(np.argmin(h.holdout_loss)) + 1
        if got == want:
            continue
        if got == want - 1:
            raise NotYet("off by one: epochs are numbered from 1 (see history.epochs), "
                         "list indices from 0.")
        if got == int(np.argmin(h.train_loss)) + 1:
            raise NotYet("that is where the *training* loss is lowest; early stopping watches "
                         "the holdout loss.")
        if got == int(np.argmax(h.holdout_loss)) + 1:
            raise NotYet("that is the highest holdout loss; you want the lowest.")
        if got == len(h.holdout_loss):
            raise NotYet("that is simply the last epoch; find the epoch with the lowest holdout "
                         "loss.")
        raise NotYet("return the epoch (counted from 1) with the lowest holdout loss.")


quiz("1.4", "what 100% training accuracy means",
     digest="b352d28661263eec1ab8896b21f2f299d3a10a3fe9a29a65ef3292f731a65da1",
     hint="how many of the training labels are correct? What must a network do to get every "
          "one of them 'right'?",
     choices="abcd")
