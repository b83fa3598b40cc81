"""Properties every exercise must have, tested over the whole registry (and any exercise added
later): the reference and every declared correct variant pass, the stub is not attempted,
every listed mistake gets its own hint (not the fallback), verdicts are one line, junk never
passes, quizzes read every answer format alike, no hint gives the answer away, and `check`
leaves the global random generators as it found them.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch
from answer_key import QUIZ_ANSWERS

from dropout_lib.grading import (
    EXERCISES,
    CheckResult,
    check,
    judge,
    load_all,
    random_states,
)

ALL = load_all()
FUNCTIONS = [item for item in ALL if item.kind == "function"]
QUIZZES = [item for item in ALL if item.kind == "quiz"]
CHOICE_QUIZZES = [item for item in QUIZZES if isinstance(QUIZ_ANSWERS.get(item.id), str)]


def ids(item) -> str:
    return item.id


def known_cases(kind: str):
    """(exercise, known answer) pairs over the registry, with readable test ids."""
    return [pytest.param(item, known, id=f"{item.id}-{known.name}")
            for item in ALL for known in getattr(item, kind)]


def assert_one_line(result: CheckResult) -> None:
    text = str(result)
    assert "\n" not in text and text.startswith(f"Exercise {result.exercise_id} ("), text
    assert result.status == "passed" or result.message, text


def reference_of(item):
    return QUIZ_ANSWERS[item.id] if item.kind == "quiz" else item.reference


def test_there_are_32_exercises_with_points():
    assert len(ALL) == len(EXERCISES) == 32
    assert all(item.points > 0 and item.fallback for item in ALL)
    assert sorted(QUIZ_ANSWERS) == [item.id for item in QUIZZES]


# --- right answers pass ---------------------------------------------------------------------

@pytest.mark.parametrize("item", ALL, ids=ids)
def test_reference_passes(item):
    result = check(item.id, reference_of(item))
    assert result.passed, str(result)
    assert_one_line(result)


@pytest.mark.parametrize("item, known", known_cases("variants"))
def test_every_correct_variant_passes(item, known):
    result = check(item.id, known.answer)
    assert result.passed, str(result)


@pytest.mark.parametrize("item", FUNCTIONS, ids=ids)
def test_function_exercises_declare_several_correct_variants(item):
    assert len(item.variants) >= 2, "declare other correct ways of writing it (float32, ...)"


@pytest.mark.parametrize("item", ALL, ids=ids)
def test_stub_is_not_attempted(item):
    result = check(item.id, item.stub)
    assert result.status == "not attempted", str(result)
    assert "not attempted yet" in str(result)
    assert_one_line(result)


# --- wrong answers get their own hint -------------------------------------------------------

@pytest.mark.parametrize("item, known", known_cases("mistakes"))
def test_every_listed_mistake_gets_its_own_hint(item, known):
    result = check(item.id, known.answer)
    assert result.status == "not yet", str(result)
    assert known.hint in result.message, result.message
    assert result.message != item.fallback, "a listed mistake got the fallback hint"
    assert_one_line(result)


@pytest.mark.parametrize("item", FUNCTIONS, ids=ids)
def test_function_exercises_list_their_mistakes(item):
    assert len(item.mistakes) >= 3


JUNK = [None, 0, "z", object(), np.zeros(3), lambda *args, **kwargs: 1 / 0,
        lambda *args, **kwargs: None, lambda *args, **kwargs: "text",
        lambda *args, **kwargs: np.nan, lambda *args, **kwargs: [1, 2],
        lambda *args, **kwargs: torch.zeros(3)]


@pytest.mark.parametrize("item", ALL, ids=ids)
def test_junk_never_passes_and_never_raises(item):
    for answer in JUNK:
        result = check(item.id, answer)
        assert result.status in {"not yet", "not attempted"}, (answer, str(result))
        assert_one_line(result)
    result = check(item.id, lambda *args, **kwargs: 1 / 0)
    if item.kind == "function" and not isinstance(item.reference, type):
        assert "ZeroDivisionError" in result.message


# --- quizzes: one answer format, a hint per wrong choice -----------------------------------

FORMATS = [lambda c: c, lambda c: f"({c})", str.upper, lambda c: f" {c} ", lambda c: f"{c})",
           lambda c: f"{c}.", lambda c: (lambda: c)]


@pytest.mark.parametrize("item", CHOICE_QUIZZES, ids=ids)
def test_choice_quiz_reads_every_format_alike(item):
    right = QUIZ_ANSWERS[item.id]
    wrong = next(c for c in "abcd" if c != right)
    wrong_hint = check(item.id, wrong).message
    for spelled in FORMATS:
        assert check(item.id, spelled(right)).passed, spelled(right)
        assert check(item.id, spelled(wrong)).message == wrong_hint, spelled(wrong)


@pytest.mark.parametrize("item", CHOICE_QUIZZES, ids=ids)
def test_every_wrong_choice_gets_its_own_hint(item):
    right = QUIZ_ANSWERS[item.id]
    for letter in "abcd":
        result = check(item.id, letter)
        assert result.passed == (letter == right), (letter, str(result))
        if letter != right:
            assert result.status == "not yet" and result.message != item.fallback, str(result)
    assert check(item.id, "e").message == item.fallback


# --- hints never give the answer away -------------------------------------------------------

LETTER = re.compile(r"\(([a-d])\)|['\"]([a-d])['\"]|\b(?:choice|option|answer|letter)\s+\(?"
                    r"([a-d])\b", re.I)
NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")


def hint_texts(item) -> list[str]:
    """Every hint the exercise can print for a listed mistake, a wrong choice or otherwise."""
    texts = [item.fallback]
    texts += [check(item.id, known.answer).message for known in item.mistakes]
    if item.id in QUIZ_ANSWERS and isinstance(QUIZ_ANSWERS[item.id], str):
        texts += [check(item.id, c).message for c in "abcd" if c != QUIZ_ANSWERS[item.id]]
    return texts


@pytest.mark.parametrize("item", QUIZZES, ids=ids)
def test_quiz_hints_do_not_give_the_answer_away(item):
    answer = QUIZ_ANSWERS[item.id]
    for text in hint_texts(item)[1:] if isinstance(answer, str) else hint_texts(item):
        if isinstance(answer, str):
            assert not LETTER.search(text), f"a quiz hint names a choice: {text}"
        else:
            printed = {float(n) for n in NUMBER.findall(text)}
            assert float(answer) not in printed, f"a hint prints the answer: {text}"


def _scalars(value) -> list[float]:
    if isinstance(value, bool | np.bool_):
        return []
    if isinstance(value, torch.Tensor | np.ndarray) and np.size(value) == 1:
        value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float | np.floating) and not float(value).is_integer():
        return [float(value)]
    return []


def _printed(number: str, value: float) -> bool:
    decimals = len(number.split(".")[1]) if "." in number else 0
    return decimals >= 2 and abs(float(number) - value) <= 0.5 * 10.0 ** -decimals


@pytest.mark.parametrize("item", FUNCTIONS, ids=ids)
def test_function_hints_never_print_the_expected_value(item):
    """No hint, for a listed mistake or a slightly wrong number, prints a value the reference
    returned while being checked."""
    returned: list[float] = []

    def recording(*args, **kwargs):
        out = item.reference(*args, **kwargs)
        returned.extend(_scalars(out))
        return out

    if isinstance(item.reference, type):
        pytest.skip("a class: its outputs are tensors")
    assert check(item.id, recording).passed
    texts = hint_texts(item)
    if returned:
        def nudged(*args, **kwargs):
            out = item.reference(*args, **kwargs)
            return float(out) * 1.37 + 0.011 if _scalars(out) else out

        texts.append(check(item.id, nudged).message)
    for text in texts:
        for number in NUMBER.findall(text):
            assert not any(_printed(number, value) for value in returned), text


# --- check leaves the global random state alone --------------------------------------------

def _states_equal(before: dict, after: dict) -> bool:
    return (before["python"] == after["python"]
            and all(np.array_equal(a, b) for a, b in zip(before["numpy"][1:3],
                                                        after["numpy"][1:3], strict=True))
            and before["numpy"][3:] == after["numpy"][3:]
            and torch.equal(before["torch"], after["torch"])
            and set(before) == set(after))


def _drawing(answer):
    """`answer`, drawing from all three global generators first (as careless code does)."""
    if isinstance(answer, type) or not callable(answer) and not isinstance(answer, str):
        return answer

    def draws(*args, **kwargs):
        torch.rand(3), np.random.rand(3), random.random()
        return answer(*args, **kwargs) if callable(answer) else answer

    return draws


@pytest.mark.parametrize("item", ALL, ids=ids)
def test_check_leaves_the_global_random_state_unchanged(item):
    wrong = item.mistakes[0].answer if item.mistakes else next(
        c for c in "abcd" if c != QUIZ_ANSWERS[item.id])
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    for answer in (reference_of(item), wrong, item.stub):
        for given in (answer, _drawing(answer)):
            before = random_states()
            judge(item.id, given)
            assert _states_equal(before, random_states()), (item.id, given)


def test_check_is_the_same_whatever_the_notebook_drew_before():
    item = EXERCISES["2.4"]
    first = [check("2.4", known.answer).message for known in item.mistakes[:4]]
    torch.manual_seed(123), np.random.seed(5)
    assert [check("2.4", known.answer).message for known in item.mistakes[:4]] == first
