"""Tests for `dropout_lib.models.mlp`, `dropout_lib.training` and `dropout_lib.seeding`."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import data
from dropout_lib.layers import Dropout
from dropout_lib.models import ACTIVATIONS, mlp
from dropout_lib.seeding import set_seed
from dropout_lib.training import History, best_epoch, evaluate, fit, generalization_gap


def layers_of(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model if isinstance(m, kind)]


@pytest.fixture(scope="module")
def tiny_digits() -> data.Split:
    return data.digits(n_train=100, n_holdout=50, seed=0)


@pytest.fixture(scope="module")
def tiny_regression() -> data.Split:
    return data.two_input_regression(n_train=30, n_holdout=20, seed=0)


# --- mlp: structure ---------------------------------------------------------------------------

def test_mlp_with_a_rate_per_layer():
    """[0.2, 0.5, 0.5]: one Dropout in front of each Linear, with the rates in order."""
    model = mlp([64, 256, 256, 10], dropout=[0.2, 0.5, 0.5])
    assert len(layers_of(model, nn.Linear)) == 3
    assert [d.p for d in layers_of(model, Dropout)] == [0.2, 0.5, 0.5]
    assert len(layers_of(model, nn.ReLU)) == 2  # none after the output layer
    kinds = [type(m) for m in model]
    assert kinds == [Dropout, nn.Linear, nn.ReLU, Dropout, nn.Linear, nn.ReLU, Dropout, nn.Linear]
    assert [(m.in_features, m.out_features) for m in layers_of(model, nn.Linear)] == [
        (64, 256), (256, 256), (256, 10)]


def test_mlp_single_rate_applies_to_hidden_layers_only():
    model = mlp([64, 32, 16, 10], dropout=0.5)
    assert isinstance(model[0], nn.Linear)  # no input dropout
    assert [d.p for d in layers_of(model, Dropout)] == [0.5, 0.5]
    assert len(layers_of(model, nn.Linear)) == 3


def test_mlp_single_rate_without_hidden_layer_adds_no_dropout():
    model = mlp([64, 10], dropout=0.5)
    assert [type(m) for m in model] == [nn.Linear]


@pytest.mark.parametrize("rates, expected", [(0.0, []), ([0, 0, 0], []), ([0, 0.5, 0], [0.5])])
def test_mlp_rate_zero_adds_no_layer(rates, expected):
    model = mlp([8, 4, 4, 2], dropout=rates)
    assert [d.p for d in layers_of(model, Dropout)] == expected
    assert len(layers_of(model, nn.Linear)) == 3


def test_mlp_rates_given_as_a_tuple():
    model = mlp([8, 4, 2], dropout=(0.1, 0.3))
    assert [d.p for d in layers_of(model, Dropout)] == [0.1, 0.3]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_mlp_activation(name):
    model = mlp([3, 5, 5, 2], activation=name)
    assert len(layers_of(model, ACTIVATIONS[name])) == 2


def test_mlp_default_dtype_is_float64_and_output_is_raw():
    model = mlp([64, 32, 10])
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert isinstance(model[-1], nn.Linear)  # logits, no softmax
    assert model(torch.zeros(5, 64, dtype=torch.float64)).shape == (5, 10)


def test_mlp_dtype_and_device_arguments():
    model = mlp([4, 3, 2], dtype=torch.float32, device="meta")
    for param in model.parameters():
        assert param.dtype == torch.float32
        assert param.device.type == "meta"


@pytest.mark.parametrize("sizes", [[64], [], [64, 0, 10], [64, -1, 10], [64, 2.5, 10],
                                   [64, "32", 10]])
def test_mlp_bad_sizes_raise_value_error(sizes):
    with pytest.raises(ValueError, match="sizes"):
        mlp(sizes)


@pytest.mark.parametrize("rates", [[0.2, 0.5], [0.2, 0.5, 0.5, 0.5], []])
def test_mlp_wrong_number_of_rates_raises_value_error(rates):
    with pytest.raises(ValueError, match="one rate per Linear layer"):
        mlp([64, 32, 32, 10], dropout=rates)


def test_mlp_bad_activation_raises_value_error():
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp([4, 3, 2], activation="swish")


@pytest.mark.parametrize("rates", [1.5, -0.1, [0.2, 1.5], [float("nan"), 0.5]])
def test_mlp_invalid_rate_raises_value_error(rates):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mlp([4, 3, 2], dropout=rates)


def test_mlp_non_number_rate_raises_type_error():
    with pytest.raises(TypeError):
        mlp([4, 3, 2], dropout=[0.2, None])


def test_mlp_initial_weights_follow_set_seed():
    set_seed(1)
    a = mlp([4, 3, 2])
    set_seed(1)
    b = mlp([4, 3, 2])
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


# --- fit ------------------------------------------------------------------------------------

def train_tiny(split: data.Split, epochs: int = 5, **kwargs) -> tuple[nn.Module, History]:
    set_seed(0)
    model = mlp([split.n_features, 32, split.n_classes or 1], dropout=0.2)
    return model, fit(model, split, epochs=epochs, lr=1e-2, batch_size=32, **kwargs)


def test_fit_records_one_entry_per_epoch(tiny_digits):
    _, history = train_tiny(tiny_digits, epochs=5)
    assert history.epochs == [1, 2, 3, 4, 5]
    for values in (history.train_loss, history.holdout_loss, history.train_acc,
                   history.holdout_acc):
        assert len(values) == 5
        assert all(isinstance(v, float) for v in values)
    assert all(0 <= a <= 1 for a in history.train_acc + history.holdout_acc)


def test_fit_decreases_training_loss_and_learns(tiny_digits):
    _, history = train_tiny(tiny_digits, epochs=5)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.train_acc[-1] > 0.5  # chance is 0.1


def test_fit_history_matches_evaluate(tiny_digits):
    """The history holds the eval-mode loss and accuracy after the last epoch."""
    model, history = train_tiny(tiny_digits, epochs=3)
    loss, acc = evaluate(model, tiny_digits.x_holdout, tiny_digits.y_holdout)
    assert loss == history.holdout_loss[-1]
    assert acc == history.holdout_acc[-1]


def test_fit_leaves_the_model_in_eval_mode(tiny_digits):
    model, _ = train_tiny(tiny_digits, epochs=1)
    assert not model.training
    assert all(not m.training for m in model.modules())


def test_fit_is_deterministic_given_set_seed(tiny_digits):
    model_a, history_a = train_tiny(tiny_digits, epochs=3)
    model_b, history_b = train_tiny(tiny_digits, epochs=3)
    assert history_a.train_loss == history_b.train_loss
    assert history_a.holdout_acc == history_b.holdout_acc
    for p, q in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_fit_generator_fixes_the_batch_order(tiny_digits):
    """Same seed and same batch generator: same run; another batch generator: another run."""
    _, a = train_tiny(tiny_digits, epochs=2, generator=torch.Generator().manual_seed(1))
    _, b = train_tiny(tiny_digits, epochs=2, generator=torch.Generator().manual_seed(1))
    _, c = train_tiny(tiny_digits, epochs=2, generator=torch.Generator().manual_seed(2))
    assert a.train_loss == b.train_loss
    assert a.train_loss != c.train_loss


def test_fit_with_sgd(tiny_digits):
    _, history = train_tiny(tiny_digits, epochs=3, optimizer="sgd")
    assert history.train_loss[-1] < history.train_loss[0]


def test_fit_regression_has_no_accuracies(tiny_regression):
    model, history = train_tiny(tiny_regression, epochs=4)
    assert history.train_acc == [] and history.holdout_acc == []
    assert len(history.train_loss) == len(history.holdout_loss) == 4
    assert history.train_loss[-1] < history.train_loss[0]
    # the loss is the mean squared error
    with torch.no_grad():
        mse = ((model(tiny_regression.x_train) - tiny_regression.y_train) ** 2).mean().item()
    assert history.train_loss[-1] == pytest.approx(mse, rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": -1}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"optimizer": "rmsprop"}, "optimizer must be 'adam' or 'sgd'"),
])
def test_fit_bad_arguments_raise_value_error(tiny_digits, kwargs, match):
    model = mlp([64, 8, 10])
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=match):
        fit(model, tiny_digits, **kwargs)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


# --- evaluate ---------------------------------------------------------------------------------

@pytest.mark.parametrize("start_in_training_mode", [True, False])
def test_evaluate_restores_the_mode(tiny_digits, start_in_training_mode):
    model = mlp([64, 16, 10], dropout=[0.2, 0.5])
    model.train(start_in_training_mode)
    evaluate(model, tiny_digits.x_holdout, tiny_digits.y_holdout)
    assert model.training is start_in_training_mode
    assert all(m.training is start_in_training_mode for m in model.modules())


def test_evaluate_runs_with_dropout_off(tiny_digits):
    """In training mode too, evaluate is deterministic: dropout is switched off inside."""
    model = mlp([64, 16, 10], dropout=[0.5, 0.5]).train()
    first = evaluate(model, tiny_digits.x_holdout, tiny_digits.y_holdout)
    second = evaluate(model, tiny_digits.x_holdout, tiny_digits.y_holdout)
    assert first == second
    model.eval()
    with torch.no_grad():
        logits = model(tiny_digits.x_holdout)
    expected_loss = nn.functional.cross_entropy(logits, tiny_digits.y_holdout).item()
    expected_acc = (logits.argmax(1) == tiny_digits.y_holdout).double().mean().item()
    assert first == (pytest.approx(expected_loss, rel=1e-12), pytest.approx(expected_acc))


def test_evaluate_builds_no_graph(tiny_digits):
    model = mlp([64, 16, 10])
    seen = []
    model.register_forward_hook(lambda module, inputs, output: seen.append(
        (torch.is_grad_enabled(), output.requires_grad)))
    loss, acc = evaluate(model, tiny_digits.x_holdout, tiny_digits.y_holdout)
    assert seen == [(False, False)]
    assert isinstance(loss, float) and isinstance(acc, float)
    assert all(p.grad is None for p in model.parameters())
    assert torch.is_grad_enabled()  # switched back on for the caller


def test_evaluate_regression_returns_no_accuracy(tiny_regression):
    model = mlp([2, 8, 1])
    loss, acc = evaluate(model, tiny_regression.x_holdout, tiny_regression.y_holdout)
    assert acc is None
    assert loss >= 0


# --- generalization_gap and best_epoch ---------------------------------------------------------

def make_history(train_acc, holdout_acc, train_loss=None, holdout_loss=None) -> History:
    n = len(train_acc)
    return History(train_loss=train_loss or [1.0] * n, holdout_loss=holdout_loss or [1.0] * n,
                   train_acc=list(train_acc), holdout_acc=list(holdout_acc))


def test_generalization_gap_is_holdout_error_minus_training_error_at_the_last_epoch():
    history = make_history([0.6, 0.95, 0.9], [0.5, 0.8, 0.75])
    # (1 - 0.75) - (1 - 0.9) = 0.15, from the last epoch only (not the first, not the best)
    assert generalization_gap(history) == pytest.approx(0.15)


def test_generalization_gap_can_be_negative():
    assert generalization_gap(make_history([0.7], [0.8])) == pytest.approx(-0.1)


def test_generalization_gap_of_a_regression_history_raises():
    with pytest.raises(ValueError, match="accuracies"):
        generalization_gap(History(train_loss=[1.0], holdout_loss=[1.0]))


@pytest.mark.parametrize("holdout_loss, expected", [
    ([0.9, 0.5, 0.7], 2),       # counted from 1
    ([0.3], 1),
    ([1.0, 0.8, 0.6], 3),       # the last epoch when the loss keeps falling
    ([0.9, 0.4, 0.6, 0.4], 2),  # a tie: the first of the tied epochs
])
def test_best_epoch(holdout_loss, expected):
    history = History(train_loss=[0.0] * len(holdout_loss), holdout_loss=holdout_loss)
    assert best_epoch(history) == expected
    assert best_epoch(history) in history.epochs


def test_best_epoch_of_an_empty_history_raises():
    with pytest.raises(ValueError, match="empty"):
        best_epoch(History())


def test_history_repr():
    assert repr(History()) == "History(empty)"
    text = repr(make_history([0.5, 0.9], [0.4, 0.7]))
    assert text.startswith("History(2 epochs:") and "holdout acc 0.700" in text


# --- seeding ----------------------------------------------------------------------------------

def test_set_seed_makes_every_global_generator_reproducible():
    set_seed(123)
    first = (torch.rand(5), np.random.rand(3), random.random())
    set_seed(123)
    second = (torch.rand(5), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])
    assert first[2] == second[2]
    set_seed(124)
    assert not torch.equal(torch.rand(5), first[0])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, None])
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative int"):
        set_seed(seed)


def test_set_seed_accepts_large_seeds():
    set_seed(2**40)  # NumPy's legacy seed needs < 2**32: reduced, not rejected
    assert torch.initial_seed() == 2**40


def test_fit_optimizer_choices_and_error(tiny_digits):
    model = mlp([64, 3, 10], generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="optimizer must be"):
        fit(model, tiny_digits, epochs=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="record must be"):
        fit(model, tiny_digits, epochs=1, record="sometimes")


def test_fit_after_step_counts_every_step_and_batches_follow_batch_size():
    split = data.digits(n_train=50, n_holdout=10, seed=0)
    model = mlp([64, 8, 10], generator=torch.Generator().manual_seed(0))
    before = [p.detach().clone() for p in model.parameters()]
    calls = []
    fit(model, split, epochs=2, batch_size=16, optimizer="sgd", lr=0.1,
        generator=torch.Generator().manual_seed(0), after_step=calls.append, record="none")
    assert calls == list(range(1, 9))  # batches of 16, 16, 16 and 2, twice
    assert not model.training
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_fit_record_final_measures_once_with_the_last_epoch_number(tiny_digits):
    def run(record):
        model = mlp([64, 8, 10], dropout=0.2, generator=torch.Generator().manual_seed(1))
        history = fit(model, tiny_digits, epochs=4, generator=torch.Generator().manual_seed(2),
                      record=record)
        return history

    every, final, none = run("epoch"), run("final"), run("none")
    assert final.epochs == [4] and every.epochs == [1, 2, 3, 4] and none.epochs == []
    # measuring draws no random numbers: the final figures equal the last per-epoch ones
    assert final.holdout_acc == every.holdout_acc[-1:]
    assert final.train_loss == every.train_loss[-1:]
    assert final.holdout_error == 1 - every.holdout_acc[-1]
    assert repr(final).startswith("History(4 epochs:")
    assert best_epoch(final) == 4
    with pytest.raises(ValueError, match="no accuracy"):
        _ = none.holdout_error


def test_fit_full_batch_uses_the_data_in_order_without_shuffling(tiny_regression):
    """batch_size=None: one step per epoch on the whole set, no random permutation drawn."""
    def run():
        model = mlp([2, 8, 1], generator=torch.Generator().manual_seed(0))
        fit(model, tiny_regression, epochs=5, lr=1e-2, batch_size=None, record="none")
        return model

    state = torch.get_rng_state()
    first = run()
    assert torch.equal(torch.get_rng_state(), state)  # no shuffle drew from the global stream
    # the same steps written out: Adam on the mean squared error of the whole training set
    model = mlp([2, 8, 1], generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(tiny_regression.x_train),
                                     tiny_regression.y_train).backward()
        opt.step()
    for a, b in zip(first.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_fit_sgd_momentum_zero_is_plain_gradient_descent(tiny_regression):
    model = mlp([2, 1], generator=torch.Generator().manual_seed(0))
    weight = model[0].weight.detach().clone()
    bias = model[0].bias.detach().clone()
    x, y = tiny_regression.x_train, tiny_regression.y_train
    fit(model, tiny_regression, epochs=1, lr=0.1, batch_size=None, optimizer="sgd", momentum=0.0,
        record="none")
    residual = x @ weight.T + bias - y
    step = 0.1 * 2 * (residual * x).mean(0)
    torch.testing.assert_close(model[0].weight.detach()[0], weight[0] - step)


def test_mlp_generator_gives_the_weights_of_the_global_seed_and_leaves_global_state():
    set_seed(5)
    reference = mlp([4, 6, 6, 2], dropout=[0.2, 0.5, 0.5])
    state = torch.get_rng_state()
    generator = torch.Generator().manual_seed(5)
    ours = mlp([4, 6, 6, 2], dropout=[0.2, 0.5, 0.5], generator=generator)
    assert torch.equal(torch.get_rng_state(), state)
    for a, b in zip(reference.parameters(), ours.parameters(), strict=True):
        assert torch.equal(a, b)
    assert all(m.generator is generator for m in ours if isinstance(m, Dropout))
    assert all(m.generator is None for m in reference if isinstance(m, Dropout))


def test_mlp_masks_come_from_the_generator():
    x = torch.ones(3, 4, dtype=torch.float64)

    def run(seed):
        net = mlp([4, 16, 2], dropout=[0.5, 0.5], generator=torch.Generator().manual_seed(seed))
        return net.train()(x)

    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))
