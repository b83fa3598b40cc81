"""Monte-Carlo dropout: predictive mean and spread from dropout kept on at test time (chapter 6).

Gal and Ghahramani (2016) read a network trained with dropout as an approximate Bayesian model:
keep dropout on at test time, run $T$ forward passes with independent masks and use

$$\\hat\\mu(x) = \\frac1T \\sum_t \\hat y_t(x), \\qquad
  \\hat\\sigma^2(x) = \\frac1T \\sum_t \\hat y_t(x)^2 - \\hat\\mu(x)^2 .$$

`mc_predict` draws all $T$ samples in **one** batched forward pass: the input batch is repeated
$T$ times, so every row gets its own dropout mask. `mc_predict_loop` is the plain loop with the
same statistics, kept as a reference. Both put only the dropout layers in training mode (a
BatchNorm layer keeps using its running statistics) and restore every module's mode afterwards.

Dropout must live in modules: `dropout_lib.layers.Dropout` or any `torch.nn` dropout layer
(`Dropout`, `Dropout1d/2d/3d`, `AlphaDropout`, ...). A `forward` that calls
`torch.nn.functional.dropout` with its own flag is not seen.

Where the masks come from, when a `generator` is given:

- a `dropout_lib.layers.Dropout` draws its masks from that generator (its `generator`
  attribute is swapped for the call and put back afterwards);
- a `torch.nn` dropout layer cannot take a generator, so the forward pass runs inside
  `torch.random.fork_rng`, with the global generator of the device seeded by a number drawn
  from `generator`. The result is reproducible and the global random state is left as it was.

Without a generator every mask comes from the global generators, as in ordinary training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from . import models
from .data import Split
from .layers import Dropout

__all__ = [
    "chapter_model", "coverage", "dropout_layers", "gap_regression", "mc_predict",
    "mc_predict_loop", "spread_ratio",
]

_TORCH_DROPOUT = nn.modules.dropout._DropoutNd  # base of every torch.nn dropout layer


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The dropout modules of `model` (the course's `Dropout` and torch's), in module order."""
    return [m for m in model.modules() if isinstance(m, Dropout | _TORCH_DROPOUT)]


@contextlib.contextmanager
def _mc_mode(model: nn.Module, generator: torch.Generator | None, device: torch.device
             ) -> Iterator[None]:
    """Dropout layers in training mode, everything else in evaluation mode; all undone on exit."""
    layers = dropout_layers(model)
    if not layers:
        raise ValueError("the model has no dropout layer, so every MC sample would be the same; "
                         "MC dropout needs dropout modules (dropout_lib.layers.Dropout or "
                         "torch.nn.Dropout)")
    modes = {m: m.training for m in model.modules()}
    own = [m for m in layers if isinstance(m, Dropout)]
    generators = {m: m.generator for m in own}
    fork, seed_global = contextlib.nullcontext(), None
    if generator is not None and len(own) < len(layers):
        # torch.nn dropout reads the device's global generator: seed it from `generator`,
        # inside a fork, so that the caller's global random state is the same afterwards.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        if device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            fork = torch.random.fork_rng(devices=[index])
            seed_global = torch.cuda.default_generators[index]
        elif device.type == "cpu":
            fork = torch.random.fork_rng(devices=[])
            seed_global = torch.default_generator
        else:
            raise ValueError(f"a generator for torch.nn dropout layers works on cpu and cuda, "
                             f"not {device.type}; use dropout_lib.layers.Dropout instead")
    try:
        model.eval()
        for layer in layers:
            layer.train()
        if generator is not None:
            for layer in own:
                layer.generator = generator
        with fork:
            if seed_global is not None:
                seed_global.manual_seed(seed)
            yield
    finally:
        for module, mode in modes.items():
            module.training = mode
        for layer, gen in generators.items():
            layer.generator = gen


def _check_args(model: nn.Module, x: torch.Tensor, samples: int) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError("x must have a batch dimension: shape (n, ...)")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an int >= 2 (a spread needs two samples), got "
                         f"{samples!r}")


@torch.no_grad()
def mc_predict(
    model: nn.Module, x: torch.Tensor, samples: int = 100, *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MC-dropout mean and standard deviation from one batched forward pass.

    `x` is repeated `samples` times along the batch dimension, giving a batch of
    `samples * n` rows; each row gets its own dropout masks, so each copy is one sample
    $\\hat y_t$. Memory grows with `samples * n`: split `x` into chunks for very large inputs.

    Args:
        model: a module with at least one dropout layer. Only its dropout layers are put in
            training mode (BatchNorm keeps its running statistics and is not updated); every
            module's mode, and each `Dropout`'s generator, is restored afterwards.
        x: inputs, shape (n, ...), on the model's device.
        samples: $T$, the number of masks per input (at least 2).
        generator: makes the masks reproducible (see the module docstring); the global
            generators when None.

    Returns:
        `(mean, std)`, each shaped like `model(x)`: the average of the samples and their
        standard deviation with divisor $T$ (the population formula above).

    Raises:
        TypeError, ValueError: bad arguments, or a model without dropout layers.
    """
    _check_args(model, x, samples)
    n = x.shape[0]
    with _mc_mode(model, generator, x.device):
        # repeat puts copy t of the whole batch in rows t*n .. (t+1)*n - 1: sample-major.
        out = model(x.repeat(samples, *([1] * (x.dim() - 1))))
    out = out.reshape(samples, n, *out.shape[1:])
    return out.mean(dim=0), out.std(dim=0, correction=0)


@torch.no_grad()
def mc_predict_loop(
    model: nn.Module, x: torch.Tensor, samples: int = 100, *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference for `mc_predict`: `samples` separate forward passes in a Python loop.

    Same arguments, modes, generator handling and statistics as `mc_predict`. With a single
    dropout layer and the same CPU generator state it draws exactly the same masks (one
    draw of `samples * n` rows equals `samples` draws of `n` rows), so both functions return
    the same numbers; with several dropout layers the masks are drawn in another order and
    the two agree in distribution only.
    """
    _check_args(model, x, samples)
    with _mc_mode(model, generator, x.device):
        out = torch.stack([model(x) for _ in range(samples)])
    return out.mean(dim=0), out.std(dim=0, correction=0)


def coverage(y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, z: float = 1.96) -> float:
    """The fraction of targets inside the central interval $[\\mu - z\\sigma, \\mu + z\\sigma]$.

    Reference for Exercise 6.3. For a calibrated Gaussian prediction, $z = 1.96$ gives 95%
    and $z = 1$ about 68%.

    Args:
        y, mean, std: tensors of the same shape (for example (n, 1)).
        z: half-width of the interval in standard deviations, positive.

    Returns:
        A float in [0, 1].
    """
    if not z > 0:
        raise ValueError(f"z must be positive, got {z}")
    if not (y.shape == mean.shape == std.shape):
        raise ValueError(f"y, mean and std must have one shape, got {tuple(y.shape)}, "
                         f"{tuple(mean.shape)}, {tuple(std.shape)}")
    inside = (y - mean).abs() <= z * std
    return inside.double().mean().item()


def spread_ratio(std: torch.Tensor, inside: torch.Tensor) -> float:
    """Mean spread where `inside` is False divided by the mean spread where it is True."""
    std, inside = std.reshape(-1), inside.reshape(-1)
    return (std[~inside].mean() / std[inside].mean()).item()


def target(x: torch.Tensor | np.ndarray):
    """The noise-free function behind `gap_regression`: $\\sin(x)$."""
    return torch.sin(x) if isinstance(x, torch.Tensor) else np.sin(x)


def gap_regression(
    n_train: int = 80, n_holdout: int = 400, noise: float = 0.1, seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Split:
    """$y = \\sin(x) + \\varepsilon$, trained on two clusters, held out on a wide range.

    Training inputs are uniform on $[-4, -1] \\cup [1, 4]$ (half in each cluster), so the
    data have a gap around 0 and nothing beyond $|x| = 4$. Holdout inputs are uniform on
    $[-12, 12]$: some inside the clusters, some in the gap, many far outside. The noise is
    $\\varepsilon \\sim N(0, \\text{noise}^2)$ on both sets.

    Returns:
        A `Split` with inputs and targets of shape (n, 1).
    """
    if noise < 0 or n_train < 2 or n_holdout < 1:
        raise ValueError(f"need noise >= 0, n_train >= 2, n_holdout >= 1; got {noise}, "
                         f"{n_train}, {n_holdout}")
    rng = np.random.default_rng(seed)
    half = n_train // 2
    x_train = np.concatenate([rng.uniform(-4, -1, half), rng.uniform(1, 4, n_train - half)])
    x_holdout = rng.uniform(-12, 12, n_holdout)
    y_train = target(x_train) + noise * rng.standard_normal(n_train)
    y_holdout = target(x_holdout) + noise * rng.standard_normal(n_holdout)
    col = lambda a: torch.as_tensor(a[:, None], dtype=dtype)  # noqa: E731
    return Split(col(x_train), col(y_train), col(x_holdout), col(y_holdout), None,
                 f"sin(x) on two clusters, noise {noise}")


def in_data(x: torch.Tensor) -> torch.Tensor:
    """True where an input lies inside the training clusters of `gap_regression`."""
    return (x.abs() >= 1) & (x.abs() <= 4)


def chapter_model(
    activation: str = "relu", dropout: float = 0.1, seed: int = 0, steps: int = 500,
    n_hidden: int = 64, n_train: int = 80, device: torch.device | str | None = None,
) -> tuple[nn.Sequential, Split]:
    """Build and train the chapter-6 regression model, reproducibly; returns `(model, split)`.

    A `1 - n_hidden - n_hidden - 1` MLP in float64 with dropout `dropout` in front of both
    hidden-to-next layers (`models.mlp`), trained on `gap_regression(n_train, seed=seed)` with
    full-batch Adam (learning rate 0.01, weight decay 1e-4) for `steps` steps. The model is
    returned in evaluation mode, on `device`, with the split moved there too. About a second
    of CPU time with the defaults.
    """
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    split = gap_regression(n_train, seed=seed).to(device or "cpu")
    device = split.x_train.device
    with torch.random.fork_rng(devices=[]):  # the initial weights, without touching global state
        torch.default_generator.manual_seed(seed)
        model = models.mlp([1, n_hidden, n_hidden, 1], dropout=dropout, activation=activation)
    model.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    for layer in dropout_layers(model):
        layer.generator = generator
    _fit_full_batch(model, split, steps)
    for layer in dropout_layers(model):
        layer.generator = None
    return model.eval(), split


def _fit_full_batch(model: nn.Module, split: Split, steps: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(split.x_train), split.y_train).backward()
        opt.step()
    model.eval()
