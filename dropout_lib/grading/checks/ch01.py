"""Checks for chapter 1, overfitting (exercises 1.1 to 1.4).

Every function is tried on several inputs (histories of different lengths, one with a
negative gap, one with a tie; labels of two sizes, dtypes and class counts, several seeds), so
a constant or a lucky guess does not pass, and each plausible mistake gets its own hint.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ...data import corrupt_labels
from ...training import History, best_epoch, generalization_gap
from ..helpers import as_number, close, precision_hint
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch01_answers as known


def _history(train_acc, holdout_acc, train_loss, holdout_loss) -> History:
    return History(train_loss=list(train_loss), holdout_loss=list(holdout_loss),
                   train_acc=list(train_acc), holdout_acc=list(holdout_acc))


# Made-up histories in which each plausible mistake gives a different number. The last one
# has a negative gap (holdout accuracy above training accuracy, as with dropout in the chapter).
_HISTORIES = [
    _history([0.60, 0.90, 1.00], [0.55, 0.80, 0.70], [1.2, 0.4, 0.01], [1.3, 0.7, 1.1]),
    _history([0.50, 0.75, 0.85, 0.95], [0.45, 0.70, 0.75, 0.72],
             [1.5, 0.9, 0.6, 0.2], [1.6, 1.0, 0.8, 0.9]),
    _history([0.30, 0.70], [0.35, 0.60], [2.0, 0.8], [1.9, 1.1]),
    _history([0.40, 0.55, 0.65, 0.70, 0.72], [0.50, 0.75, 0.80, 0.86, 0.90],
             [1.8, 1.3, 1.0, 0.9, 0.85], [1.6, 0.9, 0.7, 0.5, 0.4]),
]


def _fresh(history: History) -> History:
    """A copy for the learner's function, so one call cannot spoil the next."""
    return copy.deepcopy(history)


def _call_on(answer, history: History):
    """Call `answer(copy of history)`; complain if the function changed its argument."""
    given = _fresh(history)
    got = call(answer, given)
    if given != history:
        raise NotYet("your function changed the history it was given (for example with "
                     ".pop() or .sort()); read the values without modifying the lists.")
    return got


def _gap_of(value, n_epochs: int):
    """The learner's gap, kept as given (its dtype sets the precision), or a hint."""
    if np.ndim(value) == 1 and np.size(value) == n_epochs:
        raise NotYet(f"the gap should be a single number, got {type(value).__name__} with one "
                     "value per epoch; the exercise asks for the value after the last epoch "
                     "only.")
    as_number(value, "the gap", finite=True)
    return value


def _is(got, want: float) -> bool:
    return close(got, want, scale=1.0)  # accuracies are of size 1, whatever the gap


@exercise("1.1", "the generalisation gap", reference=generalization_gap,
          fallback="the gap is the holdout error minus the training error after the last "
                   "epoch, with error = 1 - accuracy; check which lists and which epoch you "
                   "read.",
          variants=known.GAP_VARIANTS, mistakes=known.GAP_MISTAKES)
def _check_gap(answer) -> None:
    for h in _HISTORIES:
        got = _gap_of(_call_on(answer, h), len(h.train_acc))
        want = h.train_acc[-1] - h.holdout_acc[-1]
        if _is(got, want):
            continue
        if _is(got, abs(want)):
            raise NotYet("the gap can be negative: when the holdout error is below the training "
                         "error (as with dropout later in this chapter), keep the minus sign "
                         "instead of taking abs().")
        if _is(got, -want):
            raise NotYet("the sign is flipped: the gap is holdout error minus training error, "
                         "and it is positive when the network does better on its training data.")
        if _is(got, 100 * want) or _is(got, -100 * want):
            raise NotYet("give the gap as a fraction (0.25), not in percent (25).")
        if _is(got, h.holdout_loss[-1] - h.train_loss[-1]):
            raise NotYet("that is the gap in loss; the exercise asks for the gap in error, "
                         "where error = 1 - accuracy.")
        if _is(got, h.train_acc[0] - h.holdout_acc[0]):
            raise NotYet("that is the gap after the first epoch; use the last one (index -1).")
        if _is(got, max(h.train_acc) - max(h.holdout_acc)):
            raise NotYet("use the values after the last epoch, not the best values of each curve.")
        if _is(got, float(np.mean(h.train_acc) - np.mean(h.holdout_acc))):
            raise NotYet("that is the average gap over all epochs; use the values after the last "
                         "epoch only.")
        raise NotYet(precision_hint(got, want, scale=1.0) or "")


def _check_noisy_labels(answer, labels: np.ndarray, fraction: float, n_classes: int) -> None:
    """One call of the learner's `corrupt_labels`; NotYet names the first mistake found."""
    original = labels.copy()
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
    n = len(labels)
    n_changed = int((noisy != labels).sum())
    n_wanted = round(fraction * n)
    if n_changed == n_wanted:
        return
    if n_changed == 0:
        raise NotYet(f"with fraction={fraction} no label changed; return the copy after "
                     "writing the new classes into it.")
    if n_changed == math.floor(fraction * n) or n_changed == math.ceil(fraction * n):
        raise NotYet(f"with {n} labels and fraction={fraction}, {n_wanted} labels should "
                     f"change, but {n_changed} did: round the count with round(fraction * n), "
                     "not int() (which rounds down) or math.ceil().")
    if n_changed < n_wanted:
        raise NotYet(
            f"with fraction={fraction} only {n_changed} of the {n_wanted} chosen labels "
            "changed. Either a position was chosen twice (pick positions without "
            "replacement), or a new random class equalled the true one (make sure every "
            "chosen label moves to a *different* class)."
        )
    raise NotYet(f"with fraction={fraction}, {n_wanted} of {n} labels should "
                 f"change, but {n_changed} did. Choose exactly round(fraction * n) "
                 "positions, without replacement.")


@exercise("1.2", "label noise", reference=corrupt_labels,
          fallback="choose exactly round(fraction * n) positions without replacement and move "
                   "each to a different class, drawn uniformly from the other classes with rng.",
          variants=known.CORRUPT_VARIANTS, mistakes=known.CORRUPT_MISTAKES)
def _check_corrupt(answer) -> None:
    n_classes = 10
    labels = np.random.default_rng(123).integers(0, n_classes, size=1000)
    for fraction in (0.3, 0.0, 1.0, 0.05):
        _check_noisy_labels(answer, labels, fraction, n_classes)
    # Few labels, three classes and 32-bit integers: 9 * 0.3 = 2.7 rounds to 3, not 2.
    few = np.random.default_rng(5).integers(0, 3, size=9).astype(np.int32)
    for fraction in (0.3, 0.7):
        _check_noisy_labels(answer, few, fraction, 3)
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
    # Uniformly: with every label corrupted, each of the 9 offsets should come up about
    # 1000 / 9 times. A chi-square statistic above 31.8 (8 degrees of freedom) happens by chance
    # once in 10,000 tries, while an answer that favours one class lands far above it.
    everything = np.asarray(call(answer, labels, 1.0, n_classes, np.random.default_rng(9)))
    counts = np.bincount((everything - labels) % n_classes, minlength=n_classes)[1:]
    expected = counts.sum() / (n_classes - 1)
    if ((counts - expected) ** 2 / expected).sum() > 31.8:
        raise NotYet("some wrong classes come up far more often than others (is one class "
                     "favoured when a first draw equals the true label?); pick the new class "
                     "uniformly among the other n_classes - 1 classes.")


# For 1.3: the right epoch (4), one less (3), the worst holdout epoch (5), the best training
# epoch (6), the last epoch (7) and the best holdout *accuracy* (2) all differ, so each mistake
# gets its own hint. In _TIE the lowest holdout loss comes twice, at epochs 2 and 4.
_EARLY_STOPPING = _history([0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
                           [0.5, 0.9, 0.8, 0.85, 0.6, 0.7, 0.65],
                           [2.0, 1.5, 1.0, 0.8, 0.6, 0.3, 0.4],
                           [1.5, 1.1, 0.9, 0.6, 2.0, 1.2, 1.3])
_TIE = _history([0.3, 0.5, 0.6, 0.7, 0.8], [0.4, 0.6, 0.5, 0.6, 0.5],
                [2.0, 1.5, 1.2, 1.0, 0.8], [1.0, 0.5, 0.7, 0.5, 0.9])


def _epoch_of(value):
    """A 0-dim integer tensor or array counts as an int (argmin returns one)."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item") \
            and "int" in str(getattr(value, "dtype", "")):
        return int(value.item())
    return value


@exercise("1.3", "early stopping", reference=best_epoch,
          fallback="return the epoch (counted from 1) with the lowest holdout loss.",
          variants=known.EPOCH_VARIANTS, mistakes=known.EPOCH_MISTAKES)
def _check_best_epoch(answer) -> None:
    for h in [_EARLY_STOPPING, _TIE, *_HISTORIES]:
        got = _epoch_of(_call_on(answer, h))
        lowest = min(h.holdout_loss)
        if isinstance(got, float | np.floating) and abs(float(got) - lowest) < 1e-9:
            raise NotYet("that is the lowest holdout loss itself; return the epoch at which it "
                         "happens.")
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
        if got == int(np.argmax(h.holdout_acc)) + 1:
            raise NotYet("that is where the holdout *accuracy* is highest; the exercise asks "
                         "for the lowest holdout *loss*.")
        if 1 <= got <= len(h.holdout_loss) and h.holdout_loss[got - 1] == lowest:
            raise NotYet("several epochs tie for the lowest holdout loss here; return the first "
                         "of them (keep the best so far with <, not <=, or use np.argmin).")
        if got == len(h.holdout_loss):
            raise NotYet("that is simply the last epoch; find the epoch with the lowest holdout "
                         "loss.")
        raise NotYet()


# Hints are keyed by the digest of the wrong letter they answer (`python -m dropout_lib.grading
# digest 1.4 a b c d` prints them), so that the source does not show which letter is right.
quiz("1.4", "what 100% training accuracy means",
     digest="b352d28661263eec1ab8896b21f2f299d3a10a3fe9a29a65ef3292f731a65da1",
     choices="abcd",
     hints={
         "bb33fc83ad45291a5ac59e2a9d0b2a7b290c23796eb45e25dc0c5045e140c0b3":
             "30% of the training labels are wrong: what would a network that knew the digits "
             "perfectly score against those labels, and what does scoring 100% on them take?",
         "b0fa9d5e6bbc084fe8969777a8551b6dcc169aae0d3c1cbc562d8d3292d3ddce":
             "wrong labels cap the accuracy of a network that predicts the true digit, not of "
             "one with enough parameters to fit any labels it is given, right or wrong.",
         "a10e58e6dabf6c4934cac9927d692df38301e8857f85a79dc916f440fa5721cd":
             "the course measures accuracy in evaluation mode (training.evaluate calls "
             "model.eval()), where dropout is off, so training accuracy does say something.",
     })
