"""`python -m dropout_lib.grade`: the command line of the scorecard.

Exit status: 0 when the notebooks ran, whatever the score; 1 when a kernel could not be
started; 2 when a path does not exist or holds no notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .report import by_student, format_scorecard, to_csv, to_gradescope, to_json
from .submissions import find_submissions, grade_submissions

__all__ = ["main"]


def _write_gradescope(reports: list, target: Path) -> str:
    """One learner (or a single student): `target` is the results.json. A class: `target` is
    a folder with a `<student>/results.json` for each student."""
    groups = by_student(reports)
    if len(groups) == 1:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(to_gradescope(reports), indent=1) + "\n")
        return str(target)
    for student, group in groups.items():
        folder = target / (student or "_no_student")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(to_gradescope(group), indent=1) + "\n")
    return f"{target}/<student>/results.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dropout_lib.grade",
        description="Run notebooks top to bottom in fresh kernels and list every exercise's "
                    "verdict. A folder with one subfolder (or file prefix, alice_02_...) per "
                    "student is graded as a class.")
    parser.add_argument("paths", nargs="*", default=["chapters"],
                        help="notebooks or folders (default: chapters)")
    parser.add_argument("--timeout", type=float, default=300, metavar="S",
                        help="seconds one cell may run (default: 300)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the scorecard as JSON to FILE ('-': print it instead "
                             "of the table)")
    parser.add_argument("--csv", metavar="FILE",
                        help="also write one row per student and exercise, plus totals, as CSV")
    parser.add_argument("--gradescope", metavar="FILE",
                        help="also write Gradescope's results.json (a class: FILE is a folder "
                             "that gets one <student>/results.json each)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (default: python3)")
    parser.add_argument("--restarts", type=int, default=2, metavar="N",
                        help="runs again, each skipping a cell that hung or killed the kernel "
                             "(default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.restarts < 0:
        parser.error("--timeout must be positive and --restarts at least 0")
    try:
        submissions = find_submissions(args.paths)
    except FileNotFoundError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    reports = grade_submissions(submissions, timeout=args.timeout, kernel_name=args.kernel,
                                max_restarts=args.restarts, show_progress=not args.quiet)
    if args.json == "-":
        print(json.dumps(to_json(reports), indent=1))
    else:
        print(format_scorecard(reports))
    written = []
    if args.json and args.json != "-":
        Path(args.json).write_text(json.dumps(to_json(reports), indent=1) + "\n")
        written.append(args.json)
    if args.csv:
        Path(args.csv).write_text(to_csv(reports))
        written.append(args.csv)
    if args.gradescope:
        written.append(_write_gradescope(reports, Path(args.gradescope)))
    if written and args.json != "-":
        print(f"(written to {', '.join(written)})")
    return 1 if any(report.kernel_failed for report in reports) else 0
