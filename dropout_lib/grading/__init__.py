"""Exercise checks: a registry of exercises and `check`, which turns an answer into a verdict.

A learner writes a function (the stub raises `NotImplementedError`) or picks a quiz answer,
then runs `check("2.1", my_answer)`. The verdict prints as one short plain-text line:

    Exercise 2.1 (a Bernoulli mask): passed.
    Exercise 2.1 (a Bernoulli mask): not attempted yet. ...
    Exercise 2.1 (a Bernoulli mask): not yet. Hint: ...

One concept per module: `verdicts` (statuses, `NotYet`, `NotAttempted`, `CheckResult`,
`call`), `registry` (`Exercise`, `Known`, the lazily loaded `EXERCISES`, `exercise`),
`quizzes` (`quiz`, digests, one answer format), `signing` (the scorecard's signed verdicts),
`helpers` (converters, a dtype-aware `close`, statistics of masks), `randomness` (the guard
that leaves the global generators alone) and `checking` (`check`). The checks themselves live
in `checks/chNN.py`, one module per chapter, imported only when one of its exercises is
checked. Importing this package imports no chapter's checks.
"""

from __future__ import annotations

from .checking import check, judge
from .helpers import as_array, as_number, as_tensor, close
from .quizzes import answer_digest, normalise_choice, number_digest, quiz
from .randomness import preserved_randomness, random_states
from .registry import EXERCISES, Exercise, Known, exercise, load_all, sort_key
from .signing import GRADING_KEY_VARIABLE, VERDICT_MIMETYPE, fingerprint
from .verdicts import (
    ERROR,
    NOT_ATTEMPTED,
    NOT_YET,
    PASSED,
    STATUSES,
    CheckResult,
    NotAttempted,
    NotYet,
    call,
)

__all__ = [
    "ERROR", "EXERCISES", "GRADING_KEY_VARIABLE", "NOT_ATTEMPTED", "NOT_YET", "PASSED",
    "STATUSES", "VERDICT_MIMETYPE", "CheckResult", "Exercise", "Known", "NotAttempted", "NotYet",
    "answer_digest", "as_array", "as_number", "as_tensor", "call", "check", "close", "exercise",
    "fingerprint", "judge", "load_all", "normalise_choice", "number_digest",
    "preserved_randomness", "quiz", "random_states", "sort_key",
]
