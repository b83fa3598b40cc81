"""Dropout at test time: the two scaling conventions, Monte-Carlo averaging, the variance shift
under batch normalisation, and the closed form of dropout in linear regression (chapter 5).

`p` is always the *drop* probability, as in PyTorch; the keep probability is $1-p$.

- **Standard dropout** (the original papers): training multiplies by the mask $m$ only; at
  test time the outgoing weights are multiplied by $1-p$.
- **Inverted dropout** (PyTorch, `layers.Dropout`): training multiplies by $m/(1-p)$; at test
  time nothing changes. Both match the expectation $E[m x / (1-p)] = x$ at the right end.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .functional import validate_p
from .layers import Dropout

__all__ = [
    "StandardDropout", "bn_mlp", "bn_variance_ratio", "dropout_expected_loss",
    "dropout_regression_weights", "dropout_sampled_loss", "dropout_variance",
    "fit_linear_with_dropout", "looks_like_training_mode", "mc_average", "mc_error_curve",
    "replace_dropout", "scale_weights_for_inference", "standard_to_inverted",
]

_DROPOUT_TYPES = (Dropout, nn.Dropout)


class StandardDropout(nn.Module):
    """Dropout as in the original papers: no scaling in training, scaling by $1-p$ at test time.

    In training mode the output is $m \\odot x$ with $m_i \\sim \\text{Bernoulli}(1-p)$. In
    evaluation mode it is $(1-p)\\,x$, which is the same as multiplying the next layer's
    weights by the keep probability.

    Args:
        p: the drop probability, in [0, 1].
        generator: optional `torch.Generator` for reproducible masks.
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = validate_p(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep_prob = 1.0 - self.p
        if not self.training:
            return x * keep_prob
        keep = torch.empty(x.shape, dtype=torch.bool, device=x.device)
        keep.bernoulli_(keep_prob, generator=self.generator)
        return torch.where(keep, x, 0.0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _is_dropout(layer: nn.Module) -> bool:
    return isinstance(layer, _DROPOUT_TYPES + (StandardDropout,))


def replace_dropout(model: nn.Sequential, make_layer: Callable[[float], nn.Module]
                    ) -> nn.Sequential:
    """A deep copy of `model` with every dropout layer replaced by `make_layer(p)`.

    Both conventions count as dropout layers (`layers.Dropout`, `torch.nn.Dropout`,
    `StandardDropout`); the original model is not changed.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    layers = [make_layer(float(layer.p)) if _is_dropout(layer) else copy.deepcopy(layer)
              for layer in model]
    new = nn.Sequential(*layers)
    new.train(model.training)
    return new


def scale_weights_for_inference(weight: torch.Tensor, bias: torch.Tensor | None, p: float
                                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Test-time parameters of a layer that follows standard dropout (reference, Exercise 5.1).

    Its inputs were multiplied by masks with mean $1-p$ during training, so at test time the
    weights are multiplied by $1-p$. The bias never sat behind a mask and stays as it is.

    Args:
        weight: shape `(n_out, n_in)`; not modified.
        bias: shape `(n_out,)`, or None.
        p: the drop probability of the dropout layer in front, in [0, 1].

    Returns:
        `(weight * (1 - p), bias)` as new tensors.
    """
    p = validate_p(p)
    return weight * (1.0 - p), None if bias is None else bias.clone()


def standard_to_inverted(model: nn.Sequential) -> nn.Sequential:
    """Convert a model trained with `StandardDropout` into PyTorch's inverted convention.

    Each `StandardDropout(p)` becomes an inverted `layers.Dropout(p)`, and the weights of the
    `nn.Linear` after it are multiplied by $1-p$. The result computes the same function as the
    original in both modes: $(1-p)W \\cdot m x/(1-p) = W \\cdot m x$ in training, and
    $(1-p) W x$ at test time.

    Returns:
        A new `nn.Sequential`; `model` is not changed.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    layers = [copy.deepcopy(layer) for layer in model]
    for index, layer in enumerate(layers):
        if not isinstance(layer, StandardDropout):
            continue
        following = [m for m in layers[index + 1:] if isinstance(m, nn.Linear)]
        if not following:
            raise ValueError(f"StandardDropout at index {index} is not followed by an nn.Linear")
        with torch.no_grad():
            following[0].weight.mul_(1.0 - layer.p)
        layers[index] = Dropout(layer.p)
    new = nn.Sequential(*layers)
    new.train(model.training)
    return new


@torch.no_grad()
def mc_average(model: nn.Module, x: torch.Tensor, n_samples: int, average: str = "probs"
               ) -> torch.Tensor:
    """Monte-Carlo averaging: keep dropout on and average over `n_samples` passes (Exercise 5.3).

    Args:
        model: a classifier whose outputs are logits. It is switched to training mode for the
            passes and put back in the mode it was in.
        x: inputs, shape `(batch, n_features)`.
        n_samples: number of forward passes, at least 1.
        average: "probs" averages the softmax probabilities of the passes (the ensemble's
            arithmetic mean); "logits" averages the logits and applies one softmax at the end.

    Returns:
        Class probabilities, shape `(batch, n_classes)`.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    if average not in ("probs", "logits"):
        raise ValueError(f"average must be 'probs' or 'logits', got {average!r}")
    was_training = model.training
    model.train()
    try:
        total = 0.0
        for _ in range(n_samples):
            logits = model(x)
            total = total + (torch.softmax(logits, -1) if average == "probs" else logits)
    finally:
        model.train(was_training)
    mean = total / n_samples
    return mean if average == "probs" else torch.softmax(mean, -1)


@torch.no_grad()
def mc_error_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   sample_counts: Sequence[int], n_repeats: int = 1, average: str = "probs"
                   ) -> np.ndarray:
    """Holdout error of Monte-Carlo averaging for several numbers of samples.

    One run draws `max(sample_counts)` passes and reads the error of the running average at
    each count; the errors are averaged over `n_repeats` independent runs. Masks come from the
    model's own generators (the global one for `layers.Dropout` by default).

    Args:
        model: a classifier with dropout layers; its mode is restored afterwards.
        x, y: inputs `(batch, n_features)` and class labels `(batch,)`.
        sample_counts: increasing positive ints, for example `[1, 2, 5, 10]`.
        n_repeats: independent runs to average over.
        average: "probs" or "logits", as in `mc_average`.

    Returns:
        Errors in [0, 1], shape `(len(sample_counts),)`.
    """
    counts = list(sample_counts)
    if not counts or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in counts):
        raise ValueError(f"sample_counts must be positive ints, got {counts}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be at least 1, got {n_repeats}")
    if average not in ("probs", "logits"):
        raise ValueError(f"average must be 'probs' or 'logits', got {average!r}")
    wanted = set(counts)
    errors = {k: 0.0 for k in counts}
    was_training = model.training
    model.train()
    try:
        for _ in range(n_repeats):
            total = 0.0
            for k in range(1, max(counts) + 1):
                logits = model(x)
                total = total + (torch.softmax(logits, -1) if average == "probs" else logits)
                if k in wanted:
                    errors[k] += (total.argmax(1) != y).double().mean().item() / n_repeats
    finally:
        model.train(was_training)
    return np.array([errors[k] for k in counts])


@torch.no_grad()
def looks_like_training_mode(predict: Callable[[torch.Tensor], torch.Tensor],
                             x: torch.Tensor) -> bool:
    """Whether a black-box predictor behaves like a dropout model left in training mode.

    Reference for Exercise 5.2. A model in evaluation mode is deterministic: the same input
    gives bit-for-bit the same output. With dropout active, two passes draw different masks.

    Args:
        predict: maps inputs to outputs; only its outputs are looked at.
        x: a batch of inputs.

    Returns:
        True when two calls on the same input disagree.
    """
    return not torch.equal(predict(x), predict(x))


# --- the variance shift -----------------------------------------------------------------------

def dropout_variance(mean: float, variance: float, p: float) -> float:
    """Variance of inverted dropout's output for an input of the given mean and variance.

    $\\operatorname{Var}[m x/(1-p)] = (c^2 + v)/(1-p) - c^2$ for $x$ with mean $c$ and
    variance $v$, independent of the mask; at test time the variance is just $v$
    (Li et al., 2019).
    """
    p = validate_p(p)
    if p == 1.0:
        raise ValueError("p = 1 drops everything; the scaled output is undefined")
    if variance < 0:
        raise ValueError(f"variance must be non-negative, got {variance}")
    return (mean**2 + variance) / (1.0 - p) - mean**2


def bn_mlp(sizes: Sequence[int], p: float, dropout_before_bn: bool,
           dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
           ) -> nn.Sequential:
    """An MLP with batch normalisation after every hidden `Linear`, and dropout placed so that
    it does (or does not) feed a `BatchNorm1d`.

    With `dropout_before_bn=True` every hidden layer is `Linear -> BN -> ReLU -> Dropout`, so
    the next BN learns its statistics from dropped, rescaled inputs (the variance shift). With
    False, dropout comes once, after the last BN, right before the output layer (the fix of
    Li et al., 2019).

    Args:
        sizes: widths from input to output, at least one hidden layer: `[64, 128, 128, 10]`.
        p: the drop probability.
        dropout_before_bn: where to put dropout, as above.
        dtype, device: of the parameters.
    """
    sizes = list(sizes)
    if len(sizes) < 3:
        raise ValueError(f"sizes needs at least one hidden layer, got {sizes}")
    p = validate_p(p)
    layers: list[nn.Module] = []
    hidden = list(zip(sizes[:-2], sizes[1:-1], strict=True))
    for i, (n_in, n_out) in enumerate(hidden):
        layers += [nn.Linear(n_in, n_out, dtype=dtype, device=device),
                   nn.BatchNorm1d(n_out, dtype=dtype, device=device), nn.ReLU()]
        if dropout_before_bn or i == len(hidden) - 1:
            layers.append(Dropout(p))
    layers.append(nn.Linear(sizes[-2], sizes[-1], dtype=dtype, device=device))
    return nn.Sequential(*layers)


@torch.no_grad()
def bn_variance_ratio(model: nn.Module, x: torch.Tensor) -> list[float]:
    """For each `BatchNorm1d`: the variance of its input at test time over its running variance.

    The model runs in evaluation mode on `x` (its mode is restored). A ratio of 1 means the
    statistics learned in training fit the test-time inputs; below 1, BN divides test inputs
    by a variance that is too large.

    Returns:
        One ratio per BatchNorm layer, the mean over its features.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    if not norms:
        raise ValueError("the model has no BatchNorm1d layer")
    seen: dict[int, torch.Tensor] = {}
    hooks = [norm.register_forward_hook(
        lambda module, inputs, output, i=i: seen.__setitem__(i, inputs[0]))
        for i, norm in enumerate(norms)]
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return [(seen[i].var(0, unbiased=False) / norm.running_var).mean().item()
            for i, norm in enumerate(norms)]


# --- linear regression: dropout as a data-dependent L2 penalty --------------------------------

def _regression_inputs(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.dim() != 2:
        raise ValueError(f"x must have shape (n, n_features), got {tuple(x.shape)}")
    y = y.reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)} entries")
    return x, y.to(x.dtype)


def dropout_expected_loss(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, p: float) -> float:
    """$E\\|y - (M \\odot X / (1-p))\\,w\\|^2$ in closed form, inverted dropout on the inputs.

    Each input $x_{ij}$ becomes $m_{ij} x_{ij}/(1-p)$, with mean $x_{ij}$ and variance
    $x_{ij}^2\\,p/(1-p)$, so the expected squared error is
    $\\|y - Xw\\|^2 + \\frac{p}{1-p}\\sum_j w_j^2 \\|X_{:,j}\\|^2$: least squares plus an L2
    penalty whose weight for each feature is that feature's squared norm
    (Srivastava et al., 2014, section 9.1).

    Args:
        x: inputs, shape `(n, n_features)`; y: targets, `(n,)` or `(n, 1)`;
        w: weights, `(n_features,)`; p: drop probability in [0, 1).

    Returns:
        The expected sum of squared errors.
    """
    p = validate_p(p)
    if p == 1.0:
        raise ValueError("p must be below 1")
    x, y = _regression_inputs(x, y)
    w = w.reshape(-1).to(x.dtype)
    fit = ((y - x @ w) ** 2).sum()
    penalty = (w**2 * (x**2).sum(0)).sum()
    return (fit + p / (1.0 - p) * penalty).item()


@torch.no_grad()
def dropout_sampled_loss(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, p: float,
                         n_samples: int, generator: torch.Generator | None = None) -> float:
    """The same expectation as `dropout_expected_loss`, estimated from `n_samples` masks."""
    p = validate_p(p)
    x, y = _regression_inputs(x, y)
    w = w.reshape(-1).to(x.dtype)
    keep = torch.empty((n_samples, *x.shape), dtype=torch.bool, device=x.device)
    keep.bernoulli_(1.0 - p, generator=generator)
    predictions = (torch.where(keep, x, 0.0) / (1.0 - p)) @ w   # (n_samples, n)
    return ((y - predictions) ** 2).sum(1).mean().item()


def dropout_regression_weights(x: torch.Tensor, y: torch.Tensor, p: float) -> torch.Tensor:
    """The minimiser of the expected dropout loss (reference for Exercise 5.5).

    $w = \\big(X^\\top X + \\tfrac{p}{1-p}\\,\\operatorname{diag}(X^\\top X)\\big)^{-1} X^\\top y$:
    ridge regression whose penalty on each weight is scaled by its feature's squared norm.

    Returns:
        Shape `(n_features,)`.
    """
    p = validate_p(p)
    if p == 1.0:
        raise ValueError("p must be below 1")
    x, y = _regression_inputs(x, y)
    gram = x.T @ x
    penalised = gram + p / (1.0 - p) * torch.diag(torch.diagonal(gram))
    return torch.linalg.solve(penalised, x.T @ y)


def fit_linear_with_dropout(x: torch.Tensor, y: torch.Tensor, p: float, steps: int = 4000,
                            lr: float = 0.1, generator: torch.Generator | None = None
                            ) -> torch.Tensor:
    """Fit $y \\approx Xw$ by gradient descent with fresh inverted-dropout masks on the inputs at
    every step; return the average of the iterates over the second half of training.

    Args:
        x, y: as in `dropout_expected_loss`; the mean squared error is minimised.
        p: the drop probability; steps, lr: plain gradient descent on the full batch.
        generator: where the masks come from.

    Returns:
        Shape `(n_features,)`.
    """
    p = validate_p(p)
    x, y = _regression_inputs(x, y)
    w = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    average = torch.zeros_like(w)
    n_averaged = 0
    for step in range(steps):
        keep = torch.empty(x.shape, dtype=torch.bool, device=x.device)
        keep.bernoulli_(1.0 - p, generator=generator)
        dropped = torch.where(keep, x, 0.0) / (1.0 - p)
        gradient = 2.0 / len(x) * dropped.T @ (dropped @ w - y)
        w = w - lr * gradient
        if step >= steps // 2:
            average += w
            n_averaged += 1
    return average / n_averaged
