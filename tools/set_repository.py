"""Point every notebook's install cell at the repository named in `_config.yml`.

On Colab (and anywhere the course library is missing) a notebook's hidden install cell runs
`%pip install "dropout-lib @ git+URL"`. The launch buttons of the website follow
`repository.url` in `_config.yml`; this tool makes the install cells follow it too, so that a
fork's buttons install the fork's library:

    .venv/bin/python tools/set_repository.py            # rewrite the notebooks in place
    .venv/bin/python tools/set_repository.py --check    # list those that differ; exit 1 if any

The notebooks are read and written with nbformat, as `make execute` stores them, so only the
URL changes. `tests/test_site_sources.py` checks that every install cell names the URL.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIRS = ("chapters", "solutions")
# The package spec of the install cell: `dropout-lib @ git+<url>` up to the closing quote.
INSTALL_SPEC = re.compile(r"(dropout-lib\s*@\s*git\+)([^\"'\s]+)")


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """`repository.url` of the book's configuration, without a trailing slash or `.git`."""
    url = yaml.safe_load(config.read_text())["repository"]["url"].strip().rstrip("/")
    return url.removesuffix(".git")


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(path for folder in NOTEBOOK_DIRS for path in (root / folder).glob("*.ipynb"))


def install_cells(notebook) -> list:
    """The code cells that pip-install the library from a git repository."""
    return [cell for cell in notebook.cells
            if cell.cell_type == "code" and INSTALL_SPEC.search(cell.source)]


def install_urls(notebook) -> list[str]:
    return [match.group(2) for cell in install_cells(notebook)
            for match in INSTALL_SPEC.finditer(cell.source)]


def set_repository(path: Path, url: str, write: bool = True) -> bool:
    """Rewrite the install URL of one notebook; return whether it changed."""
    text = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    cells = install_cells(notebook)
    if not cells:
        raise ValueError(f"{path}: no install cell (`%pip install \"dropout-lib @ git+URL\"`)")
    for cell in cells:
        cell.source = INSTALL_SPEC.sub(lambda match: match.group(1) + url, cell.source)
    new_text = nbformat.writes(notebook) + "\n"
    if new_text == text:
        return False
    if write:
        path.write_text(new_text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list the notebooks that name another URL")
    args = parser.parse_args(argv)
    url = repository_url()
    changed = [path for path in notebooks() if set_repository(path, url, write=not args.check)]
    verb = "name another repository than" if args.check else "now install from"
    for path in changed:
        print(f"{path.relative_to(ROOT)} {verb} {url}")
    if not changed:
        print(f"every notebook installs from {url}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
