"""PyTorch's default initialisation of `Linear` and convolution layers, drawn from a generator.

`torch.nn.Linear(...)` draws its initial weights from the global generator as it is built. The
library's builders (`models.mlp`, `blocks.tiny_cnn`, ...) take a `generator` instead: with one,
a layer is built without drawing anything (`torch.nn.utils.skip_init`) and then initialised
here exactly as PyTorch would, from that generator; without one, PyTorch builds it as usual.
The same seed gives the same weights either way: a fresh generator seeded 0 and the global
generator after `torch.manual_seed(0)` produce the same stream.
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
from torch import nn

__all__ = ["build", "reset_parameters"]

Layer = TypeVar("Layer", bound=nn.Module)
_RESET = (nn.Linear, nn.modules.conv._ConvNd)  # the layers whose default init is redone here


def _reset(layer: nn.Module, generator: torch.Generator) -> None:
    # The body of nn.Linear.reset_parameters and _ConvNd.reset_parameters, with a generator.
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


@torch.no_grad()
def reset_parameters(module: Layer, generator: torch.Generator) -> Layer:
    """Initialise every `nn.Linear` and convolution in `module` as PyTorch does by default
    ($U(\\pm 1/\\sqrt{\\text{fan-in}})$ for weights and biases), drawing from `generator`, in
    `module.modules()` order. Other parameters are left as they are. Returns `module`.

    Args:
        module: the layer or model; its parameters must be on `generator`'s device.
        generator: a `torch.Generator`.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    for layer in module.modules():
        if isinstance(layer, _RESET):
            _reset(layer, generator)
    return module


def build(cls: type[Layer], *args, generator: torch.Generator | None = None,
          **kwargs) -> Layer:
    """`cls(*args, **kwargs)` for `nn.Linear` or a convolution class, initialised from `generator`.

    With `generator=None` this is exactly `cls(*args, **kwargs)` (weights from the global
    generator). With a generator, nothing is drawn while the layer is built, and its weights are
    then drawn from `generator`: the global random state is not touched.
    """
    if not (isinstance(cls, type) and issubclass(cls, _RESET)):
        raise TypeError(f"build makes nn.Linear and convolution layers, got {cls!r}")
    if generator is None:
        return cls(*args, **kwargs)
    if kwargs.get("device") is None:
        kwargs["device"] = torch.get_default_device()
    return reset_parameters(nn.utils.skip_init(cls, *args, **kwargs), generator)
