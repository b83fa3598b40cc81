"""Helpers shared by the checks: reading a learner's value, comparing at its precision, and
telling a random draw from a fixed pattern.

A learner may answer with a torch tensor, a NumPy array, a Python number, a NumPy scalar or a
0-dim tensor, in float32 or float64. `as_number`, `as_array` and `as_tensor` turn any of them
into what a check needs (or raise `NotYet` saying what was expected); `close` compares an
answer with the reference at the answer's own precision, so a right float32 answer passes and
a float64 one is held to float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .verdicts import NotYet

__all__ = ["as_array", "as_number", "as_tensor", "binomial_tolerance", "close", "count_spread",
           "generator", "precision", "precision_hint"]

# Relative tolerance per precision: about a thousand rounding errors of float32 (its epsilon
# is 1.2e-7); float64 is held a hundred times tighter, yet loose enough for library routines
# with a small safety term (torch.renorm adds 1e-7 to the norm), and both far below anything
# a wrong answer changes.
_RTOL = {"float64": 1e-6, "float32": 1e-4, "float16": 1e-2, "bfloat16": 1e-2}


def generator(seed: int) -> torch.Generator:
    """A private CPU generator: checks never draw from the global one."""
    return torch.Generator().manual_seed(seed)


def _dtype_name(value: Any) -> str:
    """"float32", "float64", ... of a learner's value; Python numbers count as float64."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return "float64"
    name = str(dtype).replace("torch.", "")
    if name in ("complex64",):
        return "float32"
    return name if name in _RTOL else "float64"


def precision(value: Any) -> float:
    """The relative tolerance that `value`'s floating-point type deserves."""
    return _RTOL[_dtype_name(value)]


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "torch.Tensor"
    return type(value).__name__


def as_array(value: Any, what: str = "the result") -> np.ndarray:
    """The learner's tensor, array, number or nested list as a NumPy array (dtype kept)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        return value.numpy()
    if isinstance(value, str | bytes) or value is None or callable(value):
        raise NotYet(f"{what} should be a tensor or an array of numbers, got {_kind(value)}.")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise NotYet(f"{what} should be a tensor or an array of numbers, got "
                     f"{_kind(value)}.") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == np.bool_):
        raise NotYet(f"{what} should be a tensor or an array of numbers, got {_kind(value)}.")
    return array


def as_tensor(value: Any, what: str = "the result") -> torch.Tensor:
    """The learner's tensor, array or number as a detached CPU tensor (dtype kept)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return torch.as_tensor(as_array(value, what))


def as_number(value: Any, what: str = "the result", finite: bool = False) -> float:
    """A Python number, NumPy scalar, 0-dim array or 0-dim tensor as a float."""
    if isinstance(value, bool | np.bool_) or (getattr(value, "dtype", None) in (torch.bool,)):
        raise NotYet(f"{what} should be a number, got a bool.")
    if getattr(value, "ndim", 0) != 0 or isinstance(value, str | bytes):
        size = getattr(value, "size", None)
        per_item = f" of shape {tuple(np.shape(value))}" if size is not None else ""
        raise NotYet(f"{what} should be a single number, got {_kind(value)}{per_item}.")
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        raise NotYet(f"{what} should be a single number, got {_kind(value)}.") from None
    if finite and not math.isfinite(number):
        raise NotYet(f"{what} should be a finite number, got {number}.")
    return number


def close(got: Any, want: Any, scale: float | None = None) -> bool:
    """Whether the learner's `got` equals the reference `want` at `got`'s precision.

    Both may be tensors, arrays or numbers; shapes must agree. The tolerance is
    `precision(got) * scale`, with `scale` the largest magnitude in `want` unless given (an
    answer computed from inputs of size 1 can err by a few float32 epsilons even where the
    result is small: pass `scale=1` there).
    """
    try:
        answer = as_array(got).astype(np.float64)
        reference = as_array(want).astype(np.float64)
    except NotYet:
        return False
    if answer.shape != reference.shape or not np.isfinite(answer).all():
        return False
    if scale is None:
        scale = float(np.abs(reference).max()) if reference.size else 0.0
    tolerance = precision(got) * max(scale, 1e-300)
    return bool(np.all(np.abs(answer - reference) <= tolerance))


def precision_hint(got: Any, want: Any, scale: float | None = None) -> str | None:
    """A hint when a float64 answer is right only to float32 precision, else None."""
    if _dtype_name(got) != "float64" or close(got, want, scale):
        return None
    if close(torch.as_tensor(as_array(got)).float(), want, scale):
        return ("your result agrees with the right one only to the precision of float32 (a "
                "tensor made from Python floats with torch.tensor(...) is float32, and so is "
                "anything computed from it). Work in float64 throughout, or return the float32 "
                "tensor itself.")
    return None


def binomial_tolerance(p: float, n: int, sigmas: float = 6.0) -> float:
    """`sigmas` binomial standard deviations of the fraction of n draws, plus a little slack."""
    return sigmas * math.sqrt(p * (1 - p) / n) + 1e-9


def count_spread(counts: Any, n: int, p: float) -> float:
    """The variance of `counts` over repeated draws, divided by the binomial variance n p (1-p).

    Independent draws, each kept with probability 1 - p, give about 1 (with K counts the ratio
    has a standard deviation near sqrt(2 / K)); a mask that always keeps exactly the same
    number of entries gives 0.
    """
    values = np.asarray(counts, dtype=np.float64)
    return float(values.var(ddof=1) / (n * p * (1 - p)))
