"""Checks for chapter 2, dropout from scratch (exercises 2.1 to 2.5).

Each check runs the learner's code on several drop rates, on large inputs (see `masks`), and
looks for the mistakes learners make, one hint each, including masks that keep a fixed number
of entries instead of drawing each one independently.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...by_hand import bernoulli_mask, dropout_backward
from ...functional import dropout
from ...layers import Dropout
from ..helpers import close, generator
from ..quizzes import quiz
from ..registry import exercise
from ..verdicts import NotYet, call
from . import ch02_answers as known
from . import ch02_module_answers as module_known
from .dropout_contract import check_autograd, check_bad_p, check_randomness
from .masks import (
    RATES,
    SAME_MASK_HINT,
    SHAPE,
    call_at_p_one,
    check_count_spread,
    check_fraction,
    check_independent,
    check_not_modified,
    check_output_tensor,
    check_p_one,
    check_scale,
    dropped_fraction,
    input_tensor,
)

# --- 2.1: a Bernoulli mask in NumPy ---------------------------------------------------------

@exercise("2.1", "a Bernoulli mask", reference=bernoulli_mask,
          fallback="keep each entry independently with probability 1 - p, drawing from rng.",
          variants=known.MASK_VARIANTS, mistakes=known.MASK_MISTAKES)
def _check_mask(answer) -> None:
    n = SHAPE[0] * SHAPE[1]
    for p in RATES:
        mask = call(answer, SHAPE, p, np.random.default_rng(0))
        if mask is None or isinstance(mask, torch.Tensor):
            raise NotYet(f"return a NumPy array, got {type(mask).__name__}.")
        mask = np.asarray(mask)
        if mask.shape != SHAPE:
            raise NotYet(f"the mask should have the requested shape {SHAPE}, got {mask.shape}.")
        values = set(np.unique(mask).tolist())
        if not values <= {0, 1}:
            if len(values) == 2 and np.isclose(max(values), 1 / (1 - p)) and 0 in values:
                raise NotYet("your mask holds 0 and 1/(1 - p): the mask itself is just zeros and "
                             "ones; the rescaling belongs to the forward pass.")
            raise NotYet("the mask should hold only 0 (dropped) and 1 (kept), or False and True; "
                         "compare the uniform numbers with the keep probability.")
        kept = torch.as_tensor(mask != 0)
        check_independent(kept)
        check_fraction(dropped_fraction(kept), p, n)
    for p, want in ((0.0, 1), (1.0, 0)):
        mask = np.asarray(call(answer, (50, 40), p, np.random.default_rng(1)))
        if mask.shape != (50, 40) or not bool(np.all(mask == want)):
            raise NotYet(f"at p = {p:g} every entry should be {want} ("
                         f"{'nothing' if want else 'everything'} is dropped).")
    first = np.asarray(call(answer, SHAPE, 0.3, np.random.default_rng(7)))
    again = np.asarray(call(answer, SHAPE, 0.3, np.random.default_rng(7)))
    other = np.asarray(call(answer, SHAPE, 0.3, np.random.default_rng(8)))
    if not np.array_equal(first, again) or np.array_equal(first, other):
        raise NotYet("the same rng seed should give the same mask and another seed another mask: "
                     "draw the random numbers from the rng argument (rng.random(shape)), not "
                     "from np.random.")
    rng = np.random.default_rng(3)
    check_count_spread(lambda: np.asarray(call(answer, (20, 25), 0.3, rng)), 500, 0.3)


# --- 2.2: the dropout function --------------------------------------------------------------

def _check_training_output(out, x: torch.Tensor, before: torch.Tensor, p: float,
                           n: int) -> torch.Tensor:
    """One training-mode output of 2.2 or 2.4: the input intact, a tensor like `x`, each
    element dropped independently at rate p, the kept ones scaled; returns the kept mask."""
    check_not_modified(x, before)
    out = check_output_tensor(out, x, p)
    kept = out != 0
    check_independent(kept)
    check_fraction(dropped_fraction(kept), p, n)
    check_scale(out, x, p)
    return kept


def _dropout_statistics(answer) -> None:
    """Training mode at several p: the fraction, the scale, independence, the input intact."""
    n = SHAPE[0] * SHAPE[1]
    x = input_tensor()
    for p in RATES:
        before = x.clone()
        _check_training_output(call(answer, x, p, training=True, generator=generator(1)),
                               x, before, p, n)
    small = input_tensor((3, 4, 5), dtype=torch.float32)
    out = call(answer, small, 0.3, training=True, generator=generator(2))
    check_output_tensor(out, small, 0.3)
    few, draws = input_tensor((20, 25)), generator(9)
    check_count_spread(lambda: call(answer, few, 0.3, training=True, generator=draws), 500, 0.3)


def _dropout_modes(answer) -> None:
    """Evaluation mode, the default mode, p = 0 and p = 1."""
    x = input_tensor()
    out = call(answer, x, 0.3, training=False, generator=generator(3))
    if not isinstance(out, torch.Tensor) or not torch.equal(out, x):
        if isinstance(out, torch.Tensor) and out.shape == x.shape and bool((out == 0).any()):
            raise NotYet("with training=False your function still drops entries. In evaluation "
                         "mode dropout is the identity: return x unchanged.")
        raise NotYet("with training=False the output should equal the input exactly: no mask "
                     "and no rescaling in evaluation mode (with inverted dropout, the scaling "
                     "happens during training only).")
    out = call(answer, x, 0.3)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape or not bool((out == 0).any()):
        raise NotYet("called as f(x, p) your function did not drop anything: training should "
                     "default to True, as in torch.nn.functional.dropout.")
    out = call(answer, x, 0.0, training=True, generator=generator(4))
    if not isinstance(out, torch.Tensor) or not torch.equal(out, x):
        raise NotYet("at p = 0 nothing is dropped and the scale is 1: the output should equal "
                     "the input.")
    before = x.clone()
    out = call_at_p_one(answer, x, 1.0, training=True, generator=generator(5))
    check_not_modified(x, before)
    check_p_one(out, x)


@exercise("2.2", "dropout by hand", reference=dropout,
          fallback="drop each element independently with probability p and divide the kept "
                   "ones by 1 - p, in training mode only.",
          variants=known.DROPOUT_VARIANTS, mistakes=known.DROPOUT_MISTAKES)
def _check_dropout(answer) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(41)  # calls without a generator draw from here, reproducibly
        _dropout_statistics(answer)
        _dropout_modes(answer)
        check_randomness(answer)
        check_autograd(answer)
        check_bad_p(answer)


# --- 2.3: the backward pass ---------------------------------------------------------------

@exercise("2.3", "the backward pass", reference=dropout_backward,
          fallback="by the chain rule, dL/dx is grad_output times dy/dx; work dy/dx out from "
                   "the forward pass of inverted dropout, one entry at a time.",
          variants=known.BACKWARD_VARIANTS, mistakes=known.BACKWARD_MISTAKES)
def _check_backward(answer) -> None:
    grad_output = input_tensor((50, 40), seed=1)
    uniform = torch.rand((50, 40), generator=generator(2), dtype=torch.float64)
    for p in (0.2, 0.7, 0.5, 0.0):
        mask = (uniform < 1 - p).to(torch.float64)
        grad_before, mask_before = grad_output.clone(), mask.clone()
        got = call(answer, grad_output, mask, p)
        if not (torch.equal(grad_output, grad_before) and torch.equal(mask, mask_before)):
            raise NotYet("your function changed grad_output or mask in place; return a new "
                         "tensor.")
        if not isinstance(got, torch.Tensor):
            raise NotYet(f"return a torch.Tensor, got {type(got).__name__}.")
        if got.shape != grad_output.shape:
            raise NotYet(f"the gradient should have the shape of grad_output "
                         f"{tuple(grad_output.shape)}, got {tuple(got.shape)}.")
        if close(got, grad_output * mask / (1 - p)):
            continue
        wrong = [
            (grad_output * mask, "you forgot the scale: the forward pass multiplied the kept "
             "units by 1/(1 - p), so their gradient is scaled by 1/(1 - p) too."),
            (grad_output * mask * (1 - p), "you multiplied by 1 - p; the forward pass divides "
             "by 1 - p, so the gradient is divided by 1 - p as well."),
            (grad_output / (1 - p), "you ignored the mask: a dropped unit did not touch the "
             "output, so its gradient is zero. Multiply by the mask."),
            (grad_output * mask / p, "you divided by p: with p the drop probability, the scale "
             "is 1/(1 - p)."),
            (grad_output, "that is grad_output unchanged; by the chain rule it is multiplied by "
             "the derivative of dropout's forward pass."),
            (mask / (1 - p), "that is the local derivative of dropout alone; by the chain rule "
             "it multiplies the upstream gradient, grad_output."),
        ]
        for candidate, hint in wrong:
            if close(got, candidate):
                raise NotYet(f"with p = {p}, {hint}")
        raise NotYet()


# --- 2.4: a Dropout module ------------------------------------------------------------------

class _StubDropout(nn.Module):
    """What the notebook's stub cell defines."""

    def __init__(self, p=0.5):
        super().__init__()
        raise NotImplementedError("Exercise 2.4: your code here")


@exercise("2.4", "a Dropout module", reference=Dropout, stub=_StubDropout,
          fallback="in training mode drop each element independently with probability p and "
                   "divide the kept ones by 1 - p; in evaluation mode return x unchanged.",
          variants=module_known.MODULE_VARIANTS, mistakes=module_known.MODULE_MISTAKES)
def _check_module(answer) -> None:
    if not (isinstance(answer, type) and issubclass(answer, nn.Module)):
        raise NotYet("pass the class itself (check('2.4', Dropout)), a subclass of "
                     "torch.nn.Module, not an instance or a function.")
    n = SHAPE[0] * SHAPE[1]
    x = input_tensor()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(31)
        for p in (0.2, 0.7):
            layer = call(answer, p)
            if not isinstance(layer, nn.Module):
                raise NotYet("Dropout(p) should build a torch.nn.Module.")
            layer.train()
            before = x.clone()
            kept = _check_training_output(call(layer, x), x, before, p, n)
            if torch.equal(kept, call(layer, x) != 0):
                raise NotYet(SAME_MASK_HINT)
            layer.eval()
            out = call(layer, x)
            if not isinstance(out, torch.Tensor) or not torch.equal(out, x):
                if isinstance(out, torch.Tensor) and bool((out == 0).any()):
                    raise NotYet("after layer.eval() your layer still drops units. Read "
                             "self.training in forward: in evaluation mode return x unchanged.")
                raise NotYet("after layer.eval() the output should equal the input: no mask and "
                             "no rescaling in evaluation mode.")
            layer.train()
            if not bool((call(layer, x) == 0).any()):
                raise NotYet("after layer.train() the layer should drop again. Decide in forward, "
                             "from self.training, not once in __init__.")
        network = nn.Sequential(nn.Identity(), call(answer, 0.5))
        network.eval()
        if not torch.equal(call(network, x), x):
            raise NotYet("model.eval() on a network that contains your layer did not switch it "
                         "off. Do not write your own eval(); use self.training, which "
                         "nn.Module's train() and eval() set for every layer.")
        network.train()
        check_fraction(dropped_fraction(call(network, x) != 0), 0.5, n)
        out = call(call(answer), x)
        if not isinstance(out, torch.Tensor) or abs(dropped_fraction(out != 0) - 0.5) > 0.01:
            raise NotYet("Dropout() without an argument should use p = 0.5, as torch.nn.Dropout "
                         "does.")
        out = call_at_p_one(call(answer, 1.0), x)
        check_p_one(out, x)
        layer, few = call(answer, 0.3), input_tensor((20, 25))
        check_count_spread(lambda: call(layer, few), 500, 0.3)
        x_grad = input_tensor((60, 50)).requires_grad_()
        out = call(call(answer, 0.3), x_grad)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise NotYet("the output does not require grad although the input does: you broke "
                         "autograd. Compute the output from x with torch operations.")
    for p in (-0.1, 1.5):
        try:
            answer(p)
        except ValueError:
            continue
        except Exception as err:  # noqa: BLE001
            raise NotYet(f"Dropout({p}) should raise ValueError, not {type(err).__name__}.") \
                from None
        raise NotYet(f"Dropout({p}) was accepted; raise ValueError in __init__ when p is "
                     "outside [0, 1], as torch.nn.Dropout does.")


# --- 2.5: what p means ----------------------------------------------------------------------

quiz("2.5", "what p means",
     digest="eb736af0bc3bd57d21cfdb41aecd9630ee813a1d087c44b87487ad77f458a74d",
     choices="abcd",
     hints={
         "68279278eb8a3c8725fee57fcaf7d864d4c5d2b9218ecd65e81924360ae20e4a":
             "in the paper's notation p is the probability of KEEPING a unit; which probability "
             "does torch.nn.Dropout's p count?",
         "4701e6335d8e9368dcd48b683cb7fe76760260479215ab8ecc0c845497e7ddc6":
             "in evaluation mode a dropout layer does nothing, whatever its p; the paper's "
             "dropout acts during training. Which probability does torch.nn.Dropout's p count?",
         "7454ccc4876d0152a4b1365306df67079dacdfdacfaea47581ae535717fe7f82":
             "p is a probability, so it lies in [0, 1] (nn.Dropout(1.25) raises ValueError); "
             "1 / 0.8 is the factor that rescales kept units, not a rate.",
     })
