"""The website builds with warnings treated as errors (as `make book` does)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_strict_book_build(book_build):
    book_build.assert_ok()
    html = book_build.html
    for page in ["index.html", "chapters/01_overfitting.html",
                 "solutions/01_overfitting_solutions.html", "bibliography.html"]:
        assert (html / page).exists(), f"{page} was not built"
    chapter = (html / "chapters" / "01_overfitting.html").read_text()
    assert chapter.count("<img") >= 5, "chapter 1's figures are missing from the page"
