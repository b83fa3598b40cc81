"""Tests for the machinery of `dropout_lib.grading`: verdicts, the lazily loaded registry,
quizzes, the converters and `close`, and the random-state guard. What every exercise must do
is tested over the whole registry in `test_checks_generic.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from dropout_lib import grading, training
from dropout_lib.grading import CheckResult, NotYet, answer_digest, check

CHAPTER_1 = ["1.1", "1.2", "1.3", "1.4"]
HINTS = {answer_digest("99.2", c): f"about {c}." for c in "abd"}


def register(exercise_id, title, checker=lambda answer: None):
    return grading.exercise(exercise_id, title, fallback="try again.")(checker)


@contextlib.contextmanager
def removed_afterwards():
    """Yield a list; every exercise id appended to it is taken out of the registry on exit."""
    ids: list[str] = []
    try:
        yield ids
    finally:
        for exercise_id in ids:
            grading.EXERCISES.unregister(exercise_id)


@pytest.fixture
def temporary_ids():
    """Ids registered during a test (list them here) are removed from the registry after it."""
    with removed_afterwards() as ids:
        yield ids


@pytest.fixture
def crashing_exercise(temporary_ids):
    temporary_ids.append("99.1")

    def _checker(answer):
        return {}["missing"]  # a bug in the check itself, whatever the answer

    register("99.1", "a broken check", _checker)

    return "99.1"


@pytest.fixture
def choice_quiz(temporary_ids):
    temporary_ids.append("99.2")
    grading.quiz("99.2", "a choice", digest=answer_digest("99.2", "c"), choices="abcd",
                 hints=HINTS)
    return "99.2"


@pytest.fixture
def number_quiz(temporary_ids):
    """The answer is 0.25, checked to a step of 0.01."""
    temporary_ids.append("99.3")
    grading.quiz("99.3", "a number", digest=answer_digest("99.3", str(round(0.25 / 0.01))),
                 fallback="multiply the two probabilities.", step=0.01,
                 mistakes={0.75: "that is the other probability."})
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
        register("99.6", "short-lived")
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
    register("99.4", "first")
    with pytest.raises(ValueError, match="registered twice"):
        register("99.4", "second")
    with pytest.raises(ValueError, match="must look like"):
        register("x.1", "bad")
    assert grading.EXERCISES["99.4"].title == "first"
    assert grading.EXERCISES["99.4"].points == 2 and grading.EXERCISES["1.4"].points == 1


# --- quiz --------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["c", "C", " c ", "c\n", "(c)", "c)", "c.", lambda: "c"])
def test_choice_quiz_accepts_the_right_letter_in_any_case_and_spacing(choice_quiz, answer):
    assert check(choice_quiz, answer).passed


@pytest.mark.parametrize("answer", ["a", "B", "(d)", " d "])
def test_choice_quiz_gives_each_wrong_letter_its_own_hint(choice_quiz, answer):
    result = check(choice_quiz, answer)
    assert result.status == "not yet"
    assert result.message == f"about {answer.strip(' ()').lower()}."


def test_choice_quiz_needs_a_hint_for_every_wrong_letter(temporary_ids):
    temporary_ids.append("99.9")
    with pytest.raises(ValueError, match="1 wrong choice"):
        grading.quiz("99.9", "t", digest=answer_digest("99.9", "c"), choices="abcd",
                     hints={answer_digest("99.9", c): "h" for c in "ab"})
    assert "99.9" not in grading.EXERCISES.loaded()


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


@pytest.mark.parametrize("answer", [0.75, 0.754, 0.746, np.float32(0.75)])
def test_number_quiz_names_a_known_wrong_number(number_quiz, answer):
    assert check(number_quiz, answer).message == "that is the other probability."


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
                 fallback="no.", step=step)
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
        grading.quiz("99.8", "t", digest="0" * 64, fallback="h", step=0)
    assert "99.8" not in grading.EXERCISES.loaded()


@pytest.mark.parametrize("answer", ["0.25", True, float("nan"), float("inf"), [0.25]])
def test_number_quiz_rejects_non_numbers(number_quiz, answer):
    result = check(number_quiz, answer)
    assert result.status == "not yet"
    assert "should be a" in result.message and "number" in result.message


def test_quiz_needs_choices_or_step_but_not_both():
    with pytest.raises(ValueError, match="either choices or step"):
        grading.quiz("99.5", "t", digest="0" * 64, fallback="h")
    with pytest.raises(ValueError, match="either choices or step"):
        grading.quiz("99.5", "t", digest="0" * 64, fallback="h", choices="ab", step=0.1)
    assert "99.5" not in grading.EXERCISES.loaded()


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


# --- call ----------------------------------------------------------------------------------------

def test_call_passes_arguments_and_reraises_verdicts():
    assert grading.call(lambda a, b=0: a + b, 1, b=2) == 3
    with pytest.raises(NotYet, match="expected a function"):
        grading.call(3)
    with pytest.raises(grading.NotAttempted):
        grading.call(lambda: (_ for _ in ()).throw(NotImplementedError()))


# --- a light import, and chapters loaded on first use --------------------------------------------

def test_importing_the_package_loads_no_checks():
    code = ("import sys, dropout_lib, dropout_lib.grading; "
            "print([m for m in sys.modules if '.checks.' in m])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_check_loads_only_the_chapter_it_needs():
    code = ("import sys; from dropout_lib.grading import check; "
            "check('3.3', 'a'); print(sorted(m for m in sys.modules if '.checks.ch' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['dropout_lib.grading.checks.ch03', " \
                          "'dropout_lib.grading.checks.ch03_answers']"


def test_no_grading_module_imports_a_chapter_at_import_time():
    """No cycle: chapters import the machinery, never the other way round."""
    from pathlib import Path

    root = Path(grading.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "from .checks" not in text and "import checks" not in text, path.name
    scorecard = root.parent / "grade"
    for path in [*root.glob("*.py"), *root.glob("checks/*.py"), *scorecard.glob("*.py")]:
        assert len(path.read_text().splitlines()) <= 300, path.name


def test_load_all_lists_every_exercise_in_order():
    ids = [item.id for item in grading.load_all()]
    assert ids == sorted(ids, key=grading.sort_key) and len(ids) == 32
    assert list(grading.EXERCISES) == ids


# --- converters and a close that knows the answer's precision ----------------------------------

@pytest.mark.parametrize("value", [0.25, np.float64(0.25), np.float32(0.25), np.array(0.25),
                                   torch.tensor(0.25), torch.tensor(0.25, dtype=torch.float64),
                                   1])
def test_as_number_takes_every_kind_of_number(value):
    assert grading.as_number(value) == pytest.approx(float(value))


@pytest.mark.parametrize("value, phrase", [(True, "got a bool"), (np.zeros(2), "single number"),
                                           (torch.zeros(1), "single number"), ("1", "got str"),
                                           (None, "got NoneType")])
def test_as_number_says_what_it_got(value, phrase):
    with pytest.raises(NotYet, match=phrase):
        grading.as_number(value)


def test_as_tensor_and_as_array_keep_the_dtype():
    assert grading.as_tensor(np.zeros(3, dtype=np.float32)).dtype == torch.float32
    assert grading.as_array(torch.zeros(3, dtype=torch.float64)).dtype == np.float64
    assert grading.as_tensor([1.0, 2.0]).shape == (2,)
    with pytest.raises(NotYet, match="tensor or an array of numbers"):
        grading.as_array("abc")


def test_close_holds_each_answer_to_its_own_precision():
    want = torch.tensor([0.1, 0.7], dtype=torch.float64) / 3
    assert grading.close(want.float(), want)  # a right float32 answer passes
    assert grading.close(want.numpy(), want)
    assert grading.close(want + 1e-9, want)
    assert not grading.close(want + 1e-5, want)  # float64 is held to float64
    assert grading.close((want + 1e-5).float(), want)  # within float32's precision
    assert not grading.close((want * 1.01).float(), want)
    assert not grading.close(want[:1], want) and not grading.close(want * np.nan, want)


# --- the random-state guard ---------------------------------------------------------------------

def test_guard_restores_every_generator_and_seeds_inside():
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    expected = (torch.rand(2), np.random.rand(2), random.random())
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    with grading.preserved_randomness():
        inside = torch.rand(2)
        torch.manual_seed(99), np.random.seed(99), random.seed(99)
    with grading.preserved_randomness():
        assert torch.equal(torch.rand(2), inside)  # the same seed inside, whatever came before
    after = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(after[0], expected[0]) and np.array_equal(after[1], expected[1])
    assert after[2] == expected[2]


def test_the_readme_worked_example_works(temporary_ids):
    """The README's "Adding an exercise" example, run as written (under a spare id)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(from \.\.\.ensembles.*?)```", readme, re.S).group(1)
    code = (code.replace("from ...", "from dropout_lib.").replace("from ..", "from "
            "dropout_lib.grading.").replace('"4.5"', '"98.5"'))
    temporary_ids.append("98.5")
    exec(code, {})
    item = grading.EXERCISES["98.5"]
    assert check("98.5", item.reference).passed and check("98.5", 2 ** 3).status == "not yet"
    assert all(check("98.5", known.answer).passed for known in item.variants)
    for known in item.mistakes:
        assert known.hint in check("98.5", known.answer).message
    assert check("98.5", item.stub).status == "not attempted"
    assert check("98.5", lambda n: 5).message == item.fallback


def test_precision_hint_names_float32_when_a_float64_answer_is_only_that_precise():
    from dropout_lib.grading.helpers import precision_hint

    want = torch.tensor([0.3, 0.7], dtype=torch.float64)
    assert "precision of float32" in precision_hint(want + 2e-5, want)
    assert precision_hint(want, want) is None  # right: no hint
    assert precision_hint(want * 1.1, want) is None  # wrong for another reason
    assert precision_hint((want + 2e-5).float(), want) is None  # float32 itself passes
