"""Tests for the chapter 7 checks: right answers pass, each wrong answer gets its own hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import practice
from dropout_lib.grading import check


def stub(*args):
    raise NotImplementedError


def crashes(*args):
    raise RuntimeError("boom")


@pytest.mark.parametrize("exercise_id", ["7.1", "7.3", "7.4"])
def test_stub_and_crash(exercise_id):
    assert "not attempted yet" in str(check(exercise_id, stub))
    result = str(check(exercise_id, crashes))
    assert "not yet" in result and "RuntimeError: boom" in result and "Traceback" not in result


# --- 7.4 max-norm --------------------------------------------------------------------------

def max_norm_right(weight, c):
    return weight * torch.clamp(c / weight.norm(dim=1, keepdim=True), max=1.0)


def max_norm_in_place(weight, c):
    with torch.no_grad():
        weight.copy_(torch.renorm(weight, 2, 0, c))
    return weight


MAX_NORM_WRONG = {
    "columns": (lambda w, c: w * torch.clamp(c / w.norm(dim=0, keepdim=True), max=1.0),
                "you constrained the columns"),
    "all rows": (lambda w, c: w * c / w.norm(dim=1, keepdim=True), "must stay exactly"),
    "squared": (lambda w, c: w * torch.clamp(c / (w ** 2).sum(1, keepdim=True), max=1.0),
                "squared norm"),
    "clip": (lambda w, c: w.clamp(-c, c), "clipping each weight"),
    "unit": (lambda w, c: w * torch.clamp(1 / w.norm(dim=1, keepdim=True), max=1.0),
             "norm 1 instead of c"),
    "numpy": (lambda w, c: w.numpy(), "return a tensor"),
    "flat": (lambda w, c: w.flatten(), "same shape"),
    "other": (lambda w, c: w * 0.5, "min(1, c / ||w||)"),
}


@pytest.mark.parametrize("answer", [max_norm_right, max_norm_in_place, practice.project_max_norm])
def test_max_norm_right(answer):
    assert check("7.4", answer).passed


@pytest.mark.parametrize("name", MAX_NORM_WRONG)
def test_max_norm_wrong(name):
    answer, phrase = MAX_NORM_WRONG[name]
    result = check("7.4", answer)
    assert result.status == "not yet" and phrase in result.message, str(result)


# --- 7.1 best rate -------------------------------------------------------------------------

def best_rate_loop(rates, errors):
    means = [sum(column) / len(column) for column in zip(*errors, strict=True)]
    return min(zip(means, rates, strict=True))[1]


BEST_RATE_WRONG = {
    "index": (lambda r, e: int(np.argmin(e.mean(0))), "position of the best rate"),
    "error": (lambda r, e: e.mean(0).min(), "lowest error"),
    "argmax": (lambda r, e: r[int(np.argmax(e.mean(0)))], "highest"),
    "plus one": (lambda r, e: r[int(np.argmin(e.mean(0))) + 1], "off by one"),
    "minus one": (lambda r, e: r[int(np.argmin(e.mean(0))) - 1], "off by one"),
    "single run": (lambda r, e: r[int(np.argmin(e.min(0)))], "single run"),
    "first seed": (lambda r, e: r[int(np.argmin(e[0]))], "single run"),
    "wrong axis": (lambda r, e: r[int(np.argmin(e.mean(1)))], "wrong axis"),
    "constant": (lambda r, e: 0.3, "average the errors"),
    "list": (lambda r, e: list(r), "return one rate"),
}


@pytest.mark.parametrize("answer", [practice.best_rate, best_rate_loop])
def test_best_rate_right(answer):
    assert check("7.1", answer).passed


@pytest.mark.parametrize("name", BEST_RATE_WRONG)
def test_best_rate_wrong(name):
    answer, phrase = BEST_RATE_WRONG[name]
    result = check("7.1", answer)
    assert result.status == "not yet" and phrase in result.message, str(result)


# --- 7.3 dropout next to batch norm --------------------------------------------------------

def make_block(order, dtype=torch.float64, keep_meaning=False):
    def build(n_in, n_hidden, n_out, p):
        rate = 1 - p if keep_meaning else p
        parts = {
            "in": nn.Linear(n_in, n_hidden, dtype=dtype),
            "bn": nn.BatchNorm1d(n_hidden, dtype=dtype),
            "relu": nn.ReLU(),
            "drop": nn.Dropout(rate),
            "out": nn.Linear(n_hidden, n_out, dtype=dtype),
        }
        layers = []
        for name in order:
            if name == "drop_in":
                layers.append(nn.Dropout(rate))
            elif name == "drop_out":
                layers.append(nn.Dropout(rate))
            else:
                layers.append(parts[name])
        return nn.Sequential(*layers)
    return build


BLOCK_RIGHT = [
    make_block(["in", "bn", "relu", "drop", "out"]),
    make_block(["in", "bn", "drop", "relu", "out"]),
    make_block(["in", "bn", "relu", "drop", "out"], dtype=torch.float32),
]

BLOCK_WRONG = {
    "none": (make_block(["in", "bn", "relu", "out"]), "no dropout layer"),
    "two": (make_block(["in", "bn", "relu", "drop", "drop_out", "out"]), "exactly one"),
    "keep": (make_block(["in", "bn", "relu", "drop", "out"], keep_meaning=True), "not 1 - p"),
    "inputs": (make_block(["drop", "in", "bn", "relu", "out"]), "drops the *inputs*"),
    "before bn": (make_block(["in", "drop", "bn", "relu", "out"]), "variance shift"),
    "logits": (make_block(["in", "bn", "relu", "out", "drop"]), "drops the logits"),
    "no bn": (make_block(["in", "relu", "drop", "out"]), "one nn.BatchNorm1d"),
    "tuple": (lambda *a: (nn.Linear(2, 2),), "return an nn.Module"),
    "sizes": (lambda n_in, n_hidden, n_out, p: nn.Sequential(
        nn.Linear(n_in, n_hidden, dtype=torch.float64),
        nn.BatchNorm1d(n_hidden, dtype=torch.float64), nn.ReLU(), nn.Dropout(p),
        nn.Linear(n_hidden, 2, dtype=torch.float64)), "Check the sizes"),
}


@pytest.mark.parametrize("answer", BLOCK_RIGHT + [practice.block_with_dropout])
def test_block_right(answer):
    assert check("7.3", answer).passed


@pytest.mark.parametrize("name", BLOCK_WRONG)
def test_block_wrong(name):
    answer, phrase = BLOCK_WRONG[name]
    result = check("7.3", answer)
    assert result.status == "not yet" and phrase in result.message, str(result)


# --- 7.2 quiz ------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [320, 320.0, 128 / 0.4, 321])
def test_width_quiz_right(answer):
    assert check("7.2", answer).passed


@pytest.mark.parametrize("answer", [128 / 0.6, 128 * 0.4, 128 * 0.6, 128])
def test_width_quiz_wrong(answer):
    result = check("7.2", answer)
    assert result.status == "not yet" and "1 - p" in result.message


def test_width_quiz_not_attempted():
    assert "not attempted yet" in str(check("7.2", None))
