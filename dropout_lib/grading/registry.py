"""The exercise registry: what an exercise declares, and where each chapter's checks live.

An exercise is data around one checker function: its reference answer, its points, the other
correct ways of writing it (`variants`) and its table of known mistakes, each a plausible wrong
answer with a phrase of the hint it must get. The generic tests (`tests/test_checks_generic.py`)
run every table, so adding an exercise adds its tests.

The checks of chapter N live in the module `dropout_lib.grading.checks.chNN`, which registers
them when it is imported. Nothing is imported up front: looking up exercise "N.k" imports
chapter N's module on first use, and `load_all` imports every chapter (the scorecard and the
tests need them all).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CHECKS_PACKAGE", "EXERCISES", "Exercise", "Known", "exercise", "load_all",
           "sort_key"]

CHECKS_PACKAGE = "dropout_lib.grading.checks"
_ID = re.compile(r"^(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Known:
    """A known answer of an exercise: a correct variant, or a plausible mistake.

    Attributes:
        name: a few words, shown when a test fails ("float32", "keep/drop swapped").
        answer: the function, class or quiz answer, exactly as a learner would pass it.
        hint: for a mistake, a phrase that its hint must contain; empty for a variant.
    """

    name: str
    answer: Any
    hint: str = ""


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("your code here")


@dataclass(frozen=True)
class Exercise:
    """One graded exercise or quiz question.

    Attributes:
        id: "chapter.number", for example "2.1"; the label on the website is `ex-2-1`.
        title: a few words, shown in every verdict.
        checker: takes the learner's answer; returns an optional note on success, raises
            `NotYet` (wrong, with a hint) or `NotAttempted`.
        kind: "function" (a function or class to write) or "quiz".
        points: what a pass is worth on the scorecard.
        fallback: the hint for a wrong answer the checker does not recognise.
        reference: the course's answer (None for a quiz: its answer is stored as a digest).
        stub: what the notebook's stub cell defines (a function raising NotImplementedError
            unless given; None for a quiz).
        variants: other correct answers; every one must pass.
        mistakes: known wrong answers; each must get its own hint, not the fallback.
    """

    id: str
    title: str
    checker: Callable[[Any], str | None]
    kind: str = "function"
    points: float = 1.0
    fallback: str = ""
    reference: Any = None
    stub: Any = None
    variants: tuple[Known, ...] = field(default=(), repr=False)
    mistakes: tuple[Known, ...] = field(default=(), repr=False)

    @property
    def chapter(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def label(self) -> str:
        return "ex-" + self.id.replace(".", "-")


def sort_key(exercise_id: str) -> tuple[int, int]:
    """Order "2.10" after "2.9"; ids that are not "N.k" go last."""
    match = _ID.match(exercise_id)
    return (int(match.group(1)), int(match.group(2))) if match else (10**6, 0)


def chapter_module(chapter: int) -> str:
    return f"{CHECKS_PACKAGE}.ch{chapter:02d}"


class Registry(Mapping):
    """Exercise id -> `Exercise`, importing a chapter's checks the first time it is asked for.

    `registry["2.1"]` imports `checks.ch02` if needed; iterating (or `len`) imports every
    chapter first, so that it sees all exercises. Ids iterate in course order.
    """

    def __init__(self) -> None:
        self._items: dict[str, Exercise] = {}
        self._loaded: set[int] = set()

    def load_chapter(self, chapter: int) -> bool:
        """Import chapter `chapter`'s checks, if it has a module; True if it does."""
        name = chapter_module(chapter)
        if chapter not in self._loaded:
            self._loaded.add(chapter)
            if importlib.util.find_spec(name) is None:
                return False
            importlib.import_module(name)
        return True

    def load_all(self) -> list[Exercise]:
        """Import every chapter's checks; return every exercise, in course order."""
        package = importlib.import_module(CHECKS_PACKAGE)
        for info in pkgutil.iter_modules(package.__path__):
            match = re.fullmatch(r"ch(\d+)", info.name)
            if match:
                self.load_chapter(int(match.group(1)))
        return [self._items[i] for i in sorted(self._items, key=sort_key)]

    def __getitem__(self, exercise_id: str) -> Exercise:
        exercise_id = str(exercise_id)
        if exercise_id not in self._items:
            match = _ID.match(exercise_id)
            if match:
                self.load_chapter(int(match.group(1)))
        return self._items[exercise_id]

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(sorted(self._items, key=sort_key))

    def __len__(self) -> int:
        self.load_all()
        return len(self._items)

    def loaded(self) -> list[str]:
        """The ids registered so far, without importing anything."""
        return sorted(self._items, key=sort_key)

    def register(self, item: Exercise) -> Exercise:
        if not _ID.match(item.id):
            raise ValueError(f"exercise id must look like '2.1', got {item.id!r}")
        if item.id in self._items:
            raise ValueError(f"exercise {item.id} is registered twice")
        if item.kind not in ("function", "quiz"):
            raise ValueError(f"kind must be 'function' or 'quiz', got {item.kind!r}")
        self._items[item.id] = item
        return item

    def unregister(self, exercise_id: str) -> None:
        """Take an exercise out (tests that register temporary ones clean up with this)."""
        self._items.pop(exercise_id, None)


EXERCISES = Registry()


def load_all() -> list[Exercise]:
    """Every exercise of the course, in order (imports every chapter's checks)."""
    return EXERCISES.load_all()


def exercise(
    exercise_id: str,
    title: str,
    *,
    fallback: str,
    reference: Any = None,
    points: float = 2.0,
    stub: Any = _stub,
    variants: Sequence[Known] = (),
    mistakes: Sequence[Known] = (),
) -> Callable:
    """Decorator: register the decorated function as the checker of a function exercise.

    Args:
        exercise_id, title: as in `Exercise`.
        fallback: the hint for a wrong answer that no specific test recognises; it must not
            give the answer away (no expected value, no formula that is the solution).
        reference: the course's answer; `variants` and `mistakes` as in `Exercise`.
        points: what a pass is worth (function exercises: 2 by default).
        stub: what the notebook's stub defines, if not a function raising NotImplementedError.
    """

    def register(checker: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        EXERCISES.register(Exercise(
            exercise_id, title, checker, "function", points, fallback, reference, stub,
            tuple(variants), tuple(mistakes)))
        return checker

    return register
