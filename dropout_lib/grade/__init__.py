"""The scorecard: run notebooks top to bottom and list every exercise's verdict.

Usage: `python -m dropout_lib.grade [NOTEBOOK or FOLDER ...] [--timeout S] [--json FILE]
[--csv FILE] [--gradescope FILE]`. A folder with one subfolder (or file prefix) per student is
graded as a class. Modules: `runner` (a kernel, time limits, faults), `notebook` (signed
verdicts to rows), `submissions` (what to grade, and whose), `report` (table, JSON, CSV,
Gradescope) and `cli` (the command line, run by `__main__`).
"""

from __future__ import annotations

from .cli import main
from .notebook import MISSING, NotebookReport, Row, chapter_of, grade_notebook
from .report import format_scorecard, to_csv, to_gradescope, to_json, total_line
from .runner import Progress
from .submissions import Submission, find_notebooks, find_submissions, grade_submissions

__all__ = ["MISSING", "NotebookReport", "Progress", "Row", "Submission", "chapter_of",
           "find_notebooks", "find_submissions", "format_scorecard", "grade_notebook",
           "grade_submissions", "main", "to_csv", "to_gradescope", "to_json", "total_line"]
