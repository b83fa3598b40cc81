"""The built website, page by page, in headless Chromium (Debian's /usr/bin/chromium).

Every page listed in `_toc.yml` is served from 127.0.0.1 and opened with Playwright. On each:
no local request fails; every image has loaded and every figure has alt text; no raw MyST
shows in the text; the navigation lists every page of `_toc.yml` with the right chapter
number; each exercise is numbered like its label and links to its solution; every folded
block (hints, solutions) stays hidden until clicked. A screenshot of each page is saved
under `_build/screenshots/`. Skipped, with the reason in the summary, without Chromium.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
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

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - playwright is pinned in requirements.txt
    sync_playwright = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"browser test skipped: no Chromium at {CHROMIUM} "
                              "(install it with `apt-get install chromium`)"),
    pytest.mark.skipif(sync_playwright is None,
                       reason="browser test skipped: playwright is not installed (make setup)"),
]

# MyST that failed to parse shows as text: a fence, a directive option, or a role.
RAW_MYST = re.compile(r"(^|\n)\s*(:::|```|:label:|:class:)|\{[a-zA-Z][\w:+-]*\}`")
# Where a failed fence or role would end up: text blocks outside code.
TEXT_BLOCKS = ("p, li, dt, dd, td, th, h1, h2, h3, h4, h5, h6, caption, figcaption, "
               ".admonition-title")
# A figure drawn wider than the text column is scaled down, and its labels with it.
MIN_FIGURE_SCALE = 0.6
EXERCISE_LABEL = re.compile(r"^ex-(\d+)-(\d+)$")
CHAPTER_FILE = re.compile(r"^(\d\d)_")


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


# --- the checks ----------------------------------------------------------------------------


def open_page(browser, site: str, path: str):
    """Open one page; return it with the local requests that failed while loading."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []

    def only_local(route):
        # Nothing leaves the machine: fonts or MathJax from a CDN are not part of the test.
        if route.request.url.startswith(site):
            route.continue_()
        else:
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
    return page, failed


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


def screenshot(page, path: str) -> Path:
    target = SCREENSHOTS / Path(path).with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target


# --- the test ------------------------------------------------------------------------------


def test_every_page_in_chromium(site, browser):
    pages = toc_pages()
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    problems: dict[str, list[str]] = {}
    solution_links: list[tuple[str, str]] = []
    solution_pages_seen = 0
    navigation_problems: set[str] = set()
    for entry in pages:
        path = page_path(entry["file"])
        page, failed = open_page(browser, site, path)
        try:
            found = [f"request failed: {request}" for request in failed]
            found += check_images(page)
            found += check_raw_myst(page)
            # The navigation is the same on every page: report each of its problems once.
            navigation = [problem for problem in check_navigation(page, site, pages)
                          if problem not in navigation_problems]
            navigation_problems.update(navigation)
            found += navigation
            exercise_problems, links = check_exercises(page)
            found += exercise_problems
            solution_links += links
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
            screenshot(page, path)  # as the reader first sees it, before any click
            solutions_here = page.locator("div.solution").count()
            if entry["part"] == "Solutions":
                solution_pages_seen += 1
                if not solutions_here:
                    found.append("a page of the Solutions part without solution blocks")
            found += check_folded_blocks(page)[0]
        finally:
            page.close()
        if found:
            problems[path] = found

    # Every exercise's solution link leads to a solution block with that label.
    targets: dict[str, set[str]] = {}
    for label, href in solution_links:
        url = urldefrag(href)[0]
        if url not in targets:
            page, _ = open_page(browser, site, url[len(site):])
            targets[url] = set(page.evaluate(
                "Array.from(document.querySelectorAll('div.solution[id]')).map(s => s.id)"))
            page.close()
        if label not in targets[url]:
            problems.setdefault("solution links", []).append(f"{href} has no solution {label}")

    assert not problems, "\n".join(
        f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items())
    assert solution_pages_seen, "no page of a 'Solutions' part was checked"
    assert solution_links, "no exercise with a solution link was found"
    shots = sorted(SCREENSHOTS.rglob("*.png"))
    assert len(shots) == len(pages), (len(shots), len(pages))
    print(f"checked {len(pages)} pages; screenshots in {SCREENSHOTS.relative_to(ROOT)}/")
