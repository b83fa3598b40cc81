"""The scorecard's outputs: the text table, JSON, CSV (one row per student and exercise, plus
totals) and Gradescope's `results.json`.

Gradescope's autograder reads `{"score", "max_score", "execution_time", "output", "tests":
[{"name", "score", "max_score", "status", "output"}]}` from `/autograder/results/results.json`
(its documented "Autograder Specifications"); `status` is "passed" or "failed".
"""

from __future__ import annotations

import csv
import io
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

from ..grading.registry import sort_key
from ..grading.verdicts import ERROR, NOT_ATTEMPTED, NOT_YET, PASSED
from .notebook import MISSING, NotebookReport, Row

__all__ = ["by_student", "format_scorecard", "to_csv", "to_gradescope", "to_json", "total_line"]

STATUSES = (PASSED, NOT_YET, NOT_ATTEMPTED, ERROR, MISSING)


def _rows(reports: list[NotebookReport]) -> list[Row]:
    return [row for report in reports for row in report.rows]


def _counts(rows: list[Row]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def _points(rows: list[Row]) -> tuple[float, float]:
    return sum(row.points for row in rows), sum(row.max_points for row in rows)


def by_student(reports: list[NotebookReport]) -> dict[str, list[NotebookReport]]:
    """Reports grouped by student, in order of name ("" is a single learner)."""
    groups: dict[str, list[NotebookReport]] = {}
    for report in sorted(reports, key=lambda r: r.student):
        groups.setdefault(report.student, []).append(report)
    return groups


def total_line(reports: list[NotebookReport]) -> str:
    """"9 of 14 exercises passed (3 not yet, 2 not attempted, 0 errors); 18 of 24 points."."""
    rows = _rows(reports)
    counts = _counts(rows)
    got, most = _points(rows)
    noun = "exercise" if len(rows) == 1 else "exercises"
    missing = f", {counts[MISSING]} missing" if counts[MISSING] else ""
    return (f"{counts[PASSED]} of {len(rows)} {noun} passed ({counts[NOT_YET]} not yet, "
            f"{counts[NOT_ATTEMPTED]} not attempted, {counts[ERROR]} error"
            f"{'s' * (counts[ERROR] != 1)}{missing}); {got:g} of {most:g} points.")


def _notebook_table(report: NotebookReport, width: int) -> list[str]:
    lines = [f"{report.notebook}  ({report.seconds:.1f} s)"]
    title_width = max([len("title")] + [len(r.title) for r in report.rows])
    lines.append(f"  {'chapter':>7}  {'exercise':<8}  {'title':<{title_width}}  status")
    for row in report.rows:
        chapter = "" if row.chapter is None else str(row.chapter)
        lines.append(f"  {chapter:>7}  {row.exercise:<8}  {row.title:<{title_width}}  "
                     f"{row.status}")
        if row.status in (NOT_YET, ERROR) and row.message:
            label = "hint: " if row.status == NOT_YET else "why: "
            lines.extend(textwrap.wrap(label + row.message, width=width,
                                       initial_indent=" " * 21, subsequent_indent=" " * 26))
    if not report.rows:
        lines.append("  (no exercises found for this notebook)")
    for note in report.notes:
        lines.extend(textwrap.wrap("note: " + note, width=width, initial_indent="  ",
                                   subsequent_indent="        "))
    return lines + [""]


def _class_table(reports: list[NotebookReport], width: int) -> list[str]:
    """One row per student, then one per exercise, then what went wrong in whose notebook."""
    groups = by_student(reports)
    name_width = max(len("student"), *(len(name) for name in groups))
    lines = [f"{'student':<{name_width}}  {'points':>13}  {'passed':>6}  {'not yet':>7}  "
             f"{'not att.':>8}  {'error':>5}  {'missing':>7}  notes"]
    for student, group in groups.items():
        rows = _rows(group)
        counts, (got, most) = _counts(rows), _points(rows)
        notes = sum(len(r.notes) for r in group)
        lines.append(f"{student:<{name_width}}  {f'{got:g} of {most:g}':>13}  "
                     f"{counts[PASSED]:>6}  {counts[NOT_YET]:>7}  {counts[NOT_ATTEMPTED]:>8}  "
                     f"{counts[ERROR]:>5}  {counts[MISSING]:>7}  "
                     f"{f'{notes} (see below)' if notes else ''}")
    lines += ["", f"{'exercise':<8}  {'title':<44}  {'points':>6}  passed by"]
    per_exercise: dict[str, list[Row]] = {}
    for row in _rows(reports):
        per_exercise.setdefault(row.exercise, []).append(row)
    for exercise_id, rows in sorted(per_exercise.items(), key=lambda kv: sort_key(kv[0])):
        passed = sum(row.status == PASSED for row in rows)
        lines.append(f"{exercise_id:<8}  {rows[0].title[:44]:<44}  {rows[0].max_points:>6g}  "
                     f"{passed} of {len(rows)} students")
    lines.append("")
    for student, group in groups.items():
        for report in group:
            for note in report.notes:
                name = Path(report.notebook).name
                lines.extend(textwrap.wrap(f"{student}, {name}: {note}", width=width,
                                           subsequent_indent="    "))
    return lines + [""]


def format_scorecard(reports: list[NotebookReport], width: int = 100) -> str:
    """The scorecard as plain text: a table per notebook (a single learner) or one for the
    class (one row per student, one per exercise), then the total."""
    if any(report.student for report in reports):
        lines = _class_table(reports, width)
    else:
        lines = [line for report in reports for line in _notebook_table(report, width)]
    return "\n".join(lines + [total_line(reports)])


def to_json(reports: list[NotebookReport]) -> dict:
    """The scorecard as a JSON-ready dict, for an instructor to collect."""
    from .. import __version__

    rows = _rows(reports)
    got, most = _points(rows)
    students = {name: {"exercises": len(_rows(group)), **_counts(_rows(group)),
                       "points": _points(_rows(group))[0], "max_points": _points(_rows(group))[1]}
                for name, group in by_student(reports).items() if name}
    return {
        "dropout_lib": __version__,
        "graded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total": {"exercises": len(rows), **_counts(rows), "points": got, "max_points": most},
        "summary": total_line(reports),
        **({"students": students} if students else {}),
        "notebooks": [{"student": r.student, "notebook": r.notebook,
                       "seconds": round(r.seconds, 2), "runs": r.runs, "notes": r.notes,
                       "exercises": [asdict(row) for row in r.rows]} for r in reports],
    }


CSV_COLUMNS = ["student", "notebook", "chapter", "exercise", "title", "status", "points",
               "max_points", "message"]


def to_csv(reports: list[NotebookReport]) -> str:
    """One row per student and exercise; then a `total` row per student and an `(all)` row per
    exercise (its status column says how many students passed)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for student, group in by_student(reports).items():
        rows = sorted(_rows(group), key=lambda row: sort_key(row.exercise))
        for row in rows:
            writer.writerow({name: value for name, value in asdict(row).items()
                             if name in CSV_COLUMNS})
        got, most = _points(rows)
        counts = _counts(rows)
        writer.writerow({"student": student, "exercise": "total", "points": got,
                         "max_points": most,
                         "status": f"{counts[PASSED]} of {len(rows)} passed",
                         "message": "; ".join(n for r in group for n in r.notes)})
    per_exercise: dict[str, list[Row]] = {}
    for row in _rows(reports):
        per_exercise.setdefault(row.exercise, []).append(row)
    for exercise_id, rows in sorted(per_exercise.items(), key=lambda kv: sort_key(kv[0])):
        got, most = _points(rows)
        passed = sum(row.status == PASSED for row in rows)
        writer.writerow({"student": "(all)", "chapter": rows[0].chapter, "exercise": exercise_id,
                         "title": rows[0].title, "points": got, "max_points": most,
                         "status": f"{passed} of {len(rows)} passed"})
    return out.getvalue()


def to_gradescope(reports: list[NotebookReport]) -> dict:
    """One learner's reports as Gradescope's `results.json`: a test per exercise."""
    rows = sorted(_rows(reports), key=lambda row: sort_key(row.exercise))
    got, most = _points(rows)
    notes = [f"{r.notebook}: {note}" for r in reports for note in r.notes]
    return {
        "score": got,
        "max_score": most,
        "execution_time": round(sum(r.seconds for r in reports)),
        "output": "\n".join([total_line(reports), *notes]),
        "tests": [{"name": f"Exercise {row.exercise} ({row.title})", "score": row.points,
                   "max_score": row.max_points,
                   "status": "passed" if row.status == PASSED else "failed",
                   "output": row.status + (f": {row.message}" if row.message else "")}
                  for row in rows],
    }
