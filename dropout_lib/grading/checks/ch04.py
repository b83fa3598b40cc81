"""Checks for chapter 4, dropout as an ensemble (exercises 4.1 to 4.4)."""

from __future__ import annotations

import numpy as np
import torch

from ...ensembles import enumerate_masks, geometric_mean, mask_probabilities
from ..helpers import as_array, close
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch04_answers as known

BROADCAST_HINT = ("weights has shape (n_members,), so it broadcasts against the *last* axis of "
                  "probs (the classes), not the first (the members); give it one axis per axis "
                  "of probs, for example weights.reshape(-1, *[1] * (probs.dim() - 1)).")


def _float64(value, what: str) -> np.ndarray:
    return as_array(value, what).astype(np.float64)


@exercise("4.1", "every mask of a layer", reference=enumerate_masks,
          fallback="list every 0/1 row of n_units entries exactly once: 2**n_units rows.",
          variants=known.MASKS_VARIANTS, mistakes=known.MASKS_MISTAKES)
def _check_masks(answer) -> None:
    for n_units in (3, 1, 5, 2):
        got = _float64(call(answer, n_units), "the masks")
        n_masks = 2**n_units
        if got.shape == (n_units, n_masks) and n_units != n_masks:
            raise NotYet("the result is transposed: give one row per mask and one column per "
                          f"unit, shape (2**n_units, n_units) = ({n_masks}, {n_units}).")
        if got.ndim != 2 or got.shape[1] != n_units:
            raise NotYet(f"give one row per mask and one column per unit: for n_units={n_units} "
                         f"the shape should be ({n_masks}, {n_units}), got {got.shape}.")
        if not np.isin(got, (0.0, 1.0)).all():
            raise NotYet("every entry must be 0 (unit dropped) or 1 (unit kept).")
        rows = {tuple(row) for row in got.astype(int)}
        if len(rows) < len(got):
            raise NotYet("some masks appear more than once. Random draws repeat themselves: "
                         "list the masks systematically, for example as the binary digits of "
                         "0, 1, ..., 2**n_units - 1.")
        if len(got) == n_units and n_units > 2:
            raise NotYet("each unit is kept or dropped independently of the others, so there "
                         "are 2**n_units masks, not one per unit.")
        if len(got) == n_masks - 1:
            raise NotYet(f"one mask short ({len(got)} of {n_masks}): the mask that keeps every "
                         "unit and the one that drops every unit both count. Does your range "
                         "stop one too early?")
        if len(got) != n_masks:
            raise NotYet(f"for n_units={n_units} there are 2**{n_units} = {n_masks} masks, "
                         f"got {len(got)}.")


def _probability_cases():
    rng = np.random.default_rng(4)
    for n_units, p in ((3, 0.2), (4, 0.7), (1, 0.9), (5, 0.35)):
        masks = enumerate_masks(n_units)
        yield masks, p
        yield masks[torch.as_tensor(rng.permutation(len(masks))[:3])], p


@exercise("4.2", "how likely each mask is", reference=mask_probabilities,
          fallback="a mask's probability multiplies one factor per unit: the probability of "
                   "that unit being kept or dropped, as the mask says.",
          variants=known.PROBABILITY_VARIANTS, mistakes=known.PROBABILITY_MISTAKES)
def _check_probabilities(answer) -> None:
    for masks, p in _probability_cases():
        raw = call(answer, masks.clone(), p)
        got = _float64(raw, "the probabilities").reshape(-1)
        want = mask_probabilities(masks, p).numpy()
        if got.shape != want.shape:
            raise NotYet(f"return one probability per mask (per row): {len(want)} numbers, "
                         f"got {got.size}.")
        if close(as_array(raw).reshape(-1), want):
            continue
        kept = masks.sum(1).numpy()
        dropped = masks.shape[1] - kept
        if np.allclose(got, p**kept * (1 - p) ** dropped):
            raise NotYet("keep and drop are swapped: p is the probability of *dropping* a unit "
                         "(PyTorch's convention), so a kept unit contributes a factor 1 - p.")
        if np.allclose(got, (1 - p) ** kept):
            raise NotYet("only the kept units were counted: each dropped unit contributes a "
                         "factor p as well.")
        if np.allclose(got, 0.5 ** masks.shape[1]):
            raise NotYet("the masks are equally likely only when p = 0.5; weight each unit by "
                         "1 - p if kept and p if dropped.")
        per_unit = np.where(masks.numpy() == 1, 1 - p, p)
        if np.allclose(got, per_unit.sum(1)) or np.allclose(got, per_unit.mean(1)):
            raise NotYet("the units are independent, so multiply their probabilities; do not "
                         "add or average them.")
        raise NotYet()


def _member_cases():
    """(probs, weights): several shapes, weights far from uniform. In the first, the members
    and the classes are equally many, so weights that broadcast against the classes run."""
    rng = np.random.default_rng(40)
    for n_members, shape in ((4, (3, 4)), (4, (3, 5)), (8, (2,)), (3, (6, 4)), (5, (1, 10))):
        logits = rng.normal(scale=2.0, size=(n_members, *shape))
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        weights = rng.dirichlet(np.full(n_members, 0.5))
        yield torch.as_tensor(probs), torch.as_tensor(weights)


def _call_members(answer, probs: torch.Tensor, weights: torch.Tensor):
    try:
        return call(answer, probs.clone(), weights.clone())
    except NotYet as err:
        if "must match the size of tensor" in str(err) or "could not be broadcast" in str(err):
            raise NotYet(BROADCAST_HINT) from None
        raise


def normalise(values: np.ndarray) -> np.ndarray:
    return values / values.sum(-1, keepdims=True)


@exercise("4.3", "the geometric-mean prediction", reference=geometric_mean,
          fallback="weight each member's log-probabilities, add them over the members, then "
                   "turn the result back into a distribution over the classes.",
          variants=known.GEOMETRIC_VARIANTS, mistakes=known.GEOMETRIC_MISTAKES)
def _check_geometric(answer) -> None:
    for probs, weights in _member_cases():
        raw = _call_members(answer, probs, weights)
        got = _float64(raw, "the prediction")
        want = geometric_mean(probs, weights).numpy()
        if got.shape != want.shape:
            raise NotYet(f"combine over the members (the first axis): for probs of shape "
                         f"{tuple(probs.shape)} the result has shape {want.shape}, got "
                         f"{got.shape}.")
        if close(raw, want):
            continue
        log_probs, w = probs.log().numpy(), weights.numpy()
        if probs.shape[-1] == len(w) and np.allclose(
                got, normalise(np.exp((log_probs * w).sum(0)))):
            raise NotYet(BROADCAST_HINT)
        unnormalised = np.exp(np.tensordot(w, log_probs, axes=1))

        if np.allclose(got, np.tensordot(w, probs.numpy(), axes=1)) \
                or np.allclose(got, probs.numpy().mean(0)):
            raise NotYet("that is the arithmetic mean; the geometric mean multiplies the "
                         "probabilities (adds their logs), each raised to its weight.")
        if np.allclose(got, unnormalised):
            raise NotYet("the rows do not add up to one: a product of probabilities is not a "
                         "probability distribution until you divide by its sum over classes.")
        if np.allclose(got, normalise(np.exp(log_probs.mean(0)))):
            raise NotYet("every member got the same weight; raise each member's probabilities "
                         "to the power of its weight (the probability of its mask).")
        if np.allclose(got, normalise(np.exp(log_probs.sum(0)))):
            raise NotYet("the plain product ignores the weights: raise each member's "
                         "probabilities to the power of its weight before multiplying.")
        raise NotYet()


quiz("4.4", "where the bagging analogy breaks",
     digest="a725e9766587f7332ef8147fbca94de74ab1e02f391456a4e9ea2d244c452b66",
     choices="abcd",
     hints={
         "60e24cc99565c0904d0a0cc681c14224b84cc459d2ef8cd5af226195cd22eb6f":
             "dropout draws a new mask at every training step, on the same training data: does "
             "any subnetwork get a bootstrap sample of its own, or train until it converges?",
         "29e8a9a73c8770361fd9d40ce1c11db7b30b8c662fda9bbf6d1faf74072e4d92":
             "in evaluation mode PyTorch runs the network once, with every unit present; how "
             "many subnetworks would 'every subnetwork' be for a layer of 100 units?",
         "ef283b220802e667a11ee11c59af7d5993cd5ccf7168c805e2545f8039c12bcd":
             "a unit's weights are the same tensor in every subnetwork that keeps the unit: "
             "how many parameters does each subnetwork own?",
     })
