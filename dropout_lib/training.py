"""Train and evaluate a model, keeping a per-epoch history (chapter 1 onwards)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .data import Split

__all__ = ["History", "best_epoch", "evaluate", "fit", "generalization_gap", "make_optimizer",
           "train_epoch"]


@dataclass
class History:
    """What `fit` measured after each epoch, in evaluation mode (dropout off).

    Attributes:
        train_loss, holdout_loss: mean loss on the whole training / holdout set.
        train_acc, holdout_acc: accuracy in [0, 1]; empty lists for regression.
    """

    train_loss: list[float] = field(default_factory=list)
    holdout_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    holdout_acc: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers 1, 2, ... matching the entries of the lists."""
        return list(range(1, len(self.train_loss) + 1))

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(empty)"
        text = (f"History({len(self.train_loss)} epochs: train loss {self.train_loss[-1]:.3f}, "
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


def make_optimizer(model: nn.Module, optimizer: str, lr: float,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum 0.9, over `model`'s parameters (the choice `fit` offers)."""
    if optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")


def train_epoch(
    model: nn.Module,
    split: Split,
    opt: torch.optim.Optimizer,
    loss_fn: nn.Module,
    batch_size: int,
    generator: torch.Generator | None = None,
    after_step: Callable[[], None] | None = None,
) -> None:
    """One pass over `split`'s training set in shuffled mini-batches, in training mode.

    `after_step`, when given, runs after every optimiser step (chapter 7's max-norm uses it).
    """
    model.train()
    n = len(split.x_train)
    order = torch.randperm(n, generator=generator, device=split.x_train.device)
    for start in range(0, n, batch_size):
        batch = order[start:start + batch_size]
        opt.zero_grad()
        loss_fn(model(split.x_train[batch]), split.y_train[batch]).backward()
        opt.step()
        if after_step is not None:
            after_step()


def fit(
    model: nn.Module,
    split: Split,
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int = 64,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
) -> History:
    """Train `model` on `split.x_train` with mini-batches and record a `History`.

    Args:
        model: any module mapping inputs to logits (classification) or targets (regression).
        split: the data; the loss follows `split.y_train`'s dtype (see `evaluate`).
        epochs: passes over the training set.
        lr: learning rate.
        batch_size: examples per gradient step; the last batch of an epoch may be smaller.
        optimizer: "adam" or "sgd" (plain SGD with momentum 0.9).
        weight_decay: L2 penalty passed to the optimizer.
        generator: shuffles the batches; the global PyTorch generator when None.

    Returns:
        The history, one entry per epoch, measured with dropout off.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs}, {batch_size}")
    opt = make_optimizer(model, optimizer, lr, weight_decay)
    loss_fn = _loss_fn(split.y_train)
    history = History()
    for _ in range(epochs):
        train_epoch(model, split, opt, loss_fn, batch_size, generator)
        for name, x, y in (("train", split.x_train, split.y_train),
                           ("holdout", split.x_holdout, split.y_holdout)):
            loss, acc = evaluate(model, x, y)
            getattr(history, f"{name}_loss").append(loss)
            if acc is not None:
                getattr(history, f"{name}_acc").append(acc)
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
    return losses.index(min(losses)) + 1
