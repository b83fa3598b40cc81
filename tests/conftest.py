"""Shared fixtures: the website is built once per test run, by whichever test needs it first.

The set-up that applies to every run (one torch thread, `--nb-threads`, the parallel
schedule) is in the repository's top-level `conftest.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"


@dataclass
class BookBuild:
    """The outcome of one strict `jupyter-book build`."""

    returncode: int
    log: str
    html: Path

    def assert_ok(self) -> None:
        assert self.returncode == 0, "the strict book build failed:\n" + self.log


def build_book() -> BookBuild:
    """Build the book as `make book` does (warnings are errors), every page re-read."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    assert jupyter_book.exists(), "jupyter-book is not installed in this environment"
    # A fresh environment pickle, so that every page is re-read and every warning is seen.
    shutil.rmtree(BUILD / ".doctrees", ignore_errors=True)
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    return BookBuild(result.returncode, result.stdout[-4000:] + result.stderr[-4000:],
                     BUILD / "html")


@pytest.fixture(scope="session")
def book_build() -> BookBuild:
    """The strict build, made once per test run into `_build`.

    `make test` runs the tests that use it on one worker. Should they be split over several
    workers all the same (another `--dist` mode), the lock keeps two builds from writing into
    `_build` at once, and the record of the run that made the build lets the other workers
    use it instead of building again.
    """
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    BUILD.mkdir(exist_ok=True)
    record = BUILD / ".test-book-build.json"
    with FileLock(str(BUILD / ".test-book-build.lock"), timeout=1800):
        if record.exists():
            made = json.loads(record.read_text())
            if made.get("run") == run:
                return BookBuild(made["returncode"], made["log"], Path(made["html"]))
        build = build_book()
        record.write_text(json.dumps({"run": run, "returncode": build.returncode,
                                      "log": build.log, "html": str(build.html)}))
        return build
