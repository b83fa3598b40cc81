"""pytest set-up for every run, whatever is collected (library tests, notebooks, the book).

It lives at the top of the repository so that it also applies when only notebooks are
collected (`pytest chapters/01_overfitting.ipynb`); the fixtures are in `tests/conftest.py`.

- The test process runs torch on one thread: the course's models are too small to gain from
  threads, and with one pytest worker per core more threads would only fight over the cores.
  The notebooks' kernels are separate processes; their setup cells call
  `torch.set_num_threads(1)` themselves.
- `--nb-threads N` runs the notebooks under nbval with `torch.set_num_threads(N)` in place of
  the setup cell's `torch.set_num_threads(1)`, without changing the files, to show that the
  stored outputs are reproduced on N threads too. A notebook without exactly one such line is
  a usage error, so the option never passes while testing something else.
- The parallel schedule (`make test` = `pytest -n auto`, with `--dist loadfile` from
  pyproject.toml): one work unit per file, so a notebook's cells stay on one worker and in one
  kernel, and a module's fixtures are built once; `tests/test_book.py` and
  `tests/test_browser.py` are a single unit, `book`, as they share one book build. Units are
  handed out longest first, so that the workers finish together.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# The line every notebook's setup cell carries, and that `--nb-threads` rewrites.
THREAD_LINE = re.compile(r"\btorch\.set_num_threads\(1\)")

BOOK_UNIT_FILES = ("tests/test_book.py", "tests/test_browser.py")  # in the order they run

# Seconds each unit took on the course's 2-core reference machine (`pytest --durations`,
# one torch thread). Only the order in which units are handed out depends on it, never a
# result. A unit not listed counts as DEFAULT_NOTEBOOK_SECONDS if it is a notebook (the
# solutions take about 2 s each) and as DEFAULT_MODULE_SECONDS otherwise.
EXPECTED_SECONDS = {
    "book": 43,
    "chapters/07_choosing_rate_and_placement.ipynb": 31,
    "tests/test_grade.py": 24,
    "chapters/01_overfitting.ipynb": 14,
    "chapters/06_mc_dropout_uncertainty.ipynb": 8,
    "chapters/05_inference_scaling.ipynb": 7,
    "chapters/04_ensembles.ipynb": 6,
    "chapters/03_co_adaptation.ipynb": 5,
    "chapters/08_variants.ipynb": 5,
    "chapters/02_dropout_from_scratch.ipynb": 5,
}
DEFAULT_NOTEBOOK_SECONDS = 2
DEFAULT_MODULE_SECONDS = 1


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nb-threads", type=int, default=None, metavar="N",
        help="run the notebooks under nbval with torch.set_num_threads(N) in place of their "
             "setup cell's torch.set_num_threads(1) (the files are not changed)")


def runs_tests(config: pytest.Config) -> bool:
    """False in the pytest-xdist controller, which only hands out tests to its workers."""
    return hasattr(config, "workerinput") or not config.getoption("numprocesses", None)


def pytest_configure(config: pytest.Config) -> None:
    if runs_tests(config):  # the controller does not need torch at all
        import torch

        torch.set_num_threads(1)


def pytest_report_header(config: pytest.Config) -> str:
    threads = config.getoption("nb_threads")
    kernels = (f"{threads} (setup cells rewritten by --nb-threads {threads})" if threads
               else "1 (setup cells as stored)")
    return f"torch threads: 1 in each test process, {kernels} in each notebook kernel"


def unit_of(path: str) -> str:
    """The work unit of a file (relative to the repository): `book`, or the file itself."""
    return "book" if path in BOOK_UNIT_FILES else path


def relative(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return Path(path).as_posix()


def expected_seconds(unit: str) -> float:
    if unit in EXPECTED_SECONDS:
        return EXPECTED_SECONDS[unit]
    return DEFAULT_NOTEBOOK_SECONDS if unit.endswith(".ipynb") else DEFAULT_MODULE_SECONDS


def is_notebook_cell(item: pytest.Item) -> bool:
    return item.__class__.__name__ == "IPyNbCell"  # nbval's item: one code cell


def rewrite_threads(items: list[pytest.Item], threads: int) -> None:
    """Put `torch.set_num_threads(threads)` in place of each collected notebook's setup line."""
    if threads < 1:
        raise pytest.UsageError(f"--nb-threads must be at least 1, not {threads}")
    found: dict[str, int] = {}
    for item in items:
        if is_notebook_cell(item):
            item.cell.source, count = THREAD_LINE.subn(f"torch.set_num_threads({threads})",
                                                       item.cell.source)
            notebook = relative(item.path)
            found[notebook] = found.get(notebook, 0) + count
    wrong = sorted(notebook for notebook, count in found.items() if count != 1)
    if wrong:
        raise pytest.UsageError(
            "--nb-threads: these notebooks do not have exactly one "
            "`torch.set_num_threads(1)` line to rewrite: " + ", ".join(wrong))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    threads = config.getoption("nb_threads")
    if threads is not None:
        rewrite_threads(items, threads)
    if not hasattr(config, "workerinput"):
        return  # not a pytest-xdist worker: keep the plain order (tests, chapters, solutions)

    def order(item: pytest.Item) -> tuple[float, int]:
        path = relative(item.path)
        unit = unit_of(path)
        within = BOOK_UNIT_FILES.index(path) if unit == "book" else 0
        return -expected_seconds(unit), within

    # Longest units first; the sort is stable, so each notebook's cells keep their order, and
    # every worker computes the same order, as pytest-xdist requires.
    items.sort(key=order)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown with `-p no:xdist`
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile`, with the book's two test files as one unit on one worker."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class BookAsOneUnit(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(super()._split_scope(nodeid))

    return BookAsOneUnit(config, log)
