"""Repeating an experiment over seeds and reporting the spread (every chapter).

A headline comparison in the book is never one run: `over_seeds` runs it once per seed and
`Spread` prints the mean with its standard deviation and range, so that a reader sees how
much of a difference is the seed's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Spread", "over_seeds", "spread"]


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation (divisor n - 1) and range of one measurement over seeds."""

    mean: float
    sd: float
    low: float
    high: float
    n: int

    def format(self, spec: str = ".3f", show_range: bool = False) -> str:
        """`mean ± sd`, each with the format `spec` (".1%" gives "7.6% ± 0.4%")."""
        text = f"{self.mean:{spec}} ± {self.sd:{spec}}"
        if show_range:
            text += f" ({self.low:{spec}} to {self.high:{spec}})"
        return text

    def __str__(self) -> str:
        return self.format()


def spread(values: Iterable[float]) -> Spread:
    """The `Spread` of a list of measurements, one per seed (at least one).

    With a single value the standard deviation is 0; with several it is the sample standard
    deviation, so three seeds that agree to the last digit print "± 0".
    """
    array = np.asarray(list(values), dtype=np.float64)
    if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"values must be a non-empty list of finite numbers, got {array!r}")
    sd = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return Spread(float(array.mean()), sd, float(array.min()), float(array.max()), array.size)


def over_seeds(experiment: Callable[[int], float | Sequence[float] | dict[str, float]],
               seeds: Iterable[int]) -> np.ndarray | dict[str, np.ndarray]:
    """Run `experiment(seed)` for every seed and stack the results.

    Args:
        experiment: takes one seed (an int it derives all of its randomness from) and returns
            a number, a sequence of numbers, or a dict of numbers.
        seeds: the seeds, for example `range(3)`.

    Returns:
        An array of shape `(n_seeds,)` or `(n_seeds, k)`, or for dict results a dict of
        arrays of shape `(n_seeds,)`, one per key.
    """
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    results = [experiment(seed) for seed in seeds]
    if all(isinstance(r, dict) for r in results):
        keys = list(results[0])
        if any(list(r) != keys for r in results):
            raise ValueError("every run must return the same keys")
        return {key: np.array([r[key] for r in results], dtype=np.float64) for key in keys}
    stacked = np.array(results, dtype=np.float64)
    if not np.all(np.isfinite(stacked)):
        raise ValueError("an experiment returned a value that is not a finite number")
    return stacked
