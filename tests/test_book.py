"""The website builds with warnings treated as errors (as `make book` does)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_strict_book_build():
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    assert jupyter_book.exists(), "jupyter-book is not installed in this environment"
    shutil.rmtree(ROOT / "_build" / ".doctrees", ignore_errors=True)
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = ROOT / "_build" / "html"
    for page in ["index.html", "chapters/01_overfitting.html",
                 "solutions/01_overfitting_solutions.html", "bibliography.html"]:
        assert (html / page).exists(), f"{page} was not built"
    chapter = (html / "chapters" / "01_overfitting.html").read_text()
    assert chapter.count("<img") >= 5, "chapter 1's figures are missing from the page"
