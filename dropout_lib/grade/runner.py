"""Running one notebook for the scorecard: a fresh kernel, time limits and fault handling.

`run_once` executes a notebook's code cells one after another in a new kernel started with a
fresh grading secret, whatever happens in them: an exception is noted and the next cell runs;
a cell that does not finish within its time limit, or that kills the kernel, stops the run
(the caller then runs the notebook again without it). Verdict records are taken out of the
outputs as they arrive; printed text is capped per cell.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..grading.signing import GRADING_KEY_VARIABLE, VERDICT_MIMETYPE, new_secret

__all__ = ["MAX_STREAM_CHARS", "Progress", "Run", "one_line", "run_once", "seconds_for"]

MAX_STREAM_CHARS = 100_000  # text kept per cell; a function that prints a lot costs no memory


def one_line(text: Any, limit: int = 160) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))  # no terminal colours
    text = re.sub(r"\(\d+\.py, line (\d+)\)", r"(line \1)", text)  # IPython's cell file names
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Progress:
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


def seconds_for(timeout: float | Callable[[Any], float], cell: Any) -> int:
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
        notebook, timeout_func=lambda cell: seconds_for(timeout, cell), kernel_name=kernel_name,
        allow_errors=True, record_timing=False, shutdown_kernel="immediate",
        startup_timeout=120, resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    client.records, client.printed = [], {}
    return client


@dataclass
class Run:
    """One run of a notebook in one kernel."""

    key: str
    records: list[tuple[int, Any]] = field(default_factory=list)
    ran: set[int] = field(default_factory=set)
    errors: dict[int, tuple[str, str]] = field(default_factory=dict)
    stopped_at: int | None = None
    stop_reason: str = ""
    kernel_failed: str = ""
    problem: str = ""


def run_once(notebook: Any, path: Path, skip: dict[int, str],
              timeout: float | Callable[[Any], float],
              kernel_name: str, progress: Progress, label: str) -> Run:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    run = Run(key=new_secret())
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
                    seconds = seconds_for(timeout, notebook.cells[index])
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
                                             one_line(out.get("evalue", "")))
                        break
            progress.update(len(code), len(code), label)
    except (CellTimeoutError, DeadKernelError) as err:  # while shutting the kernel down
        if run.stopped_at is None:
            run.kernel_failed = f"{type(err).__name__}: {one_line(err)}"
    except Exception as err:  # noqa: BLE001 - say why, do not crash
        if run.stopped_at is None and not run.ran:  # no kernel at all
            run.kernel_failed = f"{type(err).__name__}: {one_line(err)}"
        elif run.stopped_at is None:
            run.problem = f"the run broke off ({type(err).__name__}: {one_line(err)})"
    run.records = list(client.records)
    return run
