"""Checks for chapter 4, dropout as an ensemble (exercises 4.1 to 4.4)."""

from __future__ import annotations

import numpy as np
import torch

from ..ensembles import enumerate_masks, geometric_mean, mask_probabilities
from ..grading import NotYet, call, exercise, quiz


def _as_array(value, what: str) -> np.ndarray:
    """The learner's tensor, array or nested list as a float64 NumPy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NotYet(f"{what} should be a tensor or an array of numbers, got "
                     f"{type(value).__name__}.") from None
    return array


@exercise("4.1", "every mask of a layer")
def _check_masks(answer) -> None:
    for n_units in (3, 1, 5, 2):
        got = _as_array(call(answer, n_units), "The masks")
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


@exercise("4.2", "how likely each mask is")
def _check_probabilities(answer) -> None:
    for masks, p in _probability_cases():
        got = _as_array(call(answer, masks.clone(), p), "The probabilities").reshape(-1)
        want = mask_probabilities(masks, p).numpy()
        if got.shape != want.shape:
            raise NotYet(f"return one probability per mask (per row): {len(want)} numbers, "
                         f"got {got.size}.")
        if np.allclose(got, want, rtol=1e-6, atol=1e-9):
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
        raise NotYet("a mask's probability is the product over its units of (1 - p) for a "
                     "kept unit and p for a dropped one.")


def _member_cases():
    """(probs, weights): several shapes, weights far from uniform."""
    rng = np.random.default_rng(40)
    for n_members, shape in ((4, (3, 5)), (8, (2,)), (3, (6, 4)), (5, (1, 10))):
        logits = rng.normal(scale=2.0, size=(n_members, *shape))
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        weights = rng.dirichlet(np.full(n_members, 0.5))
        yield torch.as_tensor(probs), torch.as_tensor(weights)


@exercise("4.3", "the geometric-mean prediction")
def _check_geometric(answer) -> None:
    for probs, weights in _member_cases():
        got = _as_array(call(answer, probs.clone(), weights.clone()), "The prediction")
        want = geometric_mean(probs, weights).numpy()
        if got.shape != want.shape:
            raise NotYet(f"combine over the members (the first axis): for probs of shape "
                         f"{tuple(probs.shape)} the result has shape {want.shape}, got "
                         f"{got.shape}.")
        if np.allclose(got, want, rtol=1e-6, atol=1e-9):
            continue
        log_probs, w = probs.log().numpy(), weights.numpy()
        unnormalised = np.exp(np.tensordot(w, log_probs, axes=1))

        def normalise(values):
            return values / values.sum(-1, keepdims=True)

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
        raise NotYet("compute exp(sum_k w_k log P_k) over the members, then divide each row by "
                      "its sum over the classes (the last axis).")


quiz("4.4", "where the bagging analogy breaks",
     digest="a725e9766587f7332ef8147fbca94de74ab1e02f391456a4e9ea2d244c452b66",
     hint="how many parameters does each subnetwork own, and how many training steps does a "
          "typical subnetwork ever get?",
     choices="abcd")
