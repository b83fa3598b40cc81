"""Chapter 6, 7 and 8 check behaviour that the generic tests (`test_checks_generic.py`) cannot
see: a crash inside the learner's model, and the tolerance of the numeric quizzes 7.2 and 8.4."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dropout_lib.grading import check


def test_6_1_a_crash_inside_the_model_is_a_hint_not_a_traceback():
    def crash(model, x, samples, generator=None):
        return model(x.repeat(samples))  # a shape error inside the model

    result = check("6.1", crash)
    assert result.status == "not yet" and "your function raised RuntimeError" in result.message
    assert "\n" not in str(result)


@pytest.mark.parametrize("answer", [320, 320.0, 128 / 0.4, 321, 319.5])
def test_7_2_passes_within_a_unit(answer):
    assert check("7.2", answer).passed


@pytest.mark.parametrize("answer", [318, 322, 3.2, "320"])
def test_7_2_rejects_what_is_further_away(answer):
    assert check("7.2", answer).status == "not yet"


def _dropped_value(dtype):
    """The value a dropped unit takes in torch's alpha dropout at p = 0.2, at `dtype`."""
    torch.manual_seed(0)
    return torch.nn.AlphaDropout(0.2)(torch.zeros(1000, dtype=dtype)).min()


@pytest.mark.parametrize("make", [lambda: -1.236, lambda: -1.2362,
                                  lambda: _dropped_value(torch.float64),
                                  lambda: _dropped_value(torch.float32),
                                  lambda: np.float32(_dropped_value(torch.float32).item())])
def test_8_4_passes_at_three_decimals_in_any_dtype(make):
    assert check("8.4", make()).passed


@pytest.mark.parametrize("answer", [-1.758, -1.24, -1.23, 1.236, -1.545, -0.422, 0.309, "-1.236"])
def test_8_4_rejects_plausible_wrong_values(answer):
    assert check("8.4", answer).status == "not yet"
