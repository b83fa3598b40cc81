"""Chapter 6 and 7 check behaviour that the generic tests (`test_checks_generic.py`) cannot see:
a crash inside the learner's model, and the tolerance of the numeric quiz 7.2."""

from __future__ import annotations

import pytest

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
