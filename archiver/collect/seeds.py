"""What collecting hands on: a cited URL and the citations (document, place, words) behind it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Citation:
    """One place where a document cites a URL."""

    url: str  # normalised, fragment removed: what gets fetched
    cited_as: str  # as written (brackets and punctuation stripped), fragment kept
    locator: str  # "file:line", "file:page N" (PDF), or the page URL / file (HTML)
    document: str  # the citing document's path or URL
    truncated: bool = False  # written with a trailing "…": the URL was probably shortened


@dataclass(frozen=True)
class CitedUrl:
    """A distinct URL and every place it was cited, in the order found."""

    url: str
    citations: tuple[Citation, ...]
