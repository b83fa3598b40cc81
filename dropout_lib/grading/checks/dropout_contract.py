"""The contract of a dropout function beyond its masks (exercise 2.2): a fresh mask per call,
the `generator` argument honoured, gradients that flow, and `ValueError` for a bad p."""

from __future__ import annotations

import torch

from ..helpers import close, generator
from ..verdicts import NotAttempted, NotYet, call
from .masks import SAME_MASK_HINT, input_tensor


def check_randomness(answer) -> None:
    """A fresh mask per call; the generator argument is honoured."""
    x = input_tensor((100, 100))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        first = call(answer, x, 0.5, training=True)
        second = call(answer, x, 0.5, training=True)
    if torch.equal(first != 0, second != 0):
        raise NotYet(SAME_MASK_HINT)
    seeded = [call(answer, x, 0.5, training=True, generator=generator(seed))
              for seed in (21, 21, 22)]
    if not torch.equal(seeded[0], seeded[1]) or torch.equal(seeded[0], seeded[2]):
        raise NotYet("use the generator argument: two generators seeded alike should give the "
                     "same mask, and differently seeded ones different masks. Pass "
                     "generator=generator to torch.rand, torch.bernoulli or bernoulli_.")


def check_autograd(answer) -> None:
    """The output is differentiable, with gradient mask / (1 - p)."""
    p = 0.3
    x = input_tensor((60, 50)).requires_grad_()
    try:
        out = answer(x, p, training=True, generator=generator(6))
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
    if x.grad is None or not close(x.grad, want):
        raise NotYet("the gradient of the output's sum with respect to x should be "
                     "mask / (1 - p); keep the mask out of the graph and multiply x by it.")


def check_bad_p(answer) -> None:
    x = input_tensor((10, 10))
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
