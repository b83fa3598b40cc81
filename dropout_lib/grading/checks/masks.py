"""Statistics of dropout masks, shared by the checks of chapters 2 and 8.

Masks are drawn on large inputs, so that a fraction of dropped entries is measured to well
under one percent, and at several drop rates (never only p = 0.5, where the drop and keep
probabilities coincide). Besides the fraction, `check_count_spread` asks whether the entries
are independent draws: a mask that keeps exactly (1 - p) n entries in a shuffled order has the
right mean but none of the binomial spread of the count.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..helpers import binomial_tolerance, close, count_spread
from ..verdicts import NotYet, call

SHAPE = (400, 250)  # 100,000 entries: six standard deviations of a fraction are below 0.01
RATES = (0.2, 0.7, 0.5)  # 0.2 and 0.7 first: they tell the drop from the keep probability


def input_tensor(shape=SHAPE, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """Standard normal entries: none is zero, so a zero in the output means a dropped entry."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- shared hints ---------------------------------------------------------------------------

KEEP_PROB_HINT = ("with p = {p} you dropped about {dropped:.0%} of the entries instead of {p:.0%}: "
                  "you used p as the keep probability (as the papers write it). In PyTorch, and "
                  "here, p is the probability of DROPPING an entry; keep with probability 1 - p.")
INDEPENDENT_HINT = ("every {what} of the batch got the same mask. Draw one independent Bernoulli "
                    "number per element: the mask must have the full shape of x.")
SAME_MASK_HINT = ("two calls in a row gave the same mask. Draw a fresh mask on every call (do not "
                  "seed a generator, or torch.manual_seed, inside your function).")


def dropped_fraction(kept: torch.Tensor) -> float:
    return 1.0 - kept.double().mean().item()


def check_fraction(dropped: float, p: float, n: int) -> None:
    tolerance = binomial_tolerance(p, n)
    if abs(dropped - p) <= tolerance:
        return
    if abs(dropped - (1 - p)) <= binomial_tolerance(1 - p, n):
        raise NotYet(KEEP_PROB_HINT.format(p=p, dropped=dropped))
    raise NotYet(f"with p = {p} a fraction {dropped:.3f} of the entries was zeroed; each entry "
                 f"should be dropped with probability p, so about {p} of them.")


def check_independent(kept: torch.Tensor) -> None:
    """`kept` is a (rows, columns) boolean tensor with 0 < p < 1."""
    if bool((kept == kept[0]).all()):
        raise NotYet(INDEPENDENT_HINT.format(what="example (row)")
                     + " Yours draws one mask for the whole batch and broadcasts it.")
    if bool((kept.all(dim=1) | (~kept).all(dim=1)).all()):
        raise NotYet(INDEPENDENT_HINT.format(what="feature of an example")
                     + " Yours keeps or drops whole examples.")


def check_output_tensor(out, x: torch.Tensor, p: float) -> torch.Tensor:
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


def check_scale(out: torch.Tensor, x: torch.Tensor, p: float) -> None:
    """Kept entries must be x / (1 - p)."""
    kept = out != 0
    got, base = out[kept], x[kept]
    if close(got, base / (1 - p)):
        return
    if close(got, base):
        raise NotYet(f"the kept entries equal the input (tried p = {p}): you forgot to rescale. "
                     "Divide the kept entries by 1 - p, so that the expected output equals the "
                     "input.")
    if close(got, base * (1 - p)):
        raise NotYet(f"the kept entries are the input times 1 - p (tried p = {p}); rescale the "
                     "other way: divide by 1 - p (multiply by 1/(1 - p)).")
    if close(got, base / p):
        raise NotYet(f"the kept entries are divided by p (tried p = {p}): you used p as the keep "
                     "probability. Divide by the keep probability, 1 - p.")
    raise NotYet(f"with p = {p} the kept entries are not the input divided by 1 - p.")


def check_not_modified(x: torch.Tensor, before: torch.Tensor) -> None:
    if not torch.equal(x, before):
        raise NotYet("your function changed its input x in place. Leave x as it is and return a "
                     "new tensor (no x *= ..., x[...] = 0 or mul_).")


def check_p_one(out, x: torch.Tensor) -> None:
    if isinstance(out, torch.Tensor) and out.shape == x.shape and torch.isnan(out).any():
        raise NotYet("at p = 1 the output holds NaN: 0 * x / (1 - p) is 0/0. Treat p = 1 "
                     "separately (everything is dropped: return zeros).")
    if not (isinstance(out, torch.Tensor) and out.shape == x.shape and bool((out == 0).all())):
        raise NotYet("at p = 1 every entry is dropped, so the output should be all zeros.")


def call_at_p_one(answer, *args, **kwargs):
    try:
        return call(answer, *args, **kwargs)
    except NotYet as err:
        raise NotYet(f"at p = 1 {err} Treat p = 1 separately (everything is dropped: return "
                     "zeros) instead of dividing by 1 - p = 0.") from None


FIXED_COUNT_HINT = ("every mask keeps exactly the same number of entries ({count} of {n} on "
                    "each of {calls} calls): a fixed count in a shuffled order is not dropout. "
                    "Draw every entry on its own (one uniform number per entry, compared with "
                    "the keep probability), so that the count itself varies from call to call.")


def check_count_spread(draw: Callable[[], object], n: int, p: float, calls: int = 300) -> None:
    """`draw()` returns one mask (kept entries nonzero) of n entries; call it `calls` times.

    For independent draws the count of kept entries varies with the binomial variance
    n p (1 - p); the ratio of the observed variance to it has a standard deviation of about
    sqrt(2 / calls) = 0.08 for 300 calls, so below 0.4 (7 standard deviations) or above 2 the
    entries are not independent Bernoulli draws.
    """
    counts, first, same = [], None, True
    for _ in range(calls):
        kept = torch.as_tensor(draw()) != 0
        counts.append(int(kept.sum()))
        first = kept if first is None else first
        same = same and torch.equal(kept, first)
    if same:
        raise NotYet(SAME_MASK_HINT)
    ratio = count_spread(counts, n, p)
    if ratio < 0.4:
        if len(set(counts)) == 1:
            raise NotYet(FIXED_COUNT_HINT.format(count=counts[0], n=n, calls=calls))
        raise NotYet(f"the number of kept entries varies far less from call to call than "
                     f"independent draws would (variance {ratio:.2f} times the binomial one): "
                     "draw every entry independently.")
    if ratio > 2.0:
        raise NotYet("the number of kept entries varies far more from call to call than "
                     "independent draws would: are entries kept or dropped together?")
