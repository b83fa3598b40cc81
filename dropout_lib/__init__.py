"""dropout_lib: the library behind the course "Dropout, from first principles".

Modules, in the order the chapters use them:

- `functional`: the reference `dropout` function on tensors;
- `layers`: dropout as `nn.Module`s;
- `data`: small seeded data sets (`digits`, `two_input_regression`, ...);
- `models`: `mlp`, with a dropout rate per layer;
- `training`: `fit` and `evaluate`, returning a per-epoch `History`;
- `plotting`: `plot_*` helpers that draw on a matplotlib `Axes`;
- `practice`: max-norm, a lean `train`, rate sweeps and the batch-norm variance shift (ch. 7);
- `blocks`: a tiny CNN and a self-attention block with their dropout layers (ch. 7);
- `grading`: `check(exercise_id, answer)` and the exercise registry.
"""

from . import blocks, data, functional, grading, layers, models, plotting, practice, training
from .functional import dropout
from .grading import check
from .layers import Dropout
from .seeding import set_seed

__all__ = [
    "Dropout", "blocks", "check", "data", "dropout", "functional", "grading", "layers", "models",
    "plotting", "practice", "set_seed", "training",
]
__version__ = "0.1.0"
