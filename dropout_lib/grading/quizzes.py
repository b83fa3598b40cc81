"""Quizzes: multiple choice, or a number to a step, with answers stored as salted digests.

One answer format everywhere: "b", "(b)", "B", " b ", "b)" and "b." all read as "b". Every
wrong choice has its own hint, keyed by the digest of its letter (so that reading the source
does not show which letter is right); `quiz` refuses a question where a wrong choice has none.
A numeric quiz may name known wrong numbers with their own hints (`mistakes`).

Authors compute digests once, in a terminal:

    python -m dropout_lib.grading digest 1.4 a b c d       # the digest of each letter
    python -m dropout_lib.grading digest 7.2 320 --step 1  # the digest of a number
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from .helpers import as_number
from .registry import EXERCISES, Exercise, Known
from .verdicts import NotAttempted, NotYet, call

__all__ = ["answer_digest", "normalise_choice", "number_digest", "print_digests", "quiz"]


def answer_digest(exercise_id: str, answer: str) -> str:
    """Salted SHA-256 of a normalised quiz answer (how quiz answers are stored)."""
    return hashlib.sha256(f"dropout-course/{exercise_id}/{answer}".encode()).hexdigest()


def number_digest(exercise_id: str, value: float, step: float) -> str:
    """The digest to store for a numeric quiz whose answer is `value`, checked to `step`."""
    return answer_digest(exercise_id, str(round(value / step)))


def normalise_choice(answer: Any) -> str | None:
    """"b", "(b)", "B", " b ", "b)", "b." -> "b"; anything that is not one letter -> None."""
    if not isinstance(answer, str):
        return None
    letter = answer.strip().strip("().").strip().lower()
    return letter if len(letter) == 1 and letter.isalpha() else None


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


def quiz(
    exercise_id: str,
    title: str,
    digest: str,
    *,
    fallback: str = "",
    choices: Sequence[str] | None = None,
    hints: Mapping[str, str] | None = None,
    step: float | None = None,
    mistakes: Mapping[float, str] | None = None,
    points: float = 1.0,
) -> Exercise:
    """Register a quiz question whose answer is known only by its `answer_digest`.

    Multiple choice: give `choices` (for example "abcd") and `hints`, which maps the
    `answer_digest` of every wrong letter to that letter's hint. Numeric: give `step` and a
    `fallback` hint; `mistakes` maps known wrong numbers to their own hints. A numeric answer
    passes when it lies within one step of the stored multiple of `step`: always within half
    a step of the true value, never beyond one and a half steps. An answer 100 times too
    large or too small gets a hint about percentages.
    """
    if (choices is None) == (step is None):
        raise ValueError("a quiz needs either choices or step")
    if step is not None and not (isinstance(step, numbers.Real) and step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")
    options = None if choices is None else tuple(choices)
    hints = dict(hints or {})
    if options is not None:
        missing = [c for c in options if answer_digest(exercise_id, c) != digest
                   and answer_digest(exercise_id, c) not in hints]
        if missing:
            raise ValueError(f"quiz {exercise_id}: {len(missing)} wrong choice(s) have no hint")
        fallback = "answer with one of " + ", ".join(repr(c) for c in options) + "."
    elif not fallback:
        raise ValueError(f"quiz {exercise_id}: a numeric quiz needs a fallback hint")
    known = dict(mistakes or {})

    def within(value: float, target: float) -> bool:
        return abs(value - target) <= step / 2 * (1 + 1e-9)

    def matches(value: float) -> bool:
        return any(answer_digest(exercise_id, str(k)) == digest
                   for k in _nearby_keys(value, step))

    def checker(answer: Any) -> str | None:
        if callable(answer):
            answer = call(answer)
        if answer is None or answer is Ellipsis:
            raise NotAttempted()
        if options is not None:
            letter = normalise_choice(answer)
            if letter not in options:
                raise NotYet()
            chosen = answer_digest(exercise_id, letter)
            if chosen != digest:
                raise NotYet(hints[chosen])
            return None
        value = as_number(answer, "your answer", finite=True)
        if matches(value):
            return None
        for wrong, hint in known.items():
            if within(value, wrong):
                raise NotYet(hint)
        if value != 0 and (matches(value / 100) or matches(value * 100)):
            raise NotYet("your number is 100 times too large or too small: a percentage where "
                         "a fraction is asked (25 instead of 0.25), or the other way round?")
        raise NotYet()

    table = tuple(Known(f"the number {wrong:g}", wrong, hint) for wrong, hint in known.items())
    return EXERCISES.register(Exercise(exercise_id, title, checker, "quiz", points, fallback,
                                       stub=None, mistakes=table))


def print_digests(exercise_id: str, answers: Sequence[str], step: float | None = None) -> None:
    """Print the digest of each answer: letters, or numbers checked to `step`."""
    for answer in answers:
        digest = (number_digest(exercise_id, float(answer), step) if step
                  else answer_digest(exercise_id, normalise_choice(answer) or answer))
        print(f"{answer}: {digest}")
