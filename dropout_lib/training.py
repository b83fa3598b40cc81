"""Train and evaluate a model, keeping a history (chapter 1 onwards): the one training loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .data import Split

__all__ = ["History", "best_epoch", "evaluate", "fit", "generalization_gap"]


@dataclass
class History:
    """What `fit` measured, in evaluation mode (dropout off).

    Attributes:
        train_loss, holdout_loss: mean loss on the whole training / holdout set.
        train_acc, holdout_acc: accuracy in [0, 1]; empty lists for regression.
        measured_at: the epoch (counted from 1) of each entry; empty means 1, 2, 3, ...
    """

    train_loss: list[float] = field(default_factory=list)
    holdout_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    holdout_acc: list[float] = field(default_factory=list)
    measured_at: list[int] = field(default_factory=list)

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers (from 1) matching the entries of the lists."""
        return list(self.measured_at) or list(range(1, len(self.train_loss) + 1))

    @property
    def holdout_error(self) -> float:
        """1 - the last holdout accuracy (classification only)."""
        if not self.holdout_acc:
            raise ValueError("this history has no accuracy (a regression, or nothing recorded)")
        return 1.0 - self.holdout_acc[-1]

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(empty)"
        text = (f"History({self.epochs[-1]} epochs: train loss {self.train_loss[-1]:.3f}, "
                f"holdout loss {self.holdout_loss[-1]:.3f}")
        if self.train_acc:
            text += f", train acc {self.train_acc[-1]:.3f}, holdout acc {self.holdout_acc[-1]:.3f}"
        return text + ")"


def _is_classification(y: torch.Tensor) -> bool:
    return not y.is_floating_point()


def _loss_fn(y: torch.Tensor) -> nn.Module:
    return nn.CrossEntropyLoss() if _is_classification(y) else nn.MSELoss()


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float | None]:
    """Loss and accuracy of `model` on `(x, y)` in evaluation mode.

    Cross-entropy and accuracy when `y` holds class indices (an integer tensor); mean squared
    error and None when `y` is floating point. The model's train/eval mode is restored after.
    """
    was_training = model.training
    model.eval()
    try:
        out = model(x)
        loss = _loss_fn(y)(out, y).item()
        acc = (out.argmax(dim=1) == y).double().mean().item() if _is_classification(y) else None
    finally:
        model.train(was_training)
    return loss, acc


def _optimizer(model: nn.Module, optimizer: str, lr: float, weight_decay: float,
               momentum: float) -> torch.optim.Optimizer:
    if optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                               weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")


def _measure(history: History, model: nn.Module, split: Split, epoch: int) -> None:
    for name, x, y in (("train", split.x_train, split.y_train),
                       ("holdout", split.x_holdout, split.y_holdout)):
        loss, acc = evaluate(model, x, y)
        getattr(history, f"{name}_loss").append(loss)
        if acc is not None:
            getattr(history, f"{name}_acc").append(acc)
    history.measured_at.append(epoch)


def fit(
    model: nn.Module,
    split: Split,
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int | None = 64,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    *,
    momentum: float = 0.9,
    record: str = "epoch",
    after_step: Callable[[int], None] | None = None,
) -> History:
    """Train `model` on `split.x_train` and record a `History`: the library's training loop.

    Each epoch is one pass over the training set in training mode: shuffled mini-batches, or
    with `batch_size=None` one full-batch step on the data in their order (no shuffle). The
    loss follows `split.y_train`'s dtype: cross-entropy for class indices, mean squared error
    for float targets.

    Args:
        model: any module mapping inputs to logits (classification) or targets (regression).
        split: the data.
        epochs: passes over the training set.
        lr: learning rate.
        batch_size: examples per gradient step (the last batch of an epoch may be smaller), or
            None for full-batch steps.
        optimizer: "adam", or "sgd" (with `momentum`).
        weight_decay: L2 penalty passed to the optimizer.
        generator: shuffles the batches; the global PyTorch generator when None. (The model's
            dropout layers draw their masks from their own generators.)
        momentum: SGD's momentum (0.9 by default; 0 is plain gradient descent).
        record: "epoch" measures after every epoch, "final" once after the last, "none" never
            (an empty history, for runs whose measurements are made elsewhere).
        after_step: called after every optimiser step with the number of steps taken so far
            (chapter 7's max-norm projection, chapter 5's iterate averaging).

    Returns:
        The history, measured with dropout off; the model is left in evaluation mode.
    """
    if epochs < 1 or (batch_size is not None and batch_size < 1):
        raise ValueError(f"epochs and batch_size must be positive, got {epochs}, {batch_size}")
    if record not in ("epoch", "final", "none"):
        raise ValueError(f"record must be 'epoch', 'final' or 'none', got {record!r}")
    opt = _optimizer(model, optimizer, lr, weight_decay, momentum)
    loss_fn = _loss_fn(split.y_train)
    history, steps = History(), 0
    x, y = split.x_train, split.y_train
    for epoch in range(1, epochs + 1):
        model.train()
        if batch_size is None:
            batches = [slice(None)]
        else:
            order = torch.randperm(len(x), generator=generator, device=x.device)
            batches = [order[start:start + batch_size] for start in range(0, len(x), batch_size)]
        for batch in batches:
            opt.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            opt.step()
            steps += 1
            if after_step is not None:
                after_step(steps)
        if record == "epoch" or (record == "final" and epoch == epochs):
            _measure(history, model, split, epoch)
    model.eval()
    return history


def generalization_gap(history: History) -> float:
    """Holdout error minus training error after the last epoch (reference for Exercise 1.1).

    Positive when the network does better on the data it was trained on.
    """
    if not history.train_acc:
        raise ValueError("the gap in error needs accuracies; this history is from a regression")
    return history.train_acc[-1] - history.holdout_acc[-1]


def best_epoch(history: History) -> int:
    """The epoch, counted from 1, with the lowest holdout loss (reference for Exercise 1.3).

    Early stopping keeps the weights of this epoch.
    """
    if not history.holdout_loss:
        raise ValueError("the history is empty")
    losses = history.holdout_loss
    return history.epochs[losses.index(min(losses))]
