"""Reference dropout on torch tensors (chapter 2).

The one function here follows the contract of `torch.nn.functional.dropout`, written out so
that every line can be read:

- in training mode each element is zeroed with probability `p` (the *drop* probability, as in
  PyTorch; the papers write p for the *keep* probability), independently of every other element;
- the kept elements are multiplied by $1/(1-p)$, so that $E[\\text{output}] = x$ ("inverted"
  dropout: nothing needs rescaling at test time);
- in evaluation mode, or at p = 0, the input itself is returned.
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["dropout", "validate_p"]


def validate_p(p: float, name: str = "p") -> float:
    """Return `p` as a float, or raise if it is not a probability in [0, 1].

    Raises:
        TypeError: `p` is not a real number (a string, a tensor, a bool, None).
        ValueError: `p` is NaN or outside [0, 1].
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1], got {type(p).__name__} {p!r}")
    p = float(p)
    if math.isnan(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    return p


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
        x: a floating-point tensor of any shape, on any device. It is never modified.
        p: the probability of *dropping* an element, in [0, 1].
        training: when False the layer is the identity (evaluation mode).
        generator: a `torch.Generator` on `x`'s device, for reproducible masks; the global
            generator when None.

    Returns:
        A tensor with `x`'s shape, dtype and device. `x` itself (the same object) when
        `training` is False, `p` is 0 or `x` is empty, as in PyTorch. At p = 1 the output is
        all zeros, also where `x` holds inf or NaN (PyTorch gives NaN there).

    Raises:
        TypeError: `x` is not a tensor, or not floating point.
        ValueError: `p` is not a probability (checked in evaluation mode too, like PyTorch).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    p = validate_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if not x.is_floating_point():
        raise TypeError(
            f"x must be a floating-point tensor, got {x.dtype}; convert it with x.float()"
        )
    keep_prob = 1.0 - p
    # A boolean mask drawn in one vectorised call: one independent Bernoulli(keep_prob) per element.
    keep = torch.empty(x.shape, dtype=torch.bool, device=x.device)
    keep.bernoulli_(keep_prob, generator=generator)
    # `where` writes exact zeros where an element is dropped, so inf * 0 never makes a NaN;
    # at p = 1 the scale is 0 rather than 1/0 for the same reason (in the gradient too).
    scale = 1.0 / keep_prob if keep_prob > 0.0 else 0.0
    # Scaling in place saves one tensor-sized allocation per call (`where` keeps nothing that
    # the scaling could overwrite, so autograd allows it); benchmarks/bench.py times it.
    return torch.where(keep, x, 0.0).mul_(scale)
