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

When the scorecard (`python -m dropout_lib.grade`) runs a notebook, it starts the kernel with a
fresh secret in the environment variable `DROPOUT_COURSE_GRADING_KEY`. This module takes the
secret out of the environment when it is imported, and then every `check` also sends the
scorecard a verdict record, signed with that secret (HMAC-SHA256), as a display output of the
private type `VERDICT_MIMETYPE`. Outside the scorecard there is no secret, nothing extra is
displayed, and a notebook's stored outputs are the same as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import numbers
import os
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXERCISES", "CheckResult", "Exercise", "NotAttempted", "NotYet", "call", "check",
    "exercise", "quiz", "answer_digest", "number_digest", "fingerprint", "VERDICT_MIMETYPE",
    "GRADING_KEY_VARIABLE",
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


def number_digest(exercise_id: str, value: float, step: float) -> str:
    """The digest to store for a numeric quiz whose answer is `value`, checked to `step`.

    Authors compute it once, in a terminal, and paste it into the chapter's checks:
    `number_digest("3.2", 0.25, step=0.01)`.
    """
    return answer_digest(exercise_id, str(round(value / step)))


def _number_key(value: float, step: float) -> str:
    """The normalised answer a numeric quiz's digest is taken of (kept for older callers)."""
    return str(round(value / step))


def _nearby_keys(value: float, step: float) -> list[int]:
    """The stored keys (multiples of `step`) within one step of `value`.

    The stored key is `round(true / step)`, within half a step of the true value, so an answer
    passes for sure within half a step of the true value and never beyond one and a half steps.
    The small slack absorbs float error, as in 0.26 / 0.01 = 26.000000000000004.
    """
    x = value / step
    slack = 1 + 1e-9
    return [k for k in range(math.floor(x - slack), math.ceil(x + slack) + 1)
            if abs(k - x) <= slack]


def _as_number(answer: Any) -> Any:
    """A 0-d NumPy array or tensor becomes a Python number; anything else is returned as is."""
    if getattr(answer, "ndim", None) == 0 and hasattr(answer, "item"):
        try:
            return answer.item()
        except Exception:  # noqa: BLE001 - not a number after all
            return answer
    return answer


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
    letter. Numeric: give `step`; the digest is that of `round(value / step)` (see
    `number_digest`). A numeric answer passes when it lies within one step of that stored
    multiple of `step`: always within half a step of the true value, never beyond one and a
    half steps. An answer 100 times too large or too small gets a hint about percentages.
    """
    if (choices is None) == (step is None):
        raise ValueError("a quiz needs either choices or step")
    if step is not None and not (isinstance(step, numbers.Real) and step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")
    options = None if choices is None else tuple(choices)  # "abcd" -> ("a", "b", "c", "d")

    def matches(value: float) -> bool:
        return any(answer_digest(exercise_id, str(k)) == digest
                   for k in _nearby_keys(value, step))

    def checker(answer: Any) -> str | None:
        if callable(answer):
            answer = call(answer)
        if answer is None or answer is Ellipsis:
            raise NotAttempted()
        if options is not None:
            letter = answer.strip().strip("().").strip().lower() if isinstance(answer, str) \
                else None
            if letter not in options:
                raise NotYet(f"answer with one of {', '.join(repr(c) for c in options)}.")
            if answer_digest(exercise_id, letter) != digest:
                raise NotYet(hint)
            return None
        answer = _as_number(answer)
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real) \
                or not math.isfinite(answer):
            raise NotYet(f"answer with a finite number, got {answer!r}.")
        if matches(float(answer)):
            return None
        if answer != 0 and (matches(float(answer) / 100) or matches(float(answer) * 100)):
            raise NotYet("your number is 100 times too large or too small: a percentage where "
                         "a fraction is asked (25 instead of 0.25), or the other way round?")
        raise NotYet(hint)

    _register(Exercise(exercise_id, title, checker, "quiz"))


# --- verdict records for the scorecard -----------------------------------------------------------

VERDICT_MIMETYPE = "application/vnd.dropout-course.verdict+json"
GRADING_KEY_VARIABLE = "DROPOUT_COURSE_GRADING_KEY"


def _hash_into(digest: Any, value: Any, depth: int = 0) -> None:
    """Feed a stable description of `value` (code, constants, closures) into `digest`."""
    if depth > 6:
        return
    if isinstance(value, types.FunctionType):
        _hash_into(digest, value.__code__, depth + 1)
        for cell in value.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                contents = None
            _hash_into(digest, contents, depth + 1)
    elif isinstance(value, types.CodeType):
        digest.update(value.co_code)
        digest.update(repr((value.co_names, value.co_varnames, value.co_freevars)).encode())
        for const in value.co_consts:
            _hash_into(digest, const, depth + 1)
    elif isinstance(value, tuple | list):
        digest.update(b"(")
        for item in value:
            _hash_into(digest, item, depth + 1)
        digest.update(b")")
    elif isinstance(value, frozenset | set):
        digest.update(repr(sorted(repr(item) for item in value)).encode())
    elif value is None or isinstance(value, str | bytes | int | float | complex):
        digest.update(repr(value).encode())
    else:  # objects whose repr may hold an address: their type is enough
        digest.update(type(value).__qualname__.encode())


def fingerprint(item: Exercise) -> str:
    """A short hash of an exercise's id, title, kind and checker code (with its closure).

    The scorecard compares the fingerprint a notebook's kernel reports with its own, so a
    check replaced inside the notebook is not taken for the course's.
    """
    digest = hashlib.sha256(repr((item.id, item.title, item.kind)).encode())
    _hash_into(digest, item.checker)
    return digest.hexdigest()[:20]


def _verdict_sender(secret: str | None) -> Callable[[dict], None] | None:
    """A function that displays a signed verdict record, or None when not grading."""
    if not secret:
        return None
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - the scorecard always runs an IPython kernel
        return None
    key = secret.encode()
    counter = iter(range(1, 1 << 62))

    def send(record: dict) -> None:
        payload = json.dumps({**record, "seq": next(counter)}, sort_keys=True)
        signature = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
        display({VERDICT_MIMETYPE: {"payload": payload, "signature": signature}}, raw=True)

    return send


# The secret leaves the environment at once, so learner code that lists os.environ or starts
# subprocesses does not see it; it lives on only inside `_send_verdict`.
_send_verdict = _verdict_sender(os.environ.pop(GRADING_KEY_VARIABLE, None))


def _judge(exercise_id: str, answer: Any) -> tuple[str, str, str, str, Exercise | None]:
    """(id, title, status, message, exercise) of the verdict on `answer`."""
    item = EXERCISES.get(str(exercise_id))
    if item is None:
        known = ", ".join(sorted(EXERCISES, key=_sort_key))
        return (str(exercise_id), "unknown exercise", ERROR,
                f"there is no exercise {exercise_id!r}; known ones: {known}.", None)
    try:
        note = item.checker(answer)
    except (NotAttempted, NotImplementedError):
        return item.id, item.title, NOT_ATTEMPTED, NOT_ATTEMPTED_TEXT[item.kind], item
    except NotYet as hint:
        return item.id, item.title, NOT_YET, str(hint), item
    except Exception as err:  # noqa: BLE001 - a verdict, never a traceback
        return (item.id, item.title, ERROR,
                f"the check itself failed ({type(err).__name__}: {err}). "
                "Please report this to the course authors.", item)
    return item.id, item.title, PASSED, str(note or ""), item


def check(exercise_id: str, answer: Any) -> CheckResult:
    """Check `answer` for exercise `exercise_id` and return a printable verdict.

    Never raises: an unknown id, a stub, a wrong answer, an error in the learner's code or in
    the check itself each become a `CheckResult` with a one-line message. Under the scorecard,
    the verdict is also sent to it as a signed record (see the module's docstring).
    """
    exercise_id_, title, status, message, item = _judge(exercise_id, answer)
    if _send_verdict is not None:
        try:
            _send_verdict({"id": exercise_id_, "title": title, "status": status,
                           "message": message,
                           "fingerprint": fingerprint(item) if item is not None else ""})
        except Exception:  # noqa: BLE001, S110 - the printed verdict matters more
            pass
    return CheckResult(exercise_id_, title, status, message)


def _sort_key(exercise_id: str) -> tuple[int, int]:
    chapter, _, number = exercise_id.partition(".")
    return int(chapter), int(number)


# Registers every chapter's checks; imported last because the chapters use the names above.
from . import checks as _checks  # noqa: E402, F401
