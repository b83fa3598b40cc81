"""`make pdf`: the whole book as one PDF, `_build/pdf/book.pdf`.

Jupyter Book builds the book as a single HTML page (`--builder singlehtml`, warnings as
errors) into `_build/pdf/work/`; headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright, as in the browser test) opens it from a server on 127.0.0.1 with every outside
request blocked, waits until MathJax has typeset every formula and every figure has loaded,
and prints it with the print styles of `_static/custom.css` (hints and solutions open, code
wrapped). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "_build" / "pdf" / "work"
PDF = ROOT / "_build" / "pdf" / "book.pdf"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
FOOTER = ('<div style="font-size: 8px; width: 100%; text-align: center; color: #555;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def build_single_page() -> Path:
    """The strict single-page HTML build; returns the folder holding its index.html."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    shutil.rmtree(WORK, ignore_errors=True)
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--builder", "singlehtml",
         "--path-output", str(WORK), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900)
    if result.returncode:
        sys.exit("the single-page build failed:\n" + result.stdout[-4000:] + result.stderr[-4000:])
    return WORK / "_build" / "singlehtml"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def print_pdf(html: Path, target: Path) -> int:
    """Print `html/index.html` to `target` with Chromium; return the number of formulas."""
    from playwright.sync_api import sync_playwright

    handler = functools.partial(QuietHandler, directory=str(html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith(site) else route.abort())
            page.goto(site + "index.html", wait_until="load")
            page.evaluate("document.querySelectorAll('img').forEach(img => img.loading = 'eager')")
            page.wait_for_function("Array.from(document.images).every(img => img.complete)",
                                   timeout=60_000)
            formulas = page.evaluate("""async () => {
                if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
                const math = document.querySelectorAll('.math');
                const typeset = Array.from(math).filter(m => m.querySelector('mjx-container'));
                return [math.length, typeset.length];
            }""")
            if formulas[0] != formulas[1]:
                sys.exit(f"only {formulas[1]} of {formulas[0]} formulas were typeset")
            # Folded code cells (<details>) print open, as hints and solutions do (print CSS).
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            page.emulate_media(media="print")
            target.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(target), format="A4", print_background=True,
                     margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                     display_header_footer=True, header_template="<div></div>",
                     footer_template=FOOTER)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return formulas[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=PDF)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        sys.exit(f"make pdf prints with Chromium: none at {CHROMIUM} (apt-get install chromium)")
    start = time.perf_counter()
    html = build_single_page()
    formulas = print_pdf(html, args.output)
    size = args.output.stat().st_size / 2**20
    print(f"{args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
          f"{size:.1f} MiB, {formulas} formulas typeset, in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
