"""The built website, page by page, in headless Chromium (Debian's /usr/bin/chromium).

Every page listed in `_toc.yml` is served from 127.0.0.1 and opened with Playwright, with
every request outside the site blocked (a reader offline). One visit per page (the `survey`
fixture) gathers what the tests below assert:

- no local request fails; every image has loaded and every figure has alt text; no raw MyST
  shows; the navigation lists every page with the right chapter number; each exercise is
  numbered like its label and links to its solution; folded blocks (hints, solutions) stay
  hidden until clicked; notebook pages have their Colab, Binder and download buttons;
- every formula is typeset by the bundled MathJax (an `mjx-container` in every `.math`
  element, no MathJax error, no raw TeX left in the text), and nothing asks the network;
- no code or output block is cut (scroll width beyond its client width) at 1280 px or at a
  phone's 390 px, and the page itself never scrolls sideways; tables may scroll inside the
  theme's scrollable table container, and only there;
- axe-core (bundled by axe-playwright-python) finds no serious or critical violation, in
  light mode and in dark mode; in dark mode every figure sits on a light frame.

Screenshots: `_build/screenshots/PAGE.png` (light, 1280 px) and `_build/screenshots/dark/`.
`test_search` types a term into the site's search; `test_pdf` checks `make pdf`'s book;
`test_jupyterlab_numbers_exercises_like_the_book` opens a chapter in a real JupyterLab.
Skipped, with the reason in the summary, without Chromium.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = ROOT / "_build" / "screenshots"
DESKTOP, PHONE = 1280, 390

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - playwright is pinned in requirements.txt
    sync_playwright = None
try:
    from axe_playwright_python.sync_playwright import Axe
except ImportError:  # pragma: no cover - pinned in requirements.txt
    Axe = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"browser test skipped: no Chromium at {CHROMIUM} "
                              "(install it with `apt-get install chromium`)"),
    pytest.mark.skipif(sync_playwright is None or Axe is None,
                       reason="browser test skipped: playwright or axe-playwright-python is "
                              "not installed (make setup)"),
]

# MyST that failed to parse shows as text: a fence, a directive option, or a role.
RAW_MYST = re.compile(r"(^|\n)\s*(:::|```|:label:|:class:)|\{[a-zA-Z][\w:+-]*\}`")
# Where a failed fence or role would end up: text blocks outside code.
TEXT_BLOCKS = ("p, li, dt, dd, td, th, h1, h2, h3, h4, h5, h6, caption, figcaption, "
               ".admonition-title")
# TeX that MathJax did not typeset: its delimiters, or a command, left in the text.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\(frac|sum|mathbb|text|hat|sqrt)\b")
# A figure drawn wider than the text column is scaled down, and its labels with it.
MIN_FIGURE_SCALE = 0.6
EXERCISE_LABEL = re.compile(r"^ex-(\d+)-(\d+)$")
CHAPTER_FILE = re.compile(r"^(\d\d)_")
# axe-core impacts that fail the test; minor and moderate ones are counted and printed.
BLOCKING_IMPACTS = ("serious", "critical")
COLOUR_RULES = ("color-contrast", "link-in-text-block")
NO_TRANSITIONS = ("*, *::before, *::after "
                  "{ transition: none !important; animation: none !important; }")


# --- the table of contents -----------------------------------------------------------------


def toc_pages() -> list[dict]:
    """Every page of `_toc.yml` in order: file, part caption, and whether its part is numbered."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [{"file": toc["root"], "part": None, "numbered": False}]

    def walk(entries, part, numbered):
        for entry in entries or []:
            if "file" in entry:
                pages.append({"file": entry["file"], "part": part, "numbered": numbered})
            walk(entry.get("sections"), part, numbered)

    for part in toc.get("parts", []):
        walk(part.get("chapters"), part.get("caption"), bool(part.get("numbered")))
    walk(toc.get("chapters"), None, False)
    return pages


def page_path(file: str) -> str:
    return str(Path(file).with_suffix("")) + ".html"


def is_notebook(file: str) -> bool:
    return (ROOT / file).with_suffix(".ipynb").exists()


# --- fixtures: a local server and one browser for the module ---------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def site(book_build):
    """The built HTML served on 127.0.0.1 by a local http.server thread; yields its base URL."""
    book_build.assert_ok()
    handler = functools.partial(QuietHandler, directory=str(book_build.html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# --- opening a page ----------------------------------------------------------------------------


def open_page(browser, site: str, path: str):
    """Open one page offline; return it, the local requests that failed, and the outside
    requests it tried (all blocked)."""
    page = browser.new_page(viewport={"width": DESKTOP, "height": 900})
    failed: list[str] = []
    outside: list[str] = []

    def only_local(route):
        # Nothing leaves the machine: the site must work offline.
        if route.request.url.startswith(site):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def request_failed(request):
        if request.url.startswith(site):
            failed.append(f"{request.url} ({request.failure})")

    def response(response):
        if response.url.startswith(site) and response.status >= 400:
            failed.append(f"{response.url} (HTTP {response.status})")

    page.route("**/*", only_local)
    page.on("requestfailed", request_failed)
    page.on("response", response)
    page.goto(site + path, wait_until="load")
    # Load every image now, lazy or not, and wait until each has finished one way or the other.
    page.evaluate("document.querySelectorAll('img').forEach(img => img.loading = 'eager')")
    page.wait_for_function("Array.from(document.images).every(img => img.complete)",
                           timeout=15_000)
    # MathJax typesets after `load`; wait for it (and for its fonts) where the page has math.
    page.evaluate("""async () => {
        if (window.MathJax && MathJax.startup && MathJax.startup.promise)
            await MathJax.startup.promise;
        await document.fonts.ready;
    }""")
    return page, failed, outside


def set_theme(page, theme: str) -> None:
    """Switch the theme as its own toggle does (the `data-theme` and `data-mode` attributes),
    with CSS transitions off so that colours are final when measured."""
    page.add_style_tag(content=NO_TRANSITIONS)
    page.evaluate("""theme => {
        document.documentElement.dataset.theme = theme;
        document.documentElement.dataset.mode = theme;
    }""", theme)


# --- the checks ----------------------------------------------------------------------------


def check_images(page) -> list[str]:
    problems = []
    images = page.evaluate("""Array.from(document.images).map(img => ({
        src: img.getAttribute('src'), alt: img.getAttribute('alt') || '',
        loaded: img.naturalWidth > 0, output: !!img.closest('.cell_output, .output'),
        overflows: img.getBoundingClientRect().right > document.documentElement.clientWidth + 1,
        scale: img.naturalWidth ? img.getBoundingClientRect().width / img.naturalWidth : 1
    }))""")
    for image in images:
        if not image["loaded"]:
            problems.append(f"image did not load: {image['src']}")
        if image["output"]:
            # A notebook figure gets its alt text from the cell's metadata (see README).
            if not image["alt"].strip() or image["alt"] == image["src"] or re.search(
                    r"\.(png|jpe?g|svg|gif)$", image["alt"]):
                problems.append(f"figure without alt text: {image['src']} (give its cell "
                                'the metadata {"mystnb": {"image": {"alt": "..."}}})')
            if image["overflows"]:
                problems.append(f"figure wider than the page: {image['src']}")
            if image["scale"] < MIN_FIGURE_SCALE:
                problems.append(f"figure shrunk to {image['scale']:.0%} to fit the text column, "
                                f"too small to read: {image['src']} (make it at most about "
                                "9 inches wide, e.g. figsize=(9, 3.5))")
    return problems


def check_raw_myst(page) -> list[str]:
    texts = page.evaluate(f"""Array.from(document.querySelectorAll('main')).flatMap(main =>
        Array.from(main.querySelectorAll({TEXT_BLOCKS!r}))
            .filter(el => !el.closest('pre, .highlight, .cell_input'))
            .map(el => el.innerText))""")
    return [f"raw MyST in the text: {text.strip()[:120]!r}" for text in texts
            if RAW_MYST.search(text)]


def check_navigation(page, site: str, pages: list[dict]) -> list[str]:
    links = page.evaluate("""Array.from(document.querySelectorAll(
        '.bd-sidebar-primary a, .navbar-brand')).map(a => ({href: a.href, text: a.innerText}))""")
    listed = {}
    for link in links:
        listed.setdefault(urldefrag(link["href"])[0], " ".join(link["text"].split()))
    problems = []
    for entry in pages:
        url = urljoin(site, page_path(entry["file"]))
        if entry["part"] is None and entry["file"] == pages[0]["file"]:
            # The home page is the site's title link.
            if url not in listed and urljoin(site, "") not in listed:
                problems.append("the navigation has no link to the home page")
            continue
        if url not in listed:
            problems.append(f"the navigation does not list {entry['file']}")
            continue
        text, number = listed[url], CHAPTER_FILE.match(Path(entry["file"]).name)
        if entry["numbered"] and number:
            # Numbering runs on across parts: the number shown is the file's number, once.
            expected = f"{int(number.group(1))}. "
            if not text.startswith(expected) or re.match(r"\d+\.\s*\d+\.", text):
                problems.append(f"{entry['file']} is listed as {text!r}; expected {expected!r} "
                                "followed by a title without a number")
        elif not entry["numbered"] and re.match(r"\d+\.\s", text):
            problems.append(f"{entry['file']} is in an unnumbered part but listed as {text!r}")
    return problems


def check_exercises(page) -> tuple[list[str], list[tuple[str, str]]]:
    """Exercise numbers match their labels; each links to its solution. Returns (problems,
    [(solution label, absolute link)])."""
    exercises = page.evaluate("""Array.from(document.querySelectorAll('div.exercise')).map(ex => ({
        id: ex.id,
        number: (ex.querySelector('.caption-number') || {innerText: ''}).innerText.trim(),
        links: Array.from(ex.querySelectorAll('a')).map(a => a.href)
    }))""")
    problems, solution_links = [], []
    for exercise in exercises:
        label = EXERCISE_LABEL.match(exercise["id"])
        if not label:
            problems.append(f"exercise without an ex-N-k label: id={exercise['id']!r}")
            continue
        chapter, k = label.groups()
        if exercise["number"] != f"Exercise {chapter}.{k}":
            problems.append(f"{exercise['id']} is shown as {exercise['number']!r}, "
                            f"expected 'Exercise {chapter}.{k}'")
        wanted = f"sol-{chapter}-{k}"
        links = [href for href in exercise["links"] if urldefrag(href)[1] == wanted]
        if not links:
            problems.append(f"{exercise['id']} has no link to its solution; end the block with "
                            f"'Tried it? Compare with the {{ref}}`solution <{wanted}>`.'")
        else:
            solution_links.append((wanted, links[0]))
    return problems, solution_links


def check_folded_blocks(page) -> tuple[list[str], int]:
    """Hints and solutions are folded: content hidden, shown once the title is clicked."""
    problems = []
    unfolded = page.locator("div.solution:not(.dropdown)")
    if unfolded.count():
        problems.append(f"{unfolded.count()} solution(s) not folded; add ':class: dropdown'")
    blocks = page.locator("div.admonition.dropdown")
    for i in range(blocks.count()):
        block = blocks.nth(i)
        name = block.get_attribute("id") or f"folded block {i + 1}"
        # The toggle button, not the middle of the title: a solution's title links to its
        # exercise.
        button = block.locator(":scope > .admonition-title .toggle-button")
        body = block.locator(":scope > :not(.admonition-title)")
        if not body.count():
            problems.append(f"{name} has no content")
            continue
        if any(body.nth(j).is_visible() for j in range(body.count())):
            problems.append(f"{name} is visible before it is clicked")
            continue
        if not button.count():
            problems.append(f"{name} has no toggle button")
            continue
        url = page.url
        button.click()
        try:
            body.first.wait_for(state="visible", timeout=3_000)
        except Exception:  # playwright's TimeoutError
            problems.append(f"{name} stays hidden after a click on its toggle")
        assert page.url == url, f"clicking the toggle of {name} left the page"
    return problems, blocks.count()


def check_math(page) -> tuple[list[str], int]:
    """Every formula typeset by MathJax, none with an error, no raw TeX left in the text.
    Returns (problems, formulas typeset)."""
    math = page.evaluate("""() => {
        const formulas = Array.from(document.querySelectorAll('main .math'));
        const text = [];
        const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                                 NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode;
            const skip = 'pre, code, script, style, mjx-container, mjx-assistive-mml';
            if (!node.parentElement.closest(skip))
                text.push(node.textContent);
        }
        return {
            formulas: formulas.map(m => ({
                typeset: !!m.querySelector('mjx-container'),
                error: !!m.querySelector('mjx-merror'),
                tex: m.querySelector('mjx-container') ? '' : m.textContent.trim().slice(0, 80)})),
            text: text.join(''),
            brokenFonts: Array.from(document.fonts).filter(f => f.status === 'error')
                .map(f => f.family),
        };
    }""")
    problems = [f"formula not typeset: {f['tex']!r}" for f in math["formulas"] if not f["typeset"]]
    problems += ["a formula typeset with a MathJax error" for f in math["formulas"] if f["error"]]
    problems += [f"font did not load: {family}" for family in math["brokenFonts"]]
    raw = RAW_TEX.search(math["text"])
    if raw:
        start = max(raw.start() - 40, 0)
        problems.append(f"raw TeX in the text: {math['text'][start:raw.end() + 40]!r}")
    return problems, sum(f["typeset"] for f in math["formulas"])


MEASURE_BLOCKS = """() => {
    const blocks = [];
    const main = document.querySelector('main') || document.body;
    main.querySelectorAll('pre, .pst-scrollable-table-container, table').forEach(el => {
        const table = el.tagName === 'TABLE';
        const kind = el.matches('.pst-scrollable-table-container') ? 'table container'
            : table ? 'table'
            : el.closest('.cell_output, .output') ? 'output'
            : el.closest('.cell_input') ? 'notebook code'
            : 'code';
        const text = (el.innerText || el.textContent || '').trim();
        blocks.push({kind, scroll: el.scrollWidth, client: el.clientWidth,
                     first: text.split('\\n')[0].slice(0, 90)});
    });
    return {blocks, page: [document.documentElement.scrollWidth,
                           document.documentElement.clientWidth]};
}"""


@dataclass
class Cut:
    page: str
    width: int
    kind: str
    index: int
    first: str
    overflow: int

    def __str__(self) -> str:
        return (f"{self.page} at {self.width} px: {self.kind} block {self.index} is cut by "
                f"{self.overflow} px; its first line: {self.first!r}")


def measure_blocks(page, path: str, width: int) -> tuple[int, list[Cut], list[str]]:
    """Every code and output block (and table) at `width`: (blocks measured, blocks cut,
    problems). A block is cut when its content is wider than its box (it scrolls). Tables
    scroll by design only inside the theme's `.pst-scrollable-table-container`, which is
    counted but not a cut; the page itself must never scroll sideways."""
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(50)  # one layout pass at the new width
    measured = page.evaluate(MEASURE_BLOCKS)
    cuts, problems, count = [], [], Counter()
    for block in measured["blocks"]:
        count[block["kind"]] += 1
        if block["scroll"] <= block["client"] + 1 or block["kind"] == "table container":
            continue
        if block["kind"] == "table":
            continue  # a table's own box grows with it; its container is what scrolls
        cuts.append(Cut(path, width, block["kind"], count[block["kind"]], block["first"],
                        block["scroll"] - block["client"]))
    page_scroll, page_client = measured["page"]
    if page_scroll > page_client + 1:
        problems.append(f"at {width} px the page scrolls sideways ({page_scroll} px of content "
                        f"in {page_client} px)")
    blocks = sum(n for kind, n in count.items() if kind not in ("table",))
    return blocks, cuts, problems


def scrolling_tables(page) -> int:
    return page.evaluate("""Array.from(document.querySelectorAll(
        'main .pst-scrollable-table-container')).filter(c => c.scrollWidth > c.clientWidth + 1)
        .length""")


def check_accessibility(page, axe, theme: str) -> tuple[list[str], Counter]:
    """axe-core on the whole page: (serious or critical violations, count of every violation
    by impact and rule). Light mode runs every rule; dark mode changes only colours, so there
    it runs the rules that read colours (the others would repeat the light run's results)."""
    options = {"resultTypes": ["violations"]}
    if theme != "light":
        options["runOnly"] = {"type": "rule", "values": list(COLOUR_RULES)}
    results = axe.run(page, options=options).response
    blocking, counts = [], Counter()
    for violation in results["violations"]:
        impact = violation.get("impact") or "minor"
        counts[(impact, violation["id"])] += len(violation["nodes"])
        if impact in BLOCKING_IMPACTS:
            targets = ", ".join(" ".join(map(str, node["target"]))
                                for node in violation["nodes"][:3])
            summary = (violation["nodes"][0].get("failureSummary") or "").replace("\n", " ")
            blocking.append(f"{theme} mode, axe {impact} {violation['id']} "
                            f"({len(violation['nodes'])}x: {targets}): {summary[:240]}")
    return blocking, counts


def check_dark_figures(page) -> tuple[list[str], int]:
    """In dark mode each notebook figure sits on a light frame: a near-white background with
    some padding around the white PNG, so that its black axes and labels stay readable."""
    figures = page.evaluate("""Array.from(document.querySelectorAll('main .cell_output img'))
        .map(img => {
            const style = getComputedStyle(img);
            return {src: img.getAttribute('src'), background: style.backgroundColor,
                    padding: parseFloat(style.paddingLeft) + parseFloat(style.paddingTop)};
        })""")
    problems = []
    for figure in figures:
        rgb = [int(v) for v in re.findall(r"\d+", figure["background"])[:3]] or [0, 0, 0]
        alpha = re.findall(r"[\d.]+", figure["background"])
        opaque = len(alpha) < 4 or float(alpha[3]) > 0.9
        if min(rgb) < 230 or not opaque or figure["padding"] < 4:
            problems.append(f"dark mode: figure {figure['src']} has no light frame "
                            f"(background {figure['background']}, padding {figure['padding']} px)")
    return problems, len(figures)


def screenshot(page, path: str, theme: str = "light") -> Path:
    folder = SCREENSHOTS if theme == "light" else SCREENSHOTS / theme
    target = folder / Path(path).with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target


# --- one visit per page ------------------------------------------------------------------------


@dataclass
class Survey:
    """What one visit of every page found, by test."""

    pages: list[dict]
    problems: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    solution_links: list[tuple[str, str]] = field(default_factory=list)
    solution_pages_seen: int = 0
    formulas: int = 0
    blocks: Counter = field(default_factory=Counter)
    cuts: list[Cut] = field(default_factory=list)
    scrolling_tables: Counter = field(default_factory=Counter)
    violations: Counter = field(default_factory=Counter)
    dark_figures: int = 0
    seconds: float = 0.0

    def add(self, path: str, category: str, found: list[str]) -> None:
        if found:
            self.problems.setdefault(category, {}).setdefault(path, []).extend(found)

    def report(self, *categories: str) -> str:
        return "\n".join(f"{path}:\n  " + "\n  ".join(found)
                         for category in categories
                         for path, found in self.problems.get(category, {}).items())

    def summary(self) -> dict:
        cut = Counter((c.width, c.kind) for c in self.cuts)
        return {
            "pages": len(self.pages), "seconds": round(self.seconds, 1),
            "formulas typeset": self.formulas,
            "blocks measured": {str(width): self.blocks[width] for width in (DESKTOP, PHONE)},
            "blocks cut": {f"{width} px {kind}": n for (width, kind), n in sorted(cut.items())},
            "cut blocks": [str(c) for c in self.cuts],
            "tables that scroll by design": {str(w): n for w, n in self.scrolling_tables.items()},
            "axe violations (impact, rule, theme): elements": {
                f"{impact} {rule} ({theme})": n
                for (theme, impact, rule), n in sorted(self.violations.items())},
            "figures on a light frame in dark mode": self.dark_figures,
        }


def is_part_b_cut(cut: Cut) -> bool:
    """Notebook code too long for the desktop column: the notebooks' lines must shrink."""
    return cut.width == DESKTOP and cut.kind == "notebook code"


def visit(browser, site: str, entry: dict, pages: list[dict], survey: Survey,
          navigation_seen: set[str], axe) -> None:
    path = page_path(entry["file"])
    page, failed, outside = open_page(browser, site, path)
    try:
        # The checks kept from the first browser test, at 1280 px in light mode.
        found = [f"request failed: {request}" for request in failed]
        found += check_images(page)
        found += check_raw_myst(page)
        # The navigation is the same on every page: report each of its problems once.
        navigation = [problem for problem in check_navigation(page, site, pages)
                      if problem not in navigation_seen]
        navigation_seen.update(navigation)
        found += navigation
        exercise_problems, links = check_exercises(page)
        found += exercise_problems
        survey.solution_links += links
        if is_notebook(entry["file"]):
            for what, selector in [("Colab", "a[href*='colab.research.google.com']"),
                                   ("Binder", "a[href*='mybinder.org']"),
                                   ("download", "a.btn-download-source-button")]:
                if not page.locator(selector).count():
                    found.append(f"no {what} button")
            download = page.locator("a.btn-download-source-button[href$='.ipynb']")
            if download.count():
                href = urljoin(page.url, download.first.get_attribute("href"))
                if page.request.get(href).status != 200:
                    found.append(f"the notebook download {href} does not load")
            else:
                found.append("no download link to the .ipynb")
        if entry["part"] == "Solutions":
            survey.solution_pages_seen += 1
            if not page.locator("div.solution").count():
                found.append("a page of the Solutions part without solution blocks")

        # Formulas, offline.
        math_problems, typeset = check_math(page)
        survey.formulas += typeset
        survey.add(path, "math", math_problems)
        survey.add(path, "offline", [f"asked the network for {url}" for url in outside])

        screenshot(page, path)  # as the reader first sees it, before any click

        # Accessibility in light mode, then dark mode (with its figures and its screenshot).
        set_theme(page, "light")
        blocking, counts = check_accessibility(page, axe, "light")
        survey.add(path, "accessibility", blocking)
        survey.violations.update({("light", *key): n for key, n in counts.items()})
        set_theme(page, "dark")
        blocking, counts = check_accessibility(page, axe, "dark")
        survey.add(path, "accessibility", blocking)
        survey.violations.update({("dark", *key): n for key, n in counts.items()})
        figure_problems, figures = check_dark_figures(page)
        survey.dark_figures += figures
        survey.add(path, "accessibility", figure_problems)
        screenshot(page, path, "dark")
        set_theme(page, "light")

        # Every block at a desktop width and at a phone's.
        for width in (DESKTOP, PHONE):
            blocks, cuts, layout = measure_blocks(page, path, width)
            survey.blocks[width] += blocks
            survey.cuts += cuts
            survey.scrolling_tables[width] += scrolling_tables(page)
            survey.add(path, "layout", layout + [str(c) for c in cuts if not is_part_b_cut(c)])
            survey.add(path, "part B", [str(c) for c in cuts if is_part_b_cut(c)])
        page.set_viewport_size({"width": DESKTOP, "height": 900})

        found += check_folded_blocks(page)[0]  # last: it clicks every toggle
        survey.add(path, "page", found)
    finally:
        page.close()


@pytest.fixture(scope="module")
def survey(site, browser) -> Survey:
    start = time.perf_counter()
    pages = toc_pages()
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    result, navigation_seen, axe = Survey(pages), set(), Axe()
    for entry in pages:
        visit(browser, site, entry, pages, result, navigation_seen, axe)

    # Every exercise's solution link leads to a solution block with that label.
    targets: dict[str, set[str]] = {}
    for label, href in result.solution_links:
        url = urldefrag(href)[0]
        if url not in targets:
            page, _, _ = open_page(browser, site, url[len(site):])
            targets[url] = set(page.evaluate(
                "Array.from(document.querySelectorAll('div.solution[id]')).map(s => s.id)"))
            page.close()
        if label not in targets[url]:
            result.add("solution links", "page", [f"{href} has no solution {label}"])
    result.seconds = time.perf_counter() - start
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "survey.json").write_text(json.dumps(result.summary(), indent=1) + "\n")
    return result


# --- the tests -------------------------------------------------------------------------------


def test_every_page_in_chromium(survey):
    assert not survey.problems.get("page"), survey.report("page")
    assert survey.solution_pages_seen, "no page of a 'Solutions' part was checked"
    assert survey.solution_links, "no exercise with a solution link was found"
    shots = [path.relative_to(SCREENSHOTS) for path in SCREENSHOTS.rglob("*.png")]
    light = [shot for shot in shots if shot.parts[0] != "dark"]
    dark = [shot for shot in shots if shot.parts[0] == "dark"]
    assert len(light) == len(dark) == len(survey.pages), (len(light), len(dark), len(survey.pages))
    print(f"checked {len(survey.pages)} pages in {survey.seconds:.0f} s; "
          f"screenshots in {SCREENSHOTS.relative_to(ROOT)}/ (dark mode in dark/), "
          f"summary in {SCREENSHOTS.relative_to(ROOT)}/survey.json")


def test_every_formula_is_typeset_offline(survey):
    assert not survey.problems.get("math") and not survey.problems.get("offline"), \
        survey.report("math", "offline")
    assert survey.formulas, "no formula found on any page"
    print(f"{survey.formulas} formulas typeset by the bundled MathJax, offline")


def test_no_block_is_cut(survey):
    """Outputs wrap, phones wrap code, tables scroll only in their container, and no page
    scrolls sideways, at 1280 px and at 390 px."""
    assert survey.blocks[DESKTOP] and survey.blocks[PHONE], "no code or output block measured"
    assert not survey.problems.get("layout"), survey.report("layout")
    print(json.dumps({key: value for key, value in survey.summary().items()
                      if key.startswith(("blocks", "tables"))}, indent=1))


def test_notebook_code_fits_the_column_at_1280(survey):
    assert not survey.problems.get("part B"), survey.report("part B")


def test_accessible_in_light_and_dark_mode(survey):
    assert not survey.problems.get("accessibility"), survey.report("accessibility")
    assert survey.dark_figures, "no figure was checked in dark mode"
    print(json.dumps(survey.summary()["axe violations (impact, rule, theme): elements"], indent=1))


def test_search(site, browser):
    """The site's own search box finds a term of the course and links to its chapter."""
    page, failed, _ = open_page(browser, site, "index.html")
    try:
        page.locator("button.search-button__button:visible").first.click()
        box = page.locator("input[name='q']:visible").first
        box.fill("Bernoulli")
        box.press("Enter")
        page.wait_for_url(re.compile(r"search\.html\?q=Bernoulli"), timeout=10_000)
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=15_000)
        hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    finally:
        page.close()
    assert not failed, failed
    assert any("02_dropout_from_scratch" in href for href in hrefs), hrefs


def test_chapter_2_animation_plays_offline(site, browser):
    """The masks animation: its frames are in the page, and Next and Play move them, offline."""
    page, failed, outside = open_page(browser, site, page_path(
        "chapters/02_dropout_from_scratch"))
    try:
        player = page.locator("div.animation")
        assert player.count() == 1, "chapter 2 should show one animation"
        image = player.locator("img")
        player.locator("button[aria-label='Pause']").click()
        player.locator("button[aria-label='First frame']").click()
        first = image.get_attribute("src")
        player.locator("button[aria-label='Next frame']").click()
        second = image.get_attribute("src")
        slider = player.locator("input[type=range]").input_value()
        player.locator("button[aria-label='Play']").click()
        page.wait_for_function(
            "src => document.querySelector('div.animation img').src !== src", arg=second,
            timeout=5_000)
        alt = image.get_attribute("alt")
    finally:
        page.close()
    assert not failed and not outside, (failed, outside)
    assert first.startswith("data:image/png") and second != first and slider == "1"
    assert alt


# --- the whole book as a PDF -----------------------------------------------------------------

PDF = ROOT / "_build" / "pdf" / "book.pdf"
# 140 pages when this was written; the range leaves room for the chapters to grow or shrink.
PDF_PAGES = range(80, 301)


def notebook_title(path: Path) -> str:
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        match = re.search(r"^# (.+)$", source, re.M)
        if cell["cell_type"] == "markdown" and match:
            return match.group(1).strip()
    raise AssertionError(f"{path} has no title")


def first_folded_text(path: Path) -> str:
    """The first sentence-sized run of plain words inside a dropdown block of a notebook."""
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        for block in re.findall(r":class: dropdown\n(.*?)\n:::", source, re.S):
            words = re.findall(r"(?<![`$\\{])\b[A-Za-z]{3,}(?: [A-Za-z]{2,}){4,}", block)
            if words:
                return words[0]
    raise AssertionError(f"{path} has no dropdown block with plain text")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("ﬁ", "fi").replace("ﬀ", "ff").replace("ﬂ", "fl")


def test_pdf():
    """`make pdf` (tools/make_pdf.py) prints the whole book: it opens, its length is in range,
    it holds the first and the last chapter, and it prints folded hints and solutions open."""
    pypdf = pytest.importorskip("pypdf")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_pdf.py")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    reader = pypdf.PdfReader(PDF)
    text = squash("".join(page.extract_text() for page in reader.pages))
    chapters = [ROOT / f"{entry['file']}.ipynb" for entry in toc_pages()
                if entry["numbered"] and is_notebook(entry["file"])]
    for chapter in (chapters[0], chapters[-1]):
        assert squash(notebook_title(chapter)) in text, f"{chapter.name}'s title is not in the PDF"
    hint = first_folded_text(chapters[1])
    solution = first_folded_text(ROOT / "solutions" / f"{chapters[0].stem}_solutions.ipynb")
    for folded in (hint, solution):
        assert squash(folded) in text, f"a folded block is not printed open: {folded!r}"
    assert len(reader.pages) in PDF_PAGES, len(reader.pages)
    print(f"{result.stdout.strip()}; {len(reader.pages)} pages")


# --- the same book in JupyterLab ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab on 127.0.0.1 (a free port, no token) serving `tmp_path/notebooks`, with a
    fresh workspace; stopped after the test. Yields (base URL, notebook folder)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # JupyterLab 4 detaches the cells scrolled out of view ("windowing"), so an element found
    # a moment ago can vanish under the test's hand; render every cell, as a reader scrolls to it.
    settings = tmp_path / "settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    port = free_port()
    command = [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", "--IdentityProvider.token=",
               "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
               f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
               f"--LabApp.user_settings_dir={settings}",
               "--LabServerApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1", JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "api/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log_text = (tmp_path / "jupyterlab.log").read_text()
                pytest.fail("JupyterLab did not start:\n" + log_text)
            time.sleep(0.5)
        yield url, folder
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_jupyterlab_numbers_exercises_like_the_book(jupyterlab, browser):
    """In JupyterLab (jupyterlab-myst), a chapter given the numbering front matter of
    tools/number_exercises.py shows "Exercise 2.1" as the book and its check do; a hint
    opens when clicked; formulas render. Proven on a copy of chapter 2."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import number_exercises
    finally:
        sys.path.remove(str(ROOT / "tools"))
    import nbformat

    url, folder = jupyterlab
    chapter = ROOT / "chapters" / "02_dropout_from_scratch.ipynb"
    notebook = nbformat.read(chapter, as_version=4)
    number_exercises.add_front_matter(notebook, number_exercises.chapter_number(chapter))
    nbformat.write(notebook, folder / chapter.name)
    labels = re.findall(r":label: (ex-\d+-\d+)", "\n".join(
        cell.source for cell in notebook.cells if cell.cell_type == "markdown"))

    page = browser.new_page(viewport={"width": DESKTOP, "height": 900})
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(url) else route.abort())
    try:
        page.goto(f"{url}lab/tree/{chapter.name}", wait_until="load")
        page.locator("aside.myst-exercise").first.wait_for(timeout=90_000)
        # jupyterlab-myst renders and numbers the cells after they appear; wait until every
        # exercise has its number (textContent: cells out of view are not laid out).
        page.wait_for_function(f"""() => {{
            const shown = Array.from(document.querySelectorAll('aside.myst-exercise'));
            return shown.length === {len(labels)} && shown.every(ex =>
                /Exercise\\s+\\S+/.test(ex.querySelector('.myst-exercise-header').textContent));
        }}""", timeout=60_000)
        shown = page.evaluate("""Array.from(document.querySelectorAll('aside.myst-exercise'))
            .map(ex => [ex.id, ex.querySelector('.myst-exercise-header').textContent.trim()])""")
        for label, header in shown:
            chapter_number, k = EXERCISE_LABEL.match(label).groups()
            assert re.match(rf"Exercise {chapter_number}\.{k}\b", header), (label, header)
        assert [label for label, _ in shown] == labels

        hint = page.locator("details.dropdown").first
        hint.scroll_into_view_if_needed()
        assert hint.get_attribute("open") is None, "a hint is open before it is clicked"
        hint.locator("summary").click()
        hint.locator(":scope > :not(summary)").first.wait_for(state="visible", timeout=5_000)

        # The front-matter cell shows nothing; the title cell's formulas ($p$) are rendered.
        cells = page.locator(".jp-MarkdownCell")
        assert "numbering" not in cells.nth(0).inner_text(), "the front matter shows as text"
        title_cell = cells.nth(1)
        title_cell.locator(".katex, mjx-container").first.wait_for(timeout=20_000)
        assert "$" not in title_cell.inner_text(), "raw TeX in the rendered title cell"
    finally:
        page.close()
