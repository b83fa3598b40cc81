"""What learners wait for, and what the library's code costs next to PyTorch (`make bench`).

Usage: python benchmarks/bench.py [--repeats N] [--notebook-repeats N] [--skip SECTIONS]

Prints one markdown report and writes it to benchmarks/RESULTS.md, with the machine it ran on
and how loaded it was. Every time is a median of several runs unless it says "one run"; every
ratio compares times taken in the same run, with the candidates interleaved so that a slow
moment of the machine hits both sides. Speed is shown here and never asserted in a test.

Sections (the goals come from the course's performance issues), with their --skip names:
1. `notebooks`: each notebook top to bottom in a fresh kernel, as stored (one torch thread)
   and with its setup line changed to two threads; all sixteen one after another
   (goals: each under 20 s on one thread, all under 120 s);
2. `tests`: `make test` in this folder, after set-up (goal: under 150 s), and `clone`: a fresh
   clone's `make setup` and `make test`, timed apart (goal: under 4 minutes together);
3. `dropout`: the reference dropout against torch.nn.functional.dropout, forward and
   forward+backward (goal: at most 1.5x at 10^6 and 10^7 elements);
4. `cost`: what dropout costs next to a copy, for 10^7 float32 elements on one and two
   threads: `x.clone()`, `F.dropout`, the random numbers alone, `torch.rand_like`;
5. `mc`: MC-dropout prediction with T = 100 samples on chapter 6's model, one batched forward
   pass against a Python loop of T passes (goal: at least 5x);
6. `book`: the book build from stored outputs (goal: under 60 s), the site's size.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as torch_F

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"

# The course's setting: every notebook's setup cell has this line (see chapter 1).
THREAD_LINE = re.compile(r"\btorch\.set_num_threads\(1\)")
NOTEBOOK_GOAL_S = 20
ALL_NOTEBOOKS_GOAL_S = 120
TEST_GOAL_S = 150
FRESH_CLONE_GOAL_S = 240


# --- measuring --------------------------------------------------------------------------------

def interleaved_medians(candidates: dict[str, Callable[[], object]], repeats: int,
                        warmup: int = 1) -> dict[str, float]:
    """Median seconds of each callable, timing them in turn (a, b, c, a, b, c, ...)."""
    for function in candidates.values():
        for _ in range(warmup):
            function()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} µs"


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Section:
    """One part of the report, and the goals it measured: (goal, figure, met)."""

    number: int
    text: str
    goals: list[tuple[str, str, bool]] = field(default_factory=list)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch on `threads` threads inside the block; the previous count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- the machine ------------------------------------------------------------------------------

def load() -> str:
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def machine(load_before: str, load_after: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rows = [
        ["CPU", cpu],
        ["cores visible", str(os.cpu_count())],
        ["torch threads", "1 unless a column says 2 (the course's setting is 1)"],
        ["torch", torch.__version__],
        ["CPU kernels (ATEN_CPU_CAPABILITY)", os.environ.get("ATEN_CPU_CAPABILITY", "auto")],
        ["Python", platform.python_version()],
        ["OS", platform.platform()],
        ["date (UTC)", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")],
        ["load average (1 / 5 / 15 min) at the start", load_before],
        ["load average (1 / 5 / 15 min) at the end", load_after],
    ]
    return table(["machine", ""], rows)


# --- 1. notebooks -----------------------------------------------------------------------------

def notebook_paths() -> list[Path]:
    paths = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    return paths + sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def with_threads(notebook, threads: int):
    """A copy of `notebook` whose setup line says `torch.set_num_threads(threads)`."""
    changed = copy.deepcopy(notebook)
    found = 0
    for cell in changed.cells:
        if cell.cell_type == "code":
            cell.source, count = THREAD_LINE.subn(f"torch.set_num_threads({threads})",
                                                  cell.source)
            found += count
    if found != 1:
        raise SystemExit(f"expected one `torch.set_num_threads(1)` line, found {found}")
    return changed


def run_notebook(notebook, folder: Path) -> float:
    """Seconds from starting a fresh kernel to the end of the last cell of `notebook`.

    What a learner waits for: the kernel's start and every cell, not its shutdown (nbclient's
    graceful shutdown adds seconds that nobody waits for in JupyterLab).
    """
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(folder)}})
    with open(os.devnull, "w") as quiet:  # the kernel's own start-up warnings
        start = time.perf_counter()
        with client.setup_kernel(stderr=quiet):
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            taken = time.perf_counter() - start
    return taken


def notebooks(repeats: int) -> Section:
    """Each notebook on one thread (as stored) and on two, in turn; `repeats` passes."""
    import nbformat

    paths = notebook_paths()
    stored = {path: nbformat.read(path, as_version=4) for path in paths}
    copies = {threads: {path: with_threads(notebook, threads) if threads != 1 else notebook
                        for path, notebook in stored.items()} for threads in (1, 2)}
    times = {(path, threads): [] for path in paths for threads in (1, 2)}
    passes = {1: [], 2: []}
    for repeat in range(repeats):
        # Alternate which thread count goes first, so neither always meets a warm cache.
        order = (1, 2) if repeat % 2 == 0 else (2, 1)
        totals = {1: 0.0, 2: 0.0}
        for path in paths:
            for threads in order:
                taken = run_notebook(copies[threads][path], path.parent)
                times[(path, threads)].append(taken)
                totals[threads] += taken
            print(f"  pass {repeat + 1}: {path.parent.name}/{path.name}: "
                  f"{times[(path, 1)][-1]:.1f} s on 1 thread, "
                  f"{times[(path, 2)][-1]:.1f} s on 2", file=sys.stderr)
        for threads in (1, 2):
            passes[threads].append(totals[threads])

    rows, goals, slowest = [], [], (0.0, "")
    for path in paths:
        one = statistics.median(times[(path, 1)])
        two = statistics.median(times[(path, 2)])
        name = f"{path.parent.name}/{path.name}"
        slowest = max(slowest, (one, name))
        rows.append([f"`{name}`", f"{one:.1f} s", f"{two:.1f} s", f"{two / one:.2f}",
                     verdict(one < NOTEBOOK_GOAL_S)])
        goals.append((f"`{name}` under {NOTEBOOK_GOAL_S} s on one thread", f"{one:.1f} s",
                      one < NOTEBOOK_GOAL_S))
    all_one, all_two = statistics.median(passes[1]), statistics.median(passes[2])
    rows.append([f"**all {len(paths)}, one after another**", f"{all_one:.1f} s",
                 f"{all_two:.1f} s", f"{all_two / all_one:.2f}",
                 verdict(all_one < ALL_NOTEBOOKS_GOAL_S)])
    goals.append((f"all {len(paths)} notebooks one after another under "
                  f"{ALL_NOTEBOOKS_GOAL_S} s on one thread", f"{all_one:.1f} s",
                  all_one < ALL_NOTEBOOKS_GOAL_S))
    text = (f"## 1. Notebooks, top to bottom in a fresh kernel (goals: each under "
            f"{NOTEBOOK_GOAL_S} s on one thread, all under {ALL_NOTEBOOKS_GOAL_S} s)\n\n"
            f"Median of {repeats} pass(es); in each pass every notebook runs as stored, with "
            "`torch.set_num_threads(1)` in its setup cell, and as a copy with "
            "`torch.set_num_threads(2)` instead, the two in turn; timed from the kernel's start to "
            "the end of the last cell. "
            "The last row is the sum of one pass over all notebooks. Slowest on one thread: "
            f"`{slowest[1]}`, {slowest[0]:.1f} s.\n\n"
            + table(["notebook", "1 thread", "2 threads", "2 threads / 1 thread",
                     f"goal (1 thread, < {NOTEBOOK_GOAL_S} s)"], rows))
    return Section(1, text, goals)


# --- 2. the test suite ------------------------------------------------------------------------

SUMMARY = re.compile(r"^=+ (.+?) in ([\d.]+)s.*=+$", re.M)


def make(folder: Path, target: str) -> tuple[float, int, str]:
    """Run `make target` in `folder`; seconds, exit status and the pytest summary (if any)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "VIRTUAL_ENV")}
    start = time.perf_counter()
    result = subprocess.run(["make", "-C", str(folder), target], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    taken = time.perf_counter() - start
    summaries = SUMMARY.findall(result.stdout)
    summary = summaries[-1][0] if summaries else ""
    if result.returncode != 0:
        print(result.stdout[-3000:], file=sys.stderr)
    return taken, result.returncode, summary


def outcome(returncode: int, summary: str) -> str:
    if returncode == 0:
        return summary or "passed"
    return f"**failed** (exit {returncode}){': ' + summary if summary else ''}"


def test_suite(clone: bool, here: bool) -> Section:
    rows, goals = [], []
    if here:
        print("  make test (this folder)", file=sys.stderr)
        taken, code, summary = make(ROOT, "test")
        met = code == 0 and taken < TEST_GOAL_S
        rows.append(["`make test` here, after set-up", f"{taken:.0f} s", outcome(code, summary),
                     verdict(met)])
        goals.append((f"`make test` after set-up under {TEST_GOAL_S} s (and passing)",
                      f"{taken:.0f} s", met))
    if clone:
        folder = Path(tempfile.mkdtemp(prefix="bench-clone-"))
        try:
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder / "c")],
                           check=True)
            print("  make setup (fresh clone)", file=sys.stderr)
            setup, setup_code, _ = make(folder / "c", "setup")
            print("  make test (fresh clone)", file=sys.stderr)
            tests, test_code, summary = make(folder / "c", "test")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        total = setup + tests
        met = setup_code == 0 and test_code == 0 and total < FRESH_CLONE_GOAL_S
        rows += [
            ["fresh clone: `make setup`", f"{setup:.0f} s",
             "done" if setup_code == 0 else f"**failed** (exit {setup_code})", ""],
            ["fresh clone: `make test` after it", f"{tests:.0f} s", outcome(test_code, summary),
             ""],
            ["fresh clone: both", f"{total:.0f} s", "", verdict(met)],
        ]
        goals.append((f"a fresh clone's `make test` (set-up included) under "
                      f"{FRESH_CLONE_GOAL_S // 60} min", f"{total:.0f} s", met))
    text = (f"## 2. The test suite (goals: `make test` under {TEST_GOAL_S} s after set-up, "
            f"a fresh clone's under {FRESH_CLONE_GOAL_S // 60} min)\n\n"
            "One run each. `make test` runs the tests on one pytest-xdist worker per core. "
            "The fresh clone is `git clone` of this repository's committed state into a "
            "temporary folder (uncommitted changes are not in it); its `make setup` creates "
            "the virtual environment from the pinned requirements.\n\n"
            + table(["what", "time", "outcome", "goal"], rows))
    return Section(2, text, goals)


# --- 3. reference dropout ---------------------------------------------------------------------

def time_dropout(n: int, repeats: int) -> dict[str, float]:
    """Median seconds of a copy and of both dropouts (forward, forward+backward) on n floats."""
    from dropout_lib.functional import dropout

    x = torch.randn(n, dtype=torch.float32)
    x_grad = x.clone().requires_grad_(True)
    ones = torch.ones(n, dtype=torch.float32)

    def forward_backward(function):
        def run():
            function(x_grad, 0.5).backward(ones)
            x_grad.grad = None
        return run

    return interleaved_medians({
        "clone": lambda: x.clone(),
        "torch fwd": lambda: torch_F.dropout(x, 0.5),
        "ours fwd": lambda: dropout(x, 0.5),
        "torch fwd+bwd": forward_backward(torch_F.dropout),
        "ours fwd+bwd": forward_backward(dropout),
    }, repeats)


def dropout_kernels(repeats: int) -> Section:
    rows, goals = [], []
    with torch_threads(1):
        for n in (10**4, 10**6, 10**7):
            # More runs where one run is short, so each size takes a similar, small time.
            times = time_dropout(n, repeats * (20 if n <= 10**4 else 3 if n <= 10**6 else 1))
            traffic = 2 * 4 * n  # bytes a forward pass must move at least: read x, write out
            for kind in ("fwd", "fwd+bwd"):
                ratio = times[f"ours {kind}"] / times[f"torch {kind}"]
                bandwidth = [f"{traffic / times[key] / 1e9:.1f}" if kind == "fwd" else ""
                             for key in (f"torch {kind}", f"ours {kind}", "clone")]
                size = f"10^{len(str(n)) - 1}"
                rows.append([
                    size, kind, seconds(times[f"torch {kind}"]),
                    seconds(times[f"ours {kind}"]), f"{ratio:.2f}x", *bandwidth,
                    verdict(ratio <= 1.5) if n >= 10**6 else "(no goal)",
                ])
                if n >= 10**6:
                    goals.append((f"reference dropout at most 1.5x `F.dropout`, {size}, {kind}",
                                  f"{ratio:.2f}x", ratio <= 1.5))
    text = ("## 3. Reference dropout against `torch.nn.functional.dropout` "
            "(float32, p = 0.5, one thread; goal: at most 1.5x at 10^6 and 10^7)\n\n"
            "`dropout_lib.functional.dropout` against PyTorch's. GB/s counts the bytes a "
            "forward pass must move (read x, write the output); `x.clone()` moves the same "
            "bytes and is the practical memory-bandwidth bound. Dropout also draws one random "
            "number per element, which costs more than the copy (section 4).\n\n"
            + table(["elements", "pass", "torch", "ours", "ours / torch", "torch GB/s",
                     "ours GB/s", "clone GB/s", "goal"], rows))
    return Section(3, text, goals)


# --- 4. what dropout costs --------------------------------------------------------------------

def dropout_cost(repeats: int, n: int = 10**7) -> Section:
    """A copy, dropout, its random numbers alone and uniform noise, on one and two threads."""
    x = torch.randn(n, dtype=torch.float32)
    candidates = {
        "`x.clone()`": lambda: x.clone(),
        "`F.dropout(x, 0.5)`": lambda: torch_F.dropout(x, 0.5),
        "`torch.empty_like(x, dtype=torch.bool).bernoulli_(0.5)`":
            lambda: torch.empty_like(x, dtype=torch.bool).bernoulli_(0.5),
        "`torch.rand_like(x)`": lambda: torch.rand_like(x),
    }
    times = {}
    for threads in (1, 2):
        with torch_threads(threads):
            times[threads] = interleaved_medians(candidates, repeats * 3)
    rows = []
    for name in candidates:
        rows.append([name] + [
            cell for threads in (1, 2)
            for cell in (seconds(times[threads][name]),
                         f"{times[threads][name] / times[threads]['`x.clone()`']:.1f}x")
        ] + [f"{times[1][name] / times[2][name]:.2f}x"])
    text = ("## 4. What dropout costs, next to a copy (10^7 float32 elements)\n\n"
            f"Median of {repeats * 3} runs of each, interleaved; each ratio divides by the "
            "clone on the same number of threads. `x.clone()` reads and writes every element "
            "once; `F.dropout` (training mode) also draws one random number per element and "
            "scales the survivors; the `bernoulli_` row is the random numbers alone (a bool "
            "mask, one byte per element); `torch.rand_like` draws one uniform float32 per "
            "element.\n\n"
            + table(["operation", "1 thread", "/ clone", "2 threads", "/ clone",
                     "speed-up from the 2nd thread"], rows))
    return Section(4, text)


# --- 5. MC dropout ----------------------------------------------------------------------------

def mc_dropout(repeats: int, samples: int = 100) -> Section:
    heading = "## 5. MC dropout, chapter 6's model (one thread; goal: batched at least 5x faster)"
    from dropout_lib import mc, uncertainty

    def batched(model, x, samples, generator):
        return mc.mc_predict(model, x, samples, generator=generator)

    def loop(model, x, samples, generator):
        return mc.mc_predict(model, x, samples, generator=generator, batched=False)

    described = ("`mc.mc_predict` (one forward pass over all samples) against "
                 "`mc.mc_predict(..., batched=False)` (a Python loop of forward passes)")
    model, split = uncertainty.chapter_model()  # trained as in the chapter, in float64
    rows, goals = [], []
    with torch_threads(1):
        for n_query in (1, 10, 100, len(split.x_holdout)):
            x = split.x_holdout[:n_query]
            generator = torch.Generator().manual_seed(0)
            times = interleaved_medians({
                "loop": lambda x=x, g=generator: loop(model, x, samples, g),
                "batched": lambda x=x, g=generator: batched(model, x, samples, g),
            }, repeats * 3)
            speedup = times["loop"] / times["batched"]
            rows.append([f"{samples}", f"{n_query}", seconds(times["loop"]),
                         seconds(times["batched"]), f"{speedup:.1f}x", verdict(speedup >= 5)])
            goals.append((f"MC batched at least 5x faster than the loop, n = {n_query}",
                          f"{speedup:.1f}x", speedup >= 5))
    text = (f"{heading}\n\n{described}, on the first n holdout inputs of the chapter's "
            "1-64-64-1 network. Batching removes the fixed cost of each pass, which dominates "
            "for a few inputs; with hundreds of inputs both spend their time on the same "
            "arithmetic and on drawing the masks, so the gain fades.\n\n"
            + table(["samples T", "query points n", "loop", "batched", "speed-up", "goal"], rows))
    return Section(5, text, goals)


# --- 6. the book ------------------------------------------------------------------------------

def book(repeats: int) -> Section:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    times, html = [], None
    for _ in range(repeats):
        out = Path(tempfile.mkdtemp(prefix="bench-book-"))
        start = time.perf_counter()
        subprocess.run([str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "-q"],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        if html is not None:
            shutil.rmtree(html.parent.parent)
        html = out / "_build" / "html"
    pages = []
    for page in html.rglob("*.html"):
        size = page.stat().st_size
        for source in set(re.findall(r'<img[^>]+src="([^"]+)"', page.read_text(errors="ignore"))):
            image = (page.parent / source).resolve()
            if image.is_file():
                size += image.stat().st_size
        pages.append((size, page.relative_to(html)))
    site = sum(f.stat().st_size for f in html.rglob("*") if f.is_file())
    largest_size, largest = max(pages)
    shutil.rmtree(html.parent.parent)
    median = statistics.median(times)
    rows = [
        ["build from stored outputs (median)", f"{median:.1f} s", verdict(median < 60)],
        ["site on disk", f"{site / 2**20:.1f} MiB", ""],
        [f"largest page with its images (`{largest}`)", f"{largest_size / 2**20:.2f} MiB", ""],
        ["HTML pages", str(len(pages)), ""],
    ]
    text = ("## 6. The website (goal: build under 60 s)\n\n"
            f"`jupyter-book build` into a fresh folder, median of {repeats} run(s).\n\n"
            + table(["what", "value", "goal"], rows))
    return Section(6, text, [("book build from stored outputs under 60 s",
                              f"{median:.1f} s", median < 60)])


# --- main -------------------------------------------------------------------------------------

SECTIONS = ("notebooks", "tests", "clone", "dropout", "cost", "mc", "book")


def goals_table(sections: list[Section]) -> str:
    rows = [[goal, figure, verdict(met)] for section in sections
            for goal, figure, met in section.goals]
    met = sum(1 for section in sections for *_, ok in section.goals if ok)
    return (f"## Goals: {met} of {len(rows)} met\n\n"
            "Every figure below comes from this one run; the sections after it give the "
            "detail.\n\n" + table(["goal", "measured", "verdict"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs per measurement for the kernels and MC (median)")
    parser.add_argument("--notebook-repeats", type=int, default=3,
                        help="passes over the notebooks, and book builds (median)")
    parser.add_argument("--skip", default="",
                        help="comma-separated, from: " + ",".join(SECTIONS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(SECTIONS):
        parser.error(f"unknown section(s) to skip: {', '.join(sorted(skip - set(SECTIONS)))}")

    torch.set_num_threads(1)  # the course's setting; sections that compare say so
    started, load_before = time.perf_counter(), load()
    # Short measurements first, the long runs last; the report keeps the numbered order.
    steps = [("dropout", lambda: dropout_kernels(args.repeats)),
             ("cost", lambda: dropout_cost(args.repeats)),
             ("mc", lambda: mc_dropout(args.repeats)),
             ("book", lambda: book(args.notebook_repeats)),
             ("notebooks", lambda: notebooks(args.notebook_repeats))]
    if not {"tests", "clone"} <= skip:
        steps.append(("tests", lambda: test_suite(clone="clone" not in skip,
                                                  here="tests" not in skip)))
    measured = []
    for name, step in steps:
        if name in skip:
            continue
        print(f"benchmarking: {name}", file=sys.stderr)
        measured.append(step())
    measured.sort(key=lambda section: section.number)
    report = "\n\n".join(
        ["# Benchmark results\n\nMade by `make bench` (`python benchmarks/bench.py"
         + (f" --skip {args.skip}" if skip else "") + "`).\n",
         machine(load_before, load()), goals_table(measured)]
        + [section.text for section in measured]
        + [f"Whole benchmark: {time.perf_counter() - started:.0f} s."]) + "\n"
    print(report)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
