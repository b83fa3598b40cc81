"""Read a chapter as a fact-checker would: every number in its prose, and where it comes from.

The course promises that a number in the text either was printed by a cell above it or sits in
a sentence that cites its source. `unsupported_numbers` lists the numbers of a notebook's
markdown that break that promise; `tests/test_prose_numbers.py` fails on them.

What counts as the prose: every markdown cell, minus what is not a claim about results:
exercise and solution blocks and hint dropdowns (they pose tasks), math (formulas and their
constants), inline code and code blocks (settings written as code), link targets, and
structural numbers ("chapter 3", "Exercise 2.1", "section 7.4", "Table 2", "Fig. 9").

Where a number may come from:
- the text output of an earlier code cell, as printed, or rounded to the digits the prose
  gives (a printed 29.4% supports "29%", not "30.5%"); the sign may be said in words;
- the source of an earlier code cell, or of the code cell right after the text, for the
  settings of an experiment (`epochs=100`: prose often introduces the cell that follows);
- a formula shown so far (`$0.3^2 = 0.09$` supports "the noise floor of 0.09");
- a citation ({cite}`...`, {cite:t}`...`, {cite:p}`...`) in the same sentence, or, for a
  markdown table, in the same row or in its header row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

NUMBER = re.compile(r"(?<![\w.\-/^_])[-\u2212]?\d+(?:,\d{3})*(?:\.\d+)?(?:\s?%)?(?![\w])")
CITATION = re.compile(r"\{cite(?::[a-z]+)?\}`[^`]*`")
# Numbers that name a part of a text rather than state a result.
STRUCTURAL = re.compile(
    r"(?:\b(?:[Cc]hapters?|[Ee]xercises?|[Ss]ections?|§|[Tt]ables?|[Ff]ig(?:ure)?s?\.?|"
    r"[Ee]q(?:uation)?s?\.?|[Aa]ppendix|[Pp]arts?)\s*\(?)$")
RANGE_WORD = re.compile(r"(?:\s*(?:,|and|to|or|-|\u2013)\s*)$")
ABBREVIATIONS = ("et al.", "e.g.", "i.e.", "Fig.", "Eq.", "Sec.", "vs.", "cf.", "approx.",
                 "resp.", "No.")


@dataclass(frozen=True)
class Finding:
    """A number in the prose with no source: the cell it is in, the number, its sentence."""

    cell: int
    number: str
    sentence: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.number!r} in: {self.sentence[:160]}"


# --- turning markdown into checkable sentences ----------------------------------------------

def _strip_blocks(text: str) -> str:
    """Drop exercise and solution blocks and hint dropdowns (their numbers are givens)."""
    lines, out, depth = text.split("\n"), [], 0
    skipping_fence = None
    for line in lines:
        stripped = line.strip()
        if skipping_fence is not None:
            if stripped == skipping_fence:
                skipping_fence = None
            continue
        fence = re.match(r"^(:{3,}|`{3,})\s*\{(exercise|solution|admonition)\}(.*)$", stripped)
        if fence and (fence.group(2) != "admonition" or "hint" in fence.group(3).lower()):
            skipping_fence = fence.group(1)
            continue
        out.append(line)
    del depth
    return "\n".join(out)


def _strip_code_and_math(text: str) -> str:
    text = re.sub(r"```.*?```", " ", text, flags=re.S)          # fenced code and directives
    text = re.sub(r"\$\$.*?\$\$", " FORMULA ", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$[^$\n]+?(?<!\\)\$", " FORMULA ", text)
    text = re.sub(r"\\\(.*?\\\)", " FORMULA ", text, flags=re.S)
    text = re.sub(r"``[^`]+``|`[^`\n]+`", " CODE ", text)  # inline code (roles were kept)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return text


def _protect_roles(text: str) -> str:
    """Citations become a marker; other roles and links keep only the text a reader sees."""
    text = CITATION.sub(" CITATION ", text)
    text = re.sub(r"\{(?:ref|numref|doc|term|eq)\}`([^`<]*?)\s*(?:<[^>]*>)?`", r"\1", text)
    text = re.sub(r"\{[a-z:]+\}`([^`]*)`", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)       # [text](target)
    return text


def _sentences(paragraph: str) -> list[str]:
    protected = paragraph
    for i, abbreviation in enumerate(ABBREVIATIONS):
        protected = protected.replace(abbreviation, f"ABBREVIATION{i}")
    parts = re.split(r"(?<=[.!?:;])\s+(?=[A-Z(\[*\"'-])", protected)
    restored = []
    for part in parts:
        for i, abbreviation in enumerate(ABBREVIATIONS):
            part = part.replace(f"ABBREVIATION{i}", abbreviation)
        restored.append(part)
    return restored


def claims(markdown: str) -> list[tuple[str, bool]]:
    """(sentence, cites a source) for every sentence and table row of a markdown cell."""
    text = _strip_blocks(markdown)
    # Citations are found before code spans are removed (a role's key is in backticks).
    text = _protect_roles(text)
    text = _strip_code_and_math(text)
    found: list[tuple[str, bool]] = []
    table_header_cites = False
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        if lines and all(line.strip().startswith("|") for line in lines):
            table_header_cites = "CITATION" in lines[0]
            for line in lines:
                if re.fullmatch(r"\s*\|[\s:|-]+\|?\s*", line):
                    continue  # the separator row
                found.append((line.strip(), table_header_cites or "CITATION" in line))
            continue
        # Ordered-list markers ("2. ") are not numbers of the text.
        joined = " ".join(re.sub(r"^\s*\d+[.)]\s+", "", line).strip() for line in lines)
        for sentence in _sentences(joined):
            if sentence.strip():
                found.append((sentence.strip(), "CITATION" in sentence))
    return found


# --- numbers and their sources -------------------------------------------------------------

def _numbers(text: str) -> list[tuple[str, int]]:
    """(token, position) of every number in `text`, minus structural ones."""
    found = []
    for match in NUMBER.finditer(text):
        before = text[:match.start()]
        # "chapters 5 to 8": walk back over range words to the keyword.
        head = before
        while True:
            trimmed = RANGE_WORD.sub("", head)
            previous = re.search(r"(?<![\w.])\d+(?:\.\d+)?\s*$", trimmed)
            if trimmed != head and previous:
                head = trimmed[:previous.start()]
                continue
            break
        if STRUCTURAL.search(before.rstrip()) or STRUCTURAL.search(head.rstrip()):
            continue
        found.append((match.group(0), match.start()))
    return found


def _parse(token: str) -> tuple[Decimal, int, bool]:
    """(absolute value, decimals, is a percentage) of a number token."""
    percent = token.rstrip().endswith("%")
    digits = token.replace("%", "").replace(",", "").replace("\u2212", "-").strip().lstrip("-")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return Decimal(digits), decimals, percent


class Sources:
    """The numbers printed by the cells so far, and those written in their code."""

    def __init__(self) -> None:
        self.printed: set[tuple[Decimal, bool]] = set()
        self.tokens: set[str] = set()

    def add_output(self, text: str) -> None:
        for token, _ in _numbers_plain(text):
            value, _, percent = _parse(token)
            self.printed.add((value, percent))
            self.tokens.add(_canonical(token))

    def add_code(self, text: str) -> None:
        for token, _ in _numbers_plain(text):
            self.tokens.add(_canonical(token))

    def supports_setting(self, token: str) -> bool:
        """Only as written in code: a setting, not a result (0.2 in code supports "20%")."""
        if _canonical(token) in self.tokens:
            return True
        value, _, percent = _parse(token)
        return percent and any(_canonical(t) in self.tokens
                               for t in (f"{value / 100}", f"{value / 100:g}"))

    def supports(self, token: str) -> bool:
        if self.supports_setting(token):
            return True
        value, decimals, percent = _parse(token)
        quantum = Decimal(1).scaleb(-decimals)
        for printed, printed_percent in self.printed:
            if printed_percent != percent:
                continue
            for rounding in (ROUND_HALF_EVEN, ROUND_HALF_UP):
                if printed.quantize(quantum, rounding=rounding) == value:
                    return True
        return False


def _canonical(token: str) -> str:
    return token.replace("\u2212", "-").replace(" ", "").replace(",", "").lstrip("-")


_PLAIN_NUMBER = re.compile(r"(?<![\w.])[-\u2212]?\d+(?:,\d{3})*(?:\.\d+)?(?:\s?%)?(?![\d])")


def _numbers_plain(text: str) -> list[tuple[str, int]]:
    """Numbers in outputs and code, where `1e-3`, `lr=1e-2` and `x2` style tokens also count."""
    found = []
    for match in _PLAIN_NUMBER.finditer(text):
        found.append((match.group(0), match.start()))
    for match in re.finditer(r"\b\d+(?:\.\d+)?e-?\d+\b", text):  # 1e-3 as written and its value
        try:
            value = float(match.group(0))
        except ValueError:
            continue
        found.append((repr(value), match.start()))
        found.append((f"{value:g}", match.start()))
    return found


def output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        data = out.get("data", {})
        if "text/plain" in data:
            parts.append("".join(data["text/plain"]))
        if "text/markdown" in data:
            parts.append("".join(data["text/markdown"]))
    return "\n".join(parts)


MATH = re.compile(r"\$\$.*?\$\$|(?<!\\)\$[^$\n]+?(?<!\\)\$", re.S)


def unsupported_numbers(path: Path) -> list[Finding]:
    """Every number in the notebook's prose with neither an earlier cell nor a citation."""
    cells = json.loads(Path(path).read_text())["cells"]
    sources = Sources()
    findings: list[Finding] = []
    for index, cell in enumerate(cells):
        text = "".join(cell["source"])
        if cell["cell_type"] == "code":
            sources.add_code(text)
            sources.add_output(output_text(cell))
            continue
        if cell["cell_type"] != "markdown" or cell.get("id") == "myst-front-matter":
            continue  # the exercise-numbering front matter is configuration, not prose
        for formula in MATH.findall(text):
            sources.add_code(formula)
        following = next((c for c in cells[index + 1:] if c["cell_type"] == "code"), None)
        upcoming = Sources()
        if following is not None:
            upcoming.add_code("".join(following["source"]))
        for sentence, cited in claims(text):
            if cited:
                continue
            for token, _ in _numbers(sentence):
                if not (sources.supports(token) or upcoming.supports_setting(token)):
                    findings.append(Finding(index, token, sentence))
    return findings
