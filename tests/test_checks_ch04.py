"""Tests for the chapter 4 checks (`dropout_lib.checks.ch04`): right answers pass, and each
wrong answer a learner would write gets its own hint."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dropout_lib import ensembles
from dropout_lib.grading import check


def not_yet(exercise_id, answer, phrase):
    result = check(exercise_id, answer)
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message
    assert "\n" not in str(result)


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("exercise_id", ["4.1", "4.2", "4.3"])
def test_stub_is_not_attempted_and_raising_is_not_yet(exercise_id):
    assert check(exercise_id, stub).status == "not attempted"
    result = check(exercise_id, lambda *args: 1 / 0)
    assert result.status == "not yet" and "ZeroDivisionError" in result.message


# --- 4.1: every mask --------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    ensembles.enumerate_masks,
    lambda n: list(itertools.product([0, 1], repeat=n)),
    lambda n: np.array(list(itertools.product([True, False], repeat=n))),
    lambda n: torch.tensor([[(i >> j) & 1 for j in range(n)] for i in range(2**n)]),
], ids=["reference", "product-list", "bool-array", "int-tensor"])
def test_4_1_right_answers_pass(answer):
    assert check("4.1", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (lambda n: ensembles.enumerate_masks(n).T, "transposed"),
    (lambda n: ensembles.enumerate_masks(n)[:-1], "one mask short"),
    (lambda n: ensembles.enumerate_masks(n)[1:], "one mask short"),
    (lambda n: torch.randint(0, 2, (2**n, n)), "more than once"),
    (lambda n: torch.eye(n), "not one per unit"),
    (lambda n: 2 * ensembles.enumerate_masks(n), "must be 0 (unit dropped) or 1"),
    (lambda n: ensembles.enumerate_masks(n).reshape(-1), "one row per mask"),
    (lambda n: ensembles.enumerate_masks(n)[: 2 ** (n - 1)], "there are 2**"),
    (lambda n: "masks", "tensor or an array of numbers"),
], ids=["transposed", "no-all-ones", "no-all-zeros", "random", "one-hot", "values", "flat",
        "half", "string"])
def test_4_1_wrong_answers_get_their_own_hint(answer, phrase):
    not_yet("4.1", answer, phrase)


# --- 4.2: mask probabilities ------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    ensembles.mask_probabilities,
    lambda m, p: ((1 - p) ** m * p ** (1 - m)).prod(1),
    lambda m, p: [float(np.prod([(1 - p) if v else p for v in row])) for row in m.tolist()],
], ids=["reference", "product", "loop"])
def test_4_2_right_answers_pass(answer):
    assert check("4.2", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (lambda m, p: (p**m * (1 - p) ** (1 - m)).prod(1), "keep and drop are swapped"),
    (lambda m, p: ((1 - p) ** m).prod(1), "only the kept units were counted"),
    (lambda m, p: torch.full((len(m),), 0.5 ** m.shape[1]), "equally likely only when p = 0.5"),
    (lambda m, p: torch.where(m == 1, 1 - p, p).sum(1), "multiply their probabilities"),
    (lambda m, p: torch.where(m == 1, 1 - p, p).mean(1), "multiply their probabilities"),
    (lambda m, p: torch.where(m == 1, 1 - p, p), "one probability per mask"),
    (lambda m, p: torch.where(m == 1, 1 - p, p).prod(1) * 2, "the product over its units"),
], ids=["swapped", "kept-only", "uniform", "sum", "mean", "per-unit", "other"])
def test_4_2_wrong_answers_get_their_own_hint(answer, phrase):
    not_yet("4.2", answer, phrase)


# --- 4.3: geometric mean ----------------------------------------------------------------------

def geometric_with_a_product(probs, weights):
    shape = (-1,) + (1,) * (probs.dim() - 1)
    product = (probs ** weights.reshape(shape)).prod(0)
    return product / product.sum(-1, keepdim=True)


@pytest.mark.parametrize("answer", [
    ensembles.geometric_mean,
    geometric_with_a_product,
    lambda P, w: torch.softmax(torch.einsum("k,k...->...", w, P.log()), -1).numpy(),
], ids=["reference", "product", "einsum-numpy"])
def test_4_3_right_answers_pass(answer):
    assert check("4.3", answer).passed


def unnormalised(probs, weights):
    return torch.exp(torch.tensordot(weights, probs.log(), dims=1))


def normalise(t):
    return t / t.sum(-1, keepdim=True)


@pytest.mark.parametrize("answer, phrase", [
    (lambda P, w: torch.tensordot(w, P, dims=1), "that is the arithmetic mean"),
    (lambda P, w: P.mean(0), "that is the arithmetic mean"),
    (unnormalised, "the rows do not add up to one"),
    (lambda P, w: normalise(P.log().mean(0).exp()), "every member got the same weight"),
    (lambda P, w: normalise(P.prod(0)), "the plain product ignores the weights"),
    (lambda P, w: unnormalised(P, w) / unnormalised(P, w).sum(0), "compute exp(sum_k"),
    (lambda P, w: ensembles.geometric_mean(P, w)[0], "combine over the members"),
], ids=["weighted-arithmetic", "arithmetic", "unnormalised", "unweighted", "plain-product",
        "wrong-axis", "shape"])
def test_4_3_wrong_answers_get_their_own_hint(answer, phrase):
    not_yet("4.3", answer, phrase)


# --- 4.4: the quiz ----------------------------------------------------------------------------

def test_4_4_quiz():
    assert check("4.4", "b").passed
    for wrong in "acd":
        not_yet("4.4", wrong, "how many parameters does each subnetwork own")
    assert check("4.4", None).status == "not attempted"


def test_4_2_float32_answer_passes():
    """torch.where with Python floats gives float32: precise enough."""
    assert check("4.2", lambda m, p: torch.where(m == 1, 1.0 - p, p).float().prod(1)).passed


@pytest.mark.parametrize("exercise_id", ["4.1", "4.2", "4.3", "4.4"])
@pytest.mark.parametrize("answer", [
    None, 0, "z", lambda *args: None, lambda *args: np.nan, lambda *args: [1, 2],
], ids=["None", "zero", "letter", "returns-None", "returns-nan", "returns-list"])
def test_junk_never_passes_and_never_raises(exercise_id, answer):
    result = check(exercise_id, answer)
    assert result.status in {"not yet", "not attempted"}, str(result)
    assert result.message and "\n" not in str(result)
