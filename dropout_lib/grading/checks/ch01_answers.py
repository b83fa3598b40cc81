"""Known answers for chapter 1's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import numpy as np
import torch

from ...data import corrupt_labels
from ..registry import Known

# --- 1.1 ---------------------------------------------------------------------------------------


def _float32_gap(h):
    """Right, in float32: the lists become float32 tensors (torch.tensor's default)."""
    return torch.tensor(h.train_acc)[-1] - torch.tensor(h.holdout_acc)[-1]


GAP_VARIANTS = (
    Known("from errors", lambda h: (1 - h.holdout_acc[-1]) - (1 - h.train_acc[-1])),
    Known("numpy float", lambda h: np.float64(h.train_acc[-1] - h.holdout_acc[-1])),
    Known("rounded to 12 digits", lambda h: round(h.train_acc[-1] - h.holdout_acc[-1], 12)),
    Known("0-dim float64 tensor",
          lambda h: torch.tensor(h.train_acc[-1] - h.holdout_acc[-1], dtype=torch.float64)),
    Known("float32 tensor", _float32_gap),
    Known("numpy float32", lambda h: np.float32(h.train_acc[-1]) - np.float32(h.holdout_acc[-1])),
    Known("float32 tensor, then .item()", lambda h: _float32_gap(h).item()),
)

GAP_MISTAKES = (
    Known("sign flipped", lambda h: h.holdout_acc[-1] - h.train_acc[-1], "the sign is flipped"),
    Known("percent", lambda h: 100 * (h.train_acc[-1] - h.holdout_acc[-1]), "not in percent"),
    Known("gap in loss", lambda h: h.holdout_loss[-1] - h.train_loss[-1], "the gap in loss"),
    Known("first epoch", lambda h: h.train_acc[0] - h.holdout_acc[0], "after the first epoch"),
    Known("best values", lambda h: max(h.train_acc) - max(h.holdout_acc), "not the best values"),
    Known("a string", lambda h: "a lot", "should be a single number, got str"),
    Known("a list", lambda h: [0.1, 0.2], "should be a single number, got list"),
    Known("nan", lambda h: float("nan"), "should be a finite number"),
    Known("abs", lambda h: abs(h.train_acc[-1] - h.holdout_acc[-1]), "the gap can be negative"),
    Known("per epoch", lambda h: np.array(h.train_acc) - np.array(h.holdout_acc),
          "one value per epoch"),
    Known("mean gap", lambda h: np.mean(h.train_acc) - np.mean(h.holdout_acc),
          "average gap over all epochs"),
    Known("pops the lists", lambda h: h.train_acc.pop() - h.holdout_acc.pop(),
          "changed the history it was given"),
    Known("array of one", lambda h: np.array([h.train_acc[-1] - h.holdout_acc[-1]]),
          "single number, got ndarray"),
)

# --- 1.2 ---------------------------------------------------------------------------------------


def _with_offsets(labels, fraction, n_classes, rng, offsets, size=None, replace=False):
    noisy = labels.copy()
    size = round(fraction * len(labels)) if size is None else size
    chosen = rng.choice(len(labels), size=size, replace=replace)
    noisy[chosen] = (noisy[chosen] + offsets(len(chosen))) % n_classes
    return noisy


def _random_offsets(n_classes, rng):
    return lambda k: rng.integers(1, n_classes, size=k)


def corrupt_with_a_loop(labels, fraction, n_classes, rng):
    noisy = list(labels)
    for i in rng.permutation(len(labels))[:round(fraction * len(labels))]:
        noisy[i] = int(rng.choice([c for c in range(n_classes) if c != labels[i]]))
    return np.array(noisy)


def _may_equal_label(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    noisy[chosen] = rng.integers(0, n_classes, size=len(chosen))
    return noisy


def _in_place(labels, fraction, n_classes, rng):
    chosen = rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    labels[chosen] = (labels[chosen] + rng.integers(1, n_classes, size=len(chosen))) % n_classes
    return labels


def _global_np_random(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    chosen = np.random.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    noisy[chosen] = (noisy[chosen] + np.random.randint(1, n_classes, size=len(chosen))) % n_classes
    return noisy


def _one_too_many(labels, fraction, n_classes, rng):
    size = min(len(labels), round(fraction * len(labels)) + 1)
    return _with_offsets(labels, fraction, n_classes, rng, _random_offsets(n_classes, rng), size)


def _bernoulli_per_label(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    chosen = rng.random(len(labels)) < fraction
    noisy[chosen] = (noisy[chosen] + rng.integers(1, n_classes, size=chosen.sum())) % n_classes
    return noisy


def _favours_next_class(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    new = rng.integers(0, n_classes, size=len(chosen))
    same = new == labels[chosen]
    new[same] = (new[same] + 1) % n_classes
    noisy[chosen] = new
    return noisy


CORRUPT_VARIANTS = (
    Known("loop over a permutation", corrupt_with_a_loop),
    Known("int32 result", lambda labels, f, n, rng: corrupt_labels(labels, f, n, rng)
          .astype(np.int32)),
    Known("torch tensor", lambda labels, f, n, rng: torch.as_tensor(
        corrupt_labels(labels, f, n, rng))),
)

CORRUPT_MISTAKES = (
    Known("unchanged", lambda labels, f, n, rng: labels.copy(), "no label changed"),
    Known("rounds down", lambda labels, f, n, rng: _with_offsets(
        labels, f, n, rng, _random_offsets(n, rng), int(f * len(labels))),
        "not int() (which rounds down)"),
    Known("favours the next class", _favours_next_class, "is one class favoured"),
    Known("new class may equal the old", _may_equal_label, "moves to a *different* class"),
    Known("positions with replacement", lambda labels, f, n, rng: _with_offsets(
        labels, f, n, rng, _random_offsets(n, rng), replace=True), "without replacement"),
    Known("in place", _in_place, "changed the labels it was given"),
    Known("global np.random", _global_np_random, "not from np.random"),
    Known("always label + 1", lambda labels, f, n, rng: _with_offsets(
        labels, f, n, rng, lambda k: 1), "label + 1"),
    Known("one too many", _one_too_many, "Choose exactly round(fraction * n) positions"),
    Known("a coin per label", _bernoulli_per_label, "labels should change, but"),
    Known("floats", lambda labels, f, n, rng: corrupt_labels(labels, f, n, rng).astype(float),
          "labels should stay integers"),
    Known("too few labels", lambda labels, f, n, rng: corrupt_labels(labels, f, n, rng)[:10],
          "return one label per input label"),
)

# --- 1.3 ---------------------------------------------------------------------------------------


def _sorts_the_losses(history):
    best = int(np.argmin(history.holdout_loss)) + 1
    history.holdout_loss.sort()
    return best


EPOCH_VARIANTS = (
    Known("argmin", lambda h: int(np.argmin(h.holdout_loss)) + 1),
    Known("numpy integer", lambda h: np.argmin(h.holdout_loss) + 1),
    Known("min over epochs", lambda h: min(h.epochs, key=lambda e: h.holdout_loss[e - 1])),
    Known("0-dim tensor", lambda h: torch.tensor(h.holdout_loss).argmin() + 1),
)

EPOCH_MISTAKES = (
    Known("zero-based", lambda h: int(np.argmin(h.holdout_loss)), "off by one"),
    Known("training loss", lambda h: int(np.argmin(h.train_loss)) + 1, "*training* loss"),
    Known("float", lambda h: float(np.argmin(h.holdout_loss) + 1), "return the epoch as an int"),
    Known("bool", lambda h: True, "return the epoch as an int"),
    Known("highest loss", lambda h: int(np.argmax(h.holdout_loss)) + 1, "highest holdout loss"),
    Known("last epoch", lambda h: len(h.holdout_loss), "simply the last epoch"),
    Known("best accuracy", lambda h: int(np.argmax(h.holdout_acc)) + 1,
          "holdout *accuracy* is highest"),
    Known("the loss itself", lambda h: min(h.holdout_loss), "the lowest holdout loss itself"),
    Known("last of a tie", lambda h: len(h.holdout_loss) - int(np.argmin(h.holdout_loss[::-1])),
          "several epochs tie"),
    Known("sorts the history", _sorts_the_losses, "changed the history it was given"),
)
