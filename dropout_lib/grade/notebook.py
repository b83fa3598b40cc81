"""Grading one notebook: runs (see `runner`), signed verdicts, and a row per exercise.

Only verdicts that `dropout_lib.grading.check` signed with the run's secret count: a line that
merely *looks* like "Exercise 1.1 (...): passed." does not, and neither does a check that was
replaced inside the notebook (its fingerprint differs from the course's). Every exercise of the
notebook's chapter gets a row; one without a verdict says why (its cell raised, hung, did not
run, or sent nothing).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..grading.registry import EXERCISES, load_all, sort_key
from ..grading.signing import fingerprint, verify
from ..grading.verdicts import ERROR, PASSED, STATUSES
from .runner import Progress, one_line, run_once

__all__ = ["MISSING", "NotebookReport", "Row", "chapter_of", "grade_notebook", "rows_for"]

CHECK_CALL = re.compile(r"""check\(\s*["'](\d+\.\d+)["']""")
CHAPTER_NUMBER = re.compile(r"^(?:.+?_)?(\d\d)_")
MISSING = "missing"  # a class member handed in no notebook for the chapter
MAX_NOTES = 12


@dataclass
class Row:
    """One exercise on the scorecard."""

    notebook: str
    chapter: int | None
    exercise: str
    title: str
    status: str
    message: str = ""
    points: float = 0.0
    max_points: float = 0.0
    student: str = ""


@dataclass
class NotebookReport:
    """What grading one notebook found: a row per exercise and notes on what went wrong."""

    notebook: str
    seconds: float = 0.0
    runs: int = 0
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kernel_failed: bool = False
    student: str = ""


def chapter_of(path: Path) -> int | None:
    """The chapter in `03_masks.ipynb`, `03_masks_solutions.ipynb`, `alice_03_masks.ipynb`."""
    match = CHAPTER_NUMBER.match(path.name)
    return int(match.group(1)) if match else None


def grade_notebook(path: str | Path, timeout: float | Callable[[Any], float] = 300,
                   kernel_name: str = "python3",
                   max_restarts: int = 2, show_progress: bool = True,
                   stream: Any = None, student: str = "") -> NotebookReport:
    """Run the notebook at `path` and return its scorecard rows.

    Args:
        path: the notebook.
        timeout: seconds one cell may run, or a function of the cell giving them.
        kernel_name: the Jupyter kernel to run it in.
        max_restarts: how many times the notebook is run again, skipping a cell that timed out
            or killed the kernel.
        show_progress: print a progress bar (or start and end lines) on `stream`.
        stream: where progress goes; stderr by default.
        student: whose notebook it is, in a class ("" for a single learner).

    Returns:
        A `NotebookReport`: one row per exercise of the notebook's chapter (and any other
        exercise it checks), and notes on cells that failed.
    """
    import nbformat

    path = Path(path)
    report = NotebookReport(notebook=str(path))
    chapter = chapter_of(path)
    report.student = student
    progress = Progress(f"{student}/{path.name}" if student else path.name, stream, show_progress)
    start = time.perf_counter()
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - a damaged file is a finding, not a crash
        reason = f"the notebook could not be read ({type(err).__name__}: {one_line(err, 120)})"
        report.notes.append(reason)
        report.rows = rows_for(report.notebook, chapter, {}, {}, lambda exercise_id: reason)
        progress.finish("could not be read")
        return report

    cells = notebook.cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    number = {index: n + 1 for n, index in enumerate(code)}

    def name(index: int) -> str:
        first = next((line for line in cells[index].source.splitlines() if line.strip()), "")
        return f"cell {number[index]} ({one_line(first, 40)!r})"

    checked_in: dict[str, list[int]] = {}
    for index in code:
        for exercise_id in CHECK_CALL.findall(cells[index].source):
            checked_in.setdefault(exercise_id, []).append(index)

    skip: dict[int, str] = {}
    run = None
    for attempt in range(max_restarts + 1):
        label = f"(run {attempt + 1}, skipping {len(skip)} cell(s))" if skip else ""
        run = run_once(notebook, path, skip, timeout, kernel_name, progress, label)
        report.runs += 1
        if run.kernel_failed:
            break
        if run.stopped_at is None:
            break
        skip[run.stopped_at] = run.stop_reason
        report.notes.append(f"{name(run.stopped_at)} {run.stop_reason}; it was skipped and the "
                            "notebook run again from the top without it.")
    assert run is not None
    report.seconds = time.perf_counter() - start

    if run.kernel_failed:
        report.kernel_failed = True
        report.notes.append(f"the kernel could not be started: {run.kernel_failed}")
    if run.stopped_at is not None:
        report.notes.append(f"{name(run.stopped_at)} {run.stop_reason}; gave up after "
                            f"{report.runs} runs, so the cells from there on did not run.")
    if run.problem:
        report.notes.append(run.problem)
    first_error = None
    for index in sorted(run.errors):
        if "raises-exception" in cells[index].metadata.get("tags", []):
            continue  # the authors meant this cell to raise
        ename, evalue = run.errors[index]
        first_error = index if first_error is None else first_error
        report.notes.append(f"{name(index)} raised {ename}: {evalue}")

    # Signed records only; the last verdict for an exercise is the one that counts.
    verdicts: dict[str, dict] = {}
    forged = 0
    for _, raw in run.records:
        record = verify(raw, run.key)
        if record is None or not isinstance(record.get("id"), str):
            forged += 1
            continue
        verdicts[record["id"]] = record
    if forged:
        report.notes.append(f"{forged} verdict record(s) without this run's signature were "
                            "ignored.")

    def reason(exercise_id: str) -> str:
        """Why an exercise has no verdict."""
        where = checked_in.get(exercise_id)
        if not where:
            return f"no cell calls check(\"{exercise_id}\", ...); was its check cell deleted?"
        index = where[-1]
        if run.kernel_failed:
            return "the kernel could not be started, so nothing ran."
        if index in skip:
            return f"its check cell, {name(index)}, {skip[index]}."
        if index not in run.ran:
            return f"its check cell, {name(index)}, did not run: the notebook stopped earlier."
        if index in run.errors:
            ename, evalue = run.errors[index]
            text = f"its check cell, {name(index)}, raised {ename}: {evalue}"
            if first_error is not None and first_error < index:
                e_name, e_value = run.errors[first_error]
                text += f" (the first failing cell is {name(first_error)}: {e_name}: {e_value})"
            return text
        return (f"its check cell, {name(index)}, ran but no verdict came from "
                "dropout_lib's check (was `check` replaced? A printed 'passed' line does not "
                "count).")

    report.rows = rows_for(report.notebook, chapter, checked_in, verdicts, reason)
    for row in report.rows:
        row.student = student
    if len(report.notes) > MAX_NOTES:
        hidden = len(report.notes) - MAX_NOTES
        report.notes = report.notes[:MAX_NOTES] + [f"... and {hidden} more."]
    passed = sum(row.status == PASSED for row in report.rows)
    progress.finish(f"{passed} of {len(report.rows)} passed "
                    f"({report.seconds:.1f} s, {report.runs} run{'s' * (report.runs > 1)})")
    return report


def rows_for(notebook: str, chapter: int | None, checked_in: dict[str, list[int]],
             verdicts: dict[str, dict], reason: Callable[[str], str]) -> list[Row]:
    """A row per exercise of `chapter` (and any other that the notebook checks)."""
    registered = {item.id for item in load_all() if item.chapter == chapter}
    wanted = sorted(registered | set(checked_in) | set(verdicts), key=sort_key)
    rows = []
    for exercise_id in wanted:
        item = EXERCISES.get(exercise_id)
        title = item.title if item else "unknown exercise"
        row_chapter = item.chapter if item else chapter
        points = item.points if item else 0.0
        record = verdicts.get(exercise_id)
        if record is None:
            rows.append(Row(notebook, row_chapter, exercise_id, title, ERROR,
                            reason(exercise_id)))
        elif item is None:
            rows.append(Row(notebook, row_chapter, exercise_id, title, ERROR,
                            f"there is no exercise {exercise_id!r} in this version of the "
                            "course."))
        elif record.get("fingerprint") != fingerprint(item) or record.get("title") != item.title:
            rows.append(Row(notebook, row_chapter, exercise_id, title, ERROR,
                            "the check that ran in the notebook is not the course's check for "
                            "this exercise (was it changed in the notebook, or is another "
                            "version of dropout_lib installed?)."))
        else:
            status = record.get("status")
            if status not in STATUSES:
                status = ERROR
            rows.append(Row(notebook, row_chapter, exercise_id, title, status,
                            one_line(record.get("message", ""), 400),
                            points if status == PASSED else 0.0, points))
            continue
        rows[-1].max_points = points
    return rows
