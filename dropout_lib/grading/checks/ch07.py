"""Checks for chapter 7, choosing the rate and placement (exercises 7.1 to 7.4)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ...practice import best_rate, block_with_dropout, project_max_norm
from ..helpers import as_number, close
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch07_answers as known

BROADCAST_HINT = ("the factor for each row has shape (out_features,), and broadcasting lines it "
                  "up with the *last* axis, the columns; keep the row axis (norm(dim=1, "
                  "keepdim=True), or factor[:, None]) so that each row gets its own factor.")

# --- 7.4 -----------------------------------------------------------------------------------


def _max_norm_cases() -> list[tuple[torch.Tensor, float]]:
    """Weights whose rows are partly over and partly under the bound, in several shapes.

    Square and tall shapes make "rows" and "columns" give different answers; each case has
    rows on both sides of c, so rescaling every row is caught too.
    """
    generator = torch.Generator().manual_seed(71)
    cases = []
    for shape, c in (((4, 4), 1.0), ((6, 3), 2.5), ((3, 7), 0.8), ((5, 5), 3.0)):
        weight = torch.randn(shape, generator=generator, dtype=torch.float64)
        row_scale = torch.linspace(0.3, 2.5, shape[0], dtype=torch.float64) * c
        weight = weight / weight.norm(dim=1, keepdim=True) * row_scale[:, None]
        cases.append((weight, c))
    return cases


def _scaled_rows(weight: torch.Tensor, norms: torch.Tensor, c: float) -> torch.Tensor:
    return weight * torch.clamp(c / norms, max=1.0)[:, None]


def _call_max_norm(answer, weight: torch.Tensor, c: float):
    try:
        return call(answer, weight.clone(), c)
    except NotYet as err:
        if "must match the size of tensor" in str(err):
            raise NotYet(BROADCAST_HINT) from None
        raise


@exercise("7.4", "the max-norm constraint", reference=project_max_norm,
          fallback="scale down each row (one unit's incoming weights) whose Euclidean length "
                   "exceeds c to length c, and leave the other rows exactly as they are.",
          variants=known.MAX_NORM_VARIANTS, mistakes=known.MAX_NORM_MISTAKES)
def _check_max_norm(answer) -> None:
    for weight, c in _max_norm_cases():
        original = weight.clone()
        got = _call_max_norm(answer, weight, c)
        if not isinstance(got, torch.Tensor):
            raise NotYet(f"return a tensor, got {type(got).__name__}.")
        if got.shape != weight.shape:
            raise NotYet(f"return a tensor of the same shape as the weight: expected "
                         f"{tuple(weight.shape)}, got {tuple(got.shape)}.")
        want = project_max_norm(original, c)
        if close(got, want):
            continue
        got = got.detach().to(torch.float64)
        row_norms = original.norm(dim=1)
        if weight.shape[0] == weight.shape[1] and torch.allclose(
                got, original * torch.clamp(c / row_norms, max=1.0)[None, :]):
            raise NotYet(BROADCAST_HINT)
        if torch.allclose(got, original * (c / row_norms)[:, None], rtol=1e-6, atol=1e-9):
            raise NotYet("rows already inside the bound must stay exactly as they are; only "
                         "rows whose norm exceeds c are scaled down (use min(1, c / norm)).")
        column_norms = original.norm(dim=0)
        if torch.allclose(got, original * torch.clamp(c / column_norms, max=1.0)[None, :],
                          rtol=1e-6, atol=1e-9):
            raise NotYet("you constrained the columns. nn.Linear stores its weight as "
                         "(out_features, in_features): one row per unit, holding that unit's "
                         "incoming weights, so take the norm along dim=1.")
        if torch.allclose(got, _scaled_rows(original, row_norms ** 2, c), rtol=1e-6,
                          atol=1e-9):
            raise NotYet("that uses the squared norm (the sum of squares); the bound is on the "
                         "Euclidean length, the square root of the sum of squares.")
        if torch.allclose(got, original.clamp(-c, c), rtol=1e-6, atol=1e-9):
            raise NotYet("clipping each weight to [-c, c] is not max-norm: the bound is on the "
                         "length of each unit's whole weight vector (a row).")
        if torch.allclose(got, _scaled_rows(original, row_norms, 1.0), rtol=1e-6, atol=1e-9):
            raise NotYet("the long rows end up with norm 1 instead of c: multiply by c / norm, "
                         "not 1 / norm.")
        raise NotYet()


# --- 7.1 -----------------------------------------------------------------------------------

# Made-up sweeps, (n_seeds, n_rates). In the first, the right rate (0.3), the worst (0.9), the
# neighbours (0.2, 0.5), the lucky single run (0.7) and the wrong-axis average (0.0) all differ.
_SWEEPS = [
    ([0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
     [[0.20, 0.18, 0.16, 0.13, 0.15, 0.05, 0.40],
      [0.20, 0.18, 0.16, 0.12, 0.15, 0.23, 0.40],
      [0.20, 0.18, 0.16, 0.11, 0.15, 0.23, 0.40]]),
    ([0.05, 0.15, 0.35, 0.55],
     [[0.30, 0.22, 0.26, 0.24],
      [0.30, 0.20, 0.27, 0.19]]),
]


def _same(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6  # rates and errors differ by 0.01 or more


@exercise("7.1", "choosing the rate from a sweep", reference=best_rate,
          fallback="average each rate's errors over the seeds, then return the rate (an "
                   "element of rates) whose average is lowest.",
          variants=known.RATE_VARIANTS, mistakes=known.RATE_MISTAKES)
def _check_best_rate(answer) -> None:
    for rates, errors in _SWEEPS:
        errors = np.array(errors)
        got = call(answer, list(rates), errors.copy())
        if isinstance(got, list | tuple | str):
            raise NotYet(f"return one rate, a number, got {type(got).__name__}.")
        raw, got = got, as_number(got, "the rate", finite=True)
        mean = errors.mean(axis=0)
        index = int(np.argmin(mean))
        if close(raw, rates[index]):
            continue
        if got in (index, index + 1) and not any(_same(got, r) for r in rates):
            raise NotYet("that is the position of the best rate in the list; return the rate "
                         "itself, rates[position].")
        if _same(got, mean.min()):
            raise NotYet("that is the lowest error; return the rate that achieves it.")
        if _same(got, rates[int(np.argmax(mean))]):
            raise NotYet("that rate has the *highest* mean holdout error; you want the lowest "
                         "(argmin, not argmax).")
        neighbours = [rates[i] for i in (index - 1, index + 1) if 0 <= i < len(rates)]
        if any(_same(got, r) for r in neighbours):
            raise NotYet("off by one: the rate you return is next to the best one; index "
                         "`rates` with the position argmin gives, without adding or subtracting.")
        single_runs = {rates[int(np.argmin(row))] for row in errors}
        lucky = rates[int(np.unravel_index(np.argmin(errors), errors.shape)[1])]
        if _same(got, lucky) or any(_same(got, r) for r in single_runs):
            raise NotYet("that rate won a single run, which can be luck; average each rate's "
                         "errors over the seeds first (errors.mean(axis=0)), then pick.")
        seed_means = errors.mean(axis=1)
        if _same(got, rates[int(np.argmin(seed_means))]):
            raise NotYet("you averaged over the wrong axis: errors has one row per seed and one "
                         "column per rate, so average over axis 0.")
        raise NotYet()


# --- 7.3 -----------------------------------------------------------------------------------

_KINDS = {nn.Linear: "linear", nn.BatchNorm1d: "batchnorm", nn.ReLU: "relu"}


def _kind(module: nn.Module) -> str | None:
    for cls, name in _KINDS.items():
        if isinstance(module, cls):
            return name
    if "dropout" in type(module).__name__.lower() and hasattr(module, "p"):
        return "dropout"
    return None


@exercise("7.3", "placing dropout next to batch norm", reference=block_with_dropout,
          fallback="build Linear, BatchNorm1d, ReLU and the last Linear, with one Dropout(p) "
                   "where it neither feeds a batch norm nor drops the logits.",
          variants=known.BLOCK_VARIANTS, mistakes=known.BLOCK_MISTAKES)
def _check_block(answer) -> None:
    for n_in, n_hidden, n_out, p in ((64, 32, 10, 0.5), (5, 12, 3, 0.2), (9, 7, 4, 0.3)):
        model = call(answer, n_in, n_hidden, n_out, p)
        if not isinstance(model, nn.Module):
            raise NotYet(f"return an nn.Module (an nn.Sequential), got {type(model).__name__}.")
        layers = [(m, _kind(m)) for m in model.modules() if _kind(m) is not None]
        kinds = [kind for _, kind in layers]
        drops = [m for m, kind in layers if kind == "dropout"]
        if not drops:
            raise NotYet("the block has no dropout layer; add one nn.Dropout(p).")
        if len(drops) > 1:
            raise NotYet("use exactly one dropout layer in this block.")
        if not math.isclose(float(drops[0].p), p):
            if math.isclose(float(drops[0].p), 1 - p):
                raise NotYet("nn.Dropout(p) takes the probability of *dropping* a unit; pass p "
                             "itself, not 1 - p.")
            raise NotYet(f"the dropout layer should have p={p}, the argument given.")
        if kinds.count("linear") != 2 or kinds.count("batchnorm") != 1 \
                or kinds.count("relu") != 1:
            raise NotYet("the block needs two nn.Linear, one nn.BatchNorm1d and one nn.ReLU "
                         "besides the dropout: Linear, BatchNorm1d, ReLU, then the last Linear.")
        at = kinds.index("dropout")
        if at == 0:
            raise NotYet("dropout in front of the first Linear drops the *inputs*, and it sits "
                         "before the batch norm, whose running variance then no longer matches "
                         "what it sees at test time. Put it after the batch norm.")
        if at < kinds.index("batchnorm"):
            raise NotYet("dropout before the batch norm causes a variance shift: the batch norm "
                         "stores the variance of dropped activations, but at test time nothing "
                         "is dropped. Move the dropout after the batch norm.")
        if at == len(kinds) - 1:
            raise NotYet("dropout after the last Linear drops the logits themselves; put it in "
                         "front of the last Linear, after the batch norm.")
        weight = next(model.parameters())
        x = torch.randn(6, n_in, dtype=weight.dtype, device=weight.device,
                        generator=torch.Generator().manual_seed(n_in))
        model.eval()
        try:
            out = model(x)
        except Exception as err:  # noqa: BLE001 - a hint, not a traceback
            raise NotYet(f"the block fails on a batch of shape (6, {n_in}): "
                         f"{type(err).__name__}: {err}") from None
        if tuple(out.shape) != (6, n_out):
            raise NotYet(f"the block should map (batch, {n_in}) to (batch, {n_out}); got "
                         f"{tuple(out.shape)}. Check the sizes of the Linear layers.")


# --- 7.2 -----------------------------------------------------------------------------------

quiz("7.2", "the width for a higher drop rate",
     digest="a30572888f6c5769218bd86bbb34a6a16d2027d9642ae3b669785f2c05a75062",
     step=1.0,
     fallback="keep the expected number of working units at 128: with PyTorch's p the drop "
              "rate, what fraction of a layer's units is still working at a training step?",
     mistakes={
         128 * 0.6: "that is 128 times p, fewer units than now: dropout takes units away, so "
                    "the layer must get wider, not narrower.",
         128 * 0.4: "that is how many of 128 units are still working at a step with p = 0.6; "
                    "the layer must be wider, so that its survivors number 128 on average.",
         128 / 0.6: "that divides by p, the probability of *dropping* a unit; by what fraction "
                    "does a layer's width shrink at a training step?",
         128: "with p = 0.6 only part of the units work at each step, so keeping as many "
              "working as before takes more than 128.",
         128 * 1.6: "adding p * 128 units is not enough: of the wider layer, too, only a "
                    "fraction of the units survives each step. Count the survivors of your "
                    "answer.",
     })
