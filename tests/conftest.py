"""Shared fixtures: the website is built once per test session, by whichever test needs it first."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class BookBuild:
    """The outcome of one strict `jupyter-book build`."""

    returncode: int
    log: str
    html: Path

    def assert_ok(self) -> None:
        assert self.returncode == 0, "the strict book build failed:\n" + self.log


@pytest.fixture(scope="session")
def book_build() -> BookBuild:
    """Build the book as `make book` does (warnings are errors), once for the whole session."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    assert jupyter_book.exists(), "jupyter-book is not installed in this environment"
    # A fresh environment pickle, so that every page is re-read and every warning is seen.
    shutil.rmtree(ROOT / "_build" / ".doctrees", ignore_errors=True)
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    return BookBuild(result.returncode, result.stdout[-4000:] + result.stderr[-4000:],
                     ROOT / "_build" / "html")
