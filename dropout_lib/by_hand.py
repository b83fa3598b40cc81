"""Dropout written out by hand: the mask, the forward pass and the backward pass (chapter 2).

The mask and the forward pass work on NumPy arrays, so that nothing is hidden behind PyTorch;
the backward pass is plain arithmetic and works on NumPy arrays and torch tensors alike.
`p` is the *drop* probability, as in PyTorch; the papers write p for the keep probability.
These are the reference answers to Exercises 2.1 and 2.3.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from .functional import validate_p

__all__ = ["bernoulli_mask", "dropout_backward", "dropout_forward"]

Array = TypeVar("Array")  # a NumPy array or a torch tensor


def bernoulli_mask(shape: int | tuple[int, ...], p: float, rng: np.random.Generator) -> np.ndarray:
    """A mask of zeros and ones, each entry kept (1) with probability $1-p$, independently.

    Args:
        shape: the shape of the mask, for example `(batch, features)`.
        p: the probability of *dropping* an entry (setting it to 0), in [0, 1].
        rng: where the randomness comes from.

    Returns:
        A float64 array of `shape` holding 0.0 and 1.0.
    """
    p = validate_p(p)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    # One uniform number per entry; it falls below 1 - p with probability 1 - p. (Written out in
    # NumPy for the chapter; the library's layers draw with `functional.keep_mask`.)
    return (rng.random(shape) < 1.0 - p).astype(np.float64)


def dropout_forward(
    x: np.ndarray, p: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout of a NumPy array in training mode: $y = m \\odot x / (1-p)$.

    Args:
        x: any float array; it is not modified.
        p: the drop probability, in [0, 1].
        rng: draws the mask.

    Returns:
        `(y, mask)`: the output, shape of `x`, and the mask that made it (keep it for the
        backward pass). At p = 1 the output is all zeros rather than 0/0.
    """
    x = np.asarray(x, dtype=np.float64)
    mask = bernoulli_mask(x.shape, p, rng)
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    # `where` writes a plain 0.0 for a dropped unit (mask * x would give -0.0 for negative x).
    return np.where(mask == 1.0, x * scale, 0.0), mask


def dropout_backward(grad_output: Array, mask: Array, p: float) -> Array:
    """The gradient of the loss with respect to dropout's input, by the chain rule.

    Since $y_i = m_i x_i / (1-p)$, $\\partial L/\\partial x_i = \\partial L/\\partial y_i \\cdot
    m_i / (1-p)$: the gradient flows only through the kept units, scaled like them.

    Args:
        grad_output: $\\partial L/\\partial y$, any shape (NumPy array or torch tensor).
        mask: the 0/1 mask of the forward pass, same shape and kind as `grad_output`.
        p: the drop probability used in the forward pass, in [0, 1].

    Returns:
        $\\partial L/\\partial x$, a new array or tensor shaped like `grad_output`; zeros at p = 1.
    """
    p = validate_p(p)
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    return grad_output * mask * scale
