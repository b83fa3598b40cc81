"""Execute notebooks top to bottom in a fresh kernel and store their outputs (`make execute`).

Usage: `python -m dropout_lib.execute NOTEBOOK [NOTEBOOK ...]`
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["execute_notebook"]


def execute_notebook(path: str | Path, timeout: int = 300) -> float:
    """Run every cell of `path` in a fresh kernel, write the outputs back; return seconds taken.

    The working directory is the notebook's folder, as in JupyterLab. Cell timing metadata is
    not recorded, so re-executing an unchanged notebook gives an unchanged file.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(notebook, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip().splitlines()[-1])
        return 2
    for path in paths:
        print(f"{path}: ", end="", flush=True)
        print(f"{execute_notebook(path):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
