"""What the website and its launch buttons need from the sources, checked without a browser.

- every notebook's install cell (Colab) installs from `_config.yml`'s `repository.url`, and
  `tools/set_repository.py` rewrites it for a fork;
- Binder installs the CPU build of the pinned torch and the course's own pins;
- notebook code fits the website's text column (79 characters a line, see `_static/custom.css`);
- each chapter carries the front matter that numbers its exercises in JupyterLab
  (`tools/number_exercises.py`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import number_exercises  # noqa: E402
import set_repository  # noqa: E402

sys.path.remove(str(ROOT / "tools"))

NOTEBOOKS = set_repository.notebooks()
CHAPTERS = [path for path in NOTEBOOKS if path.parent.name == "chapters"]
# The longest notebook code line that fits the text column at 1280 px (custom.css sets the
# code size for it); the browser test measures the same blocks in Chromium.
MAX_CODE_LINE = 79
# Cells that the book does not show: their lines never meet the column.
HIDDEN_TAGS = {"remove-cell", "remove-input"}


def ids(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_there_are_notebooks():
    assert CHAPTERS and len(NOTEBOOKS) > len(CHAPTERS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_install_cell_names_the_configured_repository(path):
    url = set_repository.repository_url()
    found = set_repository.install_urls(nbformat.read(path, as_version=4))
    assert found, f"{ids(path)} has no install cell (`%pip install \"dropout-lib @ git+URL\"`)"
    assert set(found) == {url}, (f"{ids(path)} installs from {found}, _config.yml names {url}: "
                                 "run `.venv/bin/python tools/set_repository.py`")


def test_set_repository_follows_a_fork(tmp_path):
    """The tool changes the URL and nothing else, and a second run changes nothing."""
    original = NOTEBOOKS[0]
    copy = tmp_path / original.name
    copy.write_text(original.read_text(encoding="utf-8"), encoding="utf-8")
    fork = "https://github.com/someone/dropout-fork"
    assert set_repository.set_repository(copy, fork)
    assert set_repository.install_urls(nbformat.read(copy, as_version=4)) == [fork]
    assert not set_repository.set_repository(copy, fork)
    old = set_repository.repository_url()
    assert copy.read_text(encoding="utf-8").replace(fork, old) == original.read_text(
        encoding="utf-8")


def test_repository_url_reads_config(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text(yaml.safe_dump({"repository": {"url": "https://github.com/a/b.git/"}}))
    assert set_repository.repository_url(config) == "https://github.com/a/b"


def test_binder_installs_the_cpu_torch_and_the_course_pins():
    lines = [line.split("#")[0].strip()
             for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    torch = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert torch, "requirements.txt does not pin torch"
    assert f"torch=={torch.group(1)}+cpu" in lines, lines
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines, lines
    assert "-r ../requirements.txt" in lines, lines
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "pip install --no-deps -e ." in post_build.read_text()


def long_code_lines(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or HIDDEN_TAGS & set(cell.metadata.get("tags", [])):
            continue
        for number, line in enumerate(cell.source.splitlines(), 1):
            if len(line) > MAX_CODE_LINE:
                found.append(f"{ids(path)} cell {index} line {number} ({len(line)} characters): "
                             f"{line.strip()[:70]}")
    return found


def test_long_code_lines_are_found(tmp_path):
    """The line check itself: a line one character too long is reported, one that fits is not."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1  # " + "a" * (MAX_CODE_LINE - 9)),
                      nbformat.v4.new_code_cell("y = 2  # " + "b" * (MAX_CODE_LINE - 8)),
                      nbformat.v4.new_code_cell("z = 3  # " + "c" * 99,
                                                metadata={"tags": ["remove-cell"]})]
    path = tmp_path / "chapters" / "99_probe.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    found = long_code_lines(path)
    assert len(found) == 1 and "cell 1 line 1 (80 characters)" in found[0], found


def test_notebook_code_lines_fit_the_column():
    found = [line for path in NOTEBOOKS for line in long_code_lines(path)]
    assert not found, f"{len(found)} code lines longer than {MAX_CODE_LINE} characters:\n" + \
        "\n".join(found)


def test_number_exercises_adds_the_front_matter_once():
    chapter = CHAPTERS[0]
    notebook = nbformat.read(chapter, as_version=4)
    notebook.cells = [cell for cell in notebook.cells  # as before the tool ran
                      if cell.get("id") != number_exercises.CELL_ID]
    title_cell = next(cell for cell in notebook.cells if cell.cell_type == "markdown")
    number = number_exercises.chapter_number(chapter)
    assert number_exercises.add_front_matter(notebook, number)
    assert not number_exercises.add_front_matter(notebook, number)
    first = notebook.cells[0]
    assert first.source == f'---\nnumbering:\n  exercise:\n    enumerator: "{number}.%s"\n---'
    assert first.metadata["tags"] == ["remove-cell"]
    assert notebook.cells[1:].count(title_cell) == 1
    nbformat.validate(notebook)
    # A wrong chapter number is corrected, not duplicated.
    assert number_exercises.add_front_matter(notebook, number + 1)
    assert sum(cell.get("id") == number_exercises.CELL_ID for cell in notebook.cells) == 1


def test_chapters_number_their_exercises_in_jupyterlab():
    missing = [ids(path) for path in CHAPTERS if not number_exercises.has_front_matter(
        nbformat.read(path, as_version=4), number_exercises.chapter_number(path))]
    assert not missing, missing
