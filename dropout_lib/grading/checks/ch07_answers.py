"""Known answers for chapter 7's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..registry import Known

# --- 7.1 ---------------------------------------------------------------------------------------


def _loop(rates, errors):
    means = [sum(column) / len(column) for column in zip(*errors, strict=True)]
    return min(zip(means, rates, strict=True))[1]


RATE_VARIANTS = (
    Known("a loop", _loop),
    Known("a NumPy float", lambda r, e: np.asarray(r)[np.argmin(e.mean(0))]),
    Known("a 0-dim tensor", lambda r, e: torch.tensor(r, dtype=torch.float64)[
        torch.as_tensor(e).mean(0).argmin()]),
    Known("a float32 tensor", lambda r, e: torch.tensor(r)[torch.as_tensor(e).mean(0).argmin()]),
)

RATE_MISTAKES = (
    Known("the position", lambda r, e: int(np.argmin(e.mean(0))), "position of the best rate"),
    Known("the error", lambda r, e: e.mean(0).min(), "lowest error"),
    Known("argmax", lambda r, e: r[int(np.argmax(e.mean(0)))], "highest"),
    Known("plus one", lambda r, e: r[int(np.argmin(e.mean(0))) + 1], "off by one"),
    Known("minus one", lambda r, e: r[int(np.argmin(e.mean(0))) - 1], "off by one"),
    Known("best single run", lambda r, e: r[int(np.argmin(e.min(0)))], "single run"),
    Known("first seed", lambda r, e: r[int(np.argmin(e[0]))], "single run"),
    Known("wrong axis", lambda r, e: r[int(np.argmin(e.mean(1)))], "wrong axis"),
    Known("a list", lambda r, e: list(r), "return one rate"),
)

# --- 7.3 ---------------------------------------------------------------------------------------


def make_block(order, dtype=torch.float64, keep_meaning=False):
    def build(n_in, n_hidden, n_out, p):
        rate = 1 - p if keep_meaning else p
        parts = {"in": lambda: nn.Linear(n_in, n_hidden, dtype=dtype),
                 "bn": lambda: nn.BatchNorm1d(n_hidden, dtype=dtype), "relu": nn.ReLU,
                 "drop": lambda: nn.Dropout(rate),
                 "out": lambda: nn.Linear(n_hidden, n_out, dtype=dtype)}
        return nn.Sequential(*(parts[name]() for name in order))
    return build


def _wrong_sizes(n_in, n_hidden, n_out, p):
    return nn.Sequential(nn.Linear(n_in, n_hidden, dtype=torch.float64),
                         nn.BatchNorm1d(n_hidden, dtype=torch.float64), nn.ReLU(), nn.Dropout(p),
                         nn.Linear(n_hidden, 2, dtype=torch.float64))


BLOCK_VARIANTS = (
    Known("dropout after the ReLU", make_block(["in", "bn", "relu", "drop", "out"])),
    Known("dropout before the ReLU", make_block(["in", "bn", "drop", "relu", "out"])),
    Known("float32 layers", make_block(["in", "bn", "relu", "drop", "out"], torch.float32)),
)

BLOCK_MISTAKES = (
    Known("no dropout", make_block(["in", "bn", "relu", "out"]), "no dropout layer"),
    Known("two dropouts", make_block(["in", "bn", "relu", "drop", "drop", "out"]), "exactly one"),
    Known("keep probability", make_block(["in", "bn", "relu", "drop", "out"], keep_meaning=True),
          "not 1 - p"),
    Known("on the inputs", make_block(["drop", "in", "bn", "relu", "out"]), "drops the *inputs*"),
    Known("before the batch norm", make_block(["in", "drop", "bn", "relu", "out"]),
          "variance shift"),
    Known("on the logits", make_block(["in", "bn", "relu", "out", "drop"]), "drops the logits"),
    Known("no batch norm", make_block(["in", "relu", "drop", "out"]), "one nn.BatchNorm1d"),
    Known("a tuple", lambda *a: (nn.Linear(2, 2),), "return an nn.Module"),
    Known("wrong sizes", _wrong_sizes, "Check the sizes"),
)

# --- 7.4 ---------------------------------------------------------------------------------------


def _in_place(weight, c):
    with torch.no_grad():
        weight.copy_(torch.renorm(weight, 2, 0, c))
    return weight


MAX_NORM_VARIANTS = (
    Known("clamp", lambda w, c: w * torch.clamp(c / w.norm(dim=1, keepdim=True), max=1.0)),
    Known("renorm in place", _in_place),
    Known("float32", lambda w, c: (w * torch.clamp(c / w.norm(dim=1, keepdim=True), max=1.0))
          .float()),
    Known("NumPy rows", lambda w, c: torch.as_tensor(np.stack([
        row * min(1.0, c / np.linalg.norm(row)) for row in w.numpy()]))),
)

MAX_NORM_MISTAKES = (
    Known("columns", lambda w, c: w * torch.clamp(c / w.norm(dim=0, keepdim=True), max=1.0),
          "you constrained the columns"),
    Known("every row rescaled", lambda w, c: w * c / w.norm(dim=1, keepdim=True),
          "must stay exactly"),
    Known("squared norm", lambda w, c: w * torch.clamp(c / (w**2).sum(1, keepdim=True), max=1.0),
          "squared norm"),
    Known("clipped entries", lambda w, c: w.clamp(-c, c), "clipping each weight"),
    Known("norm 1", lambda w, c: w * torch.clamp(1 / w.norm(dim=1, keepdim=True), max=1.0),
          "norm 1 instead of c"),
    Known("NumPy", lambda w, c: w.numpy(), "return a tensor"),
    Known("flattened", lambda w, c: w.flatten(), "same shape"),
    Known("factor broadcast over the columns", lambda w, c: w * torch.clamp(
        c / w.norm(dim=1), max=1.0), "broadcasting lines it up"),
)
