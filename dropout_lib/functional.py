"""Reference dropout on torch tensors (chapter 2), and the mask kernel every dropout of the library
is built from.

`dropout` follows the contract of `torch.nn.functional.dropout`, written out so that every line
can be read:

- in training mode each element is zeroed with probability `p` (the *drop* probability, as in
  PyTorch; the papers write p for the *keep* probability), independently of every other element;
- the kept elements are multiplied by $1/(1-p)$, so that $E[\\text{output}] = x$ ("inverted"
  dropout: nothing needs rescaling at test time);
- in evaluation mode, or at p = 0, the input itself is returned.

The kernel has two halves, shared by every layer and variant (chapters 2, 5 and 8):

- `keep_mask` draws a boolean mask, True with probability `keep_prob`: one draw per element
  (exactly the mask `torch.nn.functional.dropout` draws from the same generator state), or one
  per channel, per example or per weight, as a shape that broadcasts against the input;
- `apply_mask` keeps `x` where the mask is True, writes `fill` elsewhere and multiplies by
  `scale`. Dropped places are overwritten, never multiplied by 0, so an inf or NaN input there
  gives `fill`, not NaN; the output has the input's shape, dtype, device and memory layout.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import torch

__all__ = [
    "ALPHA_PRIME", "alpha_dropout", "apply_mask", "channel_shape", "check_input", "dropout",
    "example_shape", "feature_dropout", "inverted_scale", "keep_mask", "structured_dropout",
    "validate_p",
]

# SELU's constants (Klambauer et al., 2017); -ALPHA_PRIME is SELU's lower limit, the value alpha
# dropout gives a dropped unit (1.7580993408473766, the constant in PyTorch's kernel).
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
ALPHA_PRIME = SELU_SCALE * SELU_ALPHA


def validate_p(p: float, name: str = "p", allow_one: bool = True) -> float:
    """Return `p` as a float, or raise if it is not a probability in [0, 1] ([0, 1) with
    `allow_one=False`, for a rate whose formula divides by $1-p$).

    Every layer checks its rate with this at construction, and every function that takes a
    rate calls it, so the message is the same everywhere.

    Raises:
        TypeError: `p` is not a real number (a string, a tensor, a bool, None).
        ValueError: `p` is NaN or outside the interval.
    """
    interval = "[0, 1]" if allow_one else "[0, 1)"
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a probability in {interval}, got "
                        f"{type(p).__name__} {p!r}")
    value = float(p)
    if math.isnan(value) or not 0.0 <= value <= 1.0 or (value == 1.0 and not allow_one):
        raise ValueError(f"{name} must be a probability in {interval}, got {value}")
    return value


def check_input(x: object, dims: Sequence[int] | None = None) -> None:
    """Raise unless `x` is a floating-point tensor with one of the ranks in `dims` (any if None).

    Raises:
        TypeError: `x` is not a tensor, or not floating point.
        ValueError: `x` has another number of dimensions.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}; convert it with "
                        "x.double() or x.float()")
    if dims is not None and x.dim() not in dims:
        raise ValueError(f"x must have {' or '.join(map(str, dims))} dimensions, got shape "
                         f"{tuple(x.shape)}")


def inverted_scale(p: float) -> float:
    """$1/(1-p)$, the factor of a kept element; 0 at p = 1, where nothing is kept (not 1/0)."""
    return 1.0 / (1.0 - p) if p < 1.0 else 0.0


def channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    """`(N, C, 1, ...)`: a mask shape with one draw per (example, channel) of `x`."""
    if x.dim() < 2:
        raise ValueError(f"a mask per channel needs (N, C, ...) input, got shape "
                         f"{tuple(x.shape)}")
    return tuple(x.shape[:2]) + (1,) * (x.dim() - 2)


def example_shape(x: torch.Tensor) -> tuple[int, ...]:
    """`(N, 1, ...)`: a mask shape with one draw per example (first dimension); `()` for 0-dim."""
    return tuple(x.shape[:1]) + (1,) * (x.dim() - 1)


def keep_mask(x: torch.Tensor, keep_prob: float, shape: Sequence[int] | None = None, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """A boolean mask on `x`'s device, each entry True with probability `keep_prob`, independently.

    Args:
        x: the tensor the mask is for; gives the device and, when `shape` is None, the shape and
            memory layout.
        keep_prob: probability of True, in [0, 1].
        shape: None for one draw per element of `x`; otherwise a shape that broadcasts against
            `x` (`channel_shape(x)`, `example_shape(x)`, a weight's shape, DropBlock's seeds).
        generator: a `torch.Generator` on `x`'s device; the global generator when None.

    Returns:
        A bool tensor. Per element it is drawn with `empty_like`, in `x`'s layout, which is what
        `torch.nn.functional.dropout` does: the same generator state gives the same mask. At
        `keep_prob` 0 nothing is drawn (PyTorch draws nothing at p = 1 either).
    """
    if shape is None:
        keep = torch.empty_like(x, dtype=torch.bool)
    else:
        keep = torch.empty(tuple(shape), dtype=torch.bool, device=x.device)
    if keep_prob == 0.0:
        return keep.fill_(False)
    return keep.bernoulli_(keep_prob, generator=generator)


def apply_mask(x: torch.Tensor, keep: torch.Tensor, scale: float = 1.0,
               fill: float = 0.0) -> torch.Tensor:
    """$y = x \\cdot$ `scale` where `keep` is True and `fill` elsewhere.

    `fill` is written into the dropped places, so nothing there is multiplied: an inf or a NaN
    of `x` that is dropped gives `fill`. The gradient is `scale` where kept and 0 where dropped.
    `x` and `keep` broadcast against each other (a stack of masks gives a stack of outputs).
    The output keeps `x`'s memory layout (`torch.where` does not always, for a mask that
    broadcasts); `x` is never modified.
    """
    shape = torch.broadcast_shapes(x.shape, keep.shape)
    if shape == x.shape == keep.shape and x.requires_grad and keep.dtype == torch.bool:
        return _KeptTimesScale.apply(x, keep, scale, fill)
    out = x.mul(scale) if shape == x.shape else x.expand(shape).mul(scale)
    return out.masked_fill_(keep.logical_not(), fill)


class _KeptTimesScale(torch.autograd.Function):
    """`apply_mask` for a mask of `x`'s own shape, with the gradient in one pass.

    Autograd would go back through `masked_fill_` and `mul`, two passes over the gradient; the
    gradient is `scale` where kept and 0 where dropped, which is what PyTorch's own dropout
    backward (`native_dropout_backward`) computes in one pass. It stays differentiable.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, keep: torch.Tensor, scale: float,
                fill: float) -> torch.Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x.mul(scale).masked_fill_(keep.logical_not(), fill)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (keep,) = ctx.saved_tensors
        return torch.ops.aten.native_dropout_backward(grad, keep, ctx.scale), None, None, None


def dropout(
    x: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Zero each element of `x` with probability `p` and scale the survivors by $1/(1-p)$.

    $y = m \\odot x / (1-p)$ with $m_i \\sim \\text{Bernoulli}(1-p)$ drawn independently for
    every element, so $E[y] = x$ and $\\partial y_i / \\partial x_i = m_i / (1-p)$.

    Args:
        x: a floating-point tensor of any shape (0-dim and empty included), on any device. It is
            never modified.
        p: the probability of *dropping* an element, in [0, 1].
        training: when False the layer is the identity (evaluation mode).
        generator: a `torch.Generator` on `x`'s device, for reproducible masks; the global
            generator when None.

    Returns:
        A tensor with `x`'s shape, dtype, device and memory layout. `x` itself (the same object)
        when `training` is False, `p` is 0 or `x` is empty, as in PyTorch. At p = 1 the output
        is all zeros, also where `x` holds inf or NaN (PyTorch gives NaN there).

    Raises:
        TypeError: `x` is not a tensor, or not floating point.
        ValueError: `p` is not a probability (checked in evaluation mode too, like PyTorch).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    p = validate_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    check_input(x)
    return apply_mask(x, keep_mask(x, 1.0 - p, generator=generator), inverted_scale(p))


def feature_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Dropout with one draw per (example, channel) of `x`, shape (N, C, ...), as PyTorch's
    `Dropout1d/2d/3d` do on batched input: a kept channel is scaled by $1/(1-p)$, a dropped one
    is all zeros (chapter 8). Identity cases as in `dropout`."""
    return structured_dropout(x, p, training, generator, channel_shape)


def structured_dropout(x: torch.Tensor, p: float, training: bool,
                       generator: torch.Generator | None,
                       mask_shape: Callable[[torch.Tensor], tuple[int, ...]]) -> torch.Tensor:
    """Inverted dropout with one draw per entry of a mask of shape `mask_shape(x)`, broadcast
    over `x` (per channel: `channel_shape`; per example: `example_shape`). The path that
    `feature_dropout` and `variants.drop_path` share; identity cases as in `dropout`."""
    check_input(x)
    p = validate_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    keep = keep_mask(x, 1.0 - p, mask_shape(x), generator=generator)
    return apply_mask(x, keep, inverted_scale(p))


def alpha_dropout(x: torch.Tensor, p: float = 0.5, training: bool = False,
                  generator: torch.Generator | None = None, feature: bool = False
                  ) -> torch.Tensor:
    """Alpha dropout for SELU networks (Klambauer et al., 2017), chapter 8.

    A dropped unit is set to SELU's lower limit $\\alpha' = -\\lambda\\alpha$, then every unit
    goes through $a x + b$ with $a = ((\\alpha'^2 p + 1)(1-p))^{-1/2}$ and $b = -a \\alpha' p$,
    which keep mean 0 and variance 1 of a standard normal input. p = 1 gives zeros, as in
    `torch.nn.functional.alpha_dropout`, whose default `training=False` this keeps.

    Args:
        x, p, generator: as in `dropout`.
        training: apply it (True) or return `x` (False).
        feature: one draw per (example, channel), as `torch.nn.FeatureAlphaDropout`.
    """
    check_input(x)
    p = validate_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if p == 1.0:  # zeros, through the kernel so that the gradient (zero) flows
        return apply_mask(x, keep_mask(x, 0.0, ()), 0.0)
    low = -ALPHA_PRIME
    a = 1.0 / math.sqrt((low**2 * p + 1.0) * (1.0 - p))
    b = -a * low * p
    keep = keep_mask(x, 1.0 - p, channel_shape(x) if feature else None, generator=generator)
    return apply_mask(x, keep, scale=a, fill=a * low).add_(b)
