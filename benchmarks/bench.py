"""What learners wait for, and what the library's code costs next to PyTorch (`make bench`).

Usage: python benchmarks/bench.py [--repeats N] [--notebook-repeats N] [--skip notebooks,book]

Prints one markdown report and writes it to benchmarks/RESULTS.md, with the machine it ran on.
Every time is the median of several runs; every ratio compares times taken in the same run, with
the candidates interleaved so that a slow moment of the machine hits both sides. Speed is shown
here and never asserted in a test.

Sections (the goals come from the course's performance issue):
1. each notebook executed top to bottom in a fresh kernel (goal: under 30 s each);
2. the reference dropout against torch.nn.functional.dropout, forward and forward+backward,
   with the bytes per second of both next to a plain copy `x.clone()` (goal: at most 1.5x at
   10^6 and 10^7 elements);
3. MC-dropout prediction with T = 100 samples on chapter 6's model: one batched forward pass
   against a Python loop of T passes (goal: at least 5x);
4. the book build from stored outputs (goal: under 60 s), the site's size and its largest page.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as torch_F

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


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


def goal(met: bool) -> str:
    return "met" if met else "**missed**"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- the machine ------------------------------------------------------------------------------

def machine() -> str:
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
        ["torch threads", str(torch.get_num_threads())],
        ["torch", torch.__version__],
        ["CPU kernels (ATEN_CPU_CAPABILITY)", os.environ.get("ATEN_CPU_CAPABILITY", "auto")],
        ["Python", platform.python_version()],
        ["OS", platform.platform()],
        ["date (UTC)", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")],
    ]
    return table(["machine", ""], rows)


# --- 1. notebooks -----------------------------------------------------------------------------

def notebooks(repeats: int) -> str:
    """Execute each notebook in a fresh kernel without writing it back; median wall time."""
    import nbformat
    from nbclient import NotebookClient

    paths = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    paths += sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    rows, total = [], 0.0
    for path in paths:
        times = []
        for _ in range(repeats):
            notebook = nbformat.read(path, as_version=4)
            client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}})
            start = time.perf_counter()
            client.execute()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        total += median
        rows.append([f"`{path.parent.name}/{path.name}`", f"{median:.1f} s",
                     f"{min(times):.1f} to {max(times):.1f} s", goal(median < 30)])
        print(f"  {path.parent.name}/{path.name}: {median:.1f} s", file=sys.stderr)
    rows.append(["**all notebooks, one after another**", f"{total:.1f} s", "", ""])
    return ("## 1. Notebooks, top to bottom in a fresh kernel (goal: each under 30 s)\n\n"
            f"Median of {repeats} run(s) each, kernel start included.\n\n"
            + table(["notebook", "median", "range", "goal"], rows))


# --- 2. reference dropout ---------------------------------------------------------------------

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


def dropout_kernels(repeats: int) -> str:
    rows = []
    for n in (10**4, 10**6, 10**7):
        # More runs where one run is short, so each size takes a similar, small time.
        times = time_dropout(n, repeats * (20 if n <= 10**4 else 3 if n <= 10**6 else 1))
        traffic = 2 * 4 * n  # bytes a forward pass must move at least: read x, write the output
        for kind in ("fwd", "fwd+bwd"):
            ratio = times[f"ours {kind}"] / times[f"torch {kind}"]
            bandwidth = [f"{traffic / times[key] / 1e9:.1f}" if kind == "fwd" else ""
                         for key in (f"torch {kind}", f"ours {kind}", "clone")]
            rows.append([
                f"10^{len(str(n)) - 1}", kind, seconds(times[f"torch {kind}"]),
                seconds(times[f"ours {kind}"]), f"{ratio:.2f}x", *bandwidth,
                goal(ratio <= 1.5) if n >= 10**6 else "(no goal)",
            ])
    return ("## 2. Reference dropout against `torch.nn.functional.dropout` "
            "(float32, p = 0.5; goal: at most 1.5x at 10^6 and 10^7)\n\n"
            "GB/s counts the bytes a forward pass must move (read x, write the output); "
            "`x.clone()` moves the same bytes and is the practical memory-bandwidth bound. "
            "Dropout also draws one random number per element, which costs more than the copy.\n\n"
            + table(["elements", "pass", "torch", "ours", "ours / torch", "torch GB/s",
                     "ours GB/s", "clone GB/s", "goal"], rows))


# --- 3. MC dropout ----------------------------------------------------------------------------

def mc_dropout(repeats: int, samples: int = 100) -> str:
    from dropout_lib import mc, uncertainty

    model, split = uncertainty.chapter_model()  # trained as in the chapter, in float64
    rows = []
    for n_query in (1, 10, 100, len(split.x_holdout)):
        x = split.x_holdout[:n_query]
        generator = torch.Generator().manual_seed(0)
        times = interleaved_medians({
            "loop": lambda x=x, g=generator: mc.mc_predict(model, x, samples, generator=g,
                                                           batched=False),
            "batched": lambda x=x, g=generator: mc.mc_predict(model, x, samples, generator=g),
        }, repeats * 3)
        speedup = times["loop"] / times["batched"]
        rows.append([f"{samples}", f"{n_query}", seconds(times["loop"]),
                     seconds(times["batched"]), f"{speedup:.1f}x", goal(speedup >= 5)])
    return ("## 3. MC dropout, chapter 6's model (goal: batched at least 5x faster)\n\n"
            "`mc.mc_predict` (one forward pass over all samples) against "
            "`mc.mc_predict(..., batched=False)` (a Python loop of forward passes), on the first "
            "n holdout inputs of the chapter's 1-64-64-1 network. Batching removes the fixed "
            "cost of each pass, which dominates for a few inputs; with hundreds of inputs both "
            "spend their time on the same arithmetic and on drawing the masks, so the gain "
            "fades.\n\n"
            + table(["samples T", "query points n", "loop", "batched", "speed-up", "goal"], rows))


# --- 4. the book ------------------------------------------------------------------------------

def book(repeats: int) -> str:
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
        ["build from stored outputs (median)", f"{median:.1f} s", goal(median < 60)],
        ["site on disk", f"{site / 2**20:.1f} MiB", ""],
        [f"largest page with its images (`{largest}`)", f"{largest_size / 2**20:.2f} MiB", ""],
        ["HTML pages", str(len(pages)), ""],
    ]
    return ("## 4. The website (goal: build under 60 s)\n\n"
            f"`jupyter-book build` into a fresh folder, median of {repeats} run(s).\n\n"
            + table(["what", "value", "goal"], rows))


# --- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs per measurement for the kernels and MC (median)")
    parser.add_argument("--notebook-repeats", type=int, default=3,
                        help="runs per notebook and per book build (median)")
    parser.add_argument("--skip", default="", help="comma-separated: notebooks,dropout,mc,book")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    started = time.perf_counter()
    sections = ["# Benchmark results\n\nMade by `make bench` (`python benchmarks/bench.py`).\n",
                machine()]
    # The short measurements run first, the notebooks last; the report keeps the numbered order.
    steps = [(2, "dropout", lambda: dropout_kernels(args.repeats)),
             (3, "mc", lambda: mc_dropout(args.repeats)),
             (4, "book", lambda: book(args.notebook_repeats)),
             (1, "notebooks", lambda: notebooks(args.notebook_repeats))]
    measured = {}
    for number, name, step in steps:
        if name in skip:
            continue
        print(f"benchmarking: {name}", file=sys.stderr)
        measured[number] = step()
    sections += [measured[number] for number in sorted(measured)]
    sections.append(f"Whole benchmark: {time.perf_counter() - started:.0f} s.")
    report = "\n\n".join(sections) + "\n"
    print(report)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
