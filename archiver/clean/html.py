"""Main text and metadata of an HTML page: trafilatura first, readability-lxml as the fallback.

Why two engines: on the scrapinghub article benchmark trafilatura (``favor_precision``) is the
best single Python extractor, but it sometimes keeps only a fragment of a long article or a
teaser block. readability-lxml fails differently (it picks a whole wrong block). Taking
readability's text when trafilatura found less than half as many words is a rule about the
*amount* of text, not about any site, so it carries over to unseen pages (measured on held-back
pages in docs/clean.md). When both find nothing we keep the page's visible body text rather than
store an empty result.

All three engines parse with libxml2, which stops reading at 256 nested elements: a page of
200,000 nested ``<div>`` would lose everything below that depth (including all its text). When
the parser reports that limit, the page's visible text is read instead by a streaming tokenizer
(``html.parser``), which keeps no tree and so has no depth limit and no recursion.
"""

from __future__ import annotations

import re
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
# Fall back to readability when trafilatura's text has fewer words than this share of readability's.
FALLBACK_RATIO = 0.5

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


def _word_count(text: str) -> int:
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


def too_deep(html: str) -> bool:
    """True when libxml2 (the parser under trafilatura, readability and html-text) gives up at
    its nesting limit, i.e. the engines would silently miss everything below that depth."""
    from lxml import etree

    parser = etree.HTMLParser(encoding="utf-8")
    try:
        etree.fromstring(html.encode("utf-8", "replace"), parser)
    except Exception:  # noqa: BLE001 - an unparsable page is the engines' business, not ours
        return False
    return any("Excessive depth" in str(e.message) for e in parser.error_log)


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


def extract_html(html: str, url: str | None, capture_date: datetime | None = None) -> HtmlResult:
    """Extract main text and metadata from decoded HTML. Never raises."""
    date_params = _date_params(capture_date)
    options = {
        "trafilatura": {**TRAFILATURA_OPTIONS, "date_extraction_params": date_params},
        "readability": READABILITY_OPTIONS,
        "fallback_ratio": FALLBACK_RATIO,
    }
    if not html.strip():
        return HtmlResult("", "empty", {}, options, "the page is empty")
    if too_deep(html):
        meta: dict[str, str | None] = {"title": _title_element(html)}
        text = tidy_text(streamed_text(html))
        if _word_count(text):
            return HtmlResult(text, "deep-tree-fallback", meta, options, None, [DEEP_TREE_NOTE])
        reason = "the page has no visible text"
        return HtmlResult("", "empty", meta, options, reason, [DEEP_TREE_NOTE])

    doc = _run_trafilatura(html, url, date_params)
    traf_text = tidy_text(doc.text or "") if doc is not None else ""
    read_text = tidy_text(_run_readability(html))
    meta = _metadata(doc)
    if not meta.get("title"):
        meta["title"] = _title_element(html)

    traf_words, read_words = _word_count(traf_text), _word_count(read_text)
    if traf_words and traf_words >= FALLBACK_RATIO * read_words:
        return HtmlResult(traf_text, "trafilatura", meta, options)
    if read_words:
        return HtmlResult(read_text, "readability-fallback", meta, options)
    body = tidy_text(_body_text(html))
    if _word_count(body):
        return HtmlResult(body, "body-text-fallback", meta, options)
    return HtmlResult("", "empty", meta, options, "the page has no visible text")
