"""Checks for chapter 6, MC-dropout uncertainty (exercises 6.1 to 6.3)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ...layers import Dropout
from ...mc import mc_predict
from ...uncertainty import coverage
from ..helpers import as_number
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch06_answers as known

# --- 6.1: the batched MC predictor ---------------------------------------------------------------


def _net_with_known_moments(kind: str) -> nn.Sequential:
    """`deterministic part -> Dropout(p) -> Linear`: the MC mean and spread have closed forms."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(6)
        if kind == "tanh":
            net = nn.Sequential(nn.Linear(3, 16, dtype=torch.float64), nn.Tanh(), Dropout(0.3),
                                nn.Linear(16, 2, dtype=torch.float64))
            with torch.no_grad():
                net[3].weight.mul_(4.0)  # spreads well away from 1, so std and variance differ
        else:
            net = nn.Sequential(nn.Linear(1, 8, dtype=torch.float64),
                                nn.BatchNorm1d(8, dtype=torch.float64), nn.ReLU(), Dropout(0.5),
                                nn.Linear(8, 1, dtype=torch.float64))
            net[1].running_mean.fill_(0.3)  # running statistics unlike any batch's statistics
            net[1].running_var.fill_(0.05)
    return net


def _exact_moments(net: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and sd of $W (m \\odot h)/(1-p) + b$, $m_j \\sim$ Bernoulli(1 - p), per output."""
    modes = [m.training for m in net.modules()]
    net.eval()
    with torch.no_grad():
        hidden = net[:-2](x)
        p, last = net[-2].p, net[-1]
        mean = last(hidden)
        std = ((hidden**2) @ (last.weight**2).T * p / (1 - p)).sqrt()
    for module, mode in zip(net.modules(), modes, strict=True):
        module.training = mode
    return mean, std


def _cases() -> list[tuple[nn.Sequential, torch.Tensor, int, bool]]:
    """(model, x, samples, starts in training mode): several shapes, T != n, both start modes."""
    gen = torch.Generator().manual_seed(60)
    return [
        (_net_with_known_moments("tanh"), torch.randn(5, 3, generator=gen, dtype=torch.float64),
         3000, False),
        (_net_with_known_moments("batchnorm"),
         torch.linspace(-2, 2, 4, dtype=torch.float64)[:, None], 2000, True),
        (_net_with_known_moments("tanh"), torch.randn(1, 3, generator=gen, dtype=torch.float64),
         2500, True),
    ]


def _as_pair(result) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(result, tuple | list) and len(result) == 2
            and all(isinstance(t, torch.Tensor) for t in result)):
        raise NotYet("return a pair of tensors, (mean, std).")
    return result[0].detach(), result[1].detach()


def _close(a: torch.Tensor, b: torch.Tensor, atol: torch.Tensor | float, rtol: float = 0.0
           ) -> bool:
    return a.shape == b.shape and bool(((a - b).abs() <= atol + rtol * b.abs()).all())


def _run_one(answer: Callable, net: nn.Sequential, x: torch.Tensor, samples: int,
             seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Call the answer once and check everything it must leave as it found it."""
    modes = {name: m.training for name, m in net.named_modules()}
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d)]
    stats = [(m.running_mean.clone(), m.running_var.clone()) for m in norms]
    calls = []
    hook = net.register_forward_hook(lambda module, args, out: calls.append(1))
    try:
        got = _as_pair(call(answer, net, x, samples,
                            generator=torch.Generator().manual_seed(seed)))
    finally:
        hook.remove()
    if any(not torch.equal(m.running_mean, s[0]) or not torch.equal(m.running_var, s[1])
           for m, s in zip(norms, stats, strict=True)):
        raise NotYet("the BatchNorm layer updated its running statistics: `model.train()` "
                     "switches BatchNorm to batch statistics as well. Put the model in eval "
                     "mode and switch only the dropout layers to train mode.")
    after = {name: m.training for name, m in net.named_modules()}
    if after != modes:
        if all(after.values()):
            raise NotYet("the model is left in train mode afterwards; remember each module's "
                         "mode before you start and restore it at the end.")
        raise NotYet("the model's modes are not the same afterwards as before; remember each "
                     "module's `training` flag and restore it (the model may have been in "
                     "train mode when it was given to you).")
    if any(isinstance(m, Dropout) and m.generator is not None for m in net.modules()):
        raise NotYet("a dropout layer still holds your generator afterwards; put its old "
                     "`generator` attribute back when you are done.")
    if len(calls) >= samples:
        raise NotYet(f"the model was called {len(calls)} times for {samples} samples: that "
                     "is the loop. Repeat x `samples` times along the batch dimension and make "
                     "one forward pass.")
    return got


@exercise("6.1", "MC dropout in one batched pass", reference=mc_predict,
          fallback="follow the four steps of the exercise: modes and generators set and put "
                   "back, one pass on the repeated input, mean and spread over the samples.",
          variants=known.MC_VARIANTS, mistakes=known.MC_MISTAKES)
def _check_mc_predict(answer) -> None:
    for index, (net, x, samples, start_training) in enumerate(_cases()):
        net.train(start_training)
        mean, std = _run_one(answer, net, x, samples, seed=index)
        want_mean, want_std = _exact_moments(net, x)
        if mean.shape != want_mean.shape or std.shape != want_std.shape:
            if mean.shape[:1] == (samples,):
                raise NotYet(f"mean has shape {tuple(mean.shape)}: you averaged over the inputs; "
                             "average over the samples axis, so the result is shaped like "
                             "model(x).")
            raise NotYet(f"mean and std should be shaped like model(x), {tuple(want_mean.shape)}; "
                         f"got {tuple(mean.shape)} and {tuple(std.shape)}.")
        if bool((std.abs() < 1e-12).all()):
            with torch.no_grad():
                plain = net.eval()(x)
            net.train(start_training)
            if _close(mean, plain, 1e-9):
                raise NotYet("the spread is zero and the mean is the eval-mode prediction: "
                             "dropout was off. Switch the dropout layers to train mode for "
                             "the forward pass.")
            raise NotYet("the spread is zero but dropout was on: every sample used the same "
                         "mask. Repeat the *input* before the forward pass (not the output "
                         "after it), so that each copy gets its own mask.")
        tolerance = 6 * want_std / math.sqrt(samples) + 1e-9
        if _close(mean, want_std, 0.1, 0.1) and _close(std, want_mean, tolerance + 0.1, 0.1):
            raise NotYet("mean and std come back swapped; return (mean, std).")
        if not _close(mean, want_mean, tolerance):
            raise NotYet("the mean is not the average of each input's own samples. If you "
                         "used x.repeat(samples, ...), copy t of the batch sits in rows "
                         "t*n .. (t+1)*n - 1, so reshape the output to (samples, n, ...).")
        if _close(std, want_std**2, 0.1 * want_std**2):
            raise NotYet("that looks like the variance; return the standard deviation "
                         "(its square root).")
        if _close(std, want_std.sqrt(), 0.1 * want_std.sqrt()):
            raise NotYet("that looks like the square root of the standard deviation; return "
                         "the standard deviation of the samples.")
        if _close(std, want_std / math.sqrt(samples), 0.1 * want_std / math.sqrt(samples)):
            raise NotYet("that is the standard error of the mean (std / sqrt(T)); return the "
                         "spread of the samples themselves.")
        if not _close(std, want_std, 0.1 * want_std):
            raise NotYet("the spread is off; take the standard deviation over the samples "
                         "axis (axis 0 of the (samples, n, ...) output).")
    # Reproducibility: the masks must come from the generator that is passed in.
    net, x, samples, _ = _cases()[0]
    net.eval()
    first, again, other = (_run_one(answer, net, x, 50, seed=s)[0] for s in (11, 11, 12))
    if not torch.equal(first, again):
        raise NotYet("two calls with generators seeded alike gave different results: the "
                     "`generator` was ignored. Set it as the `generator` attribute of each "
                     "course `Dropout` layer for the call.")
    if torch.equal(first, other):
        raise NotYet("generators with different seeds gave the same result; draw the masks "
                     "from the generator you are given.")


# --- 6.3: coverage of a central interval --------------------------------------------------------


def _coverage_data() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(62)
    sets = []
    for n in (200, 37):
        mean = torch.randn(n, 1, generator=gen, dtype=torch.float64)
        std = torch.where(torch.arange(n)[:, None] % 2 == 0, 0.4, 3.0).double()
        z_scores = 1.6 * torch.randn(n, 1, generator=gen, dtype=torch.float64)
        sets.append((mean + std * z_scores, mean, std))
    return sets


def _fraction(inside: torch.Tensor) -> float:
    return inside.double().mean().item()


@exercise("6.3", "coverage of a central interval", reference=coverage,
          fallback="count the targets inside the central interval, on both sides at once, and "
                   "divide by the number of targets.",
          variants=known.COVERAGE_VARIANTS, mistakes=known.COVERAGE_MISTAKES)
def _check_coverage(answer) -> None:
    for y, mean, std in _coverage_data():
        for z in (1.96, 1.0, 1.5, 2.5):
            got = call(answer, y.clone(), mean.clone(), std.clone(), z)
            if isinstance(got, torch.Tensor) and got.shape == (1,):
                got = got[0]
            if isinstance(got, str | bytes) or getattr(got, "ndim", 0) != 0:
                raise NotYet(f"return one Python number (a fraction), got "
                             f"{type(got).__name__}; `.item()` turns a one-element tensor "
                             "into a number.")
            got = as_number(got, "the coverage", finite=True)
            error = (y - mean).abs()
            want = _fraction(error <= z * std)
            # float32 arithmetic in the answer is fine: fractions here differ by >= 1/200
            if abs(got - want) < 1e-6:
                continue
            wrong = [
                (1 - want, "that is the fraction *outside* the interval; count the targets "
                           "inside it."),
                (want * len(y), "that is a count; divide by the number of points to get a "
                                "fraction."),
                (_fraction(y - mean <= z * std), "that is a one-sided bound (y <= mean + z*std) "
                                                  "; the central interval has two sides: "
                                                  "|y - mean| <= z*std."),
                (_fraction(error <= std), "the interval ignores z; its half-width is z * std."),
                (_fraction(error <= 2 * std), "the interval is always 2 std wide on each side; "
                                              "use z * std."),
                (_fraction(error <= z * std / 2), "z is the *half*-width in standard "
                                                  "deviations: the interval is mean +- z*std, "
                                                  "not z*std in total."),
                (_fraction(error <= 2 * z * std), "the half-width is z * std, not 2 * z * std."),
                (_fraction(error <= z * std**2), "that treats std as a variance (std**2); the "
                                                 "half-width is z * std."),
                (_fraction(error <= z * std.sqrt()), "that takes a square root of std; std is "
                                                     "already a standard deviation."),
            ]
            for value, hint in wrong:
                if abs(got - value) < 1e-6 and abs(value - want) > 1e-6:
                    raise NotYet(hint)
            raise NotYet()


# --- 6.2: which model is uncertain where (a quiz) --------------------------------------------

quiz("6.2", "which model is uncertain where",
     digest="7027129dd18fa9afff8dda36b0bde0a849a33190bd1b848dd0cf835e473e417f",
     choices="abcd",
     hints={
         "7f73821ea0c2fb9c2e85c5809dc1edfd88771690d18d03d0a2aaa6f8138b4d82":
             "look at the ReLU panel far from the data: is its band as narrow there as between "
             "-4 and 4?",
         "e8bc15aeb6194b1b2f6a46175a2d8db048b9aa961c7e59d0987392cff7019349":
             "check which panel is which: which activation keeps growing linearly, and which "
             "one saturates?",
         "5bc6dfe938bfbfc7a58004ff1dc72e7b63c164b515bfd70d04580a79e1eb17e4":
             "compare the width of the band in the gap (-1 to 1) with its width at |x| = 10, "
             "in each panel.",
     })
