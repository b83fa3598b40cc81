"""dropout_lib: the library behind the course "Dropout, from first principles".

Modules, in the order the chapters use them:

- `functional`: the reference `dropout` function on tensors (chapter 2);
- `layers`: dropout and its variants as `nn.Module`s (chapters 2 and 8);
- `data`: small seeded data sets (`digits`, `two_input_regression`, ...);
- `models`: `mlp`, with a dropout rate per layer;
- `training`: `fit` and `evaluate`, returning a per-epoch `History`;
- `plotting`: `plot_*` helpers that draw on a matplotlib `Axes`;
- `by_hand`: the mask, forward and backward pass written out in NumPy (chapter 2);
- `analysis`: co-adaptation measurements on hidden layers (chapter 3);
- `ensembles`: subnetworks, exact mask enumeration and explicit ensembles (chapter 4);
- `inference`: standard versus inverted dropout, MC averaging, the variance shift (chapter 5);
- `uncertainty`: MC-dropout predictive mean and spread, batched (chapter 6);
- `practice`: max-norm, a lean `train`, rate sweeps and the batch-norm variance shift (chapter 7);
- `blocks`: a tiny CNN and a self-attention block with their dropout layers (chapter 7);
- `grading`: `check(exercise_id, answer)` and the exercise registry; `grade` is the scorecard.
"""

from . import (
    analysis,
    blocks,
    by_hand,
    data,
    ensembles,
    functional,
    grading,
    inference,
    layers,
    models,
    plotting,
    practice,
    training,
    uncertainty,
)
from .functional import dropout
from .grading import check
from .layers import Dropout
from .seeding import set_seed

__all__ = [
    "Dropout", "analysis", "blocks", "by_hand", "check", "data", "dropout", "ensembles",
    "functional", "grading", "inference", "layers", "models", "plotting", "practice",
    "set_seed", "training", "uncertainty",
]
__version__ = "0.1.0"
