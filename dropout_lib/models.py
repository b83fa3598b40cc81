"""Multi-layer perceptrons with a dropout rate per layer (chapter 1 onwards)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .functional import validate_p
from .initialisation import build
from .layers import Dropout

__all__ = ["mlp", "ACTIVATIONS"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "selu": nn.SELU,
               "gelu": nn.GELU}


def mlp(
    sizes: Sequence[int],
    dropout: float | Sequence[float] = 0.0,
    activation: str = "relu",
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """Build `Linear -> activation -> ... -> Linear` with dropout in front of chosen layers.

    Args:
        sizes: layer widths from input to output, for example `[64, 256, 256, 10]`.
        dropout: the drop probability in front of each `Linear`. A sequence of
            `len(sizes) - 1` rates, the first one for the inputs (as in `[0.2, 0.5, 0.5]`:
            20% input dropout, 50% on each hidden layer); or one number, used for every hidden
            layer with no input dropout. A rate of 0 adds no layer at all.
        activation: one of `ACTIVATIONS` ("relu", "tanh", "sigmoid", "selu", "gelu").
        dtype, device: where the parameters live; float64 by default, like `dropout_lib.data`.
        generator: a `torch.Generator` on `device`. The initial weights are drawn from it, layer
            by layer, as `nn.Linear` draws them, and every dropout layer keeps it for its masks.
            With None the weights come from the global PyTorch generator (call `set_seed`
            first) and so do the masks; a fresh generator seeded s gives the weights that
            `torch.manual_seed(s)` does.

    Returns:
        An `nn.Sequential`. The output layer is raw: logits for classification.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive ints, got {sizes}")
    n_layers = len(sizes) - 1
    if isinstance(dropout, Sequence):
        rates = [validate_p(r, "dropout rate") for r in dropout]
        if len(rates) != n_layers:
            raise ValueError(
                f"dropout needs one rate per Linear layer ({n_layers}), got {len(rates)}"
            )
    else:
        rates = [0.0] + [validate_p(dropout, "dropout")] * (n_layers - 1)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")

    layers: list[nn.Module] = []
    for i, (rate, n_in, n_out) in enumerate(zip(rates, sizes[:-1], sizes[1:], strict=True)):
        if rate > 0:
            layers.append(Dropout(rate, generator=generator))
        layers.append(build(nn.Linear, n_in, n_out, dtype=dtype, device=device,
                            generator=generator))
        if i < n_layers - 1:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)
