"""Known answers for chapter 5's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import numpy as np
import torch

from ...mc import mc_average
from ...regression import dropout_regression_weights
from ..registry import Known

# --- 5.1 ---------------------------------------------------------------------------------------


def _in_place(w, b, p):
    w *= 1 - p
    return w, b


INFERENCE_VARIANTS = (
    Known("the same bias object", lambda w, b, p: (w * (1 - p), b)),
    Known("NumPy, as a list", lambda w, b, p: [(1 - p) * w.numpy(), b.numpy()]),
    Known("float32", lambda w, b, p: (w.float() * (1 - p), b.float())),
)

INFERENCE_MISTAKES = (
    Known("times p", lambda w, b, p: (w * p, b), "*drop* probability"),
    Known("divided by 1 - p", lambda w, b, p: (w / (1 - p), b), "*during training*"),
    Known("scaled twice", lambda w, b, p: (w * (1 - p) ** 2, b), "scaled twice"),
    Known("unchanged", lambda w, b, p: (w.clone(), b), "the weights are unchanged"),
    Known("bias scaled too", lambda w, b, p: (w * (1 - p), b * (1 - p)), "the bias was scaled"),
    Known("in place", _in_place, "changed the tensors it was given"),
    Known("weight only", lambda w, b, p: w * (1 - p), "return the pair (weight, bias)"),
    Known("transposed", lambda w, b, p: (w.T * (1 - p), b), "keep the shapes"),
)

# --- 5.2 ---------------------------------------------------------------------------------------


def _same_call_twice(predict, x):
    out = predict(x)
    return not torch.equal(out, out)


MODE_VARIANTS = (
    Known("allclose", lambda predict, x: not torch.allclose(predict(x), predict(x))),
    Known("any difference", lambda predict, x: bool((predict(x) != predict(x)).any())),
    Known("a 0-dim bool tensor", lambda predict, x: torch.tensor(
        not torch.equal(predict(x), predict(x)))),
    Known("a NumPy bool", lambda predict, x: np.any(predict(x).numpy() != predict(x).numpy())),
)

MODE_MISTAKES = (
    Known("always True", lambda predict, x: True, "is deterministic: two calls on the same"),
    Known("always False", lambda predict, x: False, "draws a new dropout mask on every call"),
    Known("one call compared with itself", _same_call_twice, "draws a new dropout mask"),
    Known("reads .training", lambda predict, x: predict.training, "plain function, not a module"),
    Known("looks for zeros", lambda predict, x: bool((predict(x) == 0).any()),
          "draws a new dropout mask"),
    Known("a string", lambda predict, x: "yes", "return True or False"),
    Known("a fraction", lambda predict, x: (predict(x) != predict(x)).double().mean(),
          "return True or False"),
)

# --- 5.3 ---------------------------------------------------------------------------------------


def _passes(model, x, n, dim=-1, softmax=True):
    model.train()
    outs = [model(x) for _ in range(n)]
    model.eval()
    return torch.stack([torch.softmax(o, dim) for o in outs] if softmax else outs)


def _never_train(model, x, n):
    return torch.stack([torch.softmax(model(x), -1) for _ in range(n)]).mean(0)


def _not_restored(model, x, n):
    model.train()
    return torch.stack([torch.softmax(model(x), -1) for _ in range(n)]).mean(0)


def _batched(model, x, n):
    model.train()
    out = torch.softmax(model(x.repeat(n, 1)), -1).reshape(n, len(x), -1).mean(0)
    model.eval()
    return out


MC_VARIANTS = (
    Known("stacked passes", lambda model, x, n: _passes(model, x, n).mean(0)),
    Known("float32", lambda model, x, n: _passes(model, x, n).float().mean(0)),
    Known("a running sum", lambda model, x, n: sum(_passes(model, x, n)) / n),
    Known("one batched pass of n copies", _batched),
    Known("the library's sampler, dropout layers only", mc_average),
)

MC_MISTAKES = (
    Known("never in training mode", _never_train, "the model is in evaluation mode"),
    Known("mean of the logits", lambda model, x, n: torch.softmax(
        _passes(model, x, n, softmax=False).mean(0), -1), "you averaged the logits"),
    Known("no softmax", lambda model, x, n: _passes(model, x, n, softmax=False).mean(0),
          "mean of the raw outputs"),
    Known("sum", lambda model, x, n: _passes(model, x, n).sum(0), "add up to n_samples"),
    Known("one pass too many", lambda model, x, n: mc_average(model, x, n + 1),
          "use exactly n_samples forward passes"),
    Known("left in training mode", _not_restored, "left in training mode after"),
    Known("softmax over the batch", lambda model, x, n: _passes(model, x, n, dim=0).mean(0),
          "softmax ran over the batch"),
)

# --- 5.5 ---------------------------------------------------------------------------------------


def _diagonal(gram):
    return torch.diag(torch.diagonal(gram))


def solve_with(penalty):
    def answer(x, y, p):
        gram = x.T @ x
        return torch.linalg.solve(gram + penalty(gram, p), x.T @ y)
    return answer


RIDGE_VARIANTS = (
    Known("a (d, 1) column", solve_with(lambda g, p: p / (1 - p) * _diagonal(g))),
    Known("NumPy", lambda x, y, p: np.linalg.solve(
        (x.T @ x + p / (1 - p) * _diagonal(x.T @ x)).numpy(), (x.T @ y).numpy())),
    Known("float32", lambda x, y, p: dropout_regression_weights(x, y, p).float()),
)

RIDGE_MISTAKES = (
    Known("factor upside down", solve_with(lambda g, p: (1 - p) / p * _diagonal(g)),
          "the penalty factor is upside down"),
    Known("least squares", solve_with(lambda g, p: 0 * g), "ordinary least squares"),
    Known("identity penalty", solve_with(lambda g, p: p / (1 - p) * torch.eye(
        len(g), dtype=g.dtype)), "not the identity"),
    Known("whole Gram matrix", solve_with(lambda g, p: p / (1 - p) * g),
          "use only the diagonal"),
    Known("divided by 1 - p", lambda x, y, p: dropout_regression_weights(x, y, p) / (1 - p),
          "off by a factor of the keep probability"),
    Known("p (1 - p)", solve_with(lambda g, p: p * (1 - p) * _diagonal(g)),
          "p (1 - p) is the variance"),
    Known("too few weights", lambda x, y, p: torch.zeros(2), "one weight per feature"),
)
