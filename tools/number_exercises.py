"""Give each chapter notebook the MyST front matter that numbers its exercises in JupyterLab.

On the website, sphinx-exercise numbers exercise blocks by chapter ("Exercise 2.1"), as the
check cells do (`check("2.1", ...)`). In JupyterLab, jupyterlab-myst numbers them from 1 on
each notebook ("Exercise 1") unless the notebook's front matter says otherwise. It reads front
matter only from the first markdown cell, so this tool puts it in a markdown cell of its own at
the top of the notebook, tagged `remove-cell` so that the book leaves it out (in the title
cell itself, Jupyter Book would render the `---` fence as a rule and the YAML as a heading):

    ---
    numbering:
      exercise:
        enumerator: "2.%s"
    ---

    .venv/bin/python tools/number_exercises.py chapters/*.ipynb          # add it where missing
    .venv/bin/python tools/number_exercises.py --check chapters/*.ipynb  # exit 1 if missing

The chapter number is the file's number (`02_dropout_from_scratch.ipynb` is chapter 2). The
browser test proves the cell in a real JupyterLab, on a copy of a chapter.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

CELL_ID = "myst-front-matter"
CHAPTER_FILE = re.compile(r"^(\d+)_")


def chapter_number(path: Path) -> int:
    match = CHAPTER_FILE.match(path.name)
    if not match:
        raise ValueError(f"{path.name}: a chapter notebook is named NN_slug.ipynb")
    return int(match.group(1))


def front_matter(chapter: int) -> str:
    return f'---\nnumbering:\n  exercise:\n    enumerator: "{chapter}.%s"\n---'


def has_front_matter(notebook, chapter: int) -> bool:
    """Whether the first markdown cell is the front matter for `chapter`, hidden from the book."""
    first = next((cell for cell in notebook.cells if cell.cell_type == "markdown"), None)
    return (first is not None and first.source.strip() == front_matter(chapter)
            and "remove-cell" in first.metadata.get("tags", []))


def add_front_matter(notebook, chapter: int) -> bool:
    """Insert (or correct) the front-matter cell at the top; return whether it changed."""
    if has_front_matter(notebook, chapter):
        return False
    notebook.cells = [cell for cell in notebook.cells if cell.get("id") != CELL_ID]
    cell = nbformat.v4.new_markdown_cell(front_matter(chapter), id=CELL_ID)
    cell.metadata["tags"] = ["remove-cell"]
    notebook.cells.insert(0, cell)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if missing")
    args = parser.parse_args(argv)
    missing = []
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        if has_front_matter(notebook, chapter_number(path)):
            continue
        missing.append(path)
        if not args.check:
            add_front_matter(notebook, chapter_number(path))
            path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    for path in missing:
        print(f"{path}: {'no' if args.check else 'added the'} exercise-numbering front matter")
    return 1 if args.check and missing else 0


if __name__ == "__main__":
    sys.exit(main())
