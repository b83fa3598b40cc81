"""Known answers for chapter 3's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ...analysis import UnitMask, mean_abs_correlation
from ..registry import Known

# --- 3.1 ---------------------------------------------------------------------------------------


def _varying(activations):
    values = activations.double()
    return values[:, values.amax(0) > values.amin(0)]


def _off_diagonal(c):
    n = len(c)
    return ((c.sum() - c.diagonal().sum()) / (n * (n - 1))).item()


def _corr_numpy(activations):
    values = activations.double().numpy()
    values = values[:, np.ptp(values, axis=0) > 0]
    c = np.corrcoef(values, rowvar=False)
    return np.abs(c[~np.eye(len(c), dtype=bool)]).mean()


def _corr_nanmean(activations):
    c = torch.corrcoef(activations.double().T)
    return torch.nanmean(c[~torch.eye(len(c), dtype=torch.bool)].abs())


def _corr_float32(activations):
    values = activations.float()
    values = values[:, values.amax(0) > values.amin(0)]
    c = torch.corrcoef(values.T).abs()
    n = len(c)
    return (c.sum() - c.diagonal().sum()) / (n * (n - 1))


def _transposed(activations):
    values = activations.double()
    values = values[values.amax(1) > values.amin(1)]
    return _off_diagonal(torch.corrcoef(values).abs())


CORRELATION_VARIANTS = (
    Known("NumPy", _corr_numpy),
    Known("nanmean over NaN correlations", _corr_nanmean),
    Known("float32 tensor", _corr_float32),
    Known("one-element tensor", lambda a: torch.tensor([mean_abs_correlation(a)])),
)

CORRELATION_MISTAKES = (
    Known("with the diagonal", lambda a: torch.corrcoef(_varying(a).T).abs().mean().item(),
          "you included the diagonal"),
    Known("rows correlated", _transposed, "you correlated the examples (rows)"),
    Known("signed", lambda a: _off_diagonal(torch.corrcoef(_varying(a).T)),
          "take the absolute value"),
    Known("covariance", lambda a: _off_diagonal(torch.cov(_varying(a).T).abs()),
          "that is the covariance"),
    Known("dead units kept", lambda a: _off_diagonal(torch.corrcoef(a.double().T).abs()),
          "you got NaN"),
    Known("dead units as 0", lambda a: _off_diagonal(
        torch.nan_to_num(torch.corrcoef(a.double().T)).abs()), "counted as correlation 0"),
    Known("a string", lambda a: "high", "should be a single number"),
    Known("a bool", lambda a: True, "got a bool"),
)

# --- 3.2 ---------------------------------------------------------------------------------------


def _positions(model, layer):
    linears = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    return linears[layer], linears[layer + 1]


def _zero_outgoing(model, layer, n_delete, generator):
    pruned = copy.deepcopy(model)
    before, after = _positions(pruned, layer)
    chosen = torch.randperm(pruned[before].out_features, generator=generator)[:n_delete]
    with torch.no_grad():
        pruned[after].weight[:, chosen] = 0
    return pruned


class _RandomRowMask(nn.Module):
    """A mistake: a fixed-rate random mask drawn anew for every example (and in eval mode)."""

    def __init__(self, p):
        super().__init__()
        self.p, self.generator = p, torch.Generator().manual_seed(0)

    def forward(self, x):
        return x * (torch.rand(x.shape, generator=self.generator, dtype=x.dtype) >= self.p)


def with_mask(scale_survivors=False, use_global=False, first_units=False, in_place=False,
              bernoulli=False, dropout_layer=False, per_example=False, incoming=False,
              fixed_layer=None, by_position=False, same_units=False):
    """A deletion function with one mistake switched on (none: a right answer)."""

    def delete(model, layer, n_delete, generator):
        pruned = model if in_place else copy.deepcopy(model)
        layer = layer if fixed_layer is None else fixed_layer
        # by_position assumes Linear, activation, Linear, ... with no Dropout modules
        before, after = (2 * layer, 2 * layer + 2) if by_position else _positions(pruned, layer)
        n_units = pruned[before].out_features
        modules = list(pruned)
        if dropout_layer:
            return nn.Sequential(*modules[:after], nn.Dropout(n_delete / n_units),
                                 *modules[after:])
        if per_example:
            return nn.Sequential(*modules[:after], _RandomRowMask(n_delete / n_units),
                                 *modules[after:])
        if first_units:
            chosen = torch.arange(n_delete)
        elif use_global:
            chosen = torch.randperm(n_units)[:n_delete]
        elif same_units:
            chosen = torch.randperm(n_units, generator=torch.Generator().manual_seed(99))
            chosen = chosen[:n_delete]
        elif bernoulli:
            chosen = torch.nonzero(torch.rand(n_units, generator=generator)
                                   < n_delete / n_units).flatten()
        else:
            chosen = torch.randperm(n_units, generator=generator)[:n_delete]
        if incoming:
            with torch.no_grad():
                pruned[before].weight[chosen] = 0
                pruned[before].bias[chosen] = 0
            return pruned
        keep = torch.ones(n_units, dtype=torch.float64)
        keep[chosen] = 0
        if scale_survivors and n_delete < n_units:
            keep = keep * n_units / (n_units - n_delete)
        if in_place:
            with torch.no_grad():
                pruned[after].weight.mul_(keep)
            return pruned
        return nn.Sequential(*modules[:after], UnitMask(keep), *modules[after:])

    return delete


DELETE_VARIANTS = (
    Known("zero the outgoing weights", _zero_outgoing),
    Known("a UnitMask", with_mask()),
)

DELETE_MISTAKES = (
    Known("in place", with_mask(in_place=True), "changed the model it was given"),
    Known("a Dropout layer", with_mask(dropout_layer=True), "nothing was deleted"),
    Known("a random mask per example", with_mask(per_example=True),
          "different examples lost different units"),
    Known("survivors rescaled", with_mask(scale_survivors=True), "surviving units were rescaled"),
    Known("a coin per unit", with_mask(bernoulli=True), "Delete exactly n_delete units"),
    Known("global generator", with_mask(use_global=True), "seeded alike deleted different units"),
    Known("the first units", with_mask(first_units=True), "always delete the first n_delete"),
    Known("incoming weights (sigmoid)", with_mask(incoming=True), "sigmoid units output 0.5"),
    Known("always layer 0", with_mask(fixed_layer=0), "units of another hidden layer"),
    Known("layers by position", with_mask(by_position=True), "on one with Dropout modules"),
    Known("the same units for every seed", with_mask(same_units=True),
          "every generator seed deleted the same units"),
    Known("returns a tensor", lambda model, layer, n_delete, generator: torch.ones(12),
          "return the new model"),
)
