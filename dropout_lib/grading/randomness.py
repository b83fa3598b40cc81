"""A guard that leaves the global random generators exactly as a check found them.

A learner's answer may draw from the global generators (`torch.rand` without a generator,
`np.random`, `random`), and a checker may build models whose initialisation draws from them.
Every check runs inside `preserved_randomness`, so none of that reaches the notebook's later
cells: the torch CPU generator, the CUDA generators (when CUDA is initialised), NumPy's global
`RandomState` and Python's `random` are saved before and restored after. Inside, all three
start from a fixed seed, so a verdict does not depend on what the notebook drew before.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CHECK_SEED", "preserved_randomness", "random_states"]

CHECK_SEED = 20_240_601


def random_states() -> dict:
    """The states of the global generators, to compare or to restore."""
    import numpy as np
    import torch

    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore(states: dict) -> None:
    import numpy as np
    import torch

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


@contextmanager
def preserved_randomness(seed: int | None = CHECK_SEED) -> Iterator[None]:
    """Save the global generators, seed them with `seed` (None: leave them), restore on exit.

    Only the CPU generator is seeded (`torch.default_generator`, not `torch.manual_seed`), so
    nothing is queued for a CUDA that is not initialised yet.
    """
    import numpy as np
    import torch

    saved = random_states()
    try:
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed)
            torch.default_generator.manual_seed(seed)
        yield
    finally:
        _restore(saved)
