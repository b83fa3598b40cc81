"""Monte-Carlo dropout: keep dropout on at test time and look at many sampled outputs
(chapters 5 and 6).

One sampler, `sample`, runs the model $T$ times with independent dropout masks. The other two
functions are views of it:

- `mc_predict`: the mean and standard deviation of the samples (Gal and Ghahramani, 2016),
  $\\hat\\mu = \\frac1T \\sum_t \\hat y_t$ and
  $\\hat\\sigma^2 = \\frac1T \\sum_t \\hat y_t^2 - \\hat\\mu^2$;
- `mc_average`: the averaged class probabilities of a classifier (Srivastava et al., 2014,
  section 7.5).

While sampling, only the dropout layers (`layers.is_dropout`) are in training mode; every other
module is in evaluation mode (a BatchNorm layer uses its running statistics and is not updated),
and every module's mode is restored afterwards. With `batched=True` (the default) the input
batch is repeated $T$ times and run in **one** forward pass, in which every row gets its own
masks; `batched=False` is the plain loop of $T$ passes, the reference the batched pass is
tested against. Both give the same distribution.

Where the masks come from, when a `generator` is given:

- a course dropout layer (`layers.DropoutLayer`) draws from that generator (its own
  `generator` attribute is swapped for the call and put back afterwards);
- a `torch.nn` dropout layer cannot take a generator: it stays in evaluation mode and a forward
  hook applies the same dropout with the course's kernel (`functional`), drawing from
  `generator`.

So with a generator the result is reproducible and the global random state is left alone.
Without one every layer draws as in ordinary training (its own generator, or the global one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from . import functional
from .layers import DropoutLayer, dropout_layers

__all__ = ["mc_average", "mc_predict", "sample"]


def _torch_layer_with(generator: torch.Generator):
    """A forward hook that replaces a torch.nn dropout layer's (evaluation-mode) output."""

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        x, p = inputs[0], module.p
        if isinstance(module, nn.AlphaDropout | nn.FeatureAlphaDropout):
            feature = isinstance(module, nn.FeatureAlphaDropout)
            return functional.alpha_dropout(x, p, True, generator, feature=feature)
        if isinstance(module, nn.Dropout):
            return functional.dropout(x, p, generator=generator)
        # Dropout1d/2d/3d: one draw per channel; 2-D input to Dropout1d and 4-D input to
        # Dropout3d have no batch dimension, as in PyTorch.
        unbatched = (isinstance(module, nn.Dropout1d) and x.dim() == 2) or (
            isinstance(module, nn.Dropout3d) and x.dim() == 4)
        if unbatched:
            return functional.feature_dropout(x.unsqueeze(0), p, generator=generator)[0]
        return functional.feature_dropout(x, p, generator=generator)

    return hook


@contextlib.contextmanager
def _sampling_mode(model: nn.Module, generator: torch.Generator | None
                   ) -> Iterator[list[nn.Module]]:
    """Dropout layers sampling, every other module in evaluation mode; all undone on exit.
    Yields the dropout layers."""
    found = dropout_layers(model)
    if not found:
        raise ValueError("the model has no dropout layer, so every MC sample would be the same; "
                         "MC dropout needs dropout modules (layers.is_dropout)")
    modes = {module: module.training for module in model.modules()}
    own = [layer for layer in found if isinstance(layer, DropoutLayer)]
    saved = {layer: layer.generator for layer in own}
    hooks = []
    try:
        model.eval()
        for layer in found:
            if generator is not None and not isinstance(layer, DropoutLayer):
                hooks.append(layer.register_forward_hook(_torch_layer_with(generator)))
            else:
                layer.train()
        if generator is not None:
            for layer in own:
                layer.generator = generator
        yield found
    finally:
        for module, mode in modes.items():
            module.training = mode
        for layer, own_generator in saved.items():
            layer.generator = own_generator
        for hook in hooks:
            hook.remove()


def _check_count(samples: int, least: int) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < least:
        why = " (a spread needs two samples)" if least == 2 else ""
        raise ValueError(f"samples must be an int >= {least}{why}, got {samples!r}")


@torch.no_grad()
def sample(model: nn.Module, x: torch.Tensor, samples: int, *,
           generator: torch.Generator | None = None, batched: bool = True) -> torch.Tensor:
    """`samples` outputs of `model` on `x`, each with its own dropout masks.

    Args:
        model: a module with at least one dropout layer (see the module docstring for the
            modes and the generator).
        x: inputs, shape (n, ...), on the model's device.
        samples: $T$, at least 1.
        generator: makes the masks reproducible; the layers' own generators when None.
        batched: one forward pass on `x` repeated `samples` times (memory grows with
            `samples * n`), or a loop of `samples` passes. Not batched when a layer draws one
            mask per pass for the whole batch (`per_example` False, as in DropConnect).

    Returns:
        Shape `(samples, *model(x).shape)`, sample-major.

    Raises:
        TypeError, ValueError: bad arguments, or a model without dropout layers.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError("x must have a batch dimension: shape (n, ...)")
    _check_count(samples, 1)
    with _sampling_mode(model, generator) as found:
        if batched and all(getattr(layer, "per_example", True) for layer in found):
            n = x.shape[0]
            # repeat puts copy t of the whole batch in rows t*n .. (t+1)*n - 1: sample-major.
            out = model(x.repeat(samples, *([1] * (x.dim() - 1))))
            return out.reshape(samples, n, *out.shape[1:])
        return torch.stack([model(x) for _ in range(samples)])


def mc_predict(model: nn.Module, x: torch.Tensor, samples: int = 100, *,
               generator: torch.Generator | None = None, batched: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """MC-dropout mean and standard deviation (chapter 6).

    Args:
        model, x, generator, batched: as in `sample`.
        samples: $T$, the number of masks per input (at least 2).

    Returns:
        `(mean, std)`, each shaped like `model(x)`: the average of the samples and their
        standard deviation with divisor $T$ (the population formula above).
    """
    _check_count(samples, 2)
    out = sample(model, x, samples, generator=generator, batched=batched)
    return out.mean(dim=0), out.std(dim=0, correction=0)


def mc_average(model: nn.Module, x: torch.Tensor, samples: int, *,
               generator: torch.Generator | None = None, batched: bool = True,
               average: str = "probs") -> torch.Tensor:
    """Monte-Carlo averaging of a classifier whose outputs are logits (chapter 5).

    Args:
        model, x, samples, generator, batched: as in `sample`; x has shape (batch, ...).
        average: "probs" averages the softmax probabilities of the samples (the ensemble's
            arithmetic mean); "logits" averages the logits and applies one softmax at the end.

    Returns:
        Class probabilities, shape `(batch, n_classes)`.
    """
    if average not in ("probs", "logits"):
        raise ValueError(f"average must be 'probs' or 'logits', got {average!r}")
    logits = sample(model, x, samples, generator=generator, batched=batched)
    if average == "probs":
        return torch.softmax(logits, dim=-1).mean(dim=0)
    return torch.softmax(logits.mean(dim=0), dim=-1)
