"""Known answers for exercise 2.4, the Dropout module: other correct ways of writing it, and
the plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import torch
from torch import nn

from ...layers import Dropout
from ..registry import Known
from .ch02_answers import _bernoulli, _fixed_count, make_dropout

# --- 2.4 ---------------------------------------------------------------------------------------


def _right_forward(x, p, training, generator=None):
    return make_dropout(_bernoulli)(x, p, training, generator)


def module_with(forward_body, init_check=True, default_p=0.5):
    """A Dropout class whose forward is `forward_body(self, x)`."""
    class Answer(nn.Module):
        def __init__(self, p=default_p):
            super().__init__()
            if init_check and not 0 <= p <= 1:
                raise ValueError("p must be in [0, 1]")
            self.p = p

        def forward(self, x):
            return forward_body(self, x)

    return Answer


class _ModeInInit(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        self.p, self.active = p, True

    def eval(self):
        self.active = False
        return self

    def forward(self, x):
        return _right_forward(x, self.p, self.active)


class _OwnFlag(_ModeInInit):
    def eval(self):
        super().train(False)
        self.active = False
        return self

    def train(self, mode=True):  # ignores mode: a network's eval() calls train(False)
        self.active = True
        return super().train(mode)


def _rand_forward(self, x, scale=True):
    if not self.training:
        return x
    mask = (torch.rand_like(x) >= self.p).to(x.dtype)
    return x * mask / (1 - self.p) if scale else mask


MODULE_VARIANTS = (
    Known("own module around a function", module_with(
        lambda self, x: _right_forward(x, self.p, self.training))),
    Known("torch.nn.Dropout", nn.Dropout),
    Known("the course's layer", Dropout),
)

MODULE_MISTAKES = (
    Known("drops in evaluation mode", module_with(lambda self, x: _right_forward(x, self.p, True)),
          "after layer.eval() your layer still drops units"),
    Known("rescales in evaluation mode", module_with(
        lambda self, x: _right_forward(x, self.p, True) if self.training else x * (1 - self.p)),
        "no mask and no rescaling in evaluation mode"),
    Known("p as keep probability", module_with(
        lambda self, x: _right_forward(x, 1 - self.p, self.training)),
        "you used p as the keep probability"),
    Known("no rescaling", module_with(
        lambda self, x: _right_forward(x, self.p, self.training) * (1 - self.p)),
        "you forgot to rescale"),
    Known("mode fixed in __init__", _ModeInInit, "after layer.train() the layer should drop"),
    Known("own eval flag", _OwnFlag, "did not switch it off"),
    Known("seeded inside", module_with(lambda self, x: _right_forward(
        x, self.p, self.training, torch.Generator().manual_seed(0))),
        "two calls in a row gave the same mask"),
    Known("one mask for the batch", module_with(lambda self, x: x if not self.training else
          x * (torch.rand(x.shape[-1], dtype=x.dtype) >= self.p) / (1 - self.p)),
          "one mask for the whole batch"),
    Known("in place", module_with(lambda self, x: x if not self.training else
          x.mul_((torch.rand_like(x) >= self.p).to(x.dtype) / (1 - self.p))),
          "changed its input x in place"),
    Known("NaN at p = 1", module_with(_rand_forward), "at p = 1 the output holds NaN"),
    Known("returns the mask", module_with(lambda self, x: _rand_forward(self, x, scale=False)),
          "you returned the mask"),
    Known("detached", module_with(lambda self, x: _right_forward(x.detach(), self.p,
                                                                  self.training)),
          "you broke autograd"),
    Known("no check of p", module_with(lambda self, x: _right_forward(x, self.p, self.training),
                                       init_check=False), "raise ValueError in __init__"),
    Known("default p = 0.2", module_with(lambda self, x: _right_forward(x, self.p, self.training),
                                         default_p=0.2), "should use p = 0.5"),
    Known("an instance", Dropout(0.5), "pass the class itself"),
    Known("fixed count, shuffled", module_with(lambda self, x: x if not self.training else
          make_dropout(_fixed_count)(x, self.p)), "a fixed count in a shuffled"),
)
