"""Checks for chapter 7, choosing the rate and placement (exercises 7.1 to 7.4)."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

from ..grading import NotYet, call, exercise, quiz
from ..practice import project_max_norm

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


@exercise("7.4", "the max-norm constraint")
def _check_max_norm(answer) -> None:
    for weight, c in _max_norm_cases():
        original = weight.clone()
        got = call(answer, weight.clone(), c)
        if not isinstance(got, torch.Tensor):
            raise NotYet(f"return a tensor, got {type(got).__name__}.")
        if got.shape != weight.shape:
            raise NotYet(f"return a tensor of the same shape as the weight: expected "
                         f"{tuple(weight.shape)}, got {tuple(got.shape)}.")
        got = got.detach().to(torch.float64)
        want = project_max_norm(original, c)
        if torch.allclose(got, want, rtol=1e-6, atol=1e-9):
            continue
        row_norms = original.norm(dim=1)
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
        raise NotYet("each row w of the weight should become w * min(1, c / ||w||), with ||w|| "
                      "the Euclidean norm of that row.")


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
    return abs(a - b) < 1e-9


@exercise("7.1", "choosing the rate from a sweep")
def _check_best_rate(answer) -> None:
    for rates, errors in _SWEEPS:
        errors = np.array(errors)
        got = call(answer, list(rates), errors.copy())
        if isinstance(got, np.ndarray) and got.size == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise NotYet(f"return one rate, a number, got {type(got).__name__}.")
        got = float(got)
        mean = errors.mean(axis=0)
        index = int(np.argmin(mean))
        if _same(got, rates[index]):
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
        raise NotYet("average the errors over the seeds (axis 0), then return the rate whose "
                     "mean error is lowest.")


# --- 7.3 -----------------------------------------------------------------------------------

_KINDS = {nn.Linear: "linear", nn.BatchNorm1d: "batchnorm", nn.ReLU: "relu"}


def _kind(module: nn.Module) -> str | None:
    for cls, name in _KINDS.items():
        if isinstance(module, cls):
            return name
    if "dropout" in type(module).__name__.lower() and hasattr(module, "p"):
        return "dropout"
    return None


@exercise("7.3", "placing dropout next to batch norm")
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
     hint="keep the expected number of units that survive at 128. PyTorch's p is the drop "
          "rate, so a unit survives with probability 1 - p; solve (1 - p) * n = 128 for n.",
     step=1.0)
