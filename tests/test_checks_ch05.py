"""Tests for the chapter 5 checks (`dropout_lib.checks.ch05`): right answers pass, and each
wrong answer a learner would write gets its own hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dropout_lib import inference, regression
from dropout_lib.grading import check


def not_yet(exercise_id, answer, phrase):
    result = check(exercise_id, answer)
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message
    assert "\n" not in str(result)


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("exercise_id", ["5.1", "5.2", "5.3", "5.5"])
def test_stub_is_not_attempted_and_raising_is_not_yet(exercise_id):
    assert check(exercise_id, stub).status == "not attempted"
    result = check(exercise_id, lambda *args: 1 / 0)
    assert result.status == "not yet" and "ZeroDivisionError" in result.message


@pytest.mark.parametrize("exercise_id", ["5.1", "5.2", "5.3", "5.4", "5.5"])
@pytest.mark.parametrize("answer", [
    None, 0, "z", lambda *args: None, lambda *args: np.nan, lambda *args: [1, 2],
], ids=["None", "zero", "letter", "returns-None", "returns-nan", "returns-list"])
def test_junk_never_passes_and_never_raises(exercise_id, answer):
    result = check(exercise_id, answer)
    assert result.status in {"not yet", "not attempted"}, str(result)
    assert result.message and "\n" not in str(result)


# --- 5.1: converting standard dropout ---------------------------------------------------------

@pytest.mark.parametrize("answer", [
    inference.scale_weights_for_inference,
    lambda w, b, p: (w * (1 - p), b),
    lambda w, b, p: [(1 - p) * w.numpy(), b.numpy()],
], ids=["reference", "same-bias-object", "numpy-list"])
def test_5_1_right_answers_pass(answer):
    assert check("5.1", answer).passed


def in_place(w, b, p):
    w *= 1 - p
    return w, b


@pytest.mark.parametrize("answer, phrase", [
    (lambda w, b, p: (w * p, b), "*drop* probability"),
    (lambda w, b, p: (w / (1 - p), b), "what inverted dropout does *during training*"),
    (lambda w, b, p: (w * (1 - p) ** 2, b), "scaled twice"),
    (lambda w, b, p: (w.clone(), b), "the weights are unchanged"),
    (lambda w, b, p: (w * (1 - p), b * (1 - p)), "the bias was scaled too"),
    (in_place, "changed the tensors it was given"),
    (lambda w, b, p: w * (1 - p), "return the pair (weight, bias)"),
    (lambda w, b, p: (w.T * (1 - p), b), "keep the shapes"),
    (lambda w, b, p: (w + p, b), "multiply the weight by the keep probability"),
], ids=["times-p", "divided", "twice", "unchanged", "bias", "in-place", "weight-only",
        "transposed", "other"])
def test_5_1_wrong_answers_get_their_own_hint(answer, phrase):
    not_yet("5.1", answer, phrase)


# --- 5.2: a model left in training mode ---------------------------------------------------------

@pytest.mark.parametrize("answer", [
    inference.looks_like_training_mode,
    lambda predict, x: not torch.allclose(predict(x), predict(x)),
    lambda predict, x: bool((predict(x) != predict(x)).any()),
    lambda predict, x: torch.tensor(not torch.equal(predict(x), predict(x))),
], ids=["reference", "allclose", "any-different", "bool-tensor"])
def test_5_2_right_answers_pass(answer):
    assert check("5.2", answer).passed


def same_call_twice(predict, x):
    out = predict(x)
    return not torch.equal(out, out)


@pytest.mark.parametrize("answer, phrase", [
    (lambda predict, x: True, "is deterministic: two calls on the same input"),
    (lambda predict, x: False, "draws a new dropout mask on every call"),
    (same_call_twice, "draws a new dropout mask on every call"),
    (lambda predict, x: predict.training, "plain function, not a module"),
    (lambda predict, x: bool((predict(x) == 0).any()), "draws a new dropout mask"),
    (lambda predict, x: "yes", "return True or False"),
    (lambda predict, x: (predict(x) != predict(x)).double().mean(), "return True or False"),
], ids=["always-true", "always-false", "one-call", "training-flag", "zeros", "string",
        "fraction"])
def test_5_2_wrong_answers_get_their_own_hint(answer, phrase):
    not_yet("5.2", answer, phrase)


# --- 5.3: the Monte-Carlo predictor -------------------------------------------------------------

def mc_stacked(model, x, n):
    model.train()
    probs = torch.stack([torch.softmax(model(x), -1) for _ in range(n)]).mean(0)
    model.eval()
    return probs


@pytest.mark.parametrize("answer", [
    mc_stacked,
], ids=["stacked"])
def test_5_3_right_answers_pass(answer):
    assert check("5.3", answer).passed


def never_train(model, x, n):
    return torch.stack([torch.softmax(model(x), -1) for _ in range(n)]).mean(0)


def mean_logits(model, x, n):
    model.train()
    logits = torch.stack([model(x) for _ in range(n)]).mean(0)
    model.eval()
    return torch.softmax(logits, -1)


def no_softmax(model, x, n):
    model.train()
    logits = torch.stack([model(x) for _ in range(n)]).mean(0)
    model.eval()
    return logits


def summed(model, x, n):
    model.train()
    probs = torch.stack([torch.softmax(model(x), -1) for _ in range(n)]).sum(0)
    model.eval()
    return probs


def one_extra(model, x, n):
    return mc_stacked(model, x, n + 1)


def not_restored(model, x, n):
    model.train()
    return torch.stack([torch.softmax(model(x), -1) for _ in range(n)]).mean(0)


def batched(model, x, n):
    model.train()
    out = torch.softmax(model(x.repeat(n, 1)), -1).reshape(n, len(x), -1).mean(0)
    model.eval()
    return out


def softmax_wrong_axis(model, x, n):
    model.train()
    probs = torch.stack([torch.softmax(model(x), 0) for _ in range(n)]).mean(0)
    model.eval()
    return probs


@pytest.mark.parametrize("answer, phrase", [
    (never_train, "the model is in evaluation mode"),
    (mean_logits, "you averaged the logits"),
    (no_softmax, "mean of the raw outputs"),
    (summed, "the rows add up to n_samples"),
    (one_extra, "use exactly n_samples forward passes"),
    (not_restored, "left in training mode after your function returned"),
    (batched, "once per sample"),
    (softmax_wrong_axis, "take softmax(logits, dim=-1)"),
], ids=["eval-mode", "mean-logits", "no-softmax", "sum", "extra-pass", "not-restored",
        "batched", "wrong-axis"])
def test_5_3_wrong_answers_get_their_own_hint(answer, phrase):
    not_yet("5.3", answer, phrase)


# --- 5.4: the quiz ------------------------------------------------------------------------------

def test_5_4_quiz():
    assert check("5.4", "b").passed
    for wrong in "acd":
        not_yet("5.4", wrong, "which layer learns statistics during training")


# --- 5.5: dropout in linear regression ----------------------------------------------------------

def solve_with(penalty):
    def answer(x, y, p):
        gram = x.T @ x
        return torch.linalg.solve(gram + penalty(gram, p), x.T @ y)
    return answer


def diagonal(gram):
    return torch.diag(torch.diagonal(gram))


@pytest.mark.parametrize("answer", [
    regression.dropout_regression_weights,
    solve_with(lambda g, p: p / (1 - p) * diagonal(g)),  # (d, 1) result is fine
    lambda x, y, p: np.linalg.solve((x.T @ x + p / (1 - p) * diagonal(x.T @ x)).numpy(),
                                    (x.T @ y).numpy()),
], ids=["reference", "column", "numpy"])
def test_5_5_right_answers_pass(answer):
    assert check("5.5", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (solve_with(lambda g, p: (1 - p) / p * diagonal(g)), "the penalty factor is upside down"),
    (solve_with(lambda g, p: 0 * g), "ordinary least squares"),
    (solve_with(lambda g, p: p / (1 - p) * torch.eye(len(g), dtype=g.dtype)),
     "not the identity"),
    (solve_with(lambda g, p: p / (1 - p) * g), "use only the diagonal"),
    (lambda x, y, p: regression.dropout_regression_weights(x, y, p) / (1 - p),
     "off by a factor of the keep probability"),
    (solve_with(lambda g, p: p * (1 - p) * diagonal(g)), "p (1 - p) is the variance"),
    (solve_with(lambda g, p: p * diagonal(g)), "solve (X^T X + p / (1 - p)"),
    (lambda x, y, p: torch.zeros(2), "one weight per feature"),
], ids=["upside-down", "least-squares", "identity", "full-gram", "keep-factor", "p(1-p)",
        "other", "shape"])
def test_5_5_wrong_answers_get_their_own_hint(answer, phrase):
    not_yet("5.5", answer, phrase)
