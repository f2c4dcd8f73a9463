"""Hop links: which links of a captured HTML page a crawl follows, as seeds with their citation.

One finder for the crawl (links of a page just captured) and for a resumed run (links of pages
captured before the interruption, read again from the WARC), so both follow the same links.
"""

from __future__ import annotations

from urllib.parse import urldefrag

from archiver.collect.html import find_urls_in_html
from archiver.collect.seeds import Citation

MAX_LINK_SCAN = 20 * 1024 * 1024  # HTML beyond this is not scanned for hop links
HTML_TYPES = ("text/html", "application/xhtml+xml")


def is_html(content_type: str | None) -> bool:
    """Whether a response of this Content-Type is a page whose links may be followed."""
    return (content_type or "").split(";")[0].strip().lower() in HTML_TYPES


def hop_links(html: bytes, base: str, seen: set[str]) -> list[tuple[str, Citation]]:
    """Main-content links of ``html`` (its first MAX_LINK_SCAN bytes) not in ``seen``.

    Each URL (fragment removed) is added to ``seen`` and returned once, with the citation that
    names the linking page ``base`` as the document.
    """
    found: list[tuple[str, Citation]] = []
    for c in find_urls_in_html(html[:MAX_LINK_SCAN], base):
        url = urldefrag(c.url)[0]
        if url in seen:
            continue
        seen.add(url)
        found.append((url, Citation(base, c.locator, c.cited_as)))
    return found
