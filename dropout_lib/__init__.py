"""dropout_lib: the library behind the course "Dropout, from first principles".

Core modules, which every chapter may use:

- `functional`: the reference `dropout`, `validate_p` and the mask kernel (chapter 2);
- `layers`: the `Dropout` layer, the base of every dropout layer and `dropout_layers`;
- `variants`: DropConnect, Gaussian, spatial and alpha dropout, DropBlock, DropPath (chapter 8);
- `initialisation`: PyTorch's default initialisation, drawn from a generator;
- `data`: small seeded data sets (`digits`, `two_input_regression`, ...);
- `models`: `mlp`, with a dropout rate per layer;
- `training`: `fit` and `evaluate`, returning a `History`;
- `stacked`: `fit`, many small MLPs trained side by side, each as `training.fit` trains it,
  and `train`, its loop for any model written as a stack;
- `mc`: Monte-Carlo dropout, `mc_predict` and `mc_average` (chapters 5 and 6);
- `batchnorm`: the variance shift of dropout before batch normalisation (chapters 5 and 7);
- `plotting`: `plot_*` helpers that draw on a matplotlib `Axes`;
- `seeding`: `set_seed`, the one function that seeds the global generators;
- `spread`: `over_seeds` and `spread`, an experiment repeated over seeds, as mean ± sd.

Chapter modules: `by_hand` (2), `analysis` (3), `ensembles` (4), `inference` and `regression`
(5), `uncertainty` (6), `practice`, `data_size`, `blocks` and `transformer` (7). `grading` holds
`check(exercise_id, answer)`; `grade` is the scorecard.

Importing the package loads none of them: each is imported the first time it is used
(`dropout_lib.plotting`, `from dropout_lib import plotting, check`), so `import dropout_lib`
is fast and pulls in neither matplotlib nor scikit-learn.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_MODULES = (
    "analysis", "batchnorm", "blocks", "by_hand", "data", "data_size", "ensembles",
    "functional", "grading", "inference", "initialisation", "layers", "mc", "models",
    "plotting", "practice",
    "regression", "seeding", "spread", "stacked", "training", "transformer", "uncertainty",
    "variants",
)
# The names re-exported at the top level, and the module each one lives in.
_NAMES = {"Dropout": "layers", "check": "grading", "dropout": "functional",
          "set_seed": "seeding"}

__all__ = sorted(_MODULES + tuple(_NAMES))


def __getattr__(name: str):
    """Import a submodule, or the module of a re-exported name, on first use (PEP 562)."""
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
