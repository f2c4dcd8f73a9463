"""Which payloads are cleanable: the one decision used by capture, run, crawl and clean.

A decoded copy is kept, a text is extracted and hop links are followed only for what this
module says; before it lived here the stages disagreed (``run`` skipped an ``application/x-pdf``
PDF that ``clean`` cleaned).
"""

from __future__ import annotations

import os
import re
from typing import Literal

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"})
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf", "application/acrobat"})
# Types a server sends when it does not know; we sniff the bytes instead.
VAGUE_TYPES = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "application/x-download",
        "application/force-download",
        "application/download",
        "application/unknown",
        "text/plain",
    }
)
SNIFF_BYTES = 1024  # how much of the (decoded) payload ``cleanable_kind`` looks at
_HTML_SNIFF_RE = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|title|meta|script|div|p)\b",
    re.IGNORECASE | re.DOTALL,
)

Kind = Literal["html", "pdf"]


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type value ("" when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def may_be_cleanable(content_type: str | None) -> bool:
    """False when the Content-Type alone rules out HTML and PDF (images, CSS, scripts...)."""
    return media_type(content_type) in HTML_TYPES | PDF_TYPES | VAGUE_TYPES


def is_html(content_type: str | None) -> bool:
    """Is this labelled HTML (the pages whose links a crawl follows)?"""
    return media_type(content_type) in HTML_TYPES


def cleanable_kind(head: bytes, content_type: str | None) -> Kind | None:
    """ "html", "pdf" or None, from the first bytes and the label.

    PDF magic wins over the header: servers mislabel PDFs often.
    """
    head = head[:SNIFF_BYTES]
    if b"%PDF-" in head:
        return "pdf"
    media = media_type(content_type)
    if media in PDF_TYPES:
        return "pdf"
    if media in HTML_TYPES:
        return "html"
    if media in VAGUE_TYPES and _HTML_SNIFF_RE.match(head.lstrip(b"\xef\xbb\xbf")):
        return "html"
    return None


def file_kind(path: str | os.PathLike[str], content_type: str | None) -> Kind | None:
    """``cleanable_kind`` of a decoded payload file (its first bytes, not all of it)."""
    with open(path, "rb") as f:
        return cleanable_kind(f.read(SNIFF_BYTES), content_type)
