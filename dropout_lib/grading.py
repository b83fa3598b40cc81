"""Exercise checks: a registry of exercises and `check`, which turns an answer into a verdict.

A learner writes a function (the stub raises `NotImplementedError`) or picks a quiz answer,
then runs `check("2.1", my_answer)`. The verdict prints as one short plain-text line:

    Exercise 2.1 (dropout by hand): passed.
    Exercise 2.1 (dropout by hand): not attempted yet. ...
    Exercise 2.1 (dropout by hand): not yet. Hint: ...

`check` never raises and never prints a traceback. The checks themselves live in
`dropout_lib.checks.chNN`, one module per chapter, registered with the `exercise` decorator:

    @exercise("1.1", "the generalisation gap")
    def _check(answer):
        got = call(answer, history)           # runs the learner's code, catching its errors
        if got != expected:
            raise NotYet("a hint that names the likely mistake, never the answer")

Quizzes (multiple choice, or a number with a tolerance) are registered with `quiz`; their
answers are stored as salted SHA-256 digests, so the notebook and this code do not show them.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXERCISES", "CheckResult", "Exercise", "NotAttempted", "NotYet", "call", "check",
    "exercise", "quiz", "answer_digest",
]

PASSED, NOT_YET, NOT_ATTEMPTED, ERROR = "passed", "not yet", "not attempted", "error"

NOT_ATTEMPTED_TEXT = {
    "function": "Replace `raise NotImplementedError` with your code, run that cell, then run "
                "this one again.",
    "quiz": "Set `answer` to your choice, then run this cell again.",
}


class NotYet(Exception):
    """Raised by a check: the answer is wrong; the message is the hint shown to the learner."""


class NotAttempted(Exception):
    """Raised by a check: the answer is still the stub (it raised NotImplementedError)."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise or quiz question.

    Attributes:
        id: "chapter.number", for example "2.1"; the label on the website is `ex-2-1`.
        title: a few words, shown in every verdict.
        checker: takes the learner's answer; returns an optional message on success, raises
            `NotYet` (wrong, with a hint) or `NotAttempted`.
        kind: "function" (the answer is a function to write) or "quiz".
    """

    id: str
    title: str
    checker: Callable[[Any], str | None]
    kind: str = "function"

    @property
    def chapter(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def label(self) -> str:
        return "ex-" + self.id.replace(".", "-")


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check. Prints as one line in a notebook."""

    exercise_id: str
    title: str
    status: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        head = f"Exercise {self.exercise_id} ({self.title}): "
        if self.status == PASSED:
            return head + "passed." + (f" {self.message}" if self.message else "")
        if self.status == NOT_ATTEMPTED:
            return head + "not attempted yet. " + self.message
        if self.status == NOT_YET:
            return head + f"not yet. Hint: {self.message}"
        return head + f"could not be checked: {self.message}"

    __repr__ = __str__

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython's display hook
        printer.text(str(self))


EXERCISES: dict[str, Exercise] = {}


def _register(item: Exercise) -> None:
    chapter, _, number = item.id.partition(".")
    if not (chapter.isdigit() and number.isdigit()):
        raise ValueError(f"exercise id must look like '2.1', got {item.id!r}")
    if item.id in EXERCISES:
        raise ValueError(f"exercise {item.id} is registered twice")
    EXERCISES[item.id] = item


def exercise(exercise_id: str, title: str) -> Callable:
    """Decorator: register the decorated function as the check of a function exercise."""

    def register(checker: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        _register(Exercise(exercise_id, title, checker, "function"))
        return checker

    return register


def call(answer: Any, *args: Any, **kwargs: Any) -> Any:
    """Run the learner's function; turn its failures into verdicts instead of tracebacks."""
    if not callable(answer):
        raise NotYet(f"expected a function, got {type(answer).__name__}. Pass the function "
                     "itself, without calling it: check('N.k', my_function).")
    try:
        return answer(*args, **kwargs)
    except NotImplementedError as err:
        raise NotAttempted() from err
    except (NotYet, NotAttempted):
        raise
    except Exception as err:  # noqa: BLE001 - any error in learner code becomes a hint
        raise NotYet(f"your function raised {type(err).__name__}: {err}") from None


def answer_digest(exercise_id: str, answer: str) -> str:
    """Salted SHA-256 of a normalised quiz answer (how quiz answers are stored)."""
    return hashlib.sha256(f"dropout-course/{exercise_id}/{answer}".encode()).hexdigest()


def _number_key(value: float, step: float) -> str:
    return str(round(value / step))


def quiz(
    exercise_id: str,
    title: str,
    digest: str,
    hint: str,
    choices: Sequence[str] | None = None,
    step: float | None = None,
) -> None:
    """Register a quiz question whose answer is known only by its `answer_digest`.

    Multiple choice: give `choices` (for example "abcd"); the digest is that of the right
    letter. Numeric: give `step`; the digest is that of `round(value / step)`, and answers
    within about one step of the value pass.
    """
    if (choices is None) == (step is None):
        raise ValueError("a quiz needs either choices or step")
    options = None if choices is None else tuple(choices)  # "abcd" -> ("a", "b", "c", "d")

    def checker(answer: Any) -> str | None:
        if callable(answer):
            answer = call(answer)
        if answer is None or answer is Ellipsis:
            raise NotAttempted()
        if options is not None:
            if not isinstance(answer, str) or answer.strip().lower() not in options:
                raise NotYet(f"answer with one of {', '.join(repr(c) for c in options)}.")
            if answer_digest(exercise_id, answer.strip().lower()) != digest:
                raise NotYet(hint)
            return None
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real) \
                or not math.isfinite(answer):
            raise NotYet(f"answer with a finite number, got {answer!r}.")
        key = round(float(answer) / step)
        if not any(answer_digest(exercise_id, str(k)) == digest for k in (key - 1, key, key + 1)):
            raise NotYet(hint)
        return None

    _register(Exercise(exercise_id, title, checker, "quiz"))


def check(exercise_id: str, answer: Any) -> CheckResult:
    """Check `answer` for exercise `exercise_id` and return a printable verdict.

    Never raises: an unknown id, a stub, a wrong answer, an error in the learner's code or in
    the check itself each become a `CheckResult` with a one-line message.
    """
    item = EXERCISES.get(str(exercise_id))
    if item is None:
        known = ", ".join(sorted(EXERCISES, key=_sort_key))
        return CheckResult(str(exercise_id), "unknown exercise", ERROR,
                           f"there is no exercise {exercise_id!r}; known ones: {known}.")
    try:
        note = item.checker(answer)
    except (NotAttempted, NotImplementedError):
        return CheckResult(item.id, item.title, NOT_ATTEMPTED, NOT_ATTEMPTED_TEXT[item.kind])
    except NotYet as hint:
        return CheckResult(item.id, item.title, NOT_YET, str(hint))
    except Exception as err:  # noqa: BLE001 - a verdict, never a traceback
        return CheckResult(item.id, item.title, ERROR,
                           f"the check itself failed ({type(err).__name__}: {err}). "
                           "Please report this to the course authors.")
    return CheckResult(item.id, item.title, PASSED, note or "")


def _sort_key(exercise_id: str) -> tuple[int, int]:
    chapter, _, number = exercise_id.partition(".")
    return int(chapter), int(number)


# Registers every chapter's checks; imported last because the chapters use the names above.
from . import checks as _checks  # noqa: E402, F401
