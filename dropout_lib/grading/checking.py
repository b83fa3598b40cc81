"""`check`: an answer in, a one-line verdict out, and the learner's random state untouched."""

from __future__ import annotations

from typing import Any

from . import signing
from .randomness import preserved_randomness
from .registry import EXERCISES, Exercise
from .verdicts import (
    ERROR,
    NOT_ATTEMPTED,
    NOT_ATTEMPTED_TEXT,
    NOT_YET,
    PASSED,
    CheckResult,
    NotAttempted,
    NotYet,
    one_line,
)

__all__ = ["check", "judge"]


def judge(exercise_id: str, answer: Any) -> tuple[CheckResult, Exercise | None]:
    """The verdict on `answer` and the exercise it is for (None for an unknown id)."""
    exercise_id = str(exercise_id)
    try:
        item = EXERCISES[exercise_id]
    except KeyError:
        known = ", ".join(EXERCISES)
        return CheckResult(exercise_id, "unknown exercise", ERROR,
                           f"there is no exercise {exercise_id!r}; known ones: {known}."), None
    try:
        with preserved_randomness():
            note = item.checker(answer)
    except (NotAttempted, NotImplementedError):
        return CheckResult(item.id, item.title, NOT_ATTEMPTED, NOT_ATTEMPTED_TEXT[item.kind]), item
    except NotYet as hint:
        message = one_line(hint, 400) or item.fallback
        return CheckResult(item.id, item.title, NOT_YET, message), item
    except Exception as err:  # noqa: BLE001 - a verdict, never a traceback
        return CheckResult(item.id, item.title, ERROR,
                           f"the check itself failed ({type(err).__name__}: {one_line(err)}). "
                           "Please report this to the course authors."), item
    return CheckResult(item.id, item.title, PASSED, one_line(note or "", 400)), item


def check(exercise_id: str, answer: Any) -> CheckResult:
    """Check `answer` for exercise `exercise_id` and return a printable verdict.

    Never raises: an unknown id, a stub, a wrong answer, an error in the learner's code or in
    the check itself each become a `CheckResult` with a one-line message. The global random
    generators are left as they were. Under the scorecard, the verdict is also sent to it as
    a signed record (see `dropout_lib.grading.signing`).
    """
    result, item = judge(exercise_id, answer)
    try:
        signing.send({"id": result.exercise_id, "title": result.title,
                      "status": result.status, "message": result.message,
                      "fingerprint": signing.fingerprint(item) if item is not None else ""})
    except Exception:  # noqa: BLE001, S110 - the printed verdict matters more
        pass
    return result
