"""Tests for the chapter 6 checks (`dropout_lib.checks.ch06`): right answers pass, each wrong
answer a learner would write gets its own hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dropout_lib import check, mc, uncertainty
from dropout_lib.grading import CheckResult
from dropout_lib.layers import Dropout

# --- 6.1: the batched MC predictor ---------------------------------------------------------------


def dropouts(model):
    return [m for m in model.modules() if isinstance(m, Dropout)]


def mc_predict_right(model, x, samples, generator=None, *, mistake=None):
    """A right answer written the way a learner would; `mistake` switches in one error."""
    modes = {m: m.training for m in model.modules()}
    layers = dropouts(model)
    old = [layer.generator for layer in layers]
    model.train() if mistake == "all-train" else model.eval()
    if mistake != "no-train-mode":
        for layer in layers:
            layer.train()
    if mistake != "ignore-generator":
        for layer in layers:
            layer.generator = generator
    n = x.shape[0]
    with torch.no_grad():
        if mistake == "loop":
            out = torch.stack([model(x) for _ in range(samples)])
        elif mistake == "repeat-after":
            out = model(x).unsqueeze(0).repeat(samples, 1, 1)
        elif mistake == "wrong-layout":
            out = model(x.repeat(samples, 1)).reshape(n, samples, -1).transpose(0, 1)
        else:
            out = model(x.repeat(samples, 1)).reshape(samples, n, -1)
    if mistake != "keep-generator":
        for layer, gen in zip(layers, old, strict=True):
            layer.generator = gen
    if mistake == "leave-train":
        model.train()
    elif mistake == "end-eval":
        model.eval()
    else:
        for module, mode in modes.items():
            module.training = mode
    axis = 1 if mistake == "wrong-axis" else 0
    mean, std = out.mean(axis), out.std(axis)
    if mistake == "variance":
        std = out.var(axis)
    elif mistake == "standard-error":
        std = std / samples**0.5
    elif mistake == "sqrt-std":
        std = std.sqrt()
    if mistake == "swapped":
        return std, mean
    if mistake == "one-tensor":
        return torch.stack([mean, std])
    return mean, std


def mc_predict_interleave(model, x, samples, generator=None):
    """Another right answer: repeat_interleave, so the samples of one input are adjacent."""
    mean, std = mc.mc_predict(model, x.repeat_interleave(1, 0), samples,
                              generator=generator)
    return mean, std


def mc_predict_unbiased(model, x, samples, generator=None):
    """Right as well: the std with divisor T - 1."""
    mean, std = mc.mc_predict(model, x, samples, generator=generator)
    return mean, std * (samples / (samples - 1)) ** 0.5


@pytest.mark.parametrize("answer", [
    mc.mc_predict,
    lambda model, x, samples, generator=None: mc.mc_predict(model, x, samples,
                                                            generator=generator),
    mc_predict_right, mc_predict_interleave, mc_predict_unbiased,
], ids=["library", "wrapped", "learner", "interleave", "unbiased"])
def test_6_1_right_answers_pass(answer):
    result = check("6.1", answer)
    assert result.passed, str(result)


def with_mistake(mistake):
    def answer(model, x, samples, generator=None):
        return mc_predict_right(model, x, samples, generator, mistake=mistake)
    return answer


@pytest.mark.parametrize("mistake, phrase", [
    ("no-train-mode", "dropout was off"),
    ("repeat-after", "every sample used the same mask"),
    ("variance", "looks like the variance"),
    ("sqrt-std", "square root of the standard deviation"),
    ("standard-error", "standard error of the mean"),
    ("wrong-axis", "you averaged over the inputs"),
    ("wrong-layout", "reshape the output to (samples, n, ...)"),
    ("leave-train", "left in train mode afterwards"),
    ("end-eval", "modes are not the same afterwards"),
    ("all-train", "BatchNorm"),
    ("ignore-generator", "the `generator` was ignored"),
    ("keep-generator", "still holds your generator"),
    ("loop", "that is the loop"),
    ("swapped", "swapped"),
    ("one-tensor", "return a pair of tensors"),
])
def test_6_1_wrong_answers_get_their_own_hint(mistake, phrase):
    result = check("6.1", with_mistake(mistake))
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message


def test_6_1_loop_reference_is_rejected_as_a_loop():
    result = check("6.1", lambda model, x, samples, generator=None: mc.mc_predict(
        model, x, samples, generator=generator, batched=False))
    assert "that is the loop" in result.message


def test_6_1_stub_and_crash():
    def stub(model, x, samples, generator=None):
        raise NotImplementedError

    def crash(model, x, samples, generator=None):
        return model(x.repeat(samples))  # a shape error inside the model

    assert check("6.1", stub).status == "not attempted"
    result = check("6.1", crash)
    assert result.status == "not yet" and "your function raised RuntimeError" in result.message
    assert "\n" not in str(result)


def test_6_1_leaves_no_trace_in_the_global_random_state_of_a_right_answer():
    state = torch.get_rng_state()
    assert check("6.1", mc.mc_predict).passed
    assert torch.equal(torch.get_rng_state(), state)


# --- 6.3: coverage -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    uncertainty.coverage,
    lambda y, mean, std, z: ((y - mean).abs() <= z * std).float().mean(),  # a 1-element tensor
    lambda y, mean, std, z: float(((mean - z * std <= y) & (y <= mean + z * std)).sum() / len(y)),
    lambda y, mean, std, z: ((y - mean).abs() < z * std).double().mean().item(),  # strict <
], ids=["library", "tensor", "two-bounds", "strict"])
def test_6_3_right_answers_pass(answer):
    result = check("6.3", answer)
    assert result.passed, str(result)


def fraction(inside):
    return inside.double().mean().item()


@pytest.mark.parametrize("answer, phrase", [
    (lambda y, m, s, z: fraction((y - m).abs() > z * s), "fraction *outside*"),
    (lambda y, m, s, z: int(((y - m).abs() <= z * s).sum()), "that is a count"),
    (lambda y, m, s, z: fraction(y - m <= z * s), "one-sided bound"),
    (lambda y, m, s, z: fraction((y - m).abs() <= s), "ignores z"),
    (lambda y, m, s, z: fraction((y - m).abs() <= 2 * s), "always 2 std wide"),
    (lambda y, m, s, z: fraction((y - m).abs() <= z * s / 2), "*half*-width"),
    (lambda y, m, s, z: fraction((y - m).abs() <= 2 * z * s), "not 2 * z * std"),
    (lambda y, m, s, z: fraction((y - m).abs() <= z * s**2), "treats std as a variance"),
    (lambda y, m, s, z: fraction((y - m).abs() <= z * s.sqrt()), "takes a square root of std"),
    (lambda y, m, s, z: ((y - m).abs() <= z * s).double(), "return one Python number"),
    (lambda y, m, s, z: "95%", "return one Python number"),
    (lambda y, m, s, z: 0.95, "count the points with"),
], ids=["outside", "count", "one-sided", "ignores-z", "two-std", "half-z", "double-z",
        "variance", "sqrt", "per-point", "string", "constant"])
def test_6_3_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("6.3", answer)
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message


def test_6_3_stub_is_not_attempted():
    def stub(y, mean, std, z):
        raise NotImplementedError

    assert check("6.3", stub).status == "not attempted"


# --- 6.2: the quiz -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["b", " B ", lambda: "b"])
def test_6_2_right_answer_passes(answer):
    assert check("6.2", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    ("a", "look at the ReLU panel"),
    ("c", "check which panel is which"),
    ("d", "compare the width of the band in the gap"),
    ("e", "answer with one of"),
    (2, "answer with one of"),
])
def test_6_2_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("6.2", answer)
    assert result.status == "not yet"
    assert phrase in result.message


@pytest.mark.parametrize("answer", [None, ...])
def test_6_2_no_answer_is_not_attempted(answer):
    result = check("6.2", answer)
    assert result.status == "not attempted" and "Set `answer`" in result.message


def test_6_2_source_does_not_hold_the_answer():
    from dropout_lib.checks import ch06
    assert ch06._RIGHT != "b" and len(ch06._RIGHT) == 64
    assert nn is not None  # imported for the models above


# --- all three: junk never passes and never raises ----------------------------------------------


@pytest.mark.parametrize("exercise_id", ["6.1", "6.3", "6.2"])
@pytest.mark.parametrize("answer", [
    None, 0, "z", object(), np.zeros(3), lambda *args, **kw: 1 / 0, lambda *args, **kw: None,
    lambda *args, **kw: "text", lambda *args, **kw: np.nan, lambda *args, **kw: [1, 2],
], ids=["None", "zero", "letter", "object", "array", "raises", "returns-None", "returns-str",
        "returns-nan", "returns-list"])
def test_check_never_raises_and_never_passes_junk(exercise_id, answer):
    result = check(exercise_id, answer)
    assert isinstance(result, CheckResult)
    assert result.status in {"not yet", "not attempted"}, str(result)
    assert result.message and "\n" not in str(result)
