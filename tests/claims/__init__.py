"""The book's headline claims, each as a function that re-runs its experiment on one seed.

One module per chapter, `tests/claims/chNN.py`, holds that chapter's claims:

    from claims import claim

    @claim(1, "dropout closes the generalisation gap on noisy digits")
    def dropout_closes_the_gap(seed: int) -> None:
        ...  # the chapter's experiment, smaller where the direction holds, all randomness
        ...  # from `seed`; assert the direction the prose states, with the text's own words

`tests/test_claims.py` runs every claim on seeds that the chapter's code never uses (at least
three), so a direction the book shows on its own seed is shown to hold on others too. A claim
that fails on an unseen seed is not loosened: the experiment or the sentence changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """A sentence of chapter `chapter` and the experiment that backs it."""

    chapter: int
    text: str
    run: Callable[[int], None]
    n_seeds: int = 3

    @property
    def name(self) -> str:
        return self.run.__name__


REGISTRY: list[Claim] = []


def claim(chapter: int, text: str, n_seeds: int = 3) -> Callable:
    """Register the decorated `function(seed)` as a claim of `chapter`, run on `n_seeds` seeds."""
    if n_seeds < 3:
        raise ValueError("a claim is re-run on at least three unseen seeds")

    def register(function: Callable[[int], None]) -> Callable[[int], None]:
        REGISTRY.append(Claim(chapter, text, function, n_seeds))
        return function

    return register
