"""Dropout at test time: the two scaling conventions, a model left in training mode and
Monte-Carlo averaging against weight scaling (chapter 5).

`p` is always the *drop* probability, as in PyTorch; the keep probability is $1-p$.

- **Standard dropout** (the original papers): training multiplies by the mask $m$ only; at
  test time the outgoing weights are multiplied by $1-p$.
- **Inverted dropout** (PyTorch, `layers.Dropout`): training multiplies by $m/(1-p)$; at test
  time nothing changes. Both match the expectation $E[m x / (1-p)] = x$ at the right end.

The chapter's other two topics have modules of their own: the variance shift under batch
normalisation is in `batchnorm` (with `bn_mlp` here), dropout in linear regression in
`regression`, and the MC sampler in `mc`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from . import mc
from .functional import apply_mask, check_input, keep_mask, validate_p
from .initialisation import build
from .layers import Dropout, DropoutLayer, is_dropout

__all__ = [
    "StandardDropout", "bn_mlp", "looks_like_training_mode", "mc_error_curve",
    "replace_dropout", "scale_weights_for_inference", "standard_to_inverted",
]


class StandardDropout(DropoutLayer):
    """Dropout as in the original papers: no scaling in training, scaling by $1-p$ at test time.

    In training mode the output is $m \\odot x$ with $m_i \\sim \\text{Bernoulli}(1-p)$ (the
    kernel of `functional` with scale 1). In evaluation mode it is $(1-p)\\,x$, which is the
    same as multiplying the next layer's weights by the keep probability. At p = 0, or for an
    empty input, `x` itself is returned.

    Args:
        p: the drop probability, in [0, 1].
        generator: optional `torch.Generator` for reproducible masks.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        if self.p == 0.0 or x.numel() == 0:
            return x
        if not self.training:
            return x * (1.0 - self.p)
        return apply_mask(x, keep_mask(x, 1.0 - self.p, generator=self.generator))


# The dropout layers whose conversion is defined here: element-wise Bernoulli dropout.
_ELEMENT_WISE = (Dropout, nn.Dropout, StandardDropout)


def replace_dropout(model: nn.Sequential, make_layer: Callable[[float], nn.Module]
                    ) -> nn.Sequential:
    """A deep copy of `model` with every dropout layer replaced by `make_layer(p)`.

    Both conventions count (`layers.Dropout`, `torch.nn.Dropout`, `StandardDropout`); the
    original model is not changed.

    Raises:
        TypeError: `model` is not an `nn.Sequential`, or holds another kind of dropout layer
            (a variant of chapter 8), whose replacement would not compute the same function.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    for layer in model:
        if is_dropout(layer) and not isinstance(layer, _ELEMENT_WISE):
            raise TypeError(f"replace_dropout converts element-wise dropout only, got "
                            f"{type(layer).__name__}")
    layers = [make_layer(float(layer.p)) if is_dropout(layer) else copy.deepcopy(layer)
              for layer in model]
    new = nn.Sequential(*layers)
    new.train(model.training)
    return new


def scale_weights_for_inference(weight: torch.Tensor, bias: torch.Tensor | None, p: float
                                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Test-time parameters of a layer that follows standard dropout (reference, Exercise 5.1).

    Its inputs were multiplied by masks with mean $1-p$ during training, so at test time the
    weights are multiplied by $1-p$. The bias never sat behind a mask and stays as it is.

    Args:
        weight: shape `(n_out, n_in)`; not modified.
        bias: shape `(n_out,)`, or None.
        p: the drop probability of the dropout layer in front, in [0, 1].

    Returns:
        `(weight * (1 - p), bias)` as new tensors.
    """
    p = validate_p(p)
    return weight * (1.0 - p), None if bias is None else bias.clone()


def standard_to_inverted(model: nn.Sequential) -> nn.Sequential:
    """Convert a model trained with `StandardDropout` into PyTorch's inverted convention.

    Each `StandardDropout(p)` becomes an inverted `layers.Dropout(p)`, and the weights of the
    `nn.Linear` after it are multiplied by $1-p$. The result computes the same function as the
    original in both modes: $(1-p)W \\cdot m x/(1-p) = W \\cdot m x$ in training, and
    $(1-p) W x$ at test time.

    Returns:
        A new `nn.Sequential`; `model` is not changed.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    layers = [copy.deepcopy(layer) for layer in model]
    for index, layer in enumerate(layers):
        if not isinstance(layer, StandardDropout):
            continue
        following = [m for m in layers[index + 1:] if isinstance(m, nn.Linear)]
        if not following:
            raise ValueError(f"StandardDropout at index {index} is not followed by an nn.Linear")
        with torch.no_grad():
            following[0].weight.mul_(1.0 - layer.p)
        layers[index] = Dropout(layer.p, generator=layer.generator)
    new = nn.Sequential(*layers)
    new.train(model.training)
    return new


@torch.no_grad()
def mc_error_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   sample_counts: Sequence[int], n_repeats: int = 1, average: str = "probs",
                   *, generator: torch.Generator | None = None) -> np.ndarray:
    """Holdout error of Monte-Carlo averaging for several numbers of samples.

    One run draws `max(sample_counts)` samples with `mc.sample` and reads the error of the
    running average at each count; the errors are averaged over `n_repeats` independent runs.
    The samples are drawn one pass at a time (`batched=False`), so memory stays that of one
    pass however many samples are asked for.

    Args:
        model: a classifier with dropout layers; every module's mode is restored afterwards.
        x, y: inputs `(batch, n_features)` and class labels `(batch,)`.
        sample_counts: increasing positive ints, for example `[1, 2, 5, 10]`.
        n_repeats: independent runs to average over.
        average: "probs" or "logits", as in `mc.mc_average`.
        generator: where the masks come from (see `mc`); the layers' own when None.

    Returns:
        Errors in [0, 1], shape `(len(sample_counts),)`.
    """
    counts = list(sample_counts)
    if not counts or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in counts):
        raise ValueError(f"sample_counts must be positive ints, got {counts}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be at least 1, got {n_repeats}")
    if average not in ("probs", "logits"):
        raise ValueError(f"average must be 'probs' or 'logits', got {average!r}")
    errors = np.zeros(len(counts))
    for _ in range(n_repeats):
        logits = mc.sample(model, x, max(counts), generator=generator, batched=False)
        outputs = torch.softmax(logits, -1) if average == "probs" else logits
        running = outputs.cumsum(dim=0)  # running[k - 1]: the sum of the first k samples
        for index, k in enumerate(counts):
            errors[index] += (running[k - 1].argmax(1) != y).double().mean().item() / n_repeats
    return errors


@torch.no_grad()
def looks_like_training_mode(predict: Callable[[torch.Tensor], torch.Tensor],
                             x: torch.Tensor) -> bool:
    """Whether a black-box predictor behaves like a dropout model left in training mode.

    Reference for Exercise 5.2. A model in evaluation mode is deterministic: the same input
    gives bit-for-bit the same output. With dropout active, two passes draw different masks.

    Args:
        predict: maps inputs to outputs; only its outputs are looked at.
        x: a batch of inputs.

    Returns:
        True when two calls on the same input disagree.
    """
    return not torch.equal(predict(x), predict(x))


# --- a network with batch normalisation (the variance shift of `batchnorm`) ---------------

def bn_mlp(sizes: Sequence[int], p: float, dropout_before_bn: bool,
           dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
           generator: torch.Generator | None = None) -> nn.Sequential:
    """An MLP with batch normalisation after every hidden `Linear`, and dropout placed so that
    it does (or does not) feed a `BatchNorm1d`.

    Both placements have exactly one dropout layer, so that they differ only in where it sits.
    With `dropout_before_bn=True` it follows the first hidden block (`Linear -> BN -> ReLU ->
    Dropout -> Linear -> BN ...`), so the second BN learns its statistics from dropped,
    rescaled inputs (the variance shift). With False it comes after the last BN, right before
    the output layer (the fix of Li et al., 2019).

    Args:
        sizes: widths from input to output, at least one hidden layer: `[64, 128, 128, 10]`.
        p: the drop probability.
        dropout_before_bn: where to put dropout, as above.
        dtype, device: of the parameters.
        generator: draws the initial weights and, kept by the dropout layers, the masks (as in
            `models.mlp`); the global generator when None.
    """
    sizes = list(sizes)
    if len(sizes) < 3 + dropout_before_bn:
        raise ValueError(f"sizes needs at least {1 + dropout_before_bn} hidden layer(s) for "
                         f"this placement, got {sizes}")
    p = validate_p(p)
    layers: list[nn.Module] = []
    hidden = list(zip(sizes[:-2], sizes[1:-1], strict=True))
    for i, (n_in, n_out) in enumerate(hidden):
        layers += [build(nn.Linear, n_in, n_out, dtype=dtype, device=device, generator=generator),
                   nn.BatchNorm1d(n_out, dtype=dtype, device=device), nn.ReLU()]
        if i == (0 if dropout_before_bn else len(hidden) - 1):
            layers.append(Dropout(p, generator=generator))
    layers.append(build(nn.Linear, sizes[-2], sizes[-1], dtype=dtype, device=device,
                        generator=generator))
    return nn.Sequential(*layers)
