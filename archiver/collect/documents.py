"""Find the URLs a document cites, so a run captures exactly what the researcher relied on.

Plain text, Markdown, HTML and PDF are read; each URL found becomes a ``Citation`` that keeps
the text as written (``cited_as``, fragment included, so a reader can find the passage) next to
the normalised URL that is fetched (``url``, fragment removed, since servers never see it).

Two parts are written by hand, on purpose:

* Finding URLs in prose. No installed library handles what citations look like: URLs wrapped in
  ``[...]``, curly quotes, CJK punctuation, Markdown ``[text](url)``, Wikipedia paths with
  balanced parentheses, and display-shortened URLs ending in ``…``; and we need line numbers.
  (linkify-it-py is not installed and also links bare domains and e-mail addresses.)
* Normalising. ``urllib3.util.parse_url`` re-encodes *every* ``%`` once one stray ``%`` is
  present (``%7e`` becomes ``%257E``), keeps default ports and trailing dots, and never decodes
  unreserved escapes; ``urllib.parse`` does no encoding at all. The rules here are RFC 3986
  section 6.2.2 (case, percent-encoding, dot segments) plus section 6.2.3 (default port,
  empty path), with ``idna`` (UTS #46) for international host names.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from pathlib import Path

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.collect.pdf import pdf_citations
from archiver.collect.seeds import CitedUrl
from archiver.collect.seeds import Finding as Citation
from archiver.collect.text import (
    citations_from_lines,
    numbered_lines,
    text_encoding,
)

# --------------------------------------------------------------------------------------------
# Normalisation


# --------------------------------------------------------------------------------------------
# Plain text and Markdown


# --------------------------------------------------------------------------------------------
# HTML


# --------------------------------------------------------------------------------------------
# PDF


# --------------------------------------------------------------------------------------------
# Files


_TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown", ".rst", ".org"})
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".shtml"})


def _sniff(path: Path, head: bytes) -> str:
    """ "pdf", "html", "text" or "binary": by extension first, else by the first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".pdf" or head.startswith(b"%PDF-"):
        return "pdf"
    if suffix in _HTML_SUFFIXES:
        return "html"
    if suffix in _TEXT_SUFFIXES:
        return "text"
    if b"%PDF-" in head[:1024]:  # some PDFs have junk before the header; pdfium accepts it
        return "pdf"
    start = head[:1024].lower()
    if b"<!doctype html" in start or b"<html" in start:
        return "html"
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "binary"
    return "text"


def find_urls(path: Path | str) -> list[Citation]:
    """Every URL cited in the file at ``path``: PDF, HTML, Markdown or plain text.

    The kind is chosen by content (``%PDF-``, ``<html``) and extension. Raises
    ``ArchiverError`` naming the file (as given: a ``str`` stays unnormalised) if it is
    missing, unreadable or binary.
    """
    name = str(path)
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except FileNotFoundError:
        raise ArchiverError(f"{name}: no such file; check the path", EXIT_USAGE) from None
    except IsADirectoryError:
        raise ArchiverError(f"{name}: is a folder; give the document files", EXIT_USAGE) from None
    except OSError as exc:
        raise ArchiverError(
            f"{name}: cannot be read ({exc.strerror}); check its permissions", EXIT_USAGE
        ) from None
    kind = _sniff(path, head)
    if kind == "pdf":
        return pdf_citations(path, name)
    if kind == "html":
        # Imported here: the HTML parser (bs4, lxml: ~50 ms) is for HTML documents only.
        from archiver.collect.html import find_urls_in_html

        return find_urls_in_html(path.read_bytes(), "", name)
    if kind == "binary":
        raise ArchiverError(
            f"{name}: looks like a binary file, not text, Markdown, HTML or PDF; "
            "give the document itself",
            EXIT_USAGE,
        )
    return list(citations_from_lines(numbered_lines(path, text_encoding(head)), name, name))


def group_by_url(citations: Iterable[Citation]) -> list[CitedUrl]:
    """Deduplicate by normalised URL, keeping every citation, in order of first appearance."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.url, []).append(c)
    return [CitedUrl(url, tuple(cs)) for url, cs in groups.items()]
