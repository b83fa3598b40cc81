"""Chapter 2's claims: inverted scaling keeps the mean, the variance is x^2 p/(1-p), the
reference draws PyTorch's masks, and forgetting `model.eval()` lowers accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from claims import claim
from dropout_lib import data, dropout, layers, training
from dropout_lib.seeding import set_seed


@claim(2, "the rescaled mean equals the input at every rate; without rescaling it is 1 - p")
def inverted_scaling_preserves_the_mean(seed: int) -> None:
    ones = torch.ones(1_000_000, dtype=torch.float64)
    for p in (0.2, 0.5, 0.8):
        out = dropout(ones, p, generator=torch.Generator().manual_seed(seed))
        assert abs(out.mean().item() - 1.0) < 0.01, p
        assert abs((out != 0).double().mean().item() - (1 - p)) < 0.01, p


@claim(2, "the measured variance of a dropped-out unit matches x^2 p/(1-p)")
def the_variance_formula(seed: int) -> None:
    x_value = 2.0
    repeated = torch.full((200_000,), x_value, dtype=torch.float64)
    for p in (0.1, 0.5, 0.9):
        out = dropout(repeated, p, generator=torch.Generator().manual_seed(seed))
        formula = x_value**2 * p / (1 - p)
        assert abs(out.var().item() / formula - 1) < 0.03, p


@claim(2, "from the same generator state the reference draws F.dropout's mask")
def the_reference_draws_pytorchs_masks(seed: int) -> None:
    x = torch.randn(64, 128, generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        theirs = F.dropout(x, 0.5)
        torch.manual_seed(seed)
        ours = dropout(x, 0.5)
    assert torch.equal(theirs != 0, ours != 0)
    assert torch.allclose(theirs, ours)


@claim(2, "predicting in training mode gives lower accuracy than evaluation mode")
def forgetting_eval_lowers_accuracy(seed: int) -> None:
    digits = data.digits(n_train=500, n_holdout=500, seed=seed)
    with torch.random.fork_rng():
        set_seed(seed)
        net = nn.Sequential(nn.Linear(64, 128, dtype=torch.float64), nn.ReLU(),
                            layers.Dropout(0.5), nn.Linear(128, 10, dtype=torch.float64))
        training.fit(net, digits, epochs=20, lr=1e-3, batch_size=50,
                     generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            net.eval()
            eval_acc = (net(digits.x_holdout).argmax(1) == digits.y_holdout).double().mean()
            net.train()
            train_acc = torch.stack([
                (net(digits.x_holdout).argmax(1) == digits.y_holdout).double().mean()
                for _ in range(20)]).mean()
    assert train_acc < eval_acc
