"""Checks for chapter 2, dropout from scratch (exercises 2.1 to 2.5).

Each check runs the learner's code on several drop rates (never only p = 0.5, where the drop
and keep probabilities coincide), on large inputs so that a fraction of dropped entries is
measured to well under one percent, and looks for the mistakes learners make, one hint each.
The learner's global random state is left as it was (`torch.random.fork_rng`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..grading import NotAttempted, NotYet, call, exercise, quiz

SHAPE = (400, 250)  # 100,000 entries: six standard deviations of a fraction are below 0.01
RATES = (0.2, 0.7, 0.5)  # 0.2 and 0.7 first: they tell the drop from the keep probability


def _tolerance(p: float, n: int) -> float:
    """Six binomial standard deviations of the fraction of n draws, plus a little slack."""
    return 6 * math.sqrt(p * (1 - p) / n) + 1e-9


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-12)


def _input(shape=SHAPE, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """Standard normal entries: none is zero, so a zero in the output means a dropped entry."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- shared hints ---------------------------------------------------------------------------

KEEP_PROB_HINT = ("with p = {p} you dropped about {dropped:.0%} of the entries instead of {p:.0%}: "
                  "you used p as the keep probability (as the papers write it). In PyTorch, and "
                  "here, p is the probability of DROPPING an entry; keep with probability 1 - p.")
INDEPENDENT_HINT = ("every {what} of the batch got the same mask. Draw one independent Bernoulli "
                    "number per element: the mask must have the full shape of x.")
SAME_MASK_HINT = ("two calls in a row gave the same mask. Draw a fresh mask on every call (do not "
                  "seed a generator, or torch.manual_seed, inside your function).")


def _dropped_fraction(kept: torch.Tensor) -> float:
    return 1.0 - kept.double().mean().item()


def _check_fraction(dropped: float, p: float, n: int) -> None:
    tolerance = _tolerance(p, n)
    if abs(dropped - p) <= tolerance:
        return
    if abs(dropped - (1 - p)) <= _tolerance(1 - p, n):
        raise NotYet(KEEP_PROB_HINT.format(p=p, dropped=dropped))
    raise NotYet(f"with p = {p} a fraction {dropped:.3f} of the entries was zeroed; each entry "
                 f"should be dropped with probability p, so about {p} of them.")


def _check_independent(kept: torch.Tensor) -> None:
    """`kept` is a (rows, columns) boolean tensor with 0 < p < 1."""
    if bool((kept == kept[0]).all()):
        raise NotYet(INDEPENDENT_HINT.format(what="example (row)")
                     + " Yours draws one mask for the whole batch and broadcasts it.")
    if bool((kept.all(dim=1) | (~kept).all(dim=1)).all()):
        raise NotYet(INDEPENDENT_HINT.format(what="feature of an example")
                     + " Yours keeps or drops whole examples.")


def _check_output_tensor(out, x: torch.Tensor, p: float) -> torch.Tensor:
    """The output is a tensor of x's shape and dtype, and not the mask itself."""
    if not isinstance(out, torch.Tensor):
        raise NotYet(f"return a torch.Tensor, got {type(out).__name__}.")
    if out.shape != x.shape:
        raise NotYet(f"the output should have the input's shape {tuple(x.shape)}, got "
                     f"{tuple(out.shape)}.")
    if out.dtype == torch.bool:
        raise NotYet("you returned the mask (a boolean tensor); return the input times the mask, "
                     "rescaled.")
    if not torch.isfinite(out).all():
        raise NotYet(f"with p = {p} the output holds NaN or inf although the input is finite.")
    nonzero = out[out != 0]
    if nonzero.numel() > 1 and bool((nonzero == nonzero[0]).all()):
        raise NotYet("every kept entry has the same value: you returned the mask (perhaps "
                     "scaled), not the output. Multiply the input by the mask.")
    if out.dtype != x.dtype:
        raise NotYet(f"the output should keep the input's dtype ({x.dtype}), got {out.dtype}. "
                     "Build the mask with the input's dtype, for example with torch.rand_like.")
    return out


def _check_scale(out: torch.Tensor, x: torch.Tensor, p: float) -> None:
    """Kept entries must be x / (1 - p)."""
    kept = out != 0
    got, base = out[kept], x[kept]
    if _close(got, base / (1 - p)):
        return
    if _close(got, base):
        raise NotYet(f"the kept entries equal the input (tried p = {p}): you forgot to rescale. "
                     "Divide the kept entries by 1 - p, so that the expected output equals the "
                     "input.")
    if _close(got, base * (1 - p)):
        raise NotYet(f"the kept entries are the input times 1 - p (tried p = {p}); rescale the "
                     "other way: divide by 1 - p (multiply by 1/(1 - p)).")
    if _close(got, base / p):
        raise NotYet(f"the kept entries are divided by p (tried p = {p}): you used p as the keep "
                     "probability. Divide by the keep probability, 1 - p.")
    raise NotYet(f"with p = {p} a kept entry should be the input divided by 1 - p, "
                 f"that is times {1 / (1 - p):.4g}.")


def _check_not_modified(x: torch.Tensor, before: torch.Tensor) -> None:
    if not torch.equal(x, before):
        raise NotYet("your function changed its input x in place. Leave x as it is and return a "
                     "new tensor (no x *= ..., x[...] = 0 or mul_).")


def _check_p_one(out, x: torch.Tensor) -> None:
    if isinstance(out, torch.Tensor) and out.shape == x.shape and torch.isnan(out).any():
        raise NotYet("at p = 1 the output holds NaN: 0 * x / (1 - p) is 0/0. Treat p = 1 "
                     "separately (everything is dropped: return zeros).")
    if not (isinstance(out, torch.Tensor) and out.shape == x.shape and bool((out == 0).all())):
        raise NotYet("at p = 1 every entry is dropped, so the output should be all zeros.")


def _call_at_p_one(answer, *args, **kwargs):
    try:
        return call(answer, *args, **kwargs)
    except NotYet as err:
        raise NotYet(f"at p = 1 {err} Treat p = 1 separately (everything is dropped: return "
                     "zeros) instead of dividing by 1 - p = 0.") from None


# --- 2.1: a Bernoulli mask in NumPy ---------------------------------------------------------

@exercise("2.1", "a Bernoulli mask")
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
        _check_independent(kept)
        _check_fraction(_dropped_fraction(kept), p, n)
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


# --- 2.2: the dropout function --------------------------------------------------------------

def _dropout_statistics(answer) -> None:
    """Training mode at several p: the fraction, the scale, independence, the input intact."""
    n = SHAPE[0] * SHAPE[1]
    x = _input()
    for p in RATES:
        before = x.clone()
        out = call(answer, x, p, training=True, generator=_generator(1))
        _check_not_modified(x, before)
        out = _check_output_tensor(out, x, p)
        kept = out != 0
        _check_independent(kept)
        _check_fraction(_dropped_fraction(kept), p, n)
        _check_scale(out, x, p)
    small = _input((3, 4, 5), dtype=torch.float32)
    out = call(answer, small, 0.3, training=True, generator=_generator(2))
    _check_output_tensor(out, small, 0.3)


def _dropout_modes(answer) -> None:
    """Evaluation mode, the default mode, p = 0 and p = 1."""
    x = _input()
    out = call(answer, x, 0.3, training=False, generator=_generator(3))
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
    out = call(answer, x, 0.0, training=True, generator=_generator(4))
    if not isinstance(out, torch.Tensor) or not torch.equal(out, x):
        raise NotYet("at p = 0 nothing is dropped and the scale is 1: the output should equal "
                     "the input.")
    before = x.clone()
    out = _call_at_p_one(answer, x, 1.0, training=True, generator=_generator(5))
    _check_not_modified(x, before)
    _check_p_one(out, x)


def _dropout_randomness(answer) -> None:
    """A fresh mask per call; the generator argument is honoured."""
    x = _input((100, 100))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        first = call(answer, x, 0.5, training=True)
        second = call(answer, x, 0.5, training=True)
    if torch.equal(first != 0, second != 0):
        raise NotYet(SAME_MASK_HINT)
    seeded = [call(answer, x, 0.5, training=True, generator=_generator(seed))
              for seed in (21, 21, 22)]
    if not torch.equal(seeded[0], seeded[1]) or torch.equal(seeded[0], seeded[2]):
        raise NotYet("use the generator argument: two generators seeded alike should give the "
                     "same mask, and differently seeded ones different masks. Pass "
                     "generator=generator to torch.rand, torch.bernoulli or bernoulli_.")


def _dropout_autograd(answer) -> None:
    """The output is differentiable, with gradient mask / (1 - p)."""
    p = 0.3
    x = _input((60, 50)).requires_grad_()
    try:
        out = answer(x, p, training=True, generator=_generator(6))
    except NotImplementedError:
        raise NotAttempted() from None
    except Exception as err:  # noqa: BLE001 - a hint, not a traceback
        raise NotYet(f"given an input that requires grad, your function raised "
                     f"{type(err).__name__}: {err}. Stay with torch operations (no .numpy(), no "
                     "in-place changes of x) so that autograd can follow.") from None
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise NotYet("the output does not require grad although the input does: you broke "
                     "autograd (.detach(), .data, .numpy(), torch.tensor(...) or torch.no_grad() "
                     "cut the graph). Compute the output from x with torch operations.")
    out.sum().backward()
    want = (out.detach() != 0).to(x.dtype) / (1 - p)
    if x.grad is None or not _close(x.grad, want):
        raise NotYet("the gradient of the output's sum with respect to x should be "
                     "mask / (1 - p); keep the mask out of the graph and multiply x by it.")


def _dropout_bad_p(answer) -> None:
    x = _input((10, 10))
    for p in (-0.1, 1.5):
        for training in (True, False):
            try:
                answer(x, p, training=training)
            except ValueError:
                continue
            except Exception as err:  # noqa: BLE001
                raise NotYet(f"for p = {p} raise ValueError (as PyTorch does), not "
                             f"{type(err).__name__}.") from None
            raise NotYet(f"p = {p} is not a probability, yet your function accepted it "
                         f"(training={training}). Check p first, before anything else, and "
                         "raise ValueError when it is outside [0, 1], even with training=False, "
                         "as PyTorch does.")


@exercise("2.2", "dropout by hand")
def _check_dropout(answer) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(41)  # calls without a generator draw from here, reproducibly
        _dropout_statistics(answer)
        _dropout_modes(answer)
        _dropout_randomness(answer)
        _dropout_autograd(answer)
        _dropout_bad_p(answer)


# --- 2.3: the backward pass ---------------------------------------------------------------

@exercise("2.3", "the backward pass")
def _check_backward(answer) -> None:
    grad_output = _input((50, 40), seed=1)
    uniform = torch.rand((50, 40), generator=_generator(2), dtype=torch.float64)
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
        got = got.to(torch.float64)
        if _close(got, grad_output * mask / (1 - p)):
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
            (grad_output, "that is grad_output unchanged; multiply it by the derivative of "
             "dropout, mask / (1 - p) (the chain rule)."),
            (mask / (1 - p), "that is the local derivative mask / (1 - p) alone; by the chain "
             "rule multiply it by grad_output."),
        ]
        for candidate, hint in wrong:
            if _close(got, candidate):
                raise NotYet(f"with p = {p}, {hint}")
        raise NotYet(f"with p = {p} the gradient should be grad_output * mask / (1 - p).")


# --- 2.4: a Dropout module ------------------------------------------------------------------

@exercise("2.4", "a Dropout module")
def _check_module(answer) -> None:
    if not (isinstance(answer, type) and issubclass(answer, nn.Module)):
        raise NotYet("pass the class itself (check('2.4', Dropout)), a subclass of "
                     "torch.nn.Module, not an instance or a function.")
    n = SHAPE[0] * SHAPE[1]
    x = _input()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(31)
        for p in (0.2, 0.7):
            layer = call(answer, p)
            if not isinstance(layer, nn.Module):
                raise NotYet("Dropout(p) should build a torch.nn.Module.")
            layer.train()
            before = x.clone()
            out = call(layer, x)
            _check_not_modified(x, before)
            out = _check_output_tensor(out, x, p)
            kept = out != 0
            _check_independent(kept)
            _check_fraction(_dropped_fraction(kept), p, n)
            _check_scale(out, x, p)
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
        _check_fraction(_dropped_fraction(call(network, x) != 0), 0.5, n)
        out = call(call(answer), x)
        if not isinstance(out, torch.Tensor) or abs(_dropped_fraction(out != 0) - 0.5) > 0.01:
            raise NotYet("Dropout() without an argument should use p = 0.5, as torch.nn.Dropout "
                         "does.")
        out = _call_at_p_one(call(answer, 1.0), x)
        _check_p_one(out, x)
        x_grad = _input((60, 50)).requires_grad_()
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
     hint="in the paper's notation p is the probability of KEEPING a unit; what does "
          "torch.nn.Dropout's p count?",
     choices="abcd")
