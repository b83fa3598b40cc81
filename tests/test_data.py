"""Tests for `dropout_lib.data`: seeded splits, label noise and the regression sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dropout_lib import data
from dropout_lib.data import Split, corrupt_labels

N_DIGITS = 1797


# --- digits ------------------------------------------------------------------------------------

def test_digits_shapes_and_dtypes():
    split = data.digits(n_train=100, n_holdout=50)
    assert split.x_train.shape == (100, 64)
    assert split.y_train.shape == (100,)
    assert split.x_holdout.shape == (50, 64)
    assert split.y_holdout.shape == (50,)
    assert split.x_train.dtype == split.x_holdout.dtype == torch.float64  # the default
    assert split.y_train.dtype == split.y_holdout.dtype == torch.int64
    assert split.n_classes == 10
    assert split.n_features == 64


def test_digits_reads_the_same_arrays_as_scikit_learn():
    from sklearn.datasets import load_digits

    images, labels = data._digits_arrays()
    bunch = load_digits()
    np.testing.assert_array_equal(images, bunch.data)
    np.testing.assert_array_equal(labels, bunch.target)
    assert labels.dtype == np.int64


def test_digits_holdout_defaults_to_the_rest():
    split = data.digits(n_train=300)
    assert len(split.x_holdout) == N_DIGITS - 300


def test_digits_dtype_argument():
    split = data.digits(n_train=20, n_holdout=10, dtype=torch.float32)
    assert split.x_train.dtype == split.x_holdout.dtype == torch.float32
    assert split.y_train.dtype == torch.int64  # labels stay class indices


def test_digits_values_in_unit_interval_and_labels_in_range():
    split = data.digits(n_train=500)
    for x in (split.x_train, split.x_holdout):
        assert x.min() >= 0 and x.max() <= 1
    assert split.x_train.max() == 1  # scaled by 16, the largest pixel value: the range is used
    for y in (split.y_train, split.y_holdout):
        assert y.min() >= 0 and y.max() <= 9
    assert len(torch.unique(split.y_train)) == 10


def test_digits_train_and_holdout_partition_the_images():
    """Every one of the 1797 images (all distinct) lands in exactly one of the two sets."""
    split = data.digits(n_train=1000)
    both = torch.cat([split.x_train, split.x_holdout])
    assert len(both) == N_DIGITS
    assert len(torch.unique(both, dim=0)) == N_DIGITS


def test_digits_is_deterministic_by_seed():
    a = data.digits(n_train=100, n_holdout=50, seed=5)
    b = data.digits(n_train=100, n_holdout=50, seed=5)
    for name in ("x_train", "y_train", "x_holdout", "y_holdout"):
        assert torch.equal(getattr(a, name), getattr(b, name))


def test_digits_different_seeds_differ():
    a = data.digits(n_train=100, n_holdout=50, seed=5)
    b = data.digits(n_train=100, n_holdout=50, seed=6)
    assert not torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.y_train, b.y_train)


@pytest.mark.parametrize("noise", [0.1, 0.3, 1.0])
def test_digits_label_noise_corrupts_exactly_that_many_training_labels(noise):
    """Same seed: identical images, exactly round(noise * n_train) training labels differ,
    and the holdout set is untouched."""
    clean = data.digits(n_train=500, seed=3)
    noisy = data.digits(n_train=500, label_noise=noise, seed=3)
    assert torch.equal(clean.x_train, noisy.x_train)
    assert int((clean.y_train != noisy.y_train).sum()) == round(noise * 500)
    assert torch.equal(clean.x_holdout, noisy.x_holdout)
    assert torch.equal(clean.y_holdout, noisy.y_holdout)
    assert noisy.y_train.dtype == torch.int64
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() <= 9


def test_digits_name_mentions_the_noise():
    assert "30%" in data.digits(n_train=50, n_holdout=10, label_noise=0.3).name


@pytest.mark.parametrize("kwargs", [
    {"n_train": 0},
    {"n_train": -5},
    {"n_train": 100, "n_holdout": 0},
    {"n_train": 1000, "n_holdout": 1000},  # more than the 1797 images
    {"n_train": N_DIGITS},  # leaves no holdout
    {"label_noise": -0.1},
    {"label_noise": 1.5},
])
def test_digits_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        data.digits(**kwargs)


def test_digits_error_message_names_the_arguments():
    with pytest.raises(ValueError, match="n_train.*n_holdout.*1797"):
        data.digits(n_train=1000, n_holdout=1000)
    with pytest.raises(ValueError, match=r"label_noise must be in \[0, 1\]"):
        data.digits(label_noise=2.0)


# --- corrupt_labels --------------------------------------------------------------------------

def labels_for_test(n: int = 1000, n_classes: int = 10) -> np.ndarray:
    return np.random.default_rng(0).integers(0, n_classes, size=n)


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3, 0.5, 1.0])
def test_corrupt_labels_changes_exactly_round_fraction_n(fraction):
    """Each chosen label moves to a *different* class, so the count of changes is exact."""
    labels = labels_for_test()
    noisy = corrupt_labels(labels, fraction, 10, np.random.default_rng(1))
    assert noisy.shape == labels.shape
    assert int((noisy != labels).sum()) == round(fraction * len(labels))
    assert noisy.min() >= 0 and noisy.max() <= 9
    assert np.issubdtype(noisy.dtype, np.integer)


def test_corrupt_labels_fraction_zero_is_an_equal_copy():
    labels = labels_for_test()
    noisy = corrupt_labels(labels, 0.0, 10, np.random.default_rng(1))
    assert np.array_equal(noisy, labels)
    assert not np.shares_memory(noisy, labels)


def test_corrupt_labels_fraction_one_changes_every_label():
    labels = labels_for_test()
    noisy = corrupt_labels(labels, 1.0, 10, np.random.default_rng(1))
    assert np.all(noisy != labels)


def test_corrupt_labels_does_not_modify_its_input():
    labels = labels_for_test()
    original = labels.copy()
    corrupt_labels(labels, 0.5, 10, np.random.default_rng(1))
    assert np.array_equal(labels, original)


def test_corrupt_labels_new_class_is_uniform_over_the_other_classes():
    """From class 0, each of the nine other classes is equally likely (6-sigma band)."""
    n = 18_000
    noisy = corrupt_labels(np.zeros(n, dtype=np.int64), 1.0, 10, np.random.default_rng(2))
    counts = np.bincount(noisy, minlength=10)
    assert counts[0] == 0
    expected = n / 9
    sigma = math.sqrt(n * (1 / 9) * (8 / 9))
    assert np.all(np.abs(counts[1:] - expected) < 6 * sigma)


def test_corrupt_labels_uses_only_the_rng_argument():
    labels = labels_for_test()
    a = corrupt_labels(labels, 0.3, 10, np.random.default_rng(7))
    b = corrupt_labels(labels, 0.3, 10, np.random.default_rng(7))
    c = corrupt_labels(labels, 0.3, 10, np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_corrupt_labels_two_classes_swaps_them():
    labels = np.array([0, 1] * 50)
    noisy = corrupt_labels(labels, 1.0, 2, np.random.default_rng(0))
    assert np.array_equal(noisy, 1 - labels)


@pytest.mark.parametrize("fraction, n_classes", [(-0.1, 10), (1.1, 10), (0.5, 1), (0.5, 0)])
def test_corrupt_labels_bad_arguments_raise_value_error(fraction, n_classes):
    with pytest.raises(ValueError):
        corrupt_labels(labels_for_test(), fraction, n_classes, np.random.default_rng(0))


# --- two_input_regression ----------------------------------------------------------------------

def test_two_input_regression_shapes_and_dtypes():
    split = data.two_input_regression(n_train=30, n_holdout=500)
    assert split.x_train.shape == (30, 2)
    assert split.y_train.shape == (30, 1)
    assert split.x_holdout.shape == (500, 2)
    assert split.y_holdout.shape == (500, 1)
    assert split.y_train.dtype == split.x_train.dtype == torch.float64
    assert split.n_classes is None
    assert split.x_train.abs().max() <= 2  # inputs drawn on [-2, 2]^2


def test_two_input_regression_dtype_argument_applies_to_targets_too():
    split = data.two_input_regression(n_train=10, n_holdout=10, dtype=torch.float32)
    assert split.x_train.dtype == split.y_train.dtype == torch.float32


def test_two_input_regression_is_deterministic():
    a = data.two_input_regression(seed=4)
    b = data.two_input_regression(seed=4)
    c = data.two_input_regression(seed=5)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.x_train, c.x_train)


def test_two_input_regression_without_noise_is_the_target_function():
    split = data.two_input_regression(n_train=50, n_holdout=50, noise=0.0)
    for x, y in ((split.x_train, split.y_train), (split.x_holdout, split.y_holdout)):
        expected = data.regression_target(x.numpy())
        np.testing.assert_allclose(y[:, 0].numpy(), expected, rtol=0, atol=1e-12)


def test_two_input_regression_noise_has_the_requested_scale():
    """Residuals from the target function have standard deviation ~noise."""
    split = data.two_input_regression(n_train=2000, n_holdout=10, noise=0.3)
    residual = split.y_train[:, 0].numpy() - data.regression_target(split.x_train.numpy())
    assert abs(residual.std() - 0.3) < 0.03


def test_regression_target_formula():
    x = np.array([[0.0, 0.0], [np.pi / 4, 2.0]])
    np.testing.assert_allclose(data.regression_target(x), [0.0, 1.0 + 2.0])


def test_two_input_regression_negative_noise_raises():
    with pytest.raises(ValueError, match="noise"):
        data.two_input_regression(noise=-0.1)


# --- diabetes ----------------------------------------------------------------------------------

def test_diabetes_training_set_is_standardised():
    split = data.diabetes(n_train=100)
    assert split.x_train.shape == (100, 10)
    assert split.y_train.shape == (100, 1)
    assert split.x_holdout.shape == (442 - 100, 10)
    assert split.y_train.dtype == torch.float64
    assert abs(split.y_train.mean().item()) < 1e-9
    assert abs(split.y_train.std().item() - 1) < 1e-9
    assert torch.allclose(split.x_train.mean(0), torch.zeros(10, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(split.x_train.std(0), torch.ones(10, dtype=torch.float64))
    # the holdout set is scaled with the training statistics: close to, not exactly, standard
    assert abs(split.y_holdout.mean().item()) < 0.5
    assert split.y_holdout.std().item() == pytest.approx(1, abs=0.3)


def test_diabetes_is_deterministic_by_seed():
    a, b, c = data.diabetes(seed=1), data.diabetes(seed=1), data.diabetes(seed=2)
    assert torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.y_train, c.y_train)


# --- Split ---------------------------------------------------------------------------------

def test_split_to_returns_a_copy_with_the_same_contents():
    split = data.digits(n_train=20, n_holdout=10)
    moved = split.to("cpu")
    assert isinstance(moved, Split)
    assert moved is not split
    for name in ("x_train", "y_train", "x_holdout", "y_holdout"):
        assert getattr(moved, name).device == torch.device("cpu")
        assert torch.equal(getattr(moved, name), getattr(split, name))
    assert moved.n_classes == split.n_classes and moved.name == split.name


def test_split_to_moves_every_tensor():
    """Checked on the data-less `meta` device, so it runs without a GPU."""
    moved = data.two_input_regression(n_train=5, n_holdout=5).to("meta")
    for name in ("x_train", "y_train", "x_holdout", "y_holdout"):
        assert getattr(moved, name).device.type == "meta"


def test_split_repr():
    text = repr(data.digits(n_train=100, n_holdout=50))
    assert text == ("Split('digits, 0% label noise': 100 training, 50 holdout, 64 features, "
                    "10 classes)")
    assert "regression" in repr(data.two_input_regression(n_train=5, n_holdout=5))
