"""A dropout network as an ensemble of subnetworks (chapter 4).

A layer of $n$ droppable units has $2^n$ masks, so one dropout network holds $2^n$
subnetworks that share one set of weights. For a tiny network we can visit every mask and
average the subnetworks exactly, either arithmetically (the mean of their probabilities) or
geometrically (the normalised, weighted product of their probabilities), and compare both
with one pass of the full network in evaluation mode ("weight scaling").

`p` is always the *drop* probability, as in PyTorch; the keep probability is $1-p$.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .functional import apply_mask, inverted_scale, validate_p
from .layers import Dropout, is_dropout

__all__ = [
    "ExactEnsemble", "arithmetic_mean", "count_subnetworks", "dropout_sites",
    "ensemble_probs", "enumerate_masks", "error_rate", "exact_ensemble", "geometric_mean",
    "mask_probabilities", "masked_forward",
]

MAX_ENUMERATED_UNITS = 20


def count_subnetworks(n_units: int) -> int:
    """$2^n$: the number of distinct masks (subnetworks) of `n_units` droppable units."""
    if isinstance(n_units, bool) or not isinstance(n_units, int) or n_units < 0:
        raise ValueError(f"n_units must be a non-negative int, got {n_units!r}")
    return 2**n_units


def enumerate_masks(
    n_units: int,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Every keep/drop mask of `n_units` units, once each (reference for Exercise 4.1).

    Row `i` is the binary expansion of `i`, unit 0 being the lowest bit: row 0 drops every
    unit, the last row keeps them all.

    Args:
        n_units: number of droppable units, 0 to 20 (2**20 rows is about a million).
        dtype, device: of the result.

    Returns:
        A tensor of zeros and ones, shape `(2**n_units, n_units)`.
    """
    count_subnetworks(n_units)  # validates
    if n_units > MAX_ENUMERATED_UNITS:
        raise ValueError(f"n_units must be at most {MAX_ENUMERATED_UNITS} to enumerate every "
                         f"mask, got {n_units}")
    index = torch.arange(2**n_units, device=device).unsqueeze(1)
    bits = torch.arange(n_units, device=device)
    return ((index >> bits) & 1).to(dtype)


def mask_probabilities(masks: torch.Tensor, p: float) -> torch.Tensor:
    """The probability of drawing each mask (reference for Exercise 4.2).

    Each unit is kept with probability $1-p$, independently, so a mask with $k$ ones out of
    $n$ has probability $(1-p)^k p^{n-k}$.

    Args:
        masks: zeros and ones, shape `(n_masks, n_units)`.
        p: the drop probability, in [0, 1].

    Returns:
        Shape `(n_masks,)`, in the dtype of `masks` (float64 for integer or boolean masks).
        Over all `2**n_units` masks the probabilities add up to one.
    """
    p = validate_p(p)
    if not isinstance(masks, torch.Tensor) or masks.dim() != 2:
        raise ValueError("masks must be a 2-D tensor of shape (n_masks, n_units)")
    masks = masks if masks.is_floating_point() else masks.to(torch.float64)
    kept = masks.sum(dim=1)
    dropped = masks.shape[1] - kept
    return (1.0 - p) ** kept * p**dropped


def _check_members(probs: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    if not isinstance(probs, torch.Tensor) or probs.dim() < 2:
        raise ValueError("probs must be a tensor of shape (n_members, ..., n_classes)")
    if weights is None:
        return torch.full((probs.shape[0],), 1.0 / probs.shape[0], dtype=probs.dtype,
                          device=probs.device)
    if weights.shape != (probs.shape[0],):
        raise ValueError(f"weights must have shape ({probs.shape[0]},), got "
                         f"{tuple(weights.shape)}")
    return weights.to(probs.dtype)


def arithmetic_mean(probs: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The weighted mean of the members' class probabilities.

    Args:
        probs: shape `(n_members, ..., n_classes)`, each member's probabilities.
        weights: shape `(n_members,)`, adding up to one; equal weights when None.

    Returns:
        Shape `(..., n_classes)`.
    """
    weights = _check_members(probs, weights)
    return torch.tensordot(weights, probs, dims=1)


def geometric_mean(probs: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The normalised weighted geometric mean of class probabilities (reference, Exercise 4.3).

    $G_c \\propto \\prod_k P_{k,c}^{w_k}$, rescaled so that every row adds up to one; computed
    in log space, as a softmax of $\\sum_k w_k \\log P_{k,c}$.

    Args:
        probs: shape `(n_members, ..., n_classes)`, each member's probabilities (all positive).
        weights: shape `(n_members,)`, adding up to one; equal weights when None.

    Returns:
        Shape `(..., n_classes)`; each row adds up to one.
    """
    weights = _check_members(probs, weights)
    return torch.softmax(torch.tensordot(weights, probs.log(), dims=1), dim=-1)


def dropout_sites(model: nn.Sequential) -> list[tuple[int, float, int]]:
    """Where a sequential model drops units: `(index in the model, p, number of units)`.

    The dropout layers are found with `layers.is_dropout`; the number of units is read from
    the `nn.Linear` that follows each. Only inverted element-wise dropout (`layers.Dropout`,
    `torch.nn.Dropout`) can be enumerated here; any other dropout layer raises a `TypeError`.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    sites = []
    for index, layer in enumerate(model):
        if not is_dropout(layer):
            continue
        if type(layer) not in (Dropout, nn.Dropout):
            raise TypeError(f"dropout layer {index} is a {type(layer).__name__}; exact "
                            "enumeration handles layers.Dropout and torch.nn.Dropout only")
        after = [m for m in list(model)[index + 1:] if isinstance(m, nn.Linear)]
        if not after:
            raise ValueError(f"dropout layer {index} is not followed by an nn.Linear")
        sites.append((index, float(layer.p), after[0].in_features))
    return sites


def masked_forward(model: nn.Sequential, x: torch.Tensor,
                   masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Run `model` with chosen masks instead of random ones: one subnetwork, or a batch of them.

    Each dropout layer multiplies by its mask and by $1/(1-p)$, as the layer itself does in
    training mode (inverted dropout); every other layer runs as usual.

    Args:
        model: an `nn.Sequential`, for example from `models.mlp`.
        x: inputs, shape `(batch, n_features)`.
        masks: one tensor per dropout layer (in `dropout_sites` order), of shape
            `(n_units,)` for one subnetwork, or `(n_masks, 1, n_units)` for several at once.

    Returns:
        The outputs, shape `(batch, n_out)`, or `(n_masks, batch, n_out)` for stacked masks.
    """
    sites = dropout_sites(model)
    if len(masks) != len(sites):
        raise ValueError(f"the model has {len(sites)} dropout layers, got {len(masks)} masks")
    by_index = {index: (p, mask) for (index, p, _), mask in zip(sites, masks, strict=True)}
    out = x
    for index, layer in enumerate(model):
        if index in by_index:
            p, mask = by_index[index]
            out = apply_mask(out, mask != 0, inverted_scale(p))
        else:
            out = layer(out)
    return out


@dataclass
class ExactEnsemble:
    """Predictions of every subnetwork combined, and of the full network.

    Attributes:
        arithmetic: the probability-weighted mean of the subnetworks' class probabilities.
        geometric: their normalised weighted geometric mean.
        weight_scaled: one pass of the full network in evaluation mode (weight scaling).
        n_subnetworks: how many masks were visited.
        All probability tensors have shape `(batch, n_classes)`.
    """

    arithmetic: torch.Tensor
    geometric: torch.Tensor
    weight_scaled: torch.Tensor
    n_subnetworks: int

    def report(self, labels: torch.Tensor) -> str:
        """A short printable table: how far the three predictions are apart, and their holdout
        errors on `labels` (shape `(batch,)`), in robust numbers (booleans, few decimals)."""
        gap = (self.geometric - self.weight_scaled).abs()
        spread = (self.arithmetic - self.geometric).abs().max().item()
        lines = [
            f"subnetworks visited: {self.n_subnetworks}",
            "max |geometric - weight scaled|: " + (
                "below 1e-12" if gap.max().item() < 1e-12 else
                f"{gap.max().item():.2f}, mean: {gap.mean().item():.3f}"),
            f"max |arithmetic - geometric|:    {spread:.2f}",
        ]
        chosen = self.geometric.argmax(1)
        for name in ("arithmetic", "geometric", "weight_scaled"):
            probs = getattr(self, name)
            agree = (probs.argmax(1) == chosen).double().mean().item()
            lines.append(f"{name:>13}: holdout error {error_rate(probs, labels):.1%}, "
                         f"same class as geometric {agree:.1%}")
        return "\n".join(lines)


@torch.no_grad()
def exact_ensemble(model: nn.Sequential, x: torch.Tensor, max_units: int = 16,
                   chunk: int = 256) -> ExactEnsemble:
    """Average a dropout classifier over all of its subnetworks, exactly.

    Every combination of masks over all dropout layers is visited, weighted by its probability;
    the model's outputs are taken as logits.

    Args:
        model: an `nn.Sequential` whose dropout layers together have at most `max_units` units.
        x: inputs, shape `(batch, n_features)`.
        max_units: refuse larger networks (the cost doubles with every unit).
        chunk: masks evaluated in one batched call.

    Returns:
        An `ExactEnsemble`.
    """
    sites = dropout_sites(model)
    widths = [n for _, _, n in sites]
    total = sum(widths)
    if total > max_units:
        raise ValueError(f"the model has {total} droppable units; exact enumeration is limited "
                         f"to max_units={max_units} (2**{max_units} subnetworks)")
    masks = enumerate_masks(total, dtype=x.dtype, device=x.device)
    columns = list(itertools.accumulate(widths, initial=0))
    weights = torch.ones(len(masks), dtype=x.dtype, device=x.device)
    for (_, p, _), start, stop in zip(sites, columns[:-1], columns[1:], strict=True):
        weights = weights * mask_probabilities(masks[:, start:stop], p)
    arithmetic, log_geometric = 0.0, 0.0
    for first in range(0, len(masks), chunk):
        block = masks[first:first + chunk]
        per_layer = [block[:, None, start:stop]
                     for start, stop in zip(columns[:-1], columns[1:], strict=True)]
        logits = masked_forward(model, x, per_layer)          # (n_masks, batch, n_classes)
        w = weights[first:first + chunk]
        arithmetic = arithmetic + torch.tensordot(w, torch.softmax(logits, -1), dims=1)
        log_geometric = log_geometric + torch.tensordot(w, torch.log_softmax(logits, -1), dims=1)
    was_training = model.training
    model.eval()
    try:
        weight_scaled = torch.softmax(model(x), dim=-1)
    finally:
        model.train(was_training)
    return ExactEnsemble(arithmetic, torch.softmax(log_geometric, -1), weight_scaled, len(masks))


def error_rate(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of rows of `probs` (shape `(batch, n_classes)`) whose top class is wrong."""
    if probs.dim() != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f"probs must have shape (batch, n_classes) and labels (batch,), got "
                         f"{tuple(probs.shape)} and {tuple(labels.shape)}")
    return (probs.argmax(1) != labels).double().mean().item()


@torch.no_grad()
def ensemble_probs(members: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Mean class probabilities of independently trained networks, each in evaluation mode.

    Args:
        members: the trained networks (their modes are restored afterwards).
        x: inputs, shape `(batch, n_features)`.

    Returns:
        Shape `(batch, n_classes)`.
    """
    if len(members) == 0:
        raise ValueError("members must hold at least one network")
    total = 0.0
    for net in members:
        was_training = net.training
        net.eval()
        try:
            total = total + torch.softmax(net(x), dim=-1)
        finally:
            net.train(was_training)
    return total / len(members)
