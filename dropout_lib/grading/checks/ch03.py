"""Checks for chapter 3, co-adaptation (exercises 3.1 to 3.3)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ...analysis import delete_units, mean_abs_correlation
from ...models import mlp
from ..helpers import as_number, close, precision_hint
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch03_answers as known

# --- 3.1: mean absolute correlation between hidden units -------------------------------------


def _correlated(rng: np.random.Generator, n_examples: int, n_units: int) -> np.ndarray:
    """Units driven by two shared causes plus noise: some pairs correlate, some anti-correlate."""
    causes = rng.normal(size=(n_examples, 2))
    mixing = rng.normal(size=(2, n_units))
    return causes @ mixing + 0.7 * rng.normal(size=(n_examples, n_units))


def _correlation_cases() -> list[tuple[torch.Tensor, bool]]:
    """(activations, has constant units). Shapes are never square, so a transpose shows."""
    rng = np.random.default_rng(31)
    signed = torch.tensor(_correlated(rng, 60, 7))
    wide = torch.tensor(_correlated(rng, 9, 20))  # more units than examples
    scaled = torch.tensor(5.0 * _correlated(rng, 200, 4) + 3.0, dtype=torch.float32)
    relu = np.maximum(_correlated(rng, 40, 9), 0.0)
    relu[:, [2, 6]] = 0.0  # two dead units
    relu[:, 4] = 0.5  # and one stuck at a constant (exact in binary, so its std is 0)
    return [(signed, False), (wide, False), (scaled, False), (torch.tensor(relu), True)]


def _off_diagonal_mean(matrix: np.ndarray) -> float:
    n = matrix.shape[0]
    return float((matrix.sum() - np.trace(matrix)) / (n * (n - 1)))


def _close(got, want: float) -> bool:
    return close(got, want, scale=1.0)  # correlations are of size 1


@exercise("3.1", "mean absolute correlation", reference=mean_abs_correlation,
          fallback="correlate the columns (units) over the examples, take absolute values, and "
                   "average over the pairs of different units, leaving constant units out.",
          variants=known.CORRELATION_VARIANTS, mistakes=known.CORRELATION_MISTAKES)
def _check_correlation(answer) -> None:
    for activations, has_constant in _correlation_cases():
        got = call(answer, activations.clone())
        if isinstance(got, torch.Tensor | np.ndarray) and got.shape == (1,):
            got = got[0]  # a one-element tensor is a number here
        as_number(got, "the mean absolute correlation")
        want = mean_abs_correlation(activations)
        if _close(got, want):
            continue
        values = activations.double().numpy()
        varying = values[:, np.ptp(values, axis=0) > 0]
        correlation = np.corrcoef(varying, rowvar=False)
        if math.isnan(as_number(got)):
            if has_constant:
                raise NotYet("you got NaN: a unit that never changes (a dead ReLU outputs 0 on "
                             "every example) has zero variance and no correlation. Leave such "
                             "units out before computing the correlations.")
            raise NotYet("you got NaN on activations where every unit varies.")
        if _close(got, float(np.abs(correlation).mean())):
            raise NotYet("you included the diagonal: every unit correlates perfectly (1) with "
                         "itself. Average over the pairs of *different* units only.")
        if _close(got, _off_diagonal_mean(correlation)):
            raise NotYet("take the absolute value of each correlation before averaging: "
                         "anti-correlated units (-0.9) are just as tied together as "
                         "correlated ones, and signs would cancel out.")
        if not has_constant and _close(got, mean_abs_correlation(activations.T)):
            raise NotYet("you correlated the examples (rows) with each other; the question is "
                         "about units, which are the columns. torch.corrcoef treats rows as "
                         "variables: pass activations.T.")
        if _close(got, _off_diagonal_mean(np.abs(np.cov(varying, rowvar=False)))):
            raise NotYet("that is the covariance; divide by the standard deviations to get the "
                         "correlation (torch.corrcoef does), so the scale of a unit does "
                         "not matter.")
        if has_constant:
            n_all = values.shape[1]
            total = np.abs(correlation).sum() - np.trace(np.abs(correlation))
            if _close(got, float(total / (n_all * (n_all - 1)))):
                raise NotYet("constant units were counted as correlation 0; leave them out of "
                             "the average altogether (they have no correlation at all).")
        raise NotYet(precision_hint(got, want, scale=1.0) or "")
    return None


# --- 3.2: deleting hidden units at test time --------------------------------------------------

N_UNITS = 12


def _set_linear(linear: nn.Linear, weight: torch.Tensor, bias: float) -> None:
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.fill_(bias)


def _probe_model(n_hidden: int, activation: str = "relu", dropout: float = 0.0,
                 permutation: torch.Tensor | None = None) -> nn.Sequential:
    """An MLP whose output equals its last hidden layer, so every deletion shows in the output.

    The first Linear gives every unit a different, strictly positive input; the later ones are
    identities (or a permutation between hidden layers 0 and 1), with zero bias. (`mlp`
    draws its initial weights from the global generator, inside `check`'s guard; they are
    all overwritten here.)
    """
    model = mlp([5] + [N_UNITS] * (n_hidden + 1), dropout=dropout, activation=activation)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    generator = torch.Generator().manual_seed(3)
    first = 0.2 * torch.rand(N_UNITS, 5, generator=generator, dtype=torch.float64)
    _set_linear(linears[0], first, 1.0)
    for i, linear in enumerate(linears[1:]):
        weight = torch.eye(N_UNITS, dtype=torch.float64)
        if i == 0 and permutation is not None:
            weight = weight[permutation]
        _set_linear(linear, weight, 0.0)
    return model.eval()


_INPUTS = torch.rand(16, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)


def _run(model: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(_INPUTS)


def _deleted(answer, model, layer: int, n_delete: int, seed: int,
             activation: str = "relu") -> frozenset[int]:
    """Call the answer, check everything about one deletion, return the deleted units."""
    state = {name: value.clone() for name, value in model.state_dict().items()}
    mode = model.training
    before = _run(model)
    pruned = call(answer, model, layer, n_delete, torch.Generator().manual_seed(seed))
    if not isinstance(pruned, nn.Module):
        raise NotYet(f"return the new model (an nn.Module), got {type(pruned).__name__}.")
    changed = any(not torch.equal(value, model.state_dict()[name])
                  for name, value in state.items()) or len(model.state_dict()) != len(state)
    if pruned is model or changed or not torch.equal(_run(model.train(mode)), before):
        raise NotYet("your function changed the model it was given; delete the units in a copy "
                     "(copy.deepcopy(model)) and return that, so the trained network stays "
                     "intact for the next deletion.")
    pruned.eval()
    try:
        after = _run(pruned)
    except Exception as err:  # noqa: BLE001 - any failure of the learner's model becomes a hint
        raise NotYet(f"the model you returned raised {type(err).__name__} on a batch: {err}") \
            from None
    if after.shape != before.shape:
        raise NotYet(f"the returned model gives outputs of shape {tuple(after.shape)} instead "
                     f"of {tuple(before.shape)}; keep every layer, only silence some units.")
    same = torch.isclose(after, before, rtol=1e-9, atol=1e-12)
    if n_delete > 0 and same.all():
        raise NotYet("in evaluation mode nothing was deleted. A dropout layer switches itself "
                     "off after model.eval(); deleted units must stay deleted at test time, "
                     "so use a fixed mask (for example analysis.UnitMask) or zero weights.")
    column_changed = ~same.all(dim=0)
    if not torch.equal(~same, column_changed.expand_as(same)):
        raise NotYet("different examples lost different units (a fresh random mask per "
                     "example, as in dropout). Choose one set of units and delete it for "
                     "every example.")
    zero = torch.isclose(after, torch.zeros_like(after), atol=1e-12).all(dim=0)
    if activation == "sigmoid" and torch.isclose(after[:, column_changed],
                                                 torch.tensor(0.5, dtype=after.dtype)).all():
        raise NotYet("deleted sigmoid units output 0.5 instead of 0: zeroing a unit's incoming "
                     "weights and bias gives activation(0), which is 0 for ReLU but 0.5 for "
                     "the sigmoid. Mask the layer's output (after the activation) instead, or "
                     "zero the unit's outgoing weights.")
    n_units, n_zero = before.shape[1], int(zero.sum())
    survivors = ~zero
    if not same[:, survivors].all():
        if 0 < n_zero < n_units and torch.isclose(
                after[:, survivors], before[:, survivors] * n_units / (n_units - n_zero),
                rtol=1e-9).all():
            raise NotYet("the surviving units were rescaled (by n / (n - n_delete), as inverted "
                         "dropout does in training). Deletion at test time only silences "
                         "units: leave the others exactly as they were.")
        if n_zero == 0:
            raise NotYet("the units you deleted do not output zero. Multiply the hidden "
                         "layer's output by a 0/1 mask (after the activation).")
        raise NotYet("units you did not delete changed their output; only the deleted units "
                     "may change.")
    if n_zero != n_delete:
        raise NotYet(f"asked to delete {n_delete} of {n_units} units, your model silenced "
                     f"{n_zero}. Delete exactly n_delete units, chosen without "
                     "replacement (torch.randperm(n, generator=generator)[:n_delete]), rather "
                     "than dropping each unit with some probability.")
    return frozenset(torch.nonzero(zero).flatten().tolist())


def _check_generator(answer, model, layer: int, n_delete: int) -> None:
    first = _deleted(answer, model, layer, n_delete, seed=0)
    if _deleted(answer, model, layer, n_delete, seed=0) != first:
        raise NotYet("two calls with generators seeded alike deleted different units; draw the "
                     "random choice from the `generator` argument (torch.randperm(..., "
                     "generator=generator)), not from the global generator.")
    others = {_deleted(answer, model, layer, n_delete, seed=s) for s in (1, 2, 3, 4)}
    if others == {first}:
        if first == frozenset(range(n_delete)):
            raise NotYet("you always delete the first n_delete units; choose them at random "
                         "with the generator, so that repeats average over different units.")
        raise NotYet("every generator seed deleted the same units; the choice must depend on "
                     "the generator, so that repeats average over different units.")


@exercise("3.2", "deleting hidden units", reference=delete_units,
          fallback="return a copy of the model in which exactly n_delete units of hidden layer "
                   "`layer`, chosen with the generator, output zero also in evaluation mode, "
                   "and nothing else changes.",
          variants=known.DELETE_VARIANTS, mistakes=known.DELETE_MISTAKES)
def _check_delete(answer) -> None:
    one_layer = _probe_model(1)
    for n_delete in (3, 6, 11, 0):
        _deleted(answer, one_layer, 0, n_delete, seed=n_delete)
    _deleted(answer, _probe_model(1, activation="sigmoid"), 0, 5, seed=1, activation="sigmoid")
    _check_generator(answer, one_layer, 0, 4)
    # Hidden layer 1 of two: the permutation between them moves a unit deleted in the wrong
    # layer to another output, so both probes agree only when layer 1 itself is masked.
    permutation = torch.tensor([5, 3, 0, 11, 7, 1, 9, 2, 10, 4, 8, 6])
    straight = _deleted(answer, _probe_model(2), 1, 4, seed=7)
    permuted = _deleted(answer, _probe_model(2, permutation=permutation), 1, 4, seed=7)
    if straight != permuted:
        raise NotYet("asked for layer=1 you deleted units of another hidden layer. Hidden "
                     "layers count from 0 after the inputs; hidden layer k sits between "
                     "Linear k and Linear k + 1 (analysis.linear_positions lists them).")
    try:
        with_dropout = _probe_model(2, dropout=0.5)
        _deleted(answer, with_dropout, 1, 4, seed=8)
        _deleted(answer, with_dropout, 0, 4, seed=8)
    except NotYet as hint:
        raise NotYet(f"right on models without dropout, but on one with Dropout modules: "
                     f"{hint} Find the layers by type (analysis.linear_positions), not by a "
                     f"fixed position in the nn.Sequential.") from None
    return None


# --- 3.3: reading the deletion curves ---------------------------------------------------------

quiz("3.3", "why the dropout network degrades gracefully",
     digest="17d0cfc2a9be26489dc3261a96676bc754f3309353b4b735290be1c7d454d6b2",
     choices="abcd",
     hints={
         "0bbc82a7ea4d2bf16cc4f1134916ae7894323c234f2962e33af0222ac558d13b":
             "look at how fast each curve falls as more units are deleted, not where it "
             "starts: a head start in accuracy does not make a curve any flatter.",
         "1312b97483870f5f7c076076a7b22e013bd693d4030ed8198a8d905bf34a503f":
             "the deletion curves are measured in evaluation mode, where a dropout layer is "
             "the identity: at test time the dropout network drops nothing.",
         "bc89ef5fc05b3cceff233adbd6e402b48853ab0af82b2cd9c34c1bd2fa46ea5f":
             "delete_units never rescales: it silences the chosen units and leaves the others "
             "exactly as they were (as your own Exercise 3.2 does).",
     })
