"""Checks for chapter 5, scaling at inference (exercises 5.1 to 5.5)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...functional import dropout
from ...inference import looks_like_training_mode, scale_weights_for_inference
from ...layers import Dropout
from ...mc import mc_average
from ...regression import dropout_regression_weights
from ..helpers import as_tensor, close
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch05_answers as known


def _tensor(value, what: str) -> torch.Tensor:
    """The learner's tensor or array, dtype kept; a hint for anything else."""
    if not isinstance(value, torch.Tensor | np.ndarray):
        raise NotYet(f"{what} should be a tensor, got {type(value).__name__}.")
    return as_tensor(value, what)


# --- 5.1: converting a layer trained with standard dropout -------------------------------------

def _layer_cases():
    generator = torch.Generator().manual_seed(51)
    for p, n_out, n_in in ((0.2, 3, 4), (0.7, 5, 2), (0.5, 1, 6), (0.35, 4, 4)):
        weight = torch.randn(n_out, n_in, dtype=torch.float64, generator=generator)
        bias = torch.randn(n_out, dtype=torch.float64, generator=generator) + 0.5
        yield p, weight, bias


@exercise("5.1", "convert standard dropout for inference", reference=scale_weights_for_inference,
          fallback="in training this layer saw, on average, only part of its inputs; at test "
                   "time all of them are present. Make up for that where the dropout mask "
                   "acted, and leave the rest of the layer as it was.",
          variants=known.INFERENCE_VARIANTS, mistakes=known.INFERENCE_MISTAKES)
def _check_inference_weights(answer) -> None:
    for p, weight, bias in _layer_cases():
        given_weight, given_bias = weight.clone(), bias.clone()
        got = call(answer, given_weight, given_bias, p)
        if not torch.equal(given_weight, weight) or not torch.equal(given_bias, bias):
            raise NotYet("your function changed the tensors it was given (an in-place `*=` or "
                         "`mul_`); return new tensors and leave the trained ones as they are.")
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise NotYet("return the pair (weight, bias) for the test-time layer.")
        new_weight, new_bias = _tensor(got[0], "The weight"), _tensor(got[1], "The bias")
        if new_weight.shape != weight.shape or new_bias.shape != bias.shape:
            raise NotYet("keep the shapes: the weight stays (n_out, n_in), the bias (n_out,).")
        keep = 1.0 - p
        weight_ok = close(new_weight, weight * keep)
        if weight_ok and close(new_bias, bias):
            continue
        if weight_ok and close(new_bias, bias * keep):
            raise NotYet("the bias was scaled too. The bias is added after the weighted sum and "
                         "never sat behind a dropout mask, so it stays as it is.")
        if close(new_weight, weight * p):
            raise NotYet("that is the weight times p, the *drop* probability; at test time the "
                         "weights are multiplied by the keep probability 1 - p.")
        if close(new_weight, weight / keep):
            raise NotYet("dividing by 1 - p is what inverted dropout does *during training*. "
                         "This layer was trained with standard dropout (no scaling in "
                         "training), so at test time its weights are multiplied by 1 - p.")
        if close(new_weight, weight * keep**2):
            raise NotYet("the weights were scaled twice (by (1 - p)**2); one factor 1 - p "
                         "makes up for the units that were missing on average in training.")
        if close(new_weight, weight):
            raise NotYet("the weights are unchanged: in training this layer saw on average only "
                         "a fraction 1 - p of its inputs, so at test time, with every input "
                         "present, its weights must be scaled by 1 - p.")
        raise NotYet()


# --- 5.3: the Monte-Carlo predictor -----------------------------------------------------------

class _ScriptedNet(nn.Module):
    """A stand-in classifier with one dropout layer: while that layer is in training mode each
    pass returns the next row of a script of logits (as if a new mask were drawn each time);
    in evaluation mode always the same logits. A batch of k copies of x (one batched pass of k
    samples) gets the next k rows, stacked in the order `x.repeat(k, 1)` makes."""

    def __init__(self, script: torch.Tensor, eval_logits: torch.Tensor) -> None:
        super().__init__()
        self.script, self.eval_logits = script, eval_logits
        self.dropout = Dropout(0.5)  # never applied: its mode says whether to sample
        self.calls = 0  # samples drawn, whether one per pass or k in one batched pass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = self.eval_logits.shape[0]
        if x.shape[0] % batch:
            raise NotYet("call the model on the inputs x as they are, once per sample: "
                         f"expected a batch of {batch}, got {x.shape[0]}.")
        if not self.dropout.training:
            return self.eval_logits.repeat(x.shape[0] // batch, 1)
        rows = []
        for _ in range(x.shape[0] // batch):
            rows.append(self.script[self.calls % len(self.script)].clone())
            self.calls += 1
        return torch.cat(rows)


def _scripts():
    generator = torch.Generator().manual_seed(52)
    for n_samples, batch, n_classes in ((5, 4, 3), (12, 6, 10), (1, 3, 4), (7, 2, 5)):
        script = 3.0 * torch.randn(n_samples + 2, batch, n_classes, dtype=torch.float64,
                                   generator=generator)
        eval_logits = script[: n_samples + 2].mean(0) + 0.7
        yield n_samples, script, eval_logits


@exercise("5.3", "the Monte-Carlo predictor", reference=mc_average,
          fallback="average the class probabilities of n_samples passes with dropout on, then "
                   "leave the model in evaluation mode.",
          variants=known.MC_VARIANTS, mistakes=known.MC_MISTAKES)
def _check_mc_average(answer) -> None:
    for n_samples, script, eval_logits in _scripts():
        net = _ScriptedNet(script, eval_logits).eval()
        x = torch.zeros(eval_logits.shape[0], 8, dtype=torch.float64)
        got = _tensor(call(answer, net, x, n_samples), "The prediction")
        if net.training or net.dropout.training:
            raise NotYet("the model was left in training mode after your function returned; "
                         "put it back in evaluation mode (`model.eval()`) when you are done, or "
                         "every later prediction will be random.")
        if got.shape != eval_logits.shape:
            raise NotYet(f"return class probabilities of shape (batch, n_classes) = "
                         f"{tuple(eval_logits.shape)}, got {tuple(got.shape)}.")
        probs = torch.softmax(script, -1)
        want = probs[:n_samples].mean(0)
        if close(got, want):
            continue
        if net.calls == 0 or close(got, torch.softmax(eval_logits, -1)):
            raise NotYet("every pass gave the same output: the model is in evaluation mode, "
                         "where dropout is off. Switch it to training mode (`model.train()`) "
                         "before sampling.")
        if n_samples > 1 and close(got, torch.softmax(script[:n_samples].mean(0), -1)):
            raise NotYet("you averaged the logits and applied softmax once. The Monte-Carlo "
                         "ensemble averages the members' *probabilities*: apply softmax to each "
                         "pass, then take the mean.")
        if close(got, script[:n_samples].mean(0)):
            raise NotYet("that is the mean of the raw outputs (logits); turn each pass into "
                         "probabilities with a softmax over the classes before averaging.")
        if close(got, probs[:n_samples].sum(0)):
            raise NotYet("the rows add up to n_samples, not to one: divide the sum by the number "
                         "of samples.")
        if close(got, torch.softmax(script, 1)[:n_samples].mean(0)):
            raise NotYet("each pass's softmax ran over the batch (dim=0 of its (batch, n_classes) "
                         "logits); take it over the classes, dim=-1, before averaging.")
        if net.calls != n_samples:
            raise NotYet(f"asked for {n_samples} samples, your function ran the model "
                         f"{net.calls} times; use exactly n_samples forward passes.")
        raise NotYet()


# --- 5.2: a model left in training mode -------------------------------------------------------

def _predictors():
    """(predict, expected answer, what it is): black boxes around small fixed networks, built
    from a private generator so that checking leaves the global random state alone."""
    generator = torch.Generator().manual_seed(53)

    def randn(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=generator)

    x = randn(32, 6)

    def network(p: float, training: bool):
        w1, b1, w2 = randn(6, 16), randn(16), randn(16, 3)

        def predict(inputs):
            hidden = torch.relu(inputs @ w1 + b1)
            return dropout(hidden, p, training=training, generator=generator) @ w2

        return predict

    return x, [
        (network(0.5, True), True, "dropout on"),
        (network(0.5, False), False, "dropout off"),
        (network(0.1, True), True, "dropout on"),
        (network(0.0, True), False, "no dropout"),
        (network(0.3, False), False, "dropout off"),
    ]


@exercise("5.2", "a model left in training mode", reference=looks_like_training_mode,
          fallback="judge predict by its outputs alone: what does a dropout network in "
                   "training mode do that one in evaluation mode does not?",
          variants=known.MODE_VARIANTS, mistakes=known.MODE_MISTAKES)
def _check_training_mode(answer) -> None:
    x, cases = _predictors()
    for predict, expected, kind in cases:
        try:
            got = call(answer, predict, x.clone())
        except NotYet as err:
            if "AttributeError" in str(err):
                raise NotYet("`predict` is a plain function, not a module, so it has no "
                             "`.training` flag to read: judge it by its outputs alone.") from None
            raise
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, bool | np.bool_):
            raise NotYet(f"return True or False, got {type(got).__name__}.")
        if bool(got) == expected:
            continue
        if expected:
            raise NotYet("a model left in training mode draws a new dropout mask on every call, "
                         "so two calls on the same input give different outputs; your function "
                         "missed that. Call predict twice on the same x and compare.")
        raise NotYet(f"this model ({kind}) is deterministic: two calls on the same input give "
                     "exactly the same output, as in evaluation mode or without dropout. "
                     "Compare two calls rather than looking for zeros or particular values.")


# --- 5.5: dropout in linear regression --------------------------------------------------------

def _regression_cases():
    rng = np.random.default_rng(54)
    for n, d, p in ((40, 3, 0.2), (60, 5, 0.6), (25, 4, 0.5), (80, 2, 0.9)):
        mixing = rng.normal(size=(d, d)) + np.eye(d)
        x = rng.normal(size=(n, d)) @ mixing * rng.uniform(0.5, 3.0, size=d)
        y = x @ rng.normal(size=d) + rng.normal(size=n)
        yield torch.as_tensor(x), torch.as_tensor(y[:, None]), p


@exercise("5.5", "dropout as a data-dependent L2 penalty", reference=dropout_regression_weights,
          fallback="the expected squared error under inverted input dropout is least squares "
                   "plus a penalty; work its matrix out from the variance that a dropped, "
                   "rescaled input adds, then solve the normal equations.",
          variants=known.RIDGE_VARIANTS, mistakes=known.RIDGE_MISTAKES)
def _check_regression(answer) -> None:
    for x, y, p in _regression_cases():
        got = _tensor(call(answer, x.clone(), y.clone(), p), "The weight vector").reshape(-1)
        want = dropout_regression_weights(x, y, p)
        if got.shape != want.shape:
            raise NotYet(f"return one weight per feature: {len(want)} numbers, got "
                         f"{got.numel()}.")
        if close(got, want):
            continue
        gram, target = x.T @ x, x.T @ y.reshape(-1)
        diagonal = torch.diag(torch.diagonal(gram))

        def solve(matrix, target=target):
            return torch.linalg.solve(matrix, target)

        keep = 1.0 - p
        if close(got, solve(gram + keep / p * diagonal)):
            raise NotYet("the penalty factor is upside down: with p the *drop* probability "
                         "(PyTorch's convention) it is p / (1 - p). The papers write p for the "
                         "keep probability, hence (1 - p) / p there.")
        if close(got, solve(gram)):
            raise NotYet("that is ordinary least squares: the dropout noise adds a penalty to "
                         "X^T X, which this solution leaves out.")
        if close(got, solve(gram + p / keep * torch.eye(len(gram), dtype=gram.dtype))):
            raise NotYet("the penalty is not the same for every weight: each weight is "
                         "penalised in proportion to its feature's squared norm, the diagonal "
                         "of X^T X, not the identity.")
        if close(got, solve(gram + p / keep * gram)):
            raise NotYet("use only the diagonal of X^T X in the penalty (torch.diag of "
                         "torch.diagonal), not the whole matrix.")
        if close(got, want / keep) or close(got, want * keep):
            raise NotYet("off by a factor of the keep probability: this is inverted dropout, "
                         "whose weights are used as they are at test time.")
        if close(got, solve(gram + p * keep * diagonal)):
            raise NotYet("p (1 - p) is the variance of a Bernoulli mask, but with inverted "
                         "dropout each input is also divided by 1 - p: the penalty factor "
                         "becomes p / (1 - p).")
        raise NotYet()


quiz("5.4", "where dropout goes with batch normalisation",
     digest="b5f534c81297170e55d78e8a0877bd4e6f429fa915820817bde8cfe30c484202",
     choices="abcd",
     hints={
         "118edb9b7e74ead4a9b415ebd70dd2d94d481e14b6bb0cae9a1635c7b0da248c":
             "a BatchNorm layer after a dropout stores the variance of dropped activations "
             "for test time, where nothing is dropped: what does it then normalise with?",
         "ceca2fd908ecb1e975aadc2da7a74cd676d88a157c2e16a1c9051e201c1d1a29":
             "dropout keeps the mean but not the variance, and BatchNorm keeps running "
             "statistics of both for test time.",
         "7d1b96ad2ef9cc6e6a6ab8ee11ae63b60c717e2768c1d56a2dfd33d8949a39e6":
             "in training mode at test time every prediction is random (a new mask on every "
             "call) and BatchNorm normalises with the test batch's own statistics: is that "
             "a fix, or two new problems?",
     })
