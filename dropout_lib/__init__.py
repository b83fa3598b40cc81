"""dropout_lib: the library behind the course "Dropout, from first principles".

Modules, in the order the chapters use them:

- `functional`: the reference `dropout` function on tensors;
- `layers`: dropout as `nn.Module`s;
- `data`: small seeded data sets (`digits`, `two_input_regression`, ...);
- `models`: `mlp`, with a dropout rate per layer;
- `training`: `fit` and `evaluate`, returning a per-epoch `History`;
- `plotting`: `plot_*` helpers that draw on a matplotlib `Axes`;
- `uncertainty`: MC-dropout prediction (`mc_predict`) and its calibration (chapter 6);
- `grading`: `check(exercise_id, answer)` and the exercise registry.
"""

from . import data, functional, grading, layers, models, plotting, training, uncertainty
from .functional import dropout
from .grading import check
from .layers import Dropout
from .seeding import set_seed

__all__ = [
    "Dropout", "check", "data", "dropout", "functional", "grading", "layers", "models",
    "plotting", "set_seed", "training", "uncertainty",
]
__version__ = "0.1.0"
