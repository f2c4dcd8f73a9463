"""Hop links: which links of a captured HTML page a crawl follows, as seeds with their citation.

One finder for the crawl (links of a page just captured) and for a resumed run (links of pages
captured before the interruption, read again from the WARC), so both follow the same links.
"""

from __future__ import annotations

from urllib.parse import urldefrag

from archiver.base.charset import charset_from_content_type
from archiver.base.mediatypes import is_html
from archiver.collect.seeds import Citation

MAX_LINK_SCAN = 20 * 1024 * 1024  # HTML beyond this is not scanned for hop links

__all__ = ["MAX_LINK_SCAN", "hop_links", "is_html"]


def hop_links(
    html: bytes, base: str, seen: set[str], content_type: str | None = None
) -> list[tuple[str, Citation]]:
    """Main-content links of ``html`` (its first MAX_LINK_SCAN bytes) not in ``seen``.

    Each URL (fragment removed) is added to ``seen`` and returned once, with the citation that
    names the linking page ``base`` as the document. The page is decoded with the charset its
    ``content_type`` names, as the cleaner decodes it.
    """
    # Imported here: the HTML parser (bs4, lxml, soupsieve: ~50 ms) is loaded by the first page
    # whose links are followed, not by every run.
    from archiver.collect.html import find_urls_in_html

    found: list[tuple[str, Citation]] = []
    charset = charset_from_content_type(content_type)
    for c in find_urls_in_html(html[:MAX_LINK_SCAN], base, http_charset=charset):
        url = urldefrag(c.url)[0]
        if url in seen:
            continue
        seen.add(url)
        found.append((url, Citation(base, c.locator, c.cited_as)))
    return found
