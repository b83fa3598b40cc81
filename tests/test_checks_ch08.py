"""Tests for the chapter 8 checks (`dropout_lib.checks.ch08`): right answers pass, and each
wrong answer a learner would write gets its own hint."""

from __future__ import annotations

import math

import pytest
import torch

from dropout_lib import check
from dropout_lib.variants import GaussianDropout, SpatialDropout, drop_path


def noise(x, generator, mean=1.0, std=1.0):
    return mean + std * torch.randn(x.shape, generator=generator, dtype=x.dtype)


# --- 8.1 Gaussian dropout ----------------------------------------------------------------------

def gaussian_reference(x, p, training, generator):
    return GaussianDropout(p, generator=generator).train(training)(x)


def gaussian_written_differently(x, p, training, generator):
    if not training or p == 0:
        return x
    eps = torch.empty_like(x).normal_(1.0, math.sqrt(p / (1 - p)), generator=generator)
    return eps * x


def std_sqrt_p(x, p, training, generator):
    return x * noise(x, generator, std=math.sqrt(p)) if training else x


def std_is_variance(x, p, training, generator):
    return x * noise(x, generator, std=p / (1 - p)) if training else x


def std_inverted(x, p, training, generator):
    return x * noise(x, generator, std=math.sqrt((1 - p) / p)) if training and p > 0 else x


def noise_added(x, p, training, generator):
    return x + noise(x, generator, mean=0.0, std=math.sqrt(p / (1 - p))) if training else x


def noise_in_eval(x, p, training, generator):
    return x * noise(x, generator, std=math.sqrt(p / (1 - p)))


def mean_zero(x, p, training, generator):
    return x * noise(x, generator, mean=0.0, std=math.sqrt(p / (1 - p))) if training else x


def rescaled(x, p, training, generator):
    return x * noise(x, generator, std=math.sqrt(p / (1 - p))) / (1 - p) if training else x


def mean_keep_prob(x, p, training, generator):
    return x * noise(x, generator, mean=1 - p, std=math.sqrt(p / (1 - p))) if training else x


def bernoulli(x, p, training, generator):
    if not training or p == 0:
        return x
    keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)
    return x * keep / (1 - p)


def global_generator(x, p, training, generator):
    return x * (1 + math.sqrt(p / (1 - p)) * torch.randn_like(x)) if training else x


def float32_output(x, p, training, generator):
    return gaussian_reference(x, p, training, generator).float()


def p_zero_gives_zeros(x, p, training, generator):
    return x * noise(x, generator, std=math.sqrt(p / (1 - p))) * (p > 0) if training else x


def in_place(x, p, training, generator):
    return x.mul_(noise(x, generator, std=math.sqrt(p / (1 - p)))) if training else x


@pytest.mark.parametrize("answer", [gaussian_reference, gaussian_written_differently])
def test_8_1_right_answers_pass(answer):
    assert check("8.1", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (std_sqrt_p, "standard deviation is sqrt(p);"),
    (std_is_variance, "which is the *variance*"),
    (std_inverted, "sqrt((1 - p) / p)"),
    (noise_added, "the noise is added to x"),
    (noise_in_eval, "no noise at test time"),
    (mean_zero, "the noise has mean 0"),
    (rescaled, "no rescaling is needed"),
    (mean_keep_prob, "the noise has mean 1 - p"),
    (bernoulli, "that is Bernoulli dropout"),
    (global_generator, "from the `generator` argument"),
    (float32_output, "keep the input's dtype"),
    (p_zero_gives_zeros, "at p = 0 the noise has variance 0"),
    (in_place, "changed its input in place"),
    (lambda x, p, training, generator: x.tolist(), "should return a torch.Tensor"),
    (lambda x, p, training, generator: x[0], "the input's shape"),
])
def test_8_1_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("8.1", answer)
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message


# --- 8.3 DropPath in a residual block ----------------------------------------------------------

def residual_reference(x, branch, p, training, generator):
    return x + drop_path(branch(x), p, training, generator)


def residual_written_differently(x, branch, p, training, generator):
    out = branch(x)
    if training and p > 0:
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        keep = torch.rand(shape, generator=generator, dtype=x.dtype) >= p
        out = out * keep / (1 - p)
    return x + out


def per_element(x, branch, p, training, generator):
    if not training:
        return x + branch(x)
    keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)
    return x + branch(x) * keep / (1 - p)


def no_rescale(x, branch, p, training, generator):
    return x + drop_path(branch(x), p, training, generator) * ((1 - p) if training else 1)


def drops_identity_too(x, branch, p, training, generator):
    return drop_path(x + branch(x), p, training, generator)


def active_in_eval(x, branch, p, training, generator):
    return x + drop_path(branch(x), p, True, generator)


def scaled_in_eval(x, branch, p, training, generator):
    if not training:
        return x + (1 - p) * branch(x)
    return residual_reference(x, branch, p, training, generator)


def one_coin_per_batch(x, branch, p, training, generator):
    if not training or p == 0:
        return x + branch(x)
    keep = torch.rand((), generator=generator).item() >= p
    return x + branch(x) * keep / (1 - p)


def keeps_with_p(x, branch, p, training, generator):
    return x + drop_path(branch(x), 1 - p, training, generator) * (p / (1 - p)) \
        if training and p > 0 else x + branch(x)


def residual_global_rng(x, branch, p, training, generator):
    return x + drop_path(branch(x), p, training)


@pytest.mark.parametrize("answer", [residual_reference, residual_written_differently])
def test_8_3_right_answers_pass(answer):
    assert check("8.3", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (per_element, "that is element-wise dropout"),
    (no_rescale, "kept branches are not rescaled"),
    (drops_identity_too, "you dropped the identity path too"),
    (active_in_eval, "DropPath is off at test time"),
    (scaled_in_eval, "scaled the branch by 1 - p"),
    (one_coin_per_batch, "one draw for the whole batch"),
    (keeps_with_p, "keep each with probability 1 - p"),
    (residual_global_rng, "from the `generator` argument"),
    (lambda x, branch, p, training, generator: branch(x), "evaluation mode"),
])
def test_8_3_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("8.3", answer)
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message


# --- 8.2 spatial dropout -----------------------------------------------------------------------

def spatial_reference(x, p, training, generator):
    return SpatialDropout(p, generator=generator).train(training)(x)


def channel_mask(shape, p, x, generator):
    return torch.empty(shape, dtype=x.dtype).bernoulli_(1 - p, generator=generator)


def spatial_with_mask_shape(shape_of):
    def answer(x, p, training, generator):
        if not training or p == 0:
            return x
        return x * channel_mask(shape_of(x), p, x, generator) / (1 - p)
    return answer


spatial_written_differently = spatial_with_mask_shape(lambda x: x.shape[:2] + (1, 1))
spatial_per_element = spatial_with_mask_shape(lambda x: x.shape)
spatial_shared_batch = spatial_with_mask_shape(lambda x: (1, x.shape[1], 1, 1))
spatial_shared_channels = spatial_with_mask_shape(lambda x: (x.shape[0], 1, 1, 1))


def spatial_no_rescale(x, p, training, generator):
    return spatial_reference(x, p, training, generator) * ((1 - p) if training else 1)


def spatial_in_eval(x, p, training, generator):
    return spatial_reference(x, p, True, generator)


def spatial_keeps_with_p(x, p, training, generator):
    if not training or p == 0:
        return x
    return x * channel_mask(x.shape[:2] + (1, 1), 1 - p, x, generator) / (1 - p)


def spatial_global_rng(x, p, training, generator):
    return spatial_reference(x, p, training, None)


@pytest.mark.parametrize("answer", [spatial_reference, spatial_written_differently])
def test_8_2_right_answers_pass(answer):
    assert check("8.2", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (spatial_per_element, "that is element-wise dropout"),
    (spatial_shared_batch, "shared across the batch"),
    (spatial_shared_channels, "shared across channels"),
    (spatial_no_rescale, "kept channels are not rescaled"),
    (spatial_in_eval, "in evaluation mode"),
    (spatial_keeps_with_p, "keep each with probability 1 - p"),
    (spatial_global_rng, "from the `generator` argument"),
])
def test_8_2_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("8.2", answer)
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message


# --- all: stubs, errors, junk; the quiz --------------------------------------------------------

@pytest.mark.parametrize("exercise_id", ["8.1", "8.3", "8.2"])
def test_stub_is_not_attempted_and_errors_are_not_yet(exercise_id):
    def stub(*args):
        raise NotImplementedError("your code here")

    assert check(exercise_id, stub).status == "not attempted"
    result = check(exercise_id, lambda *args: 1 / 0)
    assert result.status == "not yet" and "ZeroDivisionError" in result.message
    assert "\n" not in str(result)
    assert check(exercise_id, None).status == "not yet"


def test_8_4_quiz():
    assert check("8.4", None).status == "not attempted"
    assert check("8.4", "c").passed
    for wrong in "abd":
        result = check("8.4", wrong)
        assert result.status == "not yet" and "mean and the variance" in result.message
