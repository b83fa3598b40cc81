"""Finding what to grade: notebooks, and in a class, whose they are.

A class is a folder with one subfolder per student (`class/alice/02_dropout.ipynb`), or one
with the student's name as a file prefix (`class/alice_02_dropout_from_scratch.ipynb`); both
may be mixed. A notebook named like the course's own (`02_dropout_from_scratch.ipynb`, straight
in the folder given) belongs to no student: that is a single learner's scorecard.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..grading.registry import load_all
from .notebook import MISSING, NotebookReport, Row, chapter_of, grade_notebook

__all__ = ["Submission", "find_notebooks", "find_submissions", "grade_submissions",
           "student_of"]

STUDENT_PREFIX = re.compile(r"^(.+?)_\d\d_")


@dataclass(frozen=True)
class Submission:
    """One notebook to grade, and whose it is ("" for a single learner)."""

    path: Path
    student: str = ""


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def find_notebooks(paths: Iterable[str | Path]) -> list[Path]:
    """The notebooks named by `paths`: files as given, folders searched recursively.

    Hidden folders (`.ipynb_checkpoints`) and build folders (`_build`) are skipped.

    Raises:
        FileNotFoundError: a path does not exist, or a folder holds no notebook.
    """
    return list(dict.fromkeys(s.path for s in find_submissions(paths)))


def student_of(path: Path, root: Path | None) -> str:
    """The student a notebook belongs to: its first folder below `root`, else its prefix."""
    if root is not None and path.parent != root:
        return path.relative_to(root).parts[0]
    match = STUDENT_PREFIX.match(path.name)
    return match.group(1) if match else ""


def find_submissions(paths: Iterable[str | Path]) -> list[Submission]:
    """Every notebook under `paths`, with its student (see the module's docstring)."""
    found: list[Submission] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = [p for p in sorted(path.rglob("*.ipynb")) if not _hidden(p, path)]
            if not inside:
                raise FileNotFoundError(f"no notebook (*.ipynb) in {path}")
            found.extend(Submission(p, student_of(p, path)) for p in inside)
        elif path.is_file():
            found.append(Submission(path, student_of(path, None)))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    unique = {s.path: s for s in found}
    return sorted(unique.values(), key=lambda s: (s.student, s.path.name))


def _missing_rows(student: str, chapter: int) -> list[Row]:
    return [Row("", item.chapter, item.id, item.title, MISSING,
                f"no notebook for chapter {chapter} was found for {student}.", 0.0,
                item.points, student)
            for item in load_all() if item.chapter == chapter]


def grade_submissions(submissions: list[Submission], grade: Callable[..., NotebookReport]
                      = grade_notebook, **options: Any) -> list[NotebookReport]:
    """Grade each notebook in its own fresh kernel; in a class, add rows for missing chapters.

    A chapter counts as assigned when any student handed in a notebook for it; a student who
    did not gets a `missing` row for each of its exercises (worth 0 of their points).
    """
    reports = [grade(s.path, student=s.student, **options) for s in submissions]
    students = sorted({s.student for s in submissions if s.student})
    if not students:
        return reports
    chapters = sorted({c for s in submissions if (c := chapter_of(s.path)) is not None})
    for student in students:
        handed_in = {chapter_of(s.path) for s in submissions if s.student == student}
        for chapter in chapters:
            if chapter not in handed_in:
                reports.append(NotebookReport(notebook="", student=student,
                                              rows=_missing_rows(student, chapter)))
    return sorted(reports, key=lambda r: (r.student, min(
        [row.chapter for row in r.rows if row.chapter is not None] or [0])))
