"""Tests for the chapter 3 checks (`dropout_lib.checks.ch03`): right answers pass, and each
wrong answer a learner would write is rejected with its own hint."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import analysis
from dropout_lib.grading import CheckResult, check

# --- reference answers and junk ------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id, answer", [
    ("3.1", analysis.mean_abs_correlation),
    ("3.2", analysis.delete_units),
    ("3.3", "c"),
])
def test_reference_answers_pass(exercise_id, answer):
    result = check(exercise_id, answer)
    assert result.passed, str(result)


def stub(*args):
    raise NotImplementedError("your code here")


@pytest.mark.parametrize("exercise_id", ["3.1", "3.2"])
def test_stub_is_not_attempted(exercise_id):
    result = check(exercise_id, stub)
    assert result.status == "not attempted"
    assert "\n" not in str(result)


@pytest.mark.parametrize("exercise_id", ["3.1", "3.2", "3.3"])
@pytest.mark.parametrize("answer", [
    None, 0.3, "x", lambda *args: 1 / 0, lambda *args: None, lambda *args: "text",
    lambda *args: [1, 2],
], ids=["None", "number", "letter", "raises", "returns-None", "returns-str", "returns-list"])
def test_junk_never_passes_and_never_raises(exercise_id, answer):
    result = check(exercise_id, answer)
    assert isinstance(result, CheckResult)
    assert result.status in {"not yet", "not attempted"}
    assert result.message and "\n" not in str(result)


def test_raising_answer_names_its_error():
    result = check("3.2", lambda *args: 1 / 0)
    assert result.status == "not yet" and "ZeroDivisionError" in result.message


# --- 3.1: mean absolute correlation ------------------------------------------------------------

def corr_numpy(activations):
    """A right answer in NumPy, written differently from the reference."""
    values = activations.double().numpy()
    values = values[:, np.ptp(values, axis=0) > 0]
    c = np.corrcoef(values, rowvar=False)
    return np.abs(c[~np.eye(len(c), dtype=bool)]).mean()


def corr_nanmean(activations):
    """Another right answer: NaN correlations of constant units ignored by nanmean."""
    c = torch.corrcoef(activations.double().T)
    c = c[~torch.eye(len(c), dtype=torch.bool)]
    return torch.nanmean(c.abs())


def with_diagonal(activations):
    values = activations.double()
    values = values[:, values.amax(0) > values.amin(0)]
    return torch.corrcoef(values.T).abs().mean().item()


def transposed(activations):
    values = activations.double()
    values = values[values.amax(1) > values.amin(1)]
    c = torch.corrcoef(values)
    n = len(c)
    return ((c.abs().sum() - n) / (n * (n - 1))).item()


def signed(activations):
    values = activations.double()
    values = values[:, values.amax(0) > values.amin(0)]
    c = torch.corrcoef(values.T)
    n = len(c)
    return ((c.sum() - n) / (n * (n - 1))).item()


def covariance(activations):
    values = activations.double()
    values = values[:, values.amax(0) > values.amin(0)]
    c = torch.cov(values.T).abs()
    n = len(c)
    return ((c.sum() - c.diagonal().sum()) / (n * (n - 1))).item()


def keeps_dead_units(activations):
    c = torch.corrcoef(activations.double().T).abs()
    n = len(c)
    return ((c.sum() - c.diagonal().sum()) / (n * (n - 1))).item()


def dead_as_zero(activations):
    c = torch.nan_to_num(torch.corrcoef(activations.double().T)).abs()
    n = len(c)
    return ((c.sum() - c.diagonal().sum()) / (n * (n - 1))).item()


@pytest.mark.parametrize("answer", [corr_numpy, corr_nanmean], ids=["numpy", "nanmean"])
def test_3_1_other_right_answers_pass(answer):
    assert check("3.1", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (with_diagonal, "you included the diagonal"),
    (transposed, "you correlated the examples (rows)"),
    (signed, "take the absolute value"),
    (covariance, "that is the covariance"),
    (keeps_dead_units, "you got NaN"),
    (dead_as_zero, "counted as correlation 0"),
    (lambda a: 0.5, "expected"),
    (lambda a: "high", "return a single number"),
    (lambda a: True, "got a bool"),
], ids=["diagonal", "transposed", "signed", "covariance", "nan", "dead-as-zero", "constant",
        "str", "bool"])
def test_3_1_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("3.1", answer)
    assert result.status == "not yet"
    assert phrase in result.message, result.message


# --- 3.2: deleting hidden units ------------------------------------------------------------------

def _positions(model, layer):
    linears = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    return linears[layer], linears[layer + 1]


def zero_outgoing(model, layer, n_delete, generator):
    """A right answer: zero the columns of the next Linear instead of inserting a mask."""
    pruned = copy.deepcopy(model)
    before, after = _positions(pruned, layer)
    n_units = pruned[before].out_features
    chosen = torch.randperm(n_units, generator=generator)[:n_delete]
    with torch.no_grad():
        pruned[after].weight[:, chosen] = 0
    return pruned


def with_mask(scale_survivors=False, use_global=False, first_units=False, in_place=False,
              bernoulli=False, dropout_layer=False, per_example=False, incoming=False,
              fixed_layer=None, by_position=False):
    """Build a deletion function with one mistake switched on."""

    def delete(model, layer, n_delete, generator):
        pruned = model if in_place else copy.deepcopy(model)
        if fixed_layer is not None:
            layer = fixed_layer
        if by_position:  # assumes Linear, activation, Linear, ... with no Dropout modules
            before, after = 2 * layer, 2 * layer + 2
        else:
            before, after = _positions(pruned, layer)
        n_units = pruned[before].out_features
        if dropout_layer:
            modules = list(pruned)
            modules.insert(after, nn.Dropout(n_delete / n_units))
            return nn.Sequential(*modules)
        if first_units:
            chosen = torch.arange(n_delete)
        elif use_global:
            chosen = torch.randperm(n_units)[:n_delete]
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
        if per_example:
            return nn.Sequential(*list(pruned)[:after], RandomRowMask(n_delete / n_units),
                                 *list(pruned)[after:])
        modules = list(pruned)
        modules.insert(after, analysis.UnitMask(keep))
        if in_place:
            # the learner's version: overwrite the next Linear in the given model
            with torch.no_grad():
                pruned[after].weight.mul_(keep)
            return pruned
        return nn.Sequential(*modules)

    return delete


class RandomRowMask(nn.Module):
    """A mistake: a fixed-rate random mask drawn anew for every example (and in eval mode)."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.generator = torch.Generator().manual_seed(0)

    def forward(self, x):
        keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype) >= self.p
        return x * keep


def zero_incoming_relu_only(model, layer, n_delete, generator):
    return with_mask(incoming=True)(model, layer, n_delete, generator)


def returns_mask(model, layer, n_delete, generator):
    return torch.ones(12)


@pytest.mark.parametrize("answer", [zero_outgoing, with_mask()], ids=["outgoing", "mask"])
def test_3_2_other_right_answers_pass(answer):
    assert check("3.2", answer).passed, str(check("3.2", answer))


@pytest.mark.parametrize("answer, phrase", [
    (with_mask(in_place=True), "changed the model it was given"),
    (with_mask(dropout_layer=True), "nothing was deleted"),
    (with_mask(per_example=True), "different examples lost different units"),
    (with_mask(scale_survivors=True), "surviving units were rescaled"),
    (with_mask(bernoulli=True), "Delete exactly n_delete units"),
    (with_mask(use_global=True), "seeded alike deleted different units"),
    (with_mask(first_units=True), "always delete the first n_delete units"),
    (zero_incoming_relu_only, "deleted sigmoid units output 0.5"),
    (with_mask(fixed_layer=0), "you deleted units of another hidden layer"),
    (with_mask(by_position=True), "on one with Dropout modules"),
    (returns_mask, "return the new model"),
], ids=["in-place", "dropout-layer", "per-example", "rescaled", "bernoulli", "global-rng",
        "first-units", "incoming-sigmoid", "wrong-layer", "by-position", "returns-tensor"])
def test_3_2_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("3.2", answer)
    assert result.status == "not yet"
    assert phrase in result.message, result.message


def test_3_2_same_units_for_every_seed_is_caught():
    def same_units(model, layer, n_delete, generator):
        chosen = torch.randperm(12, generator=torch.Generator().manual_seed(99))[:n_delete]
        before, after = _positions(model, layer)
        pruned = copy.deepcopy(model)
        with torch.no_grad():
            pruned[after].weight[:, chosen] = 0
        return pruned

    result = check("3.2", same_units)
    assert result.status == "not yet"
    assert "every generator seed deleted the same units" in result.message


# --- 3.3: quiz --------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["a", "b", "d"])
def test_3_3_wrong_choices_get_the_hint(answer):
    result = check("3.3", answer)
    assert result.status == "not yet"
    assert "what evaluation mode does to dropout" in result.message
