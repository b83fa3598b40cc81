"""Measuring co-adaptation in a trained MLP (chapter 3).

Four measurements of the hidden layers of the networks that `models.mlp` builds:

- `hidden_activations`: what a hidden layer outputs on a batch, in evaluation mode;
- `mean_abs_correlation`: how strongly hidden units move together;
- `fraction_inactive` and `fraction_dead`: how sparse the activations are;
- `delete_units` and `deletion_curve`: how accuracy degrades when hidden units are removed
  at test time.

Everything here returns numbers; `plotting` draws them (`plot_deletion_curve`,
`plot_activation_histogram`, `plot_weight_images`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .training import evaluate

__all__ = [
    "UnitMask", "delete_units", "deletion_curve", "fraction_dead", "fraction_inactive",
    "hidden_activations", "linear_positions", "mean_abs_correlation",
]


def linear_positions(model: nn.Module) -> list[int]:
    """Positions of the `nn.Linear` modules in an `nn.Sequential` such as `models.mlp` builds.

    Hidden layer `k` (counted from 0) is everything between Linear `k` and Linear `k + 1`:
    the activation, and any dropout or mask in front of the next Linear.

    Raises:
        TypeError: `model` is not an `nn.Sequential`.
        ValueError: it has no hidden layer (fewer than two Linear modules).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential (as models.mlp builds), "
                        f"got {type(model).__name__}")
    positions = [i for i, module in enumerate(model) if isinstance(module, nn.Linear)]
    if len(positions) < 2:
        raise ValueError("model has no hidden layer: it needs at least two nn.Linear modules")
    return positions


def _check_layer(model: nn.Module, layer: int) -> list[int]:
    positions = linear_positions(model)
    n_hidden = len(positions) - 1
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n_hidden:
        raise ValueError(f"layer must be an int in 0 .. {n_hidden - 1} (the model has "
                         f"{n_hidden} hidden layers), got {layer!r}")
    return positions


@torch.no_grad()
def hidden_activations(model: nn.Module, x: torch.Tensor, layer: int = 0) -> torch.Tensor:
    """The output of hidden layer `layer` on the inputs `x`, with dropout off.

    The network is cut just before the next `nn.Linear` (slicing the `nn.Sequential`), and the
    part before the cut is run in evaluation mode; the model's mode is restored afterwards.

    Args:
        model: an `nn.Sequential` of Linear, activation and dropout modules (`models.mlp`).
        x: inputs, shape (n_examples, n_features).
        layer: which hidden layer, counted from 0 (the first one after the inputs).

    Returns:
        Activations, shape (n_examples, n_units of that layer).
    """
    positions = _check_layer(model, layer)
    was_training = model.training
    model.eval()
    try:
        return model[:positions[layer + 1]](x)
    finally:
        model.train(was_training)


def _as_matrix(activations: torch.Tensor) -> torch.Tensor:
    if not isinstance(activations, torch.Tensor):
        raise TypeError(f"activations must be a torch.Tensor, got {type(activations).__name__}")
    if activations.dim() != 2 or activations.shape[0] < 2:
        raise ValueError("activations must have shape (n_examples, n_units) with at least two "
                         f"examples, got {tuple(activations.shape)}")
    return activations.detach().to(torch.float64)


def mean_abs_correlation(activations: torch.Tensor) -> float:
    """Mean absolute Pearson correlation between the hidden units (reference for Exercise 3.1).

    $\\frac{1}{m(m-1)} \\sum_{i \\ne j} |\\rho_{ij}|$, where $\\rho_{ij}$ is the correlation of
    units $i$ and $j$ over the examples and $m$ counts the units that vary. A unit whose
    activation is the same on every example (a dead ReLU) has no correlation, so it is left
    out. 0 when the units are uncorrelated (independent units are, in expectation; a finite
    sample of them gives a small positive value), 1 when all are copies of one another (up to
    sign).

    Args:
        activations: shape (n_examples, n_units); columns are units.

    Returns:
        A float in [0, 1]; NaN when fewer than two units vary.
    """
    matrix = _as_matrix(activations)
    # max > min rather than std > 0: the std of a constant column can round to 1e-17.
    matrix = matrix[:, matrix.amax(dim=0) > matrix.amin(dim=0)]
    n_units = matrix.shape[1]
    if n_units < 2:
        return float("nan")
    correlation = torch.corrcoef(matrix.T)  # corrcoef wants variables in rows
    off_diagonal = correlation.abs().sum() - correlation.diagonal().abs().sum()
    return (off_diagonal / (n_units * (n_units - 1))).item()


def fraction_inactive(activations: torch.Tensor, threshold: float = 0.0) -> float:
    """Share of activations with $|a| \\le$ `threshold` (exact zeros when `threshold` is 0).

    A measure of sparsity: the higher, the fewer units respond to a typical example.
    """
    if threshold < 0:
        raise ValueError(f"threshold must be non-negative, got {threshold}")
    return (_as_matrix(activations).abs() <= threshold).double().mean().item()


def fraction_dead(activations: torch.Tensor) -> float:
    """Share of units that output exactly zero on every example (dead ReLUs)."""
    return (_as_matrix(activations) == 0).all(dim=0).double().mean().item()


class UnitMask(nn.Module):
    """Multiply by a fixed 0/1 vector of units, in training and evaluation mode alike.

    Unlike dropout, the mask never changes and is never rescaled: deleted units stay deleted.

    Args:
        keep: shape (n_units,), 1 for a unit that stays and 0 for one that is deleted.
    """

    def __init__(self, keep: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("keep", keep.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.keep

    def extra_repr(self) -> str:
        return f"deleted={int((self.keep == 0).sum())} of {self.keep.numel()}"


def delete_units(
    model: nn.Module, layer: int, n_delete: int, generator: torch.Generator | None = None
) -> nn.Sequential:
    """A copy of `model` in which `n_delete` random units of one hidden layer output zero
    (reference for Exercise 3.2).

    The units are chosen uniformly without replacement with `generator`; the survivors are not
    rescaled. The copy has a `UnitMask` inserted before Linear `layer + 1`, so the deletion holds
    in evaluation mode, for every example; `model` itself is left unchanged.

    Args:
        model: an `nn.Sequential` from `models.mlp`.
        layer: which hidden layer, counted from 0.
        n_delete: how many of its units to delete, in 0 .. n_units.
        generator: where the random choice comes from; the global generator when None.

    Returns:
        The copy, in the same train/eval mode as `model`.
    """
    positions = _check_layer(model, layer)
    n_units = model[positions[layer]].out_features
    if isinstance(n_delete, bool) or not isinstance(n_delete, int) \
            or not 0 <= n_delete <= n_units:
        raise ValueError(f"n_delete must be an int in 0 .. {n_units}, got {n_delete!r}")
    weight = model[positions[layer]].weight
    chosen = torch.randperm(n_units, generator=generator,
                            device=generator.device if generator is not None else "cpu")
    keep = torch.ones(n_units, dtype=weight.dtype, device=weight.device)
    keep[chosen[:n_delete].to(weight.device)] = 0
    modules = list(copy.deepcopy(model))
    cut = positions[layer + 1]
    pruned = nn.Sequential(*modules[:cut], UnitMask(keep), *modules[cut:])
    return pruned.train(model.training)


def deletion_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    fractions: Sequence[float],
    layer: int = 0,
    repeats: int = 5,
    generator: torch.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy when a fraction of one hidden layer's units is deleted at test time.

    For each fraction $f$, `round(f * n_units)` units are deleted with `delete_units`, `repeats`
    times with fresh random choices, and the accuracy on `(x, y)` is averaged.

    Args:
        model, layer: the network and the hidden layer to delete from.
        x, y: evaluation inputs and class indices, shapes (n,  n_features) and (n,).
        fractions: shares of units to delete, each in [0, 1].
        repeats: random deletions per fraction.
        generator: where the random choices come from.

    Returns:
        `(mean, std)`: arrays of shape (len(fractions),), the mean accuracy over the repeats
        and its standard deviation.
    """
    positions = _check_layer(model, layer)
    n_units = model[positions[layer]].out_features
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    means, stds = [], []
    for fraction in fractions:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"each fraction must be in [0, 1], got {fraction}")
        n_delete = int(round(fraction * n_units))
        accuracies = [evaluate(delete_units(model, layer, n_delete, generator), x, y)[1]
                      for _ in range(repeats)]
        means.append(np.mean(accuracies))
        stds.append(np.std(accuracies))
    return np.array(means), np.array(stds)
