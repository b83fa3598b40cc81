"""Verdicts: the four statuses, the exceptions a checker raises, and the printable result.

A checker returns (optionally a short note) when the answer is right, raises `NotYet` with a
hint when it is wrong (`NotYet()` without a message means the exercise's fallback hint), and
raises `NotAttempted` when the answer is still the stub. `call` runs a learner's function and
turns its failures into those exceptions, so that no traceback ever reaches the notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ERROR", "NOT_ATTEMPTED", "NOT_YET", "PASSED", "STATUSES", "CheckResult",
           "NotAttempted", "NotYet", "call"]

PASSED, NOT_YET, NOT_ATTEMPTED, ERROR = "passed", "not yet", "not attempted", "error"
STATUSES = (PASSED, NOT_YET, NOT_ATTEMPTED, ERROR)

NOT_ATTEMPTED_TEXT = {
    "function": "Replace `raise NotImplementedError` with your code, run that cell, then run "
                "this one again.",
    "quiz": "Set `answer` to your choice, then run this cell again.",
}


class NotYet(Exception):
    """Raised by a check: the answer is wrong; the message is the hint shown to the learner.

    Raised without a message, it stands for the exercise's fallback hint.
    """


class NotAttempted(Exception):
    """Raised by a check: the answer is still the stub (it raised NotImplementedError)."""


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
        raise NotYet(f"your function raised {type(err).__name__}: {one_line(err)}") from None


def one_line(text: Any, limit: int = 200) -> str:
    """`text` on one line, cut to `limit` characters (a verdict is always one line)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."
