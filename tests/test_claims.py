"""The headline claims of every chapter, re-run on seeds the book does not print.

Each claim lives in `tests/claims/chNN.py` (see `tests/claims/__init__.py`). The seeds are
the first integers from 1000 up that never appear as a number in the chapter's code cells,
so none of them is a seed the book used. Run them alone with `pytest -m claims`.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # so that `import claims` finds tests/claims

import claims  # noqa: E402

for module in sorted((Path(__file__).parent / "claims").glob("ch[0-9][0-9].py")):
    importlib.import_module(f"claims.{module.stem}")

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
FIRST_SEED = 1000

# Chapters whose claims are still to be written, each with the issue that writes them. Strict:
# a chapter that gets its claims must be taken off this list.
KNOWN_MISSING: dict[int, str] = {}

pytestmark = pytest.mark.claims


def chapter_code(number: int) -> str:
    path = next(p for p in CHAPTERS if int(p.name[:2]) == number)
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def unseen_seeds(number: int, count: int) -> list[int]:
    """`count` seeds from FIRST_SEED up that the chapter's code never writes as a number."""
    used = {int(token) for token in re.findall(r"(?<![\w.])\d+(?![\w.])", chapter_code(number))}
    seeds, candidate = [], FIRST_SEED
    while len(seeds) < count:
        if candidate not in used:
            seeds.append(candidate)
        candidate += 1
    return seeds


def _cases():
    for item in claims.REGISTRY:
        for seed in unseen_seeds(item.chapter, item.n_seeds):
            yield pytest.param(item, seed, id=f"ch{item.chapter:02d}-{item.name}-seed{seed}")


@pytest.mark.parametrize("item, seed", list(_cases()))
def test_claim_holds_on_an_unseen_seed(item, seed):
    item.run(seed)


@pytest.mark.parametrize("number", [
    pytest.param(int(p.name[:2]), id=p.stem, marks=[pytest.mark.xfail(
        reason=KNOWN_MISSING[int(p.name[:2])], strict=True)] if int(p.name[:2]) in
        KNOWN_MISSING else [])
    for p in CHAPTERS])
def test_every_chapter_has_claims(number):
    texts = [item.text for item in claims.REGISTRY if item.chapter == number]
    assert texts, f"chapter {number} has no claims in tests/claims/ch{number:02d}.py"
