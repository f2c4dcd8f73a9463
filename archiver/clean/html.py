"""Main text and metadata of an HTML page: trafilatura first, readability-lxml when it is unsure.

Why two engines: on the scrapinghub article benchmark trafilatura (``favor_precision``) is the
best single Python extractor, but it sometimes keeps only a fragment of a long article or a
teaser block. readability-lxml fails differently (it picks a whole wrong block). Readability runs
only when trafilatura is *unsure*: its text is short, or holds a small share of the words in the
page's ``<p>`` elements. Then readability's text is kept when trafilatura found less than a share
of its words. These are rules about the *amount* of text, not about any site, and their
thresholds are chosen by cross-validation on the development pages
(``bench/extract/run.py --cv``), so the figure reported is one measured on pages the thresholds
were not chosen on. When both find nothing we keep the page's visible body text rather than
store an empty result.

All three engines parse with libxml2, which stops reading at 256 nested elements: a page of
200,000 nested ``<div>`` would lose everything below that depth (including all its text). When
the parser reports that limit, the page's visible text is read instead by a streaming tokenizer
(``html.parser``), which keeps no tree and so has no depth limit and no recursion.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from typing import Any

from archiver.base.timefmt import day

# Options given to trafilatura; recorded verbatim in every sidecar (dates added per call).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "favor_precision": True,
    # We run readability-lxml ourselves, so trafilatura's internal fallbacks (its own readability
    # port and jusText) would only repeat that work: same dev F1, about 40 % less time.
    "fast": True,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "deduplicate": False,  # a cache across pages would make output depend on page order
    "with_metadata": True,
}
READABILITY_OPTIONS: dict[str, Any] = {
    "html_partial": True,
    "text": "html_text.extract_text(guess_layout=True)",
}


@dataclass(frozen=True)
class Combiner:
    """When to ask readability, and when to keep its text over trafilatura's.

    The defaults are what ``bench/extract/run.py --cv`` picks on the development pages; each
    fold's choice is scored on pages it was not chosen on (docs/clean.md).
    """

    min_words: int = 200  # trafilatura is unsure below this many words ...
    paragraph_share: float = 0.75  # ... or below this share of the words in the page's <p>
    fallback_ratio: float = 0.5  # keep readability's text if trafilatura has < this share of it

    def unsure(self, traf_words: int, paragraph_words: int) -> bool:
        """True when trafilatura's text is empty or short, absolutely or against the page's <p>."""
        return (
            not traf_words
            or traf_words < self.min_words
            or traf_words < self.paragraph_share * paragraph_words
        )

    def choose(
        self, traf_text: str, paragraph_words: int, readability: Callable[[], str]
    ) -> tuple[str, str]:
        """(text, path): readability is called only when trafilatura is unsure."""
        traf_words = word_count(traf_text)
        if not self.unsure(traf_words, paragraph_words):
            return traf_text, "trafilatura"
        read_text = readability()
        read_words = word_count(read_text)
        if traf_words and traf_words >= self.fallback_ratio * read_words:
            return traf_text, "trafilatura"
        if read_words:
            return read_text, "readability-fallback"
        return "", "empty"

    def options(self) -> dict[str, Any]:
        return {
            "min_words": self.min_words,
            "paragraph_share": self.paragraph_share,
            "fallback_ratio": self.fallback_ratio,
        }


COMBINER = Combiner()

_WORD_RE = re.compile(r"\w+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass
class HtmlResult:
    """What the HTML path found; ``path`` says which engine's text was kept."""

    text: str
    path: str  # "trafilatura" | "readability-fallback" | "body-text-fallback" | "empty"
    metadata: dict[str, str | None] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    notes: list[str] = field(default_factory=list)


def tidy_text(text: str) -> str:
    """LF line ends, no trailing spaces, at most one blank line in a row, no outer blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip("\n")


def word_count(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _date_params(capture_date: datetime | None) -> dict[str, Any]:
    params: dict[str, Any] = {"original_date": True, "extensive_search": True}
    if capture_date is not None:
        # Without this, htmldate's upper bound is "today", so the date found would depend on
        # when the cleaner runs (and JS expiry dates in the future could be picked).
        params["max_date"] = day(capture_date)
    return params


def _run_trafilatura(html: str, url: str | None, date_params: dict[str, Any]) -> Any:
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            html, url=url, date_extraction_params=date_params, **TRAFILATURA_OPTIONS
        )
    except Exception:  # noqa: BLE001 - a parser failure on hostile HTML must not stop a run
        return None


def _run_readability(html: str) -> str:
    """Readability's main block as text (via html-text, which keeps paragraph breaks).

    No ``url`` and no ``short_title()``: both make readability rewrite links or re-parse the
    page, which doubled its cost and changes nothing in the text.
    """
    import html_text
    from readability import Document

    try:
        summary = Document(html).summary(html_partial=True)
        return html_text.extract_text(summary, guess_layout=True)
    except Exception:  # noqa: BLE001 - readability raises on empty/odd documents
        return ""


def _body_text(html: str) -> str:
    """Every visible text of the page: the last resort, better than nothing for a reader."""
    import html_text

    try:
        return html_text.extract_text(html, guess_layout=True)
    except Exception:  # noqa: BLE001
        return ""


# Elements whose content a reader never sees as text; and elements that start a new line.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "math"})
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"}
    | {"figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li"}
    | {"main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul"}
)
DEEP_TREE_NOTE = (
    "the page nests elements deeper than the HTML parser's limit of 256, so its main content "
    "could not be told apart: the text is all of the page's visible text, read without a tree"
)


@dataclass(frozen=True)
class PageShape:
    """What one libxml2 parse tells about the page before any engine runs."""

    too_deep: bool  # libxml2 gave up at its nesting limit: the engines would miss text
    paragraph_words: int  # words in the page's <p> elements: how much text trafilatura could find


def page_shape(html: str) -> PageShape:
    """Parse once: is the page beyond libxml2's nesting limit, and how many words are in <p>?"""
    from lxml import etree

    parser = etree.HTMLParser(encoding="utf-8")
    try:
        root = etree.fromstring(html.encode("utf-8", "replace"), parser)
    except Exception:  # noqa: BLE001 - an unparsable page is the engines' business, not ours
        return PageShape(False, 0)
    deep = any("Excessive depth" in str(e.message) for e in parser.error_log)
    words = 0
    if root is not None:
        for p in root.iter("p"):
            words += word_count("".join(p.itertext()))
    return PageShape(deep, words)


def streamed_text(html: str) -> str:
    """Every visible text of the page, read tag by tag (no tree, no recursion, no depth limit)."""
    from html.parser import HTMLParser

    parts: list[str] = []
    hidden = 0

    class _Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: Any) -> None:
            nonlocal hidden
            if tag in _HIDDEN:
                hidden += 1
            elif tag in _BLOCKS:
                parts.append("\n")

        def handle_startendtag(self, tag: str, attrs: Any) -> None:
            if tag in _BLOCKS:
                parts.append("\n")

        def handle_endtag(self, tag: str) -> None:
            nonlocal hidden
            if tag in _HIDDEN:
                hidden = max(0, hidden - 1)
            elif tag in _BLOCKS:
                parts.append("\n")

        def handle_data(self, data: str) -> None:
            if not hidden:
                parts.append(" ".join(data.split()) if data.strip() else " ")

    reader = _Reader(convert_charrefs=True)
    reader.feed(html)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n\n".join(line for line in lines if line)


def _metadata(doc: Any) -> dict[str, str | None]:
    if doc is None:
        return {}
    # Never copy "filedate": trafilatura sets it to today's date, which would make the output
    # depend on the day the cleaner ran.
    fields = ("title", "author", "date", "sitename", "description", "language", "hostname")
    meta: dict[str, str | None] = {}
    for name in fields:
        value = getattr(doc, name, None)
        meta[name] = (str(value).strip() or None) if value else None
    meta["declared_language"] = meta.pop("language")
    return meta


def _title_element(html: str) -> str | None:
    """The page's <title>, for pages where trafilatura found no metadata at all."""
    m = _TITLE_RE.search(html, 0, 256 * 1024)
    if not m:
        return None
    title = " ".join(unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())
    return title or None


def extract_html(
    html: str, url: str | None, capture_date: datetime | None = None, combiner: Combiner = COMBINER
) -> HtmlResult:
    """Extract main text and metadata from decoded HTML. Never raises."""
    date_params = _date_params(capture_date)
    options = {
        "trafilatura": {**TRAFILATURA_OPTIONS, "date_extraction_params": date_params},
        "readability": READABILITY_OPTIONS,
        "combiner": combiner.options(),
    }
    if not html.strip():
        return HtmlResult("", "empty", {}, options, "the page is empty")
    shape = page_shape(html)
    if shape.too_deep:
        meta: dict[str, str | None] = {"title": _title_element(html)}
        text = tidy_text(streamed_text(html))
        if word_count(text):
            return HtmlResult(text, "deep-tree-fallback", meta, options, None, [DEEP_TREE_NOTE])
        reason = "the page has no visible text"
        return HtmlResult("", "empty", meta, options, reason, [DEEP_TREE_NOTE])

    doc = _run_trafilatura(html, url, date_params)
    traf_text = tidy_text(doc.text or "") if doc is not None else ""
    meta = _metadata(doc)
    if not meta.get("title"):
        meta["title"] = _title_element(html)
    text, path = combiner.choose(
        traf_text, shape.paragraph_words, lambda: tidy_text(_run_readability(html))
    )
    if path != "empty":
        return HtmlResult(text, path, meta, options)
    body = tidy_text(_body_text(html))
    if word_count(body):
        return HtmlResult(body, "body-text-fallback", meta, options)
    return HtmlResult("", "empty", meta, options, "the page has no visible text")
