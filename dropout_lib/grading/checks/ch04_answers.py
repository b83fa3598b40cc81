"""Known answers for chapter 4's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ...ensembles import enumerate_masks, geometric_mean
from ..registry import Known

# --- 4.1 ---------------------------------------------------------------------------------------

MASKS_VARIANTS = (
    Known("itertools.product as a list", lambda n: list(itertools.product([0, 1], repeat=n))),
    Known("boolean array", lambda n: np.array(list(itertools.product([True, False], repeat=n)))),
    Known("binary digits", lambda n: torch.tensor([[(i >> j) & 1 for j in range(n)]
                                                   for i in range(2**n)])),
    Known("float32", lambda n: enumerate_masks(n).float()),
)

MASKS_MISTAKES = (
    Known("transposed", lambda n: enumerate_masks(n).T, "transposed"),
    Known("no all-ones mask", lambda n: enumerate_masks(n)[:-1], "one mask short"),
    Known("no all-zeros mask", lambda n: enumerate_masks(n)[1:], "one mask short"),
    Known("random masks", lambda n: torch.randint(0, 2, (2**n, n)), "more than once"),
    Known("one-hot rows", lambda n: torch.eye(n), "not one per unit"),
    Known("values 0 and 2", lambda n: 2 * enumerate_masks(n), "must be 0 (unit dropped) or 1"),
    Known("flattened", lambda n: enumerate_masks(n).reshape(-1), "one row per mask"),
    Known("half of them", lambda n: enumerate_masks(n)[: 2 ** (n - 1)], "there are 2**"),
    Known("a string", lambda n: "masks", "tensor or an array of numbers"),
)

# --- 4.2 ---------------------------------------------------------------------------------------

PROBABILITY_VARIANTS = (
    Known("product of powers", lambda m, p: ((1 - p) ** m * p ** (1 - m)).prod(1)),
    Known("a loop", lambda m, p: [float(np.prod([(1 - p) if v else p for v in row]))
                                  for row in m.tolist()]),
    Known("float32 from torch.where", lambda m, p: torch.where(m == 1, 1.0 - p, p).float()
          .prod(1)),
    Known("NumPy", lambda m, p: np.where(m.numpy() == 1, 1 - p, p).prod(1)),
)

PROBABILITY_MISTAKES = (
    Known("keep and drop swapped", lambda m, p: (p**m * (1 - p) ** (1 - m)).prod(1),
          "keep and drop are swapped"),
    Known("kept units only", lambda m, p: ((1 - p) ** m).prod(1), "only the kept units"),
    Known("uniform", lambda m, p: torch.full((len(m),), 0.5 ** m.shape[1]),
          "equally likely only when p = 0.5"),
    Known("sum", lambda m, p: torch.where(m == 1, 1 - p, p).sum(1), "multiply their"),
    Known("mean", lambda m, p: torch.where(m == 1, 1 - p, p).mean(1), "multiply their"),
    Known("per unit", lambda m, p: torch.where(m == 1, 1 - p, p), "one probability per mask"),
)

# --- 4.3 ---------------------------------------------------------------------------------------


def _with_a_product(probs, weights):
    product = (probs ** weights.reshape((-1,) + (1,) * (probs.dim() - 1))).prod(0)
    return product / product.sum(-1, keepdim=True)


def _unnormalised(probs, weights):
    return torch.exp(torch.tensordot(weights, probs.log(), dims=1))


def _normalise(t):
    return t / t.sum(-1, keepdim=True)


def _broadcast_bug(probs, weights):
    """weights (n_members,) broadcasts against the classes axis, not the members."""
    return torch.softmax((weights * probs.log()).sum(0), -1)


GEOMETRIC_VARIANTS = (
    Known("powers and a product", _with_a_product),
    Known("einsum, as NumPy", lambda P, w: torch.softmax(
        torch.einsum("k,k...->...", w, P.log()), -1).numpy()),
    Known("float32", lambda P, w: geometric_mean(P.float(), w.float())),
)

GEOMETRIC_MISTAKES = (
    Known("weighted arithmetic mean", lambda P, w: torch.tensordot(w, P, dims=1),
          "that is the arithmetic mean"),
    Known("arithmetic mean", lambda P, w: P.mean(0), "that is the arithmetic mean"),
    Known("not normalised", _unnormalised, "the rows do not add up to one"),
    Known("unweighted", lambda P, w: _normalise(P.log().mean(0).exp()), "the same weight"),
    Known("plain product", lambda P, w: _normalise(P.prod(0)), "the plain product ignores"),
    Known("combined over the classes", lambda P, w: geometric_mean(P, w)[0],
          "combine over the members"),
    Known("weights broadcast against the classes", _broadcast_bug, "broadcasts against the"),
)
