"""The scorecard: run your notebooks top to bottom and list every exercise's verdict.

Usage: `python -m dropout_lib.grade [NOTEBOOK or FOLDER ...] [--timeout S] [--json FILE]`

Each notebook (default: every notebook in `chapters/`) runs in a fresh kernel, cell after cell,
whatever happens in the cells: an exception is noted and the next cell runs; a cell that does
not finish within `--timeout` seconds, or that kills the kernel, is skipped and the notebook
is run again from the top without it. The table lists, per exercise, whether it passed, is
not yet right (with the hint), is not attempted, or could not be checked (with the reason).

Only verdicts that `dropout_lib.grading.check` signed with this run's secret count: a line
that merely *looks* like "Exercise 1.1 (...): passed." does not, and neither does a check
that was replaced inside the notebook (its fingerprint differs from the course's).
Exit status: 0 when the notebooks ran, whatever the score; 1 when a kernel could not be
started; 2 when a path does not exist or holds no notebook.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .grading import (
    ERROR,
    EXERCISES,
    GRADING_KEY_VARIABLE,
    NOT_ATTEMPTED,
    NOT_YET,
    PASSED,
    VERDICT_MIMETYPE,
    fingerprint,
)

__all__ = ["NotebookReport", "Row", "find_notebooks", "format_scorecard", "grade_notebook",
           "main", "to_json"]

CHECK_CALL = re.compile(r"""check\(\s*["'](\d+\.\d+)["']""")
CHAPTER_NUMBER = re.compile(r"^(\d+)_")
STATUSES = (PASSED, NOT_YET, NOT_ATTEMPTED, ERROR)
MAX_STREAM_CHARS = 100_000  # text kept per cell; a function that prints a lot costs no memory
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


@dataclass
class NotebookReport:
    """What grading one notebook found: a row per exercise and notes on what went wrong."""

    notebook: str
    seconds: float = 0.0
    runs: int = 0
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kernel_failed: bool = False


# --- finding notebooks and their exercises -----------------------------------------------------

def find_notebooks(paths: Iterable[str | Path]) -> list[Path]:
    """The notebooks named by `paths`: files as given, folders searched recursively.

    Hidden folders (`.ipynb_checkpoints`) and build folders (`_build`) are skipped.

    Raises:
        FileNotFoundError: a path does not exist, or a folder holds no notebook.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = [p for p in sorted(path.rglob("*.ipynb"))
                      if not any(part.startswith((".", "_"))
                                 for part in p.relative_to(path).parts)]
            if not inside:
                raise FileNotFoundError(f"no notebook (*.ipynb) in {path}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return list(dict.fromkeys(found))


def chapter_of(path: Path) -> int | None:
    """The chapter number in a name like `03_masks.ipynb` or `03_masks_solutions.ipynb`."""
    match = CHAPTER_NUMBER.match(path.name)
    return int(match.group(1)) if match else None


def _exercise_sort_key(exercise_id: str) -> tuple[int, int]:
    chapter, _, number = exercise_id.partition(".")
    return (int(chapter), int(number)) if chapter.isdigit() and number.isdigit() else (10**6, 0)


# --- running a notebook ------------------------------------------------------------------------

def _one_line(text: Any, limit: int = 160) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))  # no terminal colours
    text = re.sub(r"\(\d+\.py, line (\d+)\)", r"(line \1)", text)  # IPython's cell file names
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Progress:
    """A plain-text progress bar on stderr (one line per notebook when stderr is not a terminal)."""

    def __init__(self, name: str, stream: Any = None, enabled: bool = True) -> None:
        self.name, self.stream, self.enabled = name, stream or sys.stderr, enabled
        self.tty = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        if self.enabled and not self.tty:
            print(f"grading {name} ...", file=self.stream, flush=True)

    def update(self, done: int, total: int, note: str = "") -> None:
        if not self.tty:
            return
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        text = f"\r{self.name} [{bar}] {done}/{total} cells {note}"
        print(text[:150].ljust(80), end="", file=self.stream, flush=True)

    def finish(self, text: str) -> None:
        if not self.enabled:
            return
        line = f"{self.name}: {text}"
        print(f"\r{line:<80}" if self.tty else line, file=self.stream, flush=True)


def _seconds(timeout: float | Callable[[Any], float], cell: Any) -> int:
    value = timeout(cell) if callable(timeout) else timeout
    return int(max(1, round(value)))


def _make_client(notebook: Any, path: Path, timeout: float | Callable[[Any], float],
                 kernel_name: str) -> Any:
    from nbclient import NotebookClient

    class GradingClient(NotebookClient):
        """Takes the verdict records out of the outputs as they arrive; caps printed text."""

        records: list[tuple[int, Any]]
        printed: dict[int, int]

        def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001 - nbclient's API
            content = msg.get("content", {})
            if msg.get("msg_type") == "display_data" and \
                    VERDICT_MIMETYPE in (content.get("data") or {}):
                self.records.append((cell_index, content["data"][VERDICT_MIMETYPE]))
                return None
            if msg.get("msg_type") == "stream":
                seen = self.printed.get(cell_index, 0)
                self.printed[cell_index] = seen + len(content.get("text", ""))
                if seen > MAX_STREAM_CHARS:
                    return None
            return super().output(outs, msg, display_id, cell_index)

    client = GradingClient(
        notebook, timeout_func=lambda cell: _seconds(timeout, cell), kernel_name=kernel_name,
        allow_errors=True, record_timing=False, shutdown_kernel="immediate",
        startup_timeout=120, resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    client.records, client.printed = [], {}
    return client


@dataclass
class _Run:
    """One run of a notebook in one kernel."""

    key: str
    records: list[tuple[int, Any]] = field(default_factory=list)
    ran: set[int] = field(default_factory=set)
    errors: dict[int, tuple[str, str]] = field(default_factory=dict)
    stopped_at: int | None = None
    stop_reason: str = ""
    kernel_failed: str = ""
    problem: str = ""


def _run_once(notebook: Any, path: Path, skip: dict[int, str],
              timeout: float | Callable[[Any], float],
              kernel_name: str, progress: _Progress, label: str) -> _Run:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    run = _Run(key=secrets.token_hex(32))
    notebook = copy.deepcopy(notebook)
    client = _make_client(notebook, path, timeout, kernel_name)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    env = {**os.environ, GRADING_KEY_VARIABLE: run.key, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    try:
        # The kernel's own stderr (ZMQ warnings, C-level messages) would garble the progress
        # bar; what the learner's code prints still reaches the cell outputs.
        with client.setup_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            for done, index in enumerate(code):
                progress.update(done, len(code), label)
                if index in skip:
                    continue
                try:
                    client.execute_cell(notebook.cells[index], index)
                except CellTimeoutError:
                    run.stopped_at = index
                    seconds = _seconds(timeout, notebook.cells[index])
                    run.stop_reason = f"did not finish within {seconds} s"
                    break
                except DeadKernelError:
                    run.stopped_at = index
                    run.stop_reason = ("stopped the kernel (it crashed, called os._exit, or ran "
                                       "out of memory)")
                    break
                run.ran.add(index)
                for out in notebook.cells[index].outputs:
                    if out.get("output_type") == "error":
                        run.errors[index] = (out.get("ename", "Error"),
                                             _one_line(out.get("evalue", "")))
                        break
            progress.update(len(code), len(code), label)
    except (CellTimeoutError, DeadKernelError) as err:  # while shutting the kernel down
        if run.stopped_at is None:
            run.kernel_failed = f"{type(err).__name__}: {_one_line(err)}"
    except Exception as err:  # noqa: BLE001 - say why, do not crash
        if run.stopped_at is None and not run.ran:  # no kernel at all
            run.kernel_failed = f"{type(err).__name__}: {_one_line(err)}"
        elif run.stopped_at is None:
            run.problem = f"the run broke off ({type(err).__name__}: {_one_line(err)})"
    run.records = list(client.records)
    return run


def _verify(raw: Any, key: str) -> dict | None:
    """The record inside `raw` if its signature is this run's, else None."""
    if not isinstance(raw, dict):
        return None
    payload, signature = raw.get("payload"), raw.get("signature")
    if not isinstance(payload, str) or not isinstance(signature, str):
        return None
    expected = hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        record = json.loads(payload)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


# --- from a run to rows ------------------------------------------------------------------------

def grade_notebook(path: str | Path, timeout: float | Callable[[Any], float] = 300,
                   kernel_name: str = "python3",
                   max_restarts: int = 2, show_progress: bool = True,
                   stream: Any = None) -> NotebookReport:
    """Run the notebook at `path` and return its scorecard rows.

    Args:
        path: the notebook.
        timeout: seconds one cell may run, or a function of the cell giving them.
        kernel_name: the Jupyter kernel to run it in.
        max_restarts: how many times the notebook is run again, skipping a cell that timed out
            or killed the kernel.
        show_progress: print a progress bar (or start and end lines) on `stream`.
        stream: where progress goes; stderr by default.

    Returns:
        A `NotebookReport`: one row per exercise of the notebook's chapter (and any other
        exercise it checks), and notes on cells that failed.
    """
    import nbformat

    path = Path(path)
    report = NotebookReport(notebook=str(path))
    chapter = chapter_of(path)
    progress = _Progress(path.name, stream, show_progress)
    start = time.perf_counter()
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - a damaged file is a finding, not a crash
        reason = f"the notebook could not be read ({type(err).__name__}: {_one_line(err, 120)})"
        report.notes.append(reason)
        report.rows = _rows(report.notebook, chapter, {}, {}, lambda exercise_id: reason)
        progress.finish("could not be read")
        return report

    cells = notebook.cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    number = {index: n + 1 for n, index in enumerate(code)}

    def name(index: int) -> str:
        first = next((line for line in cells[index].source.splitlines() if line.strip()), "")
        return f"cell {number[index]} ({_one_line(first, 40)!r})"

    checked_in: dict[str, list[int]] = {}
    for index in code:
        for exercise_id in CHECK_CALL.findall(cells[index].source):
            checked_in.setdefault(exercise_id, []).append(index)

    skip: dict[int, str] = {}
    run = None
    for attempt in range(max_restarts + 1):
        label = f"(run {attempt + 1}, skipping {len(skip)} cell(s))" if skip else ""
        run = _run_once(notebook, path, skip, timeout, kernel_name, progress, label)
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
        record = _verify(raw, run.key)
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

    report.rows = _rows(report.notebook, chapter, checked_in, verdicts, reason)
    if len(report.notes) > MAX_NOTES:
        hidden = len(report.notes) - MAX_NOTES
        report.notes = report.notes[:MAX_NOTES] + [f"... and {hidden} more."]
    counts = _counts(report.rows)
    progress.finish(f"{counts[PASSED]} of {len(report.rows)} passed "
                    f"({report.seconds:.1f} s, {report.runs} run{'s' * (report.runs > 1)})")
    return report


def _rows(notebook: str, chapter: int | None, checked_in: dict[str, list[int]],
          verdicts: dict[str, dict], reason: Callable[[str], str]) -> list[Row]:
    registered = {i for i, ex in EXERCISES.items() if chapter is not None and ex.chapter == chapter}
    wanted = sorted(registered | set(checked_in) | set(verdicts), key=_exercise_sort_key)
    rows = []
    for exercise_id in wanted:
        item = EXERCISES.get(exercise_id)
        title = item.title if item else "unknown exercise"
        row_chapter = item.chapter if item else chapter
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
                            _one_line(record.get("message", ""), 400)))
    return rows


# --- output ------------------------------------------------------------------------------------

def _counts(rows: list[Row]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def total_line(reports: list[NotebookReport]) -> str:
    rows = [row for report in reports for row in report.rows]
    counts = _counts(rows)
    noun = "exercise" if len(rows) == 1 else "exercises"
    return (f"{counts[PASSED]} of {len(rows)} {noun} passed ({counts[NOT_YET]} not yet, "
            f"{counts[NOT_ATTEMPTED]} not attempted, {counts[ERROR]} error"
            f"{'s' * (counts[ERROR] != 1)}).")


def format_scorecard(reports: list[NotebookReport], width: int = 100) -> str:
    """The scorecard as plain text: a table per notebook, hints under their rows, a total."""
    lines = []
    for report in reports:
        lines.append(f"{report.notebook}  ({report.seconds:.1f} s)")
        title_width = max([len("title")] + [len(r.title) for r in report.rows])
        header = f"  {'chapter':>7}  {'exercise':<8}  {'title':<{title_width}}  status"
        lines.append(header)
        for row in report.rows:
            chapter = "" if row.chapter is None else str(row.chapter)
            lines.append(f"  {chapter:>7}  {row.exercise:<8}  {row.title:<{title_width}}  "
                         f"{row.status}")
            if row.status in (NOT_YET, ERROR) and row.message:
                label = "hint: " if row.status == NOT_YET else "why: "
                lines.extend(textwrap.wrap(label + row.message, width=width,
                                           initial_indent=" " * 21,
                                           subsequent_indent=" " * 26))
        if not report.rows:
            lines.append("  (no exercises found for this notebook)")
        for note in report.notes:
            lines.extend(textwrap.wrap("note: " + note, width=width, initial_indent="  ",
                                       subsequent_indent="        "))
        lines.append("")
    lines.append(total_line(reports))
    return "\n".join(lines)


def to_json(reports: list[NotebookReport]) -> dict:
    """The scorecard as a JSON-ready dict, for an instructor to collect."""
    from . import __version__

    rows = [row for report in reports for row in report.rows]
    return {
        "dropout_lib": __version__,
        "graded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total": {"exercises": len(rows), **_counts(rows)},
        "summary": total_line(reports),
        "notebooks": [{"notebook": r.notebook, "seconds": round(r.seconds, 2), "runs": r.runs,
                       "notes": r.notes, "exercises": [asdict(row) for row in r.rows]}
                      for r in reports],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dropout_lib.grade",
        description="Run your notebooks top to bottom in fresh kernels and list every "
                    "exercise's verdict.")
    parser.add_argument("paths", nargs="*", default=["chapters"],
                        help="notebooks or folders (default: chapters)")
    parser.add_argument("--timeout", type=float, default=300, metavar="S",
                        help="seconds one cell may run (default: 300)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the scorecard as JSON to FILE ('-': print it instead "
                             "of the table)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (default: python3)")
    parser.add_argument("--restarts", type=int, default=2, metavar="N",
                        help="runs again, each skipping a cell that hung or killed the kernel "
                             "(default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.restarts < 0:
        parser.error("--timeout must be positive and --restarts at least 0")
    try:
        notebooks = find_notebooks(args.paths)
    except FileNotFoundError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    reports = [grade_notebook(path, timeout=args.timeout, kernel_name=args.kernel,
                              max_restarts=args.restarts, show_progress=not args.quiet)
               for path in notebooks]
    if args.json == "-":
        print(json.dumps(to_json(reports), indent=1))
    else:
        print(format_scorecard(reports))
        if args.json:
            Path(args.json).write_text(json.dumps(to_json(reports), indent=1) + "\n")
            print(f"(written to {args.json})")
    return 1 if any(report.kernel_failed for report in reports) else 0


if __name__ == "__main__":
    raise SystemExit(main())
