"""Every number in the book's prose comes from a cell above it or from a cited source.

`tests/prose.py` says what counts as prose and as a source. A finding is fixed by printing the
number in a cell before the sentence that quotes it, by citing the paper it comes from in the
same sentence, or by rewriting the sentence; never by adding an exception here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prose import unsupported_numbers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "solutions").glob("[0-9][0-9]_*_solutions.ipynb"))

# Chapters whose review is still open, each with the issue that fixes it. Strict: a chapter
# that starts passing must be taken off this list.
KNOWN_FAILURES = {
}


def _param(path: Path):
    marks = []
    if path.name in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[path.name], strict=True))
    return pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("notebook", [_param(p) for p in NOTEBOOKS])
def test_every_number_in_the_prose_has_a_source(notebook):
    findings = unsupported_numbers(notebook)
    assert not findings, (
        f"{len(findings)} number(s) in {notebook.name} neither printed above nor cited:\n  "
        + "\n  ".join(map(str, findings)))


def test_the_checker_finds_what_it_should(tmp_path):
    """The rules on a made-up notebook: printed, rounded, cited, settings, and two defects."""
    import json

    def markdown(text):
        return {"cell_type": "markdown", "metadata": {}, "source": text}

    def code(source, printed=""):
        outputs = [{"output_type": "stream", "name": "stdout", "text": printed}] if printed else []
        return {"cell_type": "code", "metadata": {}, "source": source, "outputs": outputs,
                "execution_count": 1}

    cells = [
        markdown("We train for 40 epochs on 20% of the data."),
        code("fit(net, epochs=40, fraction=0.2)", "holdout error 29.4%\ngap -0.261"),
        markdown("The error reaches 29% and the gap is 0.26 in size (chapter 3, Exercise 2.1)."),
        markdown("Srivastava et al. report 1.25% {cite}`srivastava2014dropout`. "
                 "We saw 31.5% here. A ratio of 7.8 appears."),
        markdown(":::{exercise} Try\n:label: ex-1-1\nUse 123 units.\n:::\n\n$x = 0.77$"),
    ]
    path = tmp_path / "01_made_up.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    found = sorted(f.number for f in unsupported_numbers(path))
    assert found == ["31.5%", "7.8"], found
