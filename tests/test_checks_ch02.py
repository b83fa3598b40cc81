"""Tests for the chapter 2 checks (`dropout_lib.checks.ch02`) and `dropout_lib.by_hand`.

Each check passes the reference answer and other right answers, and rejects each mistake a
learner would make with its own hint: the tests look for a distinctive phrase of that hint.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F
from torch import nn

from dropout_lib import by_hand, dropout, layers, plotting
from dropout_lib.grading import CheckResult, check

CHAPTER_2 = ["2.1", "2.2", "2.3", "2.4", "2.5"]


def assert_hint(exercise_id: str, answer, phrase: str) -> None:
    result = check(exercise_id, answer)
    assert result.status == "not yet", str(result)
    assert phrase in result.message, result.message


# --- by_hand: the library's reference answers ---------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.3, 0.8])
def test_bernoulli_mask_keeps_with_probability_one_minus_p(p):
    mask = by_hand.bernoulli_mask((500, 400), p, np.random.default_rng(0))
    assert mask.shape == (500, 400) and mask.dtype == np.float64
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(mask.mean() - (1 - p)) < 6 * np.sqrt(p * (1 - p) / mask.size)


def test_bernoulli_mask_edges_and_seeding():
    assert by_hand.bernoulli_mask(10, 0.0, np.random.default_rng(0)).tolist() == [1.0] * 10
    assert by_hand.bernoulli_mask(10, 1.0, np.random.default_rng(0)).tolist() == [0.0] * 10
    first = by_hand.bernoulli_mask((20, 30), 0.5, np.random.default_rng(3))
    assert np.array_equal(first, by_hand.bernoulli_mask((20, 30), 0.5, np.random.default_rng(3)))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_bernoulli_mask_rejects_bad_p(p):
    with pytest.raises(ValueError, match="p must be a probability"):
        by_hand.bernoulli_mask(5, p, np.random.default_rng(0))


def test_bernoulli_mask_needs_a_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        by_hand.bernoulli_mask(5, 0.5, 0)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.6, 1.0])
def test_dropout_forward_matches_its_mask(p):
    x = np.random.default_rng(1).standard_normal((30, 20))
    copy = x.copy()
    y, mask = by_hand.dropout_forward(x, p, np.random.default_rng(2))
    assert np.array_equal(x, copy)
    scale = 0.0 if p == 1 else 1 / (1 - p)
    assert np.allclose(y, mask * x * scale) and np.isfinite(y).all()


def test_dropout_forward_preserves_the_mean():
    y, _ = by_hand.dropout_forward(np.ones(200_000), 0.3, np.random.default_rng(0))
    assert abs(y.mean() - 1.0) < 0.01


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_dropout_backward_equals_autograd_of_the_reference(p):
    x = torch.randn(40, 30, dtype=torch.float64, requires_grad=True)
    grad_output = torch.randn(40, 30, dtype=torch.float64)
    y = dropout(x, p, generator=torch.Generator().manual_seed(0))
    y.backward(grad_output)
    mask = (y.detach() != 0).double()
    assert torch.allclose(by_hand.dropout_backward(grad_output, mask, p), x.grad)


def test_dropout_backward_on_numpy_and_at_p_one():
    grad, mask = np.ones(4), np.array([1.0, 0.0, 1.0, 0.0])
    assert by_hand.dropout_backward(grad, mask, 0.5).tolist() == [2.0, 0.0, 2.0, 0.0]
    assert by_hand.dropout_backward(grad, np.zeros(4), 1.0).tolist() == [0.0] * 4


def test_plot_mask_draws_and_rejects_non_2d():
    ax = plotting.plot_mask(np.eye(4), title="a mask")
    assert ax.get_title() == "a mask" and ax.get_xlabel() == "unit"
    with pytest.raises(ValueError, match="must be 2-D"):
        plotting.plot_mask(np.ones(3))
    import matplotlib.pyplot as plt
    plt.close("all")


# --- every check: never raises, never passes junk ------------------------------------------------

@pytest.mark.parametrize("exercise_id", CHAPTER_2)
@pytest.mark.parametrize("answer", [
    None, 0, "b!", object(), np.zeros(3), lambda *args, **kwargs: 1 / 0,
    lambda *args, **kwargs: None, lambda *args, **kwargs: "text",
    lambda *args, **kwargs: torch.zeros(3),
], ids=["None", "zero", "text", "object", "array", "raises", "returns-None", "returns-str",
        "returns-tensor"])
def test_check_never_raises_and_never_passes_junk(exercise_id, answer):
    result = check(exercise_id, answer)
    assert isinstance(result, CheckResult)
    assert result.status in {"not yet", "not attempted"}, str(result)
    assert result.message and "\n" not in str(result)


def stub(*args, **kwargs):
    raise NotImplementedError("your code here")


class StubDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        raise NotImplementedError("your code here")


@pytest.mark.parametrize("exercise_id, answer", [
    ("2.1", stub), ("2.2", stub), ("2.3", stub), ("2.4", StubDropout), ("2.5", None),
])
def test_stubs_are_not_attempted(exercise_id, answer):
    result = check(exercise_id, answer)
    assert result.status == "not attempted", str(result)
    assert "not attempted yet" in str(result)


def test_the_learners_random_state_is_left_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    assert check("2.2", dropout).passed
    assert check("2.4", layers.Dropout).passed
    assert torch.equal(torch.rand(3), expected)


# --- the reference answers and other right answers pass ------------------------------------------

def mask_with_binomial(shape, p, rng):
    return rng.binomial(1, 1 - p, size=shape).astype(bool)


def dropout_with_bernoulli(x, p=0.5, training=True, generator=None):
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    mask = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)
    return x * mask / (1 - p)


def backward_with_where(grad_output, mask, p):
    return torch.where(mask.bool(), grad_output / (1 - p), torch.zeros_like(grad_output))


class DropoutWithFunction(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        self.p = p

    def forward(self, x):
        return dropout_with_bernoulli(x, self.p, self.training)


@pytest.mark.parametrize("exercise_id, answer", [
    ("2.1", by_hand.bernoulli_mask),
    ("2.1", mask_with_binomial),
    ("2.1", lambda shape, p, rng: rng.random(shape) >= p),
    ("2.2", dropout),
    ("2.2", dropout_with_bernoulli),
    ("2.3", by_hand.dropout_backward),
    ("2.3", backward_with_where),
    ("2.4", layers.Dropout),
    ("2.4", DropoutWithFunction),
    ("2.4", nn.Dropout),
    ("2.5", "b"),
    ("2.5", " B "),
], ids=["2.1-reference", "2.1-binomial", "2.1-bool", "2.2-reference", "2.2-bernoulli",
        "2.3-reference", "2.3-where", "2.4-reference", "2.4-own", "2.4-torch", "2.5", "2.5-case"])
def test_right_answers_pass(exercise_id, answer):
    result = check(exercise_id, answer)
    assert result.passed, str(result)


# --- 2.1: the mask -------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, phrase", [
    (lambda shape, p, rng: (rng.random(shape) < p).astype(float), "used p as the keep probability"),
    (lambda shape, p, rng: rng.binomial(1, p, size=shape), "used p as the keep probability"),
    (lambda shape, p, rng: np.broadcast_to(rng.random(shape[1]) >= p, shape),
     "one mask for the whole batch"),
    (lambda shape, p, rng: np.broadcast_to(rng.random((shape[0], 1)) >= p, shape),
     "keeps or drops whole examples"),
    (lambda shape, p, rng: np.random.random(shape) >= p, "not from np.random"),
    (lambda shape, p, rng: (rng.random(shape) >= p) / (1 - p) if p < 1 else np.zeros(shape),
     "the rescaling belongs to the forward pass"),
    (lambda shape, p, rng: rng.random(shape), "only 0 (dropped) and 1 (kept)"),
    (lambda shape, p, rng: rng.random(shape[::-1]) >= p, "the requested shape"),
    (lambda shape, p, rng: (rng.random(shape) >= 0.5 * p), "about 0.2 of them"),
    (lambda shape, p, rng: torch.rand(shape) >= p, "return a NumPy array"),
], ids=["p-as-keep", "binomial-p", "shared-over-batch", "per-example", "global-np-random",
        "scaled", "uniform", "shape", "wrong-rate", "torch"])
def test_2_1_wrong_answers_get_their_own_hint(answer, phrase):
    assert_hint("2.1", answer, phrase)


def test_2_1_edges():
    def ones_at_p_one(shape, p, rng):
        return np.ones(shape) if p == 1 else rng.random(shape) >= p

    assert_hint("2.1", ones_at_p_one, "at p = 1 every entry should be 0")


# --- 2.2: the dropout function: one test per mistake --------------------------------------------

def make_dropout(body):
    """A dropout function with a right skeleton (checks, edge cases) around a `body` to vary."""
    def answer(x, p=0.5, training=True, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        if not training or p == 0:
            return x
        if p == 1:
            return torch.zeros_like(x)
        return body(x, p, generator)
    return answer


def keep_mask(x, p, generator):
    return (torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p).to(x.dtype)


def test_2_2_forgetting_to_rescale():
    assert_hint("2.2", make_dropout(lambda x, p, g: x * keep_mask(x, p, g)),
                "you forgot to rescale")


def test_2_2_rescaling_by_one_minus_p():
    assert_hint("2.2", make_dropout(lambda x, p, g: x * keep_mask(x, p, g) * (1 - p)),
                "rescale the other way")


def test_2_2_p_as_keep_probability():
    def keep_with_p(x, p, g):
        mask = (torch.rand(x.shape, generator=g, dtype=x.dtype) < p).to(x.dtype)
        return x * mask / p

    assert_hint("2.2", make_dropout(keep_with_p), "you used p as the keep probability")


def test_2_2_p_as_keep_probability_only_in_the_scale():
    assert_hint("2.2", make_dropout(lambda x, p, g: x * keep_mask(x, p, g) / p),
                "divided by p")


def test_2_2_dropping_in_evaluation_mode():
    def ignores_training(x, p=0.5, training=True, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        if p == 1:
            return torch.zeros_like(x)
        return x * keep_mask(x, p, generator) / (1 - p)

    assert_hint("2.2", ignores_training, "with training=False your function still drops")


def test_2_2_rescaling_in_evaluation_mode():
    def scales_in_eval(x, p=0.5, training=True, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        if not training:
            return x * (1 - p)  # the old "standard dropout" test-time rule, on top of inverted
        return make_dropout(lambda x, p, g: x * keep_mask(x, p, g) / (1 - p))(x, p, True,
                                                                                generator)

    assert_hint("2.2", scales_in_eval, "no mask and no rescaling in evaluation mode")


def test_2_2_training_defaults_to_false():
    right = make_dropout(lambda x, p, g: x * keep_mask(x, p, g) / (1 - p))

    def off_by_default(x, p=0.5, training=False, generator=None):
        return right(x, p, training, generator)

    assert_hint("2.2", off_by_default, "training should default to True")


def test_2_2_one_mask_for_the_whole_batch():
    def shared(x, p, g):
        row = (torch.rand(x.shape[-1], generator=g, dtype=x.dtype) >= p).to(x.dtype)
        return x * row / (1 - p)

    assert_hint("2.2", make_dropout(shared), "one mask for the whole batch")


def test_2_2_whole_examples_dropped():
    def per_example(x, p, g):
        column = (torch.rand(*x.shape[:-1], 1, generator=g, dtype=x.dtype) >= p).to(x.dtype)
        return x * column / (1 - p)

    assert_hint("2.2", make_dropout(per_example), "keeps or drops whole examples")


def test_2_2_the_same_mask_on_every_call():
    def seeded_inside(x, p, g):
        g = torch.Generator().manual_seed(0)
        return x * keep_mask(x, p, g) / (1 - p)

    assert_hint("2.2", make_dropout(seeded_inside), "two calls in a row gave the same mask")


def test_2_2_ignoring_the_generator():
    def global_rng(x, p=0.5, training=True, generator=None):
        return torch_F.dropout(x, p, training)

    assert_hint("2.2", global_rng, "use the generator argument")


def test_2_2_changing_the_input_in_place():
    def in_place(x, p, g):
        return x.mul_(keep_mask(x, p, g) / (1 - p))

    assert_hint("2.2", make_dropout(in_place), "changed its input x in place")


def test_2_2_nan_at_p_one():
    def no_special_case(x, p=0.5, training=True, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        if not training:
            return x
        return x * keep_mask(x, p, generator) / (1 - p)  # 0 * x / 0.0 = NaN at p = 1

    assert_hint("2.2", no_special_case, "at p = 1 the output holds NaN")


def test_2_2_division_by_zero_at_p_one():
    def python_scale(x, p=0.5, training=True, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        if not training:
            return x
        scale = 1 / (1 - p)  # ZeroDivisionError at p = 1
        return x * keep_mask(x, p, generator) * scale

    assert_hint("2.2", python_scale, "at p = 1 your function raised ZeroDivisionError")


def test_2_2_breaking_autograd():
    def detached(x, p, g):
        return x.detach() * keep_mask(x, p, g) / (1 - p)

    assert_hint("2.2", make_dropout(detached), "you broke autograd")


def test_2_2_breaking_autograd_through_numpy():
    def via_numpy(x, p, g):
        return torch.from_numpy(x.numpy() * keep_mask(x, p, g).numpy() / (1 - p))

    assert_hint("2.2", make_dropout(via_numpy), "given an input that requires grad")


def test_2_2_returning_the_mask():
    assert_hint("2.2", make_dropout(lambda x, p, g: keep_mask(x, p, g)), "you returned the mask")


def test_2_2_returning_the_scaled_mask():
    assert_hint("2.2", make_dropout(lambda x, p, g: keep_mask(x, p, g) / (1 - p)),
                "you returned the mask")


def test_2_2_returning_a_boolean_mask():
    assert_hint("2.2", make_dropout(lambda x, p, g: keep_mask(x, p, g).bool()),
                "you returned the mask (a boolean tensor)")


def test_2_2_changing_the_dtype():
    def float64_mask(x, p, g):
        mask = (torch.rand(x.shape, generator=g, dtype=torch.float64) >= p).double()
        return x * mask / (1 - p)

    assert_hint("2.2", make_dropout(float64_mask), "keep the input's dtype")


def test_2_2_accepting_a_bad_p():
    def no_check(x, p=0.5, training=True, generator=None):
        if not training or p <= 0:
            return x
        if p >= 1:
            return torch.zeros_like(x)
        return x * keep_mask(x, p, generator) / (1 - p)

    assert_hint("2.2", no_check, "raise ValueError when it is outside [0, 1]")


def test_2_2_checking_p_only_in_training_mode():
    right = make_dropout(lambda x, p, g: x * keep_mask(x, p, g) / (1 - p))

    def late_check(x, p=0.5, training=True, generator=None):
        if not training:
            return x
        return right(x, p, training, generator)

    assert_hint("2.2", late_check, "even with training=False")


def test_2_2_raising_the_wrong_error_for_a_bad_p():
    right = make_dropout(lambda x, p, g: x * keep_mask(x, p, g) / (1 - p))

    def assertion(x, p=0.5, training=True, generator=None):
        assert 0 <= p <= 1
        return right(x, p, training, generator)

    assert_hint("2.2", assertion, "raise ValueError (as PyTorch does), not AssertionError")


def test_2_2_p_zero_must_be_the_identity():
    def drops_at_zero(x, p=0.5, training=True, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("p must be in [0, 1]")
        if not training:
            return x
        if p == 1:
            return torch.zeros_like(x)
        return x * keep_mask(x, max(p, 0.1), generator) / (1 - p)

    assert_hint("2.2", drops_at_zero, "at p = 0 nothing is dropped")


# --- 2.3: the backward pass --------------------------------------------------------------------

@pytest.mark.parametrize("answer, phrase", [
    (lambda g, m, p: g * m, "you forgot the scale"),
    (lambda g, m, p: g * m * (1 - p), "you multiplied by 1 - p"),
    (lambda g, m, p: g / (1 - p), "you ignored the mask"),
    (lambda g, m, p: g * m / p, "you divided by p"),
    (lambda g, m, p: g, "grad_output unchanged"),
    (lambda g, m, p: m / (1 - p), "by the chain rule multiply it by grad_output"),
    (lambda g, m, p: g.mul_(m / (1 - p)), "changed grad_output or mask in place"),
    (lambda g, m, p: (g * m / (1 - p)).numpy(), "return a torch.Tensor"),
    (lambda g, m, p: (g * m / (1 - p)).sum(), "the shape of grad_output"),
    (lambda g, m, p: g * m / (1 - p) ** 2, "should be grad_output * mask / (1 - p)"),
], ids=["no-scale", "times-1-p", "no-mask", "over-p", "unchanged", "no-upstream", "in-place",
        "numpy", "summed", "other"])
def test_2_3_wrong_answers_get_their_own_hint(answer, phrase):
    assert_hint("2.3", answer, phrase)


# --- 2.4: the module ---------------------------------------------------------------------------

def module_with(forward_body, init_check=True, default_p=0.5):
    """A Dropout class whose forward is `forward_body(self, x)`."""
    class Answer(nn.Module):
        def __init__(self, p=default_p):
            super().__init__()
            if init_check and not 0 <= p <= 1:
                raise ValueError("p must be in [0, 1]")
            self.p = p

        def forward(self, x):
            return forward_body(self, x)

    return Answer


def right_forward(self, x):
    return dropout_with_bernoulli(x, self.p, self.training)


def test_2_4_dropping_in_evaluation_mode():
    assert_hint("2.4", module_with(lambda self, x: dropout_with_bernoulli(x, self.p, True)),
                "after layer.eval() your layer still drops units")


def test_2_4_rescaling_in_evaluation_mode():
    def forward(self, x):
        return dropout_with_bernoulli(x, self.p) if self.training else x * (1 - self.p)

    assert_hint("2.4", module_with(forward), "no mask and no rescaling in evaluation mode")


def test_2_4_p_as_keep_probability():
    assert_hint("2.4", module_with(lambda self, x: dropout_with_bernoulli(x, 1 - self.p,
                                                                           self.training)),
                "you used p as the keep probability")


def test_2_4_forgetting_to_rescale():
    def forward(self, x):
        return dropout_with_bernoulli(x, self.p, self.training) * (1 - self.p)

    assert_hint("2.4", module_with(forward), "you forgot to rescale")


def test_2_4_mode_fixed_at_construction():
    class ModeInInit(nn.Module):
        def __init__(self, p=0.5):
            super().__init__()
            if not 0 <= p <= 1:
                raise ValueError("p must be in [0, 1]")
            self.p, self.active = p, True

        def eval(self):
            self.active = False
            return self

        def forward(self, x):
            return dropout_with_bernoulli(x, self.p, self.active)

    assert_hint("2.4", ModeInInit, "after layer.train() the layer should drop again")


def test_2_4_own_eval_method_ignored_by_the_network():
    class OwnFlag(nn.Module):
        def __init__(self, p=0.5):
            super().__init__()
            if not 0 <= p <= 1:
                raise ValueError("p must be in [0, 1]")
            self.p, self.active = p, True

        def eval(self):
            super().eval()
            self.active = False
            return self

        def train(self, mode=True):  # ignores mode: a network's eval() calls train(False)
            self.active = True
            return super().train(mode)

        def forward(self, x):
            return dropout_with_bernoulli(x, self.p, self.active)

    assert_hint("2.4", OwnFlag, "did not switch it off")


def test_2_4_the_same_mask_on_every_call():
    def forward(self, x):
        return dropout_with_bernoulli(x, self.p, self.training, torch.Generator().manual_seed(0))

    assert_hint("2.4", module_with(forward), "two calls in a row gave the same mask")


def test_2_4_one_mask_for_the_whole_batch():
    def forward(self, x):
        if not self.training:
            return x
        row = (torch.rand(x.shape[-1], dtype=x.dtype) >= self.p).to(x.dtype)
        return x * row / (1 - self.p)

    assert_hint("2.4", module_with(forward), "one mask for the whole batch")


def test_2_4_changing_the_input_in_place():
    def forward(self, x):
        if not self.training:
            return x
        return x.mul_((torch.rand_like(x) >= self.p).to(x.dtype) / (1 - self.p))

    assert_hint("2.4", module_with(forward), "changed its input x in place")


def test_2_4_nan_at_p_one():
    def forward(self, x):
        if not self.training:
            return x
        return x * (torch.rand_like(x) >= self.p).to(x.dtype) / (1 - self.p)

    assert_hint("2.4", module_with(forward), "at p = 1 the output holds NaN")


def test_2_4_returning_the_mask():
    def forward(self, x):
        if not self.training:
            return x
        return (torch.rand_like(x) >= self.p).to(x.dtype)

    assert_hint("2.4", module_with(forward), "you returned the mask")


def test_2_4_breaking_autograd():
    assert_hint("2.4", module_with(lambda self, x: right_forward(self, x.detach())),
                "you broke autograd")


def test_2_4_accepting_a_bad_p():
    assert_hint("2.4", module_with(right_forward, init_check=False), "raise ValueError in __init__")


def test_2_4_default_p():
    assert_hint("2.4", module_with(right_forward, default_p=0.2), "should use p = 0.5")


def test_2_4_an_instance_instead_of_the_class():
    assert_hint("2.4", layers.Dropout(0.5), "pass the class itself")


# --- 2.5: the quiz -----------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["a", "c", "d"])
def test_2_5_wrong_choices_get_the_hint(answer):
    assert_hint("2.5", answer, "probability of KEEPING a unit")
