"""The variance shift: what dropout in front of batch normalisation does at test time
(chapters 5 and 7; Li et al., 2019).

Dropout keeps the mean of its input but, in training, raises its variance (`dropout_variance`).
A batch-norm layer behind it stores that training-time variance as its running variance and
divides by it at test time, when dropout is off and the variance is smaller. `variance_ratio`
measures the shift in a model: for each batch-norm layer, the variance of its input at test
time over its running variance. 1 means no shift; below 1, the layer shrinks its test inputs.
`recalibrate` removes the shift from a trained model without touching its weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .functional import validate_p

__all__ = ["dropout_variance", "recalibrate", "variance_ratio"]


def dropout_variance(mean: float, variance: float, p: float) -> float:
    """Variance of inverted dropout's output for an input of the given mean and variance.

    $\\operatorname{Var}[m x/(1-p)] = (c^2 + v)/(1-p) - c^2$ for $x$ with mean $c$ and
    variance $v$, independent of the mask; at test time the variance is just $v$.

    Args:
        mean, variance: $c$ and $v$ of the input ($v \\ge 0$).
        p: the drop probability, in [0, 1): at p = 1 the scaled output is undefined.
    """
    p = validate_p(p, allow_one=False)
    if variance < 0:
        raise ValueError(f"variance must be non-negative, got {variance}")
    return (mean**2 + variance) / (1.0 - p) - mean**2


@torch.no_grad()
def variance_ratio(model: nn.Module, x: torch.Tensor) -> list[float]:
    """For each batch-norm layer: the variance of its input at test time over its running variance.

    The model runs once in evaluation mode on `x` (its modes are restored); a forward hook
    records each batch-norm layer's input. The variance is taken per feature (channel) over the
    batch (and the positions of a feature map), without Bessel's correction, divided by the
    layer's running variance and averaged over the features.

    Args:
        model: a module with at least one `BatchNorm1d`/`2d`/`3d` that tracks running statistics.
        x: test inputs, a batch of them.

    Returns:
        One ratio per batch-norm layer, in `model.modules()` order.
    """
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None]
    if not norms:
        raise ValueError("the model has no batch-norm layer with running statistics")
    seen: dict[int, torch.Tensor] = {}
    hooks = [norm.register_forward_hook(
        lambda module, inputs, output, i=i: seen.__setitem__(i, inputs[0]))
        for i, norm in enumerate(norms)]
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        model(x)
    finally:
        for module, mode in modes.items():
            module.training = mode
        for hook in hooks:
            hook.remove()
    ratios = []
    for i, norm in enumerate(norms):
        features = seen[i].transpose(0, 1).flatten(1)  # (features, batch * positions)
        ratios.append((features.var(dim=1, unbiased=False) / norm.running_var).mean().item())
    return ratios


@torch.no_grad()
def recalibrate(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """A copy of `model` whose batch-norm layers re-estimate their statistics with dropout off.

    The weights stay as trained; only the running means and variances change. For each
    batch-norm layer in turn (in `modules()` order, which must be the order of the forward
    pass), the copy runs on `x` (training inputs, a batch of them) in evaluation mode except
    for that layer, which takes its running statistics from the batch (reset, then cumulative
    averaging, `momentum=None`). Every layer so sees the inputs it gets at test time, dropout
    off and the layers before it already recalibrated, and no variance shift is left (chapter
    5 separates the shift's cost from that of where dropout sits). `model` is not changed.

    Returns:
        The copy, in evaluation mode (its batch-norm layers keep `momentum=None`).
    """
    new = copy.deepcopy(model)
    norms = [m for m in new.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None]
    if not norms:
        raise ValueError("the model has no batch-norm layer with running statistics")
    new.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
        new(x)
        norm.eval()
    return new
