"""Many small MLPs trained side by side, each exactly as `training.fit` trains it alone.

A small network spends most of its time in per-step overhead. `fit` stacks the runs' weights:
each layer is one batched product (`torch.baddbmm`) and one Adam updates the stack. Adam is
element-wise and the summed loss gives each run its own gradient, so each run is trained as
`training.fit` trains it alone, up to rounding (`tests/test_stacked.py`): the same batches,
from its shuffle generator, and the same masks, from its dropout layers' generators. `train`
is the loop, for any model written as a stack (`transformer.fit`, `uncertainty`); `Masks`
draws each run's masks as `functional.keep_mask` draws them for that run alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .data import Split
from .functional import inverted_scale
from .layers import Dropout

__all__ = ["Masks", "fit", "train"]

# Element-wise activations, which act on a stack as on each run (models.ACTIVATIONS).
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.SELU, nn.GELU)


def _layout(model: nn.Module) -> tuple[list[nn.Linear], list[Dropout | None], list[type]]:
    """A `models.mlp` network as (its Linear layers, the dropout in front of each or None,
    the activation type after each hidden Linear)."""
    if not isinstance(model, nn.Sequential):
        raise TypeError("stacked.fit trains models.mlp networks (an nn.Sequential)")
    linears, drops, acts, pending = [], [], [], None
    for module in model:
        if isinstance(module, Dropout):
            if pending is not None:
                raise ValueError("two dropout layers in a row")
            pending = module
        elif isinstance(module, nn.Linear):
            linears.append(module)
            drops.append(pending)
            pending = None
        elif isinstance(module, _ELEMENTWISE) and len(acts) < len(linears):
            acts.append(type(module))
        else:
            raise ValueError(f"stacked.fit trains models.mlp networks: Linear, an activation "
                             f"and dropout.Dropout layers, not {type(module).__name__}")
    if not linears or pending is not None or len(acts) != len(linears) - 1:
        raise ValueError("not a models.mlp network: Linear layers with an activation between")
    return linears, drops, acts


class Masks:
    """Each run's dropout on a stack, drawn as `functional.keep_mask` draws it for that run alone.

    `Masks(layers)`, with `layers[r]` run r's `layers.Dropout` layers (or None) in site order;
    `masks(h, site, active)` applies `layers[active[a]][site]` to the slice `h[a]`: one draw
    per element from its generator, in `h[a]`'s layout, and the factor $1/(1-p)$. Apply the
    sites in the order of the forward pass, and give no two runs one generator.
    """

    def __init__(self, layers: Sequence[Sequence[Dropout | None]]) -> None:
        # per run and site: (keep probability, scale, generator), or None (p = 0 draws nothing)
        self.sites = [[None if d is None or d.p == 0.0 else
                       (1.0 - d.p, inverted_scale(d.p), d.generator) for d in run]
                      for run in layers]
        self.buffers: dict = {}

    def __call__(self, h: torch.Tensor, site: int, active: Sequence[int]) -> torch.Tensor:
        key = (site, tuple(active), tuple(h.shape))
        if key not in self.buffers:
            dropped = [(a, self.sites[r][site]) for a, r in enumerate(active)
                       if self.sites[r][site]]
            factor = torch.ones((len(h),) + (1,) * (h.dim() - 1), dtype=h.dtype,
                                device=h.device)
            for a, (_, scale, _) in dropped:
                factor[a] = scale
            self.buffers[key] = (torch.ones(h.shape, dtype=torch.bool, device=h.device),
                                 factor, dropped)
        kept, factor, dropped = self.buffers[key]
        if not dropped:
            return h
        for a, (keep, _, generator) in dropped:
            if keep == 0.0:  # p = 1: keep_mask draws nothing
                kept[a].fill_(False)
            else:
                kept[a].bernoulli_(keep, generator=generator)
        return h * (kept * factor)



def _batches(n: int, batch_size: int | None, steps: int, generator: torch.Generator,
             device: torch.device) -> list[torch.Tensor]:
    """The row indices of `steps` batches, drawn as `training.fit` draws them (all rows in
    order, drawing nothing, for `batch_size=None`)."""
    if batch_size is None:
        return [torch.arange(n, device=device)] * steps
    batches: list[torch.Tensor] = []
    while len(batches) < steps:
        order = torch.randperm(n, generator=generator, device=device)
        batches += [order[start:start + batch_size] for start in range(0, n, batch_size)]
    return batches[:steps]


def _pad_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    """`t` with rows of zeros appended, up to `rows` rows."""
    return torch.cat([t, t.new_zeros((rows - len(t), *t.shape[1:]))])


def _score(out: torch.Tensor, y: torch.Tensor, regression: bool,
           valid: torch.Tensor | None = None, counts: torch.Tensor | None = None
           ) -> torch.Tensor:
    """Per run: error rate, or mean squared error; over the rows where `valid` is True."""
    if regression:
        per_row = (out - y).pow(2).flatten(2).mean(dim=2)
        return per_row.mean(dim=1) if valid is None else (per_row * valid).sum(dim=1) / counts
    hits = out.argmax(dim=2) == y
    if valid is None:
        return 1.0 - hits.double().mean(dim=1)
    return 1.0 - (hits & valid).sum(dim=1).double() / counts


def fit(models: Sequence[nn.Module], splits: Split | Sequence[Split],
        checkpoints: Sequence[int] | Sequence[Sequence[int]],
        generators: Sequence[torch.Generator], lr: float = 1e-3, batch_size: int | None = 64,
        weight_decay: float = 0.0, with_train: bool = False) -> list[np.ndarray]:
    """Train `models.mlp` networks side by side with Adam; their holdout errors at checkpoints.

    Run r is `models[r]` trained on `splits[r]` as `training.fit(models[r], splits[r],
    lr=lr, batch_size=batch_size, weight_decay=weight_decay, generator=generators[r])` trains
    it, for `checkpoints[r][-1]` optimiser steps (an epoch has ceil(n_train / batch_size)
    steps). Its holdout error is measured, dropout off, right after each step listed in
    `checkpoints[r]`; measuring draws no randomness. A run leaves the stack after its last
    checkpoint. The trained weights are written back into the models, which are left in
    evaluation mode, so that `training.evaluate` measures anything else afterwards.

    Args:
        models: `models.mlp` networks with the same layer widths and activation; the rates
            and places of their `layers.Dropout` layers may differ. Each dropout layer draws
            its masks from its own generator.
        splits: one split for all runs, or one per run, all for classification or all for
            regression; each run's holdout set has the same size, and at every step the active
            runs' batches are equally large (equal training-set sizes, or sizes that are
            multiples of `batch_size`).
        checkpoints: increasing positive step counts, one list for all runs or one per run.
        generators: one per run; it shuffles that run's batches.
        lr, batch_size, weight_decay: as in `training.fit` with `optimizer="adam"`;
            `batch_size=None` trains on the whole training set at every step.
        with_train: also measure the error on the training set at each checkpoint.

    Returns:
        One array of holdout errors per run (error rates, or mean squared errors for
        regression), of shape (len(checkpoints[r]),); with `with_train`, of shape
        (len(checkpoints[r]), 2): training error, holdout error.
    """
    if not models:
        raise ValueError("give at least one model")
    layouts = [_layout(model) for model in models]
    shapes = {tuple(tuple(m.weight.shape) for m in lin) + tuple(act) for lin, _, act in layouts}
    if len(shapes) != 1:
        raise ValueError("the models of one stack need the same widths and activation")
    n_layers = len(layouts[0][0])
    activation = layouts[0][2][0]() if n_layers > 1 else None
    masks = Masks([drop for _, drop, _ in layouts])
    params = []
    for layer in range(n_layers):
        params.append(torch.stack([lin[layer].weight.detach().T for lin, _, _ in layouts]))
        params.append(torch.stack([lin[layer].bias.detach()[None] for lin, _, _ in layouts]))

    def forward(params: list[torch.Tensor], x: torch.Tensor,
                active: list[int] | None = None) -> torch.Tensor:
        h = x
        for layer in range(n_layers):
            if active is not None:  # training mode
                h = masks(h, layer, active)
            h = torch.baddbmm(params[2 * layer + 1], h, params[2 * layer])
            if layer < n_layers - 1:
                h = activation(h)
        return h

    def write_back(runs: list[int], params: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for a, r in enumerate(runs):
                for layer, linear in enumerate(layouts[r][0]):
                    linear.weight.copy_(params[2 * layer][a].T)
                    linear.bias.copy_(params[2 * layer + 1][a, 0])

    return train(models, params, forward, write_back, splits, checkpoints, generators, lr,
                 batch_size, weight_decay, with_train)


def train(models: Sequence[nn.Module], params: Sequence[torch.Tensor],
          forward: Callable[..., torch.Tensor], write_back: Callable[..., None],
          splits: Split | Sequence[Split],
          checkpoints: Sequence[int] | Sequence[Sequence[int]],
          generators: Sequence[torch.Generator], lr: float, batch_size: int | None,
          weight_decay: float, with_train: bool) -> list[np.ndarray]:
    """The loop of `fit` for any model written as a stack.

    Args:
        models: the runs' modules; left in evaluation mode at the end.
        params: the stack's parameters, each with the run as its first dimension.
        forward: `forward(params, x, active)` maps inputs of shape (runs, batch, features) to
            logits (runs, batch, classes); `active` lists the runs in the stack, in training
            mode, and is None in evaluation mode.
        write_back: `write_back(runs, params)` copies the parameters of the stack's runs (in
            that order) into their modules.
        The rest: as in `fit`.
    """
    models = list(models)
    n_runs = len(models)
    splits = [splits] * n_runs if isinstance(splits, Split) else list(splits)
    if checkpoints and not isinstance(checkpoints[0], Sequence):
        checkpoints = [checkpoints] * n_runs
    checkpoints = [[int(k) for k in steps] for steps in checkpoints]
    if not n_runs or not len(splits) == len(checkpoints) == len(generators) == n_runs:
        raise ValueError("give one split, checkpoint list and generator per model (or one "
                         "split and one checkpoint list for all)")
    for steps in checkpoints:
        if not steps or steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:],
                                                                     strict=False)):
            raise ValueError(f"checkpoints must be increasing positive step counts, "
                             f"got {steps}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive or None, got {batch_size}")
    kinds = {s.n_classes is None for s in splits}
    if len({len(s.x_holdout) for s in splits}) != 1 or len(kinds) != 1:
        raise ValueError("the splits need holdout sets of one size, and all class labels or "
                         "all real-valued targets")
    regression = kinds.pop()
    sizes = [len(s.x_train) for s in splits]
    if len(set(sizes)) > 1 and (batch_size is None or any(n % batch_size for n in sizes)):
        raise ValueError(f"training sets of different sizes must be multiples of batch_size "
                         f"({batch_size}), so that every batch is full")
    device = splits[0].x_train.device
    batches = [_batches(n, batch_size, steps[-1], g, device)
               for n, steps, g in zip(sizes, checkpoints, generators, strict=True)]
    pad = max(sizes)
    x_train = torch.stack([_pad_rows(s.x_train, pad) for s in splits])
    y_train = torch.stack([_pad_rows(s.y_train, pad) for s in splits])
    n_in, y_shape = x_train.shape[2], y_train.shape[2:]
    x_train, y_train = x_train.flatten(0, 1), y_train.flatten(0, 1)  # row r * pad + i
    x_holdout = torch.stack([s.x_holdout for s in splits])
    y_holdout = torch.stack([s.y_holdout for s in splits])
    params = [p.contiguous().requires_grad_() for p in params]

    errors = [np.full((len(steps), 2), np.nan) for steps in checkpoints]
    counts = torch.tensor(sizes, device=device)
    active = list(range(n_runs))
    # fused: fit's Adam in one pass over each tensor (equal up to rounding)
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    for step in range(1, max(steps[-1] for steps in checkpoints) + 1):
        batch = [batches[r][step - 1] for r in active]
        if len({len(b) for b in batch}) > 1:
            raise ValueError(f"the runs' batches differ in size at step {step}")
        rows = (torch.tensor(active, device=device)[:, None] * pad + torch.stack(batch)).ravel()
        logits = forward(params, x_train.index_select(0, rows).view(len(active), -1, n_in),
                         active)
        loss_fn = nn.functional.mse_loss if regression else nn.functional.cross_entropy
        loss = loss_fn(logits.flatten(0, 1), y_train.index_select(0, rows),
                       reduction="none").view(len(active), -1)
        optimizer.zero_grad()
        loss.mean(dim=1).sum().backward()
        optimizer.step()
        due = [a for a, r in enumerate(active) if step in checkpoints[r]]
        if due:
            with torch.no_grad():
                chosen = [p[due] for p in params]
                rows = torch.tensor([active[a] for a in due], device=device)
                held = _score(forward(chosen, x_holdout[rows]), y_holdout[rows], regression)
                fitted = torch.full_like(held, torch.nan)
                if with_train:
                    x = x_train.view(n_runs, pad, n_in)[rows]
                    y = y_train.view(n_runs, pad, *y_shape)[rows]
                    valid = torch.arange(pad, device=device) < counts[rows, None]
                    fitted = _score(forward(chosen, x), y, regression, valid, counts[rows])
                for a, fit_e, held_e in zip(due, fitted.tolist(), held.tolist(), strict=True):
                    at = checkpoints[active[a]].index(step)
                    errors[active[a]][at] = (fit_e, held_e)
        keep = [a for a, r in enumerate(active) if checkpoints[r][-1] > step]
        if len(keep) < len(active):  # finished runs leave the stack
            write_back([r for a, r in enumerate(active) if a not in keep],
                       [p[[a for a in range(len(active)) if a not in keep]] for p in params])
            if not keep:
                break
            state = [optimizer.state[p] for p in params]
            params = [p.detach()[keep].clone().requires_grad_() for p in params]
            optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
            for p, old in zip(params, state, strict=True):
                optimizer.state[p] = {"step": old["step"].clone(),
                                      "exp_avg": old["exp_avg"][keep].clone(),
                                      "exp_avg_sq": old["exp_avg_sq"][keep].clone()}
            active = [active[a] for a in keep]
    for model in models:
        model.eval()
    return errors if with_train else [e[:, 1] for e in errors]

