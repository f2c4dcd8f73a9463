"""The cleaner: main text and metadata from captured HTML and PDF.

``extract()`` is the one entry point. It never raises: a page that cannot be cleaned gives an
empty text and a ``reason``, because one odd page must not stop a capture run, and the reason
belongs in the evidence record. The captured bytes are only read, never changed; the text is a
derivative kept beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from archiver import __version__
from archiver.base.charset import charset_from_content_type, decode_html
from archiver.base.mediatypes import cleanable_kind, media_type
from archiver.clean.html import extract_html
from archiver.clean.language import detect_language
from archiver.clean.pdf import PAGE_BREAK, extract_pdf

EXTRACTOR_NAME = "archiver.clean"
# Larger payloads are not cleaned: memory stays bounded, and no real article is this big.
MAX_HTML_BYTES = 16 * 1024 * 1024
MAX_PDF_BYTES = 256 * 1024 * 1024

__all__ = [
    "EXTRACTOR_NAME",
    "Extraction",
    "ExtractorInfo",
    "engine_versions",
    "extract",
    "unreadable",
]


@dataclass(frozen=True)
class ExtractorInfo:
    """Who made the text and how: enough to reproduce it with the same versions."""

    name: str
    version: str
    engines: dict[str, str]
    options: dict[str, Any]


@dataclass
class Extraction:
    """Clean text plus metadata of one payload. Empty ``text`` always comes with a ``reason``."""

    text: str
    title: str | None
    author: str | None
    date: str | None  # YYYY-MM-DD
    language: str | None  # ISO 639-1, detected from ``text``
    extractor: ExtractorInfo
    path: str  # which path produced the text: trafilatura, readability-fallback, pdf, empty, ...
    reason: str | None = None
    kind: str | None = None  # "html" | "pdf" | None (not cleanable)
    sitename: str | None = None
    description: str | None = None
    language_probability: float | None = None
    charset: str | None = None  # HTML only: the codec used to decode the bytes
    charset_source: str | None = None  # http-header | bom | meta | detected | default
    metadata: dict[str, Any] = field(default_factory=dict)  # every metadata field found
    notes: list[str] = field(default_factory=list)  # caveats about the input, e.g. truncation

    @property
    def empty(self) -> bool:
        return not self.text


@cache
def engine_versions(kind: str | None) -> dict[str, str]:
    """Versions of the libraries that shaped the text, for the sidecar."""
    names = {
        "html": (
            "trafilatura",
            "htmldate",
            "readability-lxml",
            "html-text",
            "lxml",
            "charset-normalizer",
            "py3langid",
        ),
        "pdf": ("pypdfium2", "py3langid"),
    }.get(kind or "", ())
    # Imported here: importlib.metadata costs ~7 ms to import, and a run that does not clean
    # (or the process that only hands payloads to the cleaning workers) never asks it.
    from importlib import metadata as _importlib_metadata

    versions = {}
    for name in names:
        try:
            versions[name] = _importlib_metadata.version(name)
        except _importlib_metadata.PackageNotFoundError:
            versions[name] = "unknown"
    if kind == "pdf":
        import pypdfium2

        versions["pdfium"] = str(pypdfium2.version.PDFIUM_INFO)
    return versions


def _info(kind: str | None, options: dict[str, Any]) -> ExtractorInfo:
    return ExtractorInfo(EXTRACTOR_NAME, __version__, engine_versions(kind), options)


def _empty(kind: str | None, reason: str, options: dict[str, Any] | None = None) -> Extraction:
    return Extraction(
        text="",
        title=None,
        author=None,
        date=None,
        language=None,
        extractor=_info(kind, options or {}),
        path="empty",
        reason=reason,
        kind=kind,
    )


def unreadable(reason: str, kind: str | None = None) -> Extraction:
    """An empty extraction with a reason, for payloads the caller could not even hand over."""
    return _empty(kind, reason)


def extract(
    data: bytes,
    url: str,
    content_type: str | None = None,
    *,
    http_charset: str | None = None,
    capture_date: datetime | None = None,
) -> Extraction:
    """Extract main text and metadata from an HTML or PDF payload (content-encoding removed).

    Raises only ``MemoryError``. ``http_charset`` is the charset from the HTTP header (taken
    from ``content_type`` when not given); ``capture_date`` bounds the page date so the result
    does not depend on today.
    """
    try:
        return _extract(data, url, content_type, http_charset, capture_date)
    except MemoryError:
        raise  # out of memory is the caller's to handle (a worker reports its memory cap)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"
        return _empty(None, f"the cleaner failed on this payload ({type(exc).__name__}: {exc})")


def _extract(
    data: bytes,
    url: str,
    content_type: str | None,
    http_charset: str | None,
    capture_date: datetime | None,
) -> Extraction:
    if not data:
        return _empty(None, "the payload is empty")
    kind = cleanable_kind(data, content_type)
    if kind is None:
        media = media_type(content_type) or "unknown"
        return _empty(None, f"not HTML or PDF (content type {media}); nothing to clean")
    limit = MAX_PDF_BYTES if kind == "pdf" else MAX_HTML_BYTES
    if len(data) > limit:
        return _empty(kind, f"the payload is {len(data)} bytes, above the {limit}-byte limit")
    if kind == "pdf":
        return _from_pdf(data)
    return _from_html(data, url, content_type, http_charset, capture_date)


def _from_pdf(data: bytes) -> Extraction:
    result = extract_pdf(data)
    language, probability = detect_language(result.text.replace(PAGE_BREAK, "\n"))
    meta: dict[str, Any] = {**result.metadata, "pages": result.pages}
    options = {"unicode_normalization": "NFKC", "page_separator": "\\f"}
    return Extraction(
        text=result.text,
        title=meta.get("title"),
        author=meta.get("author"),
        date=meta.get("date"),
        language=language,
        extractor=_info("pdf", options),
        path=result.path,
        reason=result.reason,
        kind="pdf",
        description=meta.get("description"),
        language_probability=probability,
        metadata=meta,
    )


def _from_html(
    data: bytes,
    url: str,
    content_type: str | None,
    http_charset: str | None,
    capture_date: datetime | None,
) -> Extraction:
    decoded = decode_html(data, http_charset or charset_from_content_type(content_type))
    result = extract_html(decoded.text, url or None, capture_date)
    language, probability = detect_language(result.text)
    meta: dict[str, Any] = dict(result.metadata)
    return Extraction(
        text=result.text,
        title=meta.get("title"),
        author=meta.get("author"),
        date=meta.get("date"),
        language=language,
        extractor=_info("html", result.options),
        path=result.path,
        reason=result.reason,
        kind="html",
        sitename=meta.get("sitename"),
        description=meta.get("description"),
        language_probability=probability,
        charset=decoded.charset,
        charset_source=decoded.source,
        metadata=meta,
        notes=list(result.notes),
    )
