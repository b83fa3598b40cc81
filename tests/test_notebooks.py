"""Structure of the notebooks: what nbval cannot see.

Every exercise in a chapter is registered, checked in its chapter (stub: not attempted) and
solved in the matching solutions notebook (passed); notebooks were executed top to bottom;
stored outputs hold no errors, no stderr and no absolute paths; every notebook is in the book.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dropout_lib.grading import load_all

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*_solutions.ipynb"))
ALL = CHAPTERS + SOLUTIONS

CHECK_CALL = re.compile(r"""check\(\s*["'](\d+\.\d+)["']""")
LABEL = re.compile(r"^:label: ex-(\d+)-(\d+)\s*$", re.M)
ABSOLUTE_PATH = re.compile(r"(/work/|/home/|/tmp/|/root/|/Users/|[A-Z]:\\\\)")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def source(cell: dict) -> str:
    return "".join(cell["source"])


def output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def check_outputs(path: Path) -> dict[str, str]:
    """Exercise id -> the text printed by the cell that checks it."""
    found = {}
    for cell in load(path)["cells"]:
        if cell["cell_type"] == "code":
            for exercise_id in CHECK_CALL.findall(source(cell)):
                found[exercise_id] = output_text(cell)
    return found


def ids(path: Path) -> str:
    return path.name


def test_there_are_notebooks():
    assert CHAPTERS, "no chapter notebooks found"
    assert len(SOLUTIONS) == len(CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_chapter_has_solutions(chapter):
    assert (ROOT / "solutions" / chapter.name.replace(".ipynb", "_solutions.ipynb")).exists()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_every_exercise_is_labelled_registered_and_checked(chapter):
    number = int(chapter.name[:2])
    markdown = "\n".join(source(c) for c in load(chapter)["cells"] if c["cell_type"] == "markdown")
    labelled = {f"{a}.{b}" for a, b in LABEL.findall(markdown)}
    checked = set(check_outputs(chapter))
    registered = {item.id for item in load_all() if item.chapter == number}
    assert labelled, f"{chapter.name} has no exercise blocks"
    assert labelled == checked == registered, (labelled, checked, registered)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_stubs_say_not_attempted(chapter):
    for exercise_id, text in check_outputs(chapter).items():
        assert f"Exercise {exercise_id} (" in text and "not attempted yet" in text, text


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_solutions_pass(chapter):
    solutions = ROOT / "solutions" / chapter.name.replace(".ipynb", "_solutions.ipynb")
    solved = check_outputs(solutions)
    assert set(solved) == set(check_outputs(chapter))
    for exercise_id, text in solved.items():
        assert f"Exercise {exercise_id} (" in text and ": passed." in text, text
    solution_labels = re.findall(r"^:::\{solution\} ex-(\d+)-(\d+)", "\n".join(
        source(c) for c in load(solutions)["cells"] if c["cell_type"] == "markdown"), re.M)
    assert {f"{a}.{b}" for a, b in solution_labels} == set(solved), "a solution block is missing"


@pytest.mark.parametrize("notebook", ALL, ids=ids)
def test_executed_in_order(notebook):
    counts = [c["execution_count"] for c in load(notebook)["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), "run `make execute` to store clean outputs"


@pytest.mark.parametrize("notebook", ALL, ids=ids)
def test_outputs_are_clean(notebook):
    for cell in load(notebook)["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        for out in cell["outputs"]:
            if out["output_type"] == "error":
                assert "raises-exception" in tags, f"stored error in: {source(cell)[:80]}"
            assert out.get("name") != "stderr", f"stderr output in: {source(cell)[:80]}"
        assert not ABSOLUTE_PATH.search(output_text(cell)), f"absolute path in: {source(cell)[:80]}"


@pytest.mark.parametrize("notebook", ALL, ids=ids)
def test_notebook_is_in_the_book(notebook):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"{notebook.parent.name}/{notebook.stem}" in toc


@pytest.mark.parametrize("notebook", ALL, ids=ids)
def test_first_code_cell_installs_only_where_missing(notebook):
    first = next(c for c in load(notebook)["cells"] if c["cell_type"] == "code")
    assert 'find_spec("dropout_lib") is None' in source(first)
    assert "remove-cell" in first["metadata"].get("tags", [])


@pytest.mark.parametrize("notebook", ALL, ids=ids)
def test_sets_one_thread_on_one_line(notebook):
    # `make bench` times each notebook on one and two threads by rewriting this one line, so a
    # formatter that splits it over several lines breaks the benchmark.
    sources = ["".join(c["source"]) for c in load(notebook)["cells"] if c["cell_type"] == "code"]
    assert sum(source.count("torch.set_num_threads(1)") for source in sources) == 1
