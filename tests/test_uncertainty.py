"""Tests for `dropout_lib.uncertainty`: chapter 6's data, its trained model, `coverage` and the
classifier scores with `auroc`."""

from __future__ import annotations

import math

import pytest
import torch

from dropout_lib import layers, mc, uncertainty
from dropout_lib.models import mlp


def test_coverage_counts_the_inside_of_a_two_sided_interval():
    y = torch.tensor([0.0, 0.5, 1.5, -2.5, 3.5])
    mean, std = torch.zeros(5), torch.ones(5)
    assert uncertainty.coverage(y, mean, std, z=1.0) == pytest.approx(2 / 5)
    assert uncertainty.coverage(y, mean, std, z=2.0) == pytest.approx(3 / 5)
    assert uncertainty.coverage(y, mean + 10, 2 * std, z=1.96) == 0.0
    with pytest.raises(ValueError, match="z must be positive"):
        uncertainty.coverage(y, mean, std, z=0)
    with pytest.raises(ValueError, match="one shape"):
        uncertainty.coverage(y, mean[:3], std, z=1)


def test_gap_regression_has_a_gap_and_a_wide_holdout():
    split = uncertainty.gap_regression(n_train=40, n_holdout=200, seed=1)
    x = split.x_train.ravel()
    assert split.x_train.shape == (40, 1) and split.y_holdout.shape == (200, 1)
    assert uncertainty.in_data(split.x_train).all()
    assert (x < 0).sum() == 20 and split.x_holdout.abs().max() > 10
    assert torch.equal(uncertainty.gap_regression(seed=1).y_train,
                       uncertainty.gap_regression(seed=1).y_train)


def test_chapter_model_is_reproducible_and_does_not_touch_global_state():
    state = torch.get_rng_state()
    first, split = uncertainty.chapter_model("tanh", steps=20)
    second, _ = uncertainty.chapter_model("tanh", steps=20)
    other, _ = uncertainty.chapter_model("tanh", steps=20, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert not first.training and all(layer.generator is None
                                      for layer in layers.dropout_layers(first))
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first[0].weight, other[0].weight)
    assert first(split.x_train).shape == split.y_train.shape


def test_chapter_models_side_by_side_train_each_as_chapter_model_does():
    runs = [("relu", 0.1, 0, 40), ("relu", 0.3, 1, 40), ("relu", 0.0, 2, 40),
            ("relu", 0.1, 1, 60), ("tanh", 0.1, 2, 40)]
    together = uncertainty.chapter_models(runs, steps=30)
    for (activation, rate, seed, n_train), (model, split) in zip(runs, together, strict=True):
        alone, same = uncertainty.chapter_model(activation, rate, seed, steps=30,
                                                n_train=n_train)
        assert torch.equal(split.x_train, same.x_train) and not model.training
        assert all(layer.generator is None for layer in layers.dropout_layers(model))
        for a, b in zip(model.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    moved = [p.detach().clone() for p in together[0][0].parameters()]
    start = [p.detach().clone() for p in uncertainty.chapter_models(runs[:1], steps=1)[0][0]
             .parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(moved, start, strict=True))


def test_chapter_model_learns_the_clusters_and_is_uncertain_far_out():
    model, split = uncertainty.chapter_model("relu", steps=300)
    with torch.no_grad():
        fitted = model(split.x_train)
    assert ((fitted - split.y_train) ** 2).mean() < 0.1  # the noise variance is 0.01
    grid = torch.linspace(-12, 12, 97, dtype=torch.float64)[:, None]
    _, std = mc.mc_predict(model, grid, 200, generator=torch.Generator().manual_seed(0))
    assert std[grid.abs() >= 10].mean() > 2 * std[uncertainty.in_data(grid)].mean()


@pytest.mark.parametrize("steps", [0, 2.5, True])
def test_chapter_model_rejects_bad_steps(steps):
    with pytest.raises(ValueError, match="steps"):
        uncertainty.chapter_model(steps=steps)


# The classifier scores (section "Uncertainty for a classifier").

DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_entropy_against_hand_computed_values(dtype):
    probs = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]],
                         dtype=dtype)
    got = uncertainty.entropy(probs)
    assert got.dtype == dtype
    expected = torch.tensor([0.0, math.log(2), math.log(3)], dtype=dtype)
    torch.testing.assert_close(got, expected)
    with pytest.raises(TypeError, match="floating-point"):
        uncertainty.entropy(torch.tensor([[1, 0]]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_softmax_against_hand_computed_values(dtype):
    logits = torch.tensor([[0.0, 0.0], [math.log(3), 0.0]], dtype=dtype)
    torch.testing.assert_close(uncertainty.max_softmax(logits),
                               torch.tensor([0.5, 0.75], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_entropy_and_mutual_information_of_two_passes_by_hand(dtype):
    # One input, two passes that disagree completely: the mean is (1/2, 1/2).
    probs = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]], dtype=dtype)
    torch.testing.assert_close(uncertainty.predictive_entropy(probs),
                               torch.tensor([math.log(2)], dtype=dtype))
    torch.testing.assert_close(uncertainty.mutual_information(probs),
                               torch.tensor([math.log(2)], dtype=dtype))
    # Two passes that agree on (1/2, 1/2): all entropy, no mutual information.
    agree = torch.full((2, 1, 2), 0.5, dtype=dtype)
    torch.testing.assert_close(uncertainty.predictive_entropy(agree),
                               torch.tensor([math.log(2)], dtype=dtype))
    assert uncertainty.mutual_information(agree).item() == 0.0
    # (0.9, 0.1) and (0.5, 0.5): the mean is (0.7, 0.3).
    mixed = torch.tensor([[[0.9, 0.1]], [[0.5, 0.5]]], dtype=dtype)
    h = lambda *p: -sum(q * math.log(q) for q in p)  # noqa: E731
    expected = h(0.7, 0.3) - (h(0.9, 0.1) + h(0.5, 0.5)) / 2
    torch.testing.assert_close(uncertainty.mutual_information(mixed),
                               torch.tensor([expected], dtype=dtype))
    with pytest.raises(ValueError, match="T samples"):
        uncertainty.predictive_entropy(torch.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_scores_are_bounded_and_mutual_information_vanishes_when_passes_agree(dtype):
    generator = torch.Generator().manual_seed(0)
    n_classes = 5
    logits = 3 * torch.randn(20, 30, n_classes, generator=generator, dtype=dtype)
    probs = torch.softmax(logits, dim=-1)
    entropy, information = (uncertainty.predictive_entropy(probs),
                            uncertainty.mutual_information(probs))
    assert entropy.shape == information.shape == (30,)
    assert (information >= 0).all() and (information <= entropy + 1e-6).all()
    assert (entropy <= math.log(n_classes) + 1e-6).all()
    same = probs[:1].expand(20, -1, -1)
    assert (uncertainty.mutual_information(same) <= 1e-6).all()
    confidence = uncertainty.max_softmax(logits[0])
    assert ((confidence >= 1 / n_classes) & (confidence <= 1)).all()


@pytest.mark.parametrize("device", ["cpu"])
def test_classifier_scores_are_reproducible_and_keep_the_device(device):
    net = mlp([4, 16, 3], dropout=0.5, generator=torch.Generator().manual_seed(0)).to(device)
    x = torch.randn(7, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = x.to(device)
    state = torch.get_rng_state()
    first, second = (uncertainty.classifier_scores(
        net.train(), x, 30, generator=torch.Generator(device=device).manual_seed(2))
        for _ in range(2))
    assert torch.equal(torch.get_rng_state(), state) and net.training
    assert list(first) == ["max-softmax", "entropy", "mutual information"]
    for name, score in first.items():
        assert score.shape == (7,) and score.device.type == device
        assert torch.equal(score, second[name])
    with torch.no_grad():
        plain = torch.softmax(net.eval()(x), -1).amax(-1)
    torch.testing.assert_close(first["max-softmax"], 1 - plain)


def test_auroc_by_hand_with_ties():
    assert uncertainty.auroc(torch.tensor([0.9, 0.8, 0.1, 0.2]),
                             torch.tensor([True, True, False, False])) == 1.0
    assert uncertainty.auroc(torch.tensor([0.1, 0.2, 0.9, 0.8]),
                             torch.tensor([True, True, False, False])) == 0.0
    # Pairs (positive, negative): (0.5, 0.5) is a tie, worth one half; (0.5, 0.2) counts.
    assert uncertainty.auroc(torch.tensor([0.5, 0.5, 0.2]),
                             torch.tensor([True, False, False])) == 0.75
    assert uncertainty.auroc(torch.ones(6), torch.arange(6) < 2) == 0.5
    for bad in (torch.ones(3, dtype=torch.bool), torch.tensor([1, 0, 1])):
        with pytest.raises(ValueError):
            uncertainty.auroc(torch.arange(3.0), bad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_auroc_matches_scikit_learn(dtype):
    metrics = pytest.importorskip("sklearn.metrics")
    generator = torch.Generator().manual_seed(3)
    positive = torch.rand(300, generator=generator) < 0.3
    # Rounded scores, so that many tie.
    scores = (torch.randn(300, generator=generator, dtype=dtype) + positive).round(decimals=1)
    assert uncertainty.auroc(scores, positive) == pytest.approx(
        metrics.roc_auc_score(positive.numpy(), scores.numpy()), abs=1e-12)


def test_digits_without_holds_out_one_class():
    split, unseen = uncertainty.digits_without(9, n_train=300, seed=1)
    assert split.n_classes == 9 and unseen.shape[1] == 64
    assert split.y_train.max() == 8 and split.y_holdout.max() == 8
    assert len(split.x_train) + len(split.x_holdout) + len(unseen) == 1797
    shifted, _ = uncertainty.digits_without(0, n_train=300, seed=1)
    assert shifted.y_train.min() == 0 and shifted.y_train.max() == 8
    with pytest.raises(ValueError, match="label"):
        uncertainty.digits_without(10)
