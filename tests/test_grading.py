"""Tests for `dropout_lib.grading` and the chapter 1 checks (`dropout_lib.checks.ch01`).

Every check is tested with the reference answer, with other right answers a learner might
write, and with the wrong answers a learner would write; each wrong answer must get its own
hint, so the tests look for a distinctive phrase of that hint.
"""

from __future__ import annotations

import contextlib
import hashlib

import numpy as np
import pytest
import torch

from dropout_lib import data, grading, training
from dropout_lib.grading import CheckResult, NotYet, answer_digest, check

CHAPTER_1 = ["1.1", "1.2", "1.3", "1.4"]


@contextlib.contextmanager
def removed_afterwards():
    """Yield a list; every exercise id appended to it is taken out of the registry on exit."""
    ids: list[str] = []
    try:
        yield ids
    finally:
        for exercise_id in ids:
            grading.EXERCISES.pop(exercise_id, None)


@pytest.fixture
def temporary_ids():
    """Ids registered during a test (list them here) are removed from the registry after it."""
    with removed_afterwards() as ids:
        yield ids


@pytest.fixture
def crashing_exercise(temporary_ids):
    temporary_ids.append("99.1")

    @grading.exercise("99.1", "a broken check")
    def _checker(answer):
        return {}["missing"]  # a bug in the check itself, whatever the answer

    return "99.1"


@pytest.fixture
def choice_quiz(temporary_ids):
    temporary_ids.append("99.2")
    grading.quiz("99.2", "a choice", digest=answer_digest("99.2", "c"),
                 hint="think about the keep probability.", choices="abcd")
    return "99.2"


@pytest.fixture
def number_quiz(temporary_ids):
    """The answer is 0.25, checked to a step of 0.01."""
    temporary_ids.append("99.3")
    grading.quiz("99.3", "a number", digest=answer_digest("99.3", str(round(0.25 / 0.01))),
                 hint="multiply the two probabilities.", step=0.01)
    return "99.3"


def assert_one_line(result: CheckResult, exercise_id: str, title: str) -> None:
    text = str(result)
    assert "\n" not in text
    assert text.startswith(f"Exercise {exercise_id} ({title}): ")
    assert repr(result) == text


# --- check: verdicts and never raising -----------------------------------------------------------

def test_unknown_id_is_an_error_result_listing_known_ids():
    result = check("42.7", lambda h: 0)
    assert result.status == "error" and not result.passed
    assert "there is no exercise '42.7'" in result.message
    assert "1.1" in result.message
    assert_one_line(result, "42.7", "unknown exercise")


def test_stub_is_not_attempted():
    def gap(history):
        raise NotImplementedError

    result = check("1.1", gap)
    assert result.status == "not attempted"
    assert "NotImplementedError" in result.message  # tells the learner what to replace
    assert_one_line(result, "1.1", "the generalisation gap")
    assert "not attempted yet" in str(result)


def test_answer_raising_another_exception_is_not_yet_with_its_name():
    def gap(history):
        return history.train_acc[-1] / 0

    result = check("1.1", gap)
    assert result.status == "not yet"
    assert "ZeroDivisionError" in result.message
    assert_one_line(result, "1.1", "the generalisation gap")
    assert "not yet. Hint: your function raised ZeroDivisionError" in str(result)


def test_crashing_checker_is_an_error_result(crashing_exercise):
    result = check(crashing_exercise, lambda: None)
    assert result.status == "error"
    assert "KeyError" in result.message and "report this" in result.message
    assert_one_line(result, "99.1", "a broken check")
    assert "could not be checked" in str(result)


def test_temporary_exercises_are_removed_even_when_the_test_fails():
    """The clean-up the fixtures rely on: the registry is restored, also after an error."""
    before = set(grading.EXERCISES)
    with pytest.raises(RuntimeError), removed_afterwards() as ids:
        ids.append("99.6")
        grading.exercise("99.6", "short-lived")(lambda answer: None)
        assert "99.6" in grading.EXERCISES
        raise RuntimeError("a failing test")
    assert set(grading.EXERCISES) == before


@pytest.mark.parametrize("not_a_function", [0.25, "gap", None, [1, 2]])
def test_non_callable_for_a_function_exercise_is_not_yet(not_a_function):
    result = check("1.1", not_a_function)
    assert result.status == "not yet"
    assert "expected a function" in result.message


def test_passed_result_prints_one_line():
    result = check("1.1", training.generalization_gap)
    assert result.passed and result.status == "passed"
    assert str(result) == "Exercise 1.1 (the generalisation gap): passed."


@pytest.mark.parametrize("exercise_id", CHAPTER_1)
@pytest.mark.parametrize("answer", [
    None, ..., 0, "z", object(), np.zeros(3), lambda *args: 1 / 0, lambda *args: None,
    lambda *args: "text", lambda *args: np.nan, lambda *args: [1, 2],
], ids=["None", "Ellipsis", "zero", "letter", "object", "array", "raises", "returns-None",
        "returns-str", "returns-nan", "returns-list"])
def test_check_never_raises_and_never_passes_junk(exercise_id, answer):
    result = check(exercise_id, answer)
    assert isinstance(result, CheckResult)
    assert result.status in {"not yet", "not attempted"}
    assert result.message  # every verdict that is not a pass explains itself
    assert "\n" not in str(result)


def test_exercise_ids_and_labels():
    for exercise_id in CHAPTER_1:
        item = grading.EXERCISES[exercise_id]
        assert item.chapter == 1
        assert item.label == "ex-" + exercise_id.replace(".", "-")
    assert grading.EXERCISES["1.4"].kind == "quiz"
    assert grading.EXERCISES["1.1"].kind == "function"


def test_registering_twice_or_a_bad_id_raises(temporary_ids):
    temporary_ids.append("99.4")
    grading.exercise("99.4", "first")(lambda answer: None)
    with pytest.raises(ValueError, match="registered twice"):
        grading.exercise("99.4", "second")(lambda answer: None)
    with pytest.raises(ValueError, match="must look like"):
        grading.exercise("x.1", "bad")(lambda answer: None)
    assert grading.EXERCISES["99.4"].title == "first"


# --- quiz --------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["c", "C", " c ", "c\n", "(c)", "c)", "c.", lambda: "c"])
def test_choice_quiz_accepts_the_right_letter_in_any_case_and_spacing(choice_quiz, answer):
    assert check(choice_quiz, answer).passed


@pytest.mark.parametrize("answer", ["a", "B", "d"])
def test_choice_quiz_rejects_a_wrong_letter_with_the_hint(choice_quiz, answer):
    result = check(choice_quiz, answer)
    assert result.status == "not yet"
    assert result.message == "think about the keep probability."


@pytest.mark.parametrize("answer", ["e", "the second one", 3])
def test_choice_quiz_rejects_a_non_choice_by_listing_the_choices(choice_quiz, answer):
    result = check(choice_quiz, answer)
    assert result.status == "not yet"
    assert "answer with one of 'a', 'b', 'c', 'd'" in result.message


@pytest.mark.parametrize("answer", ["ab", "", "abcd"])
def test_choice_quiz_rejects_several_letters_or_nothing_as_a_non_choice(choice_quiz, answer):
    result = check(choice_quiz, answer)
    assert "answer with one of" in result.message


@pytest.mark.parametrize("answer", [None, ...])
def test_quiz_without_an_answer_is_not_attempted(choice_quiz, number_quiz, answer):
    for exercise_id in (choice_quiz, number_quiz):
        result = check(exercise_id, answer)
        assert result.status == "not attempted"
        assert "Set `answer`" in result.message


@pytest.mark.parametrize("answer", [0.25, 0.2549, 0.2451, 0.26, 0.24, 1 / 4, np.float64(0.25),
                                    lambda: 0.25])
def test_number_quiz_accepts_answers_within_a_step(number_quiz, answer):
    assert check(number_quiz, answer).passed


@pytest.mark.parametrize("answer", [0.3, 0.2, 0.27, 0.2349, 0.2651, -0.25, 0.0, 2.5])
def test_number_quiz_rejects_wrong_numbers_with_the_hint(number_quiz, answer):
    result = check(number_quiz, answer)
    assert result.status == "not yet"
    assert result.message == "multiply the two probabilities."


@pytest.mark.parametrize("answer", [25, 25.4, 0.0025])
def test_number_quiz_spots_a_percentage(number_quiz, answer):
    result = check(number_quiz, answer)
    assert result.status == "not yet"
    assert "100 times too large or too small" in result.message


@pytest.mark.parametrize("true, step", [(0.25, 0.01), (0.5, 0.05), (85002, 1), (0.0046, 0.001),
                                        (0.255, 0.01), (-1.3, 0.1), (1e-4, 1e-5)])
def test_number_quiz_tolerance_is_half_to_one_and_a_half_steps(temporary_ids, true, step):
    """Within half a step of the true value always passes; beyond 1.5 steps never does."""
    temporary_ids.append("99.7")
    grading.quiz("99.7", "tolerance", digest=grading.number_digest("99.7", true, step),
                 hint="no.", step=step)
    for offset in np.linspace(-0.5, 0.5, 21):
        assert check("99.7", true + offset * step).passed, offset
    for offset in (-1.51, 1.51, -2, 2, 3, -3, 10):
        assert check("99.7", true + offset * step).status == "not yet", offset


@pytest.mark.parametrize("answer", [np.array(0.25), np.float32(0.25), np.int64(0)])
def test_number_quiz_takes_numpy_scalars(number_quiz, answer):
    assert check(number_quiz, answer).status in {"passed", "not yet"}
    assert "finite number" not in check(number_quiz, answer).message


def test_number_quiz_takes_a_0d_tensor(number_quiz):
    import torch

    assert check(number_quiz, torch.tensor(0.25, dtype=torch.float64)).passed
    assert check(number_quiz, torch.tensor([0.25, 0.3])).status == "not yet"


def test_quiz_step_must_be_positive():
    with pytest.raises(ValueError, match="step must be a positive number"):
        grading.quiz("99.8", "t", digest="0" * 64, hint="h", step=0)
    assert "99.8" not in grading.EXERCISES


@pytest.mark.parametrize("answer", ["0.25", True, float("nan"), float("inf"), [0.25]])
def test_number_quiz_rejects_non_numbers(number_quiz, answer):
    result = check(number_quiz, answer)
    assert result.status == "not yet"
    assert "answer with a finite number" in result.message


def test_quiz_needs_choices_or_step_but_not_both():
    with pytest.raises(ValueError, match="either choices or step"):
        grading.quiz("99.5", "t", digest="0" * 64, hint="h")
    with pytest.raises(ValueError, match="either choices or step"):
        grading.quiz("99.5", "t", digest="0" * 64, hint="h", choices="ab", step=0.1)
    assert "99.5" not in grading.EXERCISES


def test_stored_digest_does_not_reveal_the_answer():
    """The digest is a salted SHA-256: not the answer, not its plain hash, id-dependent."""
    digest = answer_digest("1.4", "b")
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert digest != hashlib.sha256(b"b").hexdigest()
    assert digest != answer_digest("1.5", "b")
    # nothing the registered 1.4 checker holds is the answer itself
    checker = grading.EXERCISES["1.4"].checker
    held = [cell.cell_contents for cell in checker.__closure__]
    assert digest in held
    assert all(value != "b" for value in held if isinstance(value, str))


# --- chapter 1: the reference answers pass -----------------------------------------------------

@pytest.mark.parametrize("exercise_id, answer", [
    ("1.1", training.generalization_gap),
    ("1.2", data.corrupt_labels),
    ("1.3", training.best_epoch),
    ("1.4", "b"),
])
def test_reference_answers_pass(exercise_id, answer):
    result = check(exercise_id, answer)
    assert result.passed, str(result)


# --- 1.1: the generalisation gap ---------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    lambda h: (1 - h.holdout_acc[-1]) - (1 - h.train_acc[-1]),
    lambda h: np.float64(h.train_acc[-1] - h.holdout_acc[-1]),
    lambda h: round(h.train_acc[-1] - h.holdout_acc[-1], 12),
    lambda h: torch.tensor(h.train_acc[-1] - h.holdout_acc[-1], dtype=torch.float64),
], ids=["from-errors", "numpy-float", "rounded", "tensor"])
def test_1_1_other_right_answers_pass(answer):
    assert check("1.1", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (lambda h: h.holdout_acc[-1] - h.train_acc[-1], "the sign is flipped"),
    (lambda h: 100 * (h.train_acc[-1] - h.holdout_acc[-1]), "not in percent"),
    (lambda h: h.holdout_loss[-1] - h.train_loss[-1], "that is the gap in loss"),
    (lambda h: h.train_acc[0] - h.holdout_acc[0], "the gap after the first epoch"),
    (lambda h: max(h.train_acc) - max(h.holdout_acc), "not the best values"),
    (lambda h: 1 - h.holdout_acc[-1], "compute (1 - holdout accuracy)"),
    (lambda h: "a lot", "should be a single number, got str"),
    (lambda h: [0.1, 0.2], "should be a single number, got list"),
    (lambda h: float("nan"), "should be a finite number"),
    (lambda h: abs(h.train_acc[-1] - h.holdout_acc[-1]), "the gap can be negative"),
    (lambda h: np.array(h.train_acc) - np.array(h.holdout_acc), "one value per epoch"),
    (lambda h: np.mean(h.train_acc) - np.mean(h.holdout_acc), "average gap over all epochs"),
    (lambda h: h.train_acc.pop() - h.holdout_acc.pop(), "changed the history it was given"),
    (lambda h: np.array([h.train_acc[-1] - h.holdout_acc[-1]]), "single number, got ndarray"),
], ids=["sign", "percent", "loss-gap", "first-epoch", "best-values", "other", "str", "list",
        "nan", "abs", "per-epoch", "mean", "pops", "array-of-one"])
def test_1_1_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("1.1", answer)
    assert result.status == "not yet"
    assert phrase in result.message


# --- 1.2: label noise ------------------------------------------------------------------------

def corrupt_with_offsets(labels, fraction, n_classes, rng, offsets):
    """Shared skeleton: pick round(fraction * n) positions, move each by `offsets(k)`."""
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    noisy[chosen] = (noisy[chosen] + offsets(len(chosen))) % n_classes
    return noisy


def corrupt_with_a_loop(labels, fraction, n_classes, rng):
    """A right answer written differently: a permutation and a loop over the chosen labels."""
    noisy = list(labels)
    for i in rng.permutation(len(labels))[:round(fraction * len(labels))]:
        others = [c for c in range(n_classes) if c != labels[i]]
        noisy[i] = int(rng.choice(others))
    return np.array(noisy)


def test_1_2_other_right_answer_passes():
    assert check("1.2", corrupt_with_a_loop).passed


def random_class_may_equal_label(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    noisy[chosen] = rng.integers(0, n_classes, size=len(chosen))
    return noisy


def modifies_in_place(labels, fraction, n_classes, rng):
    chosen = rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    labels[chosen] = (labels[chosen] + rng.integers(1, n_classes, size=len(chosen))) % n_classes
    return labels


def uses_global_np_random(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    chosen = np.random.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    noisy[chosen] = (noisy[chosen] + np.random.randint(1, n_classes, size=len(chosen))) % n_classes
    return noisy


def always_plus_one(labels, fraction, n_classes, rng):
    return corrupt_with_offsets(labels, fraction, n_classes, rng, lambda k: 1)


def one_too_many(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    size = min(len(labels), round(fraction * len(labels)) + 1)
    chosen = rng.choice(len(labels), size=size, replace=False)
    noisy[chosen] = (noisy[chosen] + rng.integers(1, n_classes, size=size)) % n_classes
    return noisy


def bernoulli_per_label(labels, fraction, n_classes, rng):
    """Flips each label with probability `fraction`: right on average, not exactly."""
    noisy = labels.copy()
    chosen = rng.random(len(labels)) < fraction
    noisy[chosen] = (noisy[chosen] + rng.integers(1, n_classes, size=chosen.sum())) % n_classes
    return noisy


def returns_floats(labels, fraction, n_classes, rng):
    return data.corrupt_labels(labels, fraction, n_classes, rng).astype(float)


def returns_too_few_labels(labels, fraction, n_classes, rng):
    return data.corrupt_labels(labels, fraction, n_classes, rng)[:10]


def positions_with_replacement(labels, fraction, n_classes, rng):
    """Draws the positions with replacement, so some repeat and fewer labels change."""
    noisy = labels.copy()
    size = round(fraction * len(labels))
    chosen = rng.choice(len(labels), size=size, replace=True)
    noisy[chosen] = (noisy[chosen] + rng.integers(1, n_classes, size=size)) % n_classes
    return noisy


def returns_labels_unchanged(labels, fraction, n_classes, rng):
    return labels.copy()


def rounds_down(labels, fraction, n_classes, rng):
    noisy = labels.copy()
    size = int(fraction * len(labels))
    chosen = rng.choice(len(labels), size=size, replace=False)
    noisy[chosen] = (noisy[chosen] + rng.integers(1, n_classes, size=size)) % n_classes
    return noisy


def favours_the_next_class(labels, fraction, n_classes, rng):
    """Draws from all classes and moves a draw equal to the label on by one: class + 1 is
    twice as likely as any other wrong class."""
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)
    new = rng.integers(0, n_classes, size=len(chosen))
    same = new == labels[chosen]
    new[same] = (new[same] + 1) % n_classes
    noisy[chosen] = new
    return noisy


@pytest.mark.parametrize("answer, phrase", [
    (returns_labels_unchanged, "no label changed"),
    (rounds_down, "not int() (which rounds down)"),
    (favours_the_next_class, "is one class favoured"),
    (random_class_may_equal_label, "moves to a *different* class"),
    (positions_with_replacement, "without replacement"),
    (modifies_in_place, "changed the labels it was given"),
    (uses_global_np_random, "not from np.random"),
    (always_plus_one, "label + 1"),
    (one_too_many, "Choose exactly round(fraction * n) positions"),
    (bernoulli_per_label, "labels should change, but"),
    (returns_floats, "labels should stay integers"),
    (returns_too_few_labels, "return one label per input label"),
])
def test_1_2_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("1.2", answer)
    assert result.status == "not yet"
    assert phrase in result.message


# --- 1.3: early stopping ------------------------------------------------------------------------

def sorts_the_losses(history):
    """Right epoch, but sorts the history's list in place on the way."""
    best = int(np.argmin(history.holdout_loss)) + 1
    history.holdout_loss.sort()
    return best


@pytest.mark.parametrize("answer", [
    lambda h: int(np.argmin(h.holdout_loss)) + 1,
    lambda h: np.argmin(h.holdout_loss) + 1,  # a NumPy integer is fine
    lambda h: min(h.epochs, key=lambda e: h.holdout_loss[e - 1]),
], ids=["argmin", "numpy-int", "min-over-epochs"])
def test_1_3_other_right_answers_pass(answer):
    assert check("1.3", answer).passed


@pytest.mark.parametrize("answer, phrase", [
    (lambda h: int(np.argmin(h.holdout_loss)), "off by one"),
    (lambda h: int(np.argmin(h.train_loss)) + 1, "*training* loss is lowest"),
    (lambda h: float(np.argmin(h.holdout_loss) + 1), "return the epoch as an int"),
    (lambda h: True, "return the epoch as an int"),
    (lambda h: int(np.argmax(h.holdout_loss)) + 1, "highest holdout loss"),
    (lambda h: len(h.holdout_loss), "simply the last epoch"),
    (lambda h: int(np.argmax(h.holdout_acc)) + 1, "holdout *accuracy* is highest"),
    (lambda h: min(h.holdout_loss), "the lowest holdout loss itself"),
    (lambda h: len(h.holdout_loss) - int(np.argmin(h.holdout_loss[::-1])), "several epochs tie"),
    (lambda h: max(h.epochs, key=lambda e: (-h.holdout_loss[e - 1], e)), "several epochs tie"),
    (sorts_the_losses, "changed the history it was given"),
], ids=["zero-based", "train-loss", "float", "bool", "argmax-holdout", "last-epoch",
        "holdout-accuracy", "loss-value", "last-of-a-tie", "last-of-a-tie-loop", "sorts"])
def test_1_3_wrong_answers_get_their_own_hint(answer, phrase):
    result = check("1.3", answer)
    assert result.status == "not yet"
    assert phrase in result.message


# --- 1.4: the quiz ------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["b", "B", " b "])
def test_1_4_right_answer_passes(answer):
    assert check("1.4", answer).passed


@pytest.mark.parametrize("answer", ["a", "c", "d"])
def test_1_4_wrong_choices_get_the_hint(answer):
    result = check("1.4", answer)
    assert result.status == "not yet"
    assert "how many of the training labels are correct" in result.message


def test_1_4_not_a_choice():
    result = check("1.4", "e")
    assert result.status == "not yet"
    assert "answer with one of" in result.message


# --- call ----------------------------------------------------------------------------------------

def test_call_passes_arguments_and_reraises_verdicts():
    assert grading.call(lambda a, b=0: a + b, 1, b=2) == 3
    with pytest.raises(NotYet, match="expected a function"):
        grading.call(3)
    with pytest.raises(grading.NotAttempted):
        grading.call(lambda: (_ for _ in ()).throw(NotImplementedError()))
