"""Text and metadata of a PDF, with pypdfium2 (Apache-2.0/BSD-3; as fast as PyMuPDF, no AGPL).

Pages are separated by a form feed so a reader can cite a page; the text is NFKC-normalised so
ligatures ("ﬁ") and compatibility forms compare and search like the words they stand for.
PDFium is not thread-safe, and a library caller may clean from several threads, so every call
into it holds one lock. (``archiver run`` and ``archiver clean`` clean in worker processes, one
payload per process at a time: see ``archiver.clean.workers``.)
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field

PAGE_BREAK = "\f"
_lock = threading.Lock()
_PDF_DATE_RE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


@dataclass
class PdfResult:
    text: str
    path: str  # "pdf" | "empty"
    metadata: dict[str, str | None] = field(default_factory=dict)
    reason: str | None = None
    pages: int = 0


def pdf_date(value: str | None) -> str | None:
    """``D:20240131120000+01'00'`` -> ``2024-01-31`` (month/day default to 01 if missing)."""
    if not value:
        return None
    m = _PDF_DATE_RE.match(value.strip())
    if not m:
        return None
    year, month, day = m.group(1), m.group(2) or "01", m.group(3) or "01"
    if not ("01" <= month <= "12" and "01" <= day <= "31"):
        return None
    return f"{year}-{month}-{day}"


def _clean_page(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    # NFKC turns some spaces into U+0020 but keeps form feeds; a stray one would fake a page break.
    text = text.replace(PAGE_BREAK, "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip("\n")


def _why_unreadable(exc: Exception) -> str:
    message = str(exc)
    if "password" in message.lower():
        return "the PDF is encrypted with a password; text not extracted"
    return f"the PDF cannot be read ({message.strip() or type(exc).__name__})"


def extract_pdf(data: bytes) -> PdfResult:
    """Extract page texts (joined by form feeds) and Info-dictionary metadata. Never raises."""
    import pypdfium2 as pdfium

    with _lock:
        try:
            doc = pdfium.PdfDocument(data)
        except Exception as exc:  # noqa: BLE001 - PdfiumError, or anything from a hostile file
            return PdfResult("", "empty", {}, _why_unreadable(exc))
        try:
            info = doc.get_metadata_dict(skip_empty=True)
            pages: list[str] = []
            for index in range(len(doc)):
                page = doc[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        pages.append(_clean_page(textpage.get_text_range()))
                    finally:
                        textpage.close()
                finally:
                    page.close()
        except Exception as exc:  # noqa: BLE001
            return PdfResult("", "empty", {}, _why_unreadable(exc))
        finally:
            doc.close()

    metadata: dict[str, str | None] = {
        "title": _clean_meta(info.get("Title")),
        "author": _clean_meta(info.get("Author")),
        "date": pdf_date(info.get("CreationDate")),
        "description": _clean_meta(info.get("Subject")),
        "creation_date": _clean_meta(info.get("CreationDate")),
        "modification_date": _clean_meta(info.get("ModDate")),
        "producer": _clean_meta(info.get("Producer")),
        "creator": _clean_meta(info.get("Creator")),
    }
    text = PAGE_BREAK.join(pages)
    if not text.replace(PAGE_BREAK, "").strip():
        reason = (
            "the PDF has no pages"
            if not pages
            else "the PDF has no text layer (scanned?); it needs OCR, which the cleaner does not do"
        )
        return PdfResult("", "empty", metadata, reason, len(pages))
    return PdfResult(text, "pdf", metadata, None, len(pages))


def _clean_meta(value: str | None) -> str | None:
    if not value:
        return None
    value = unicodedata.normalize("NFKC", value).strip()
    return value or None
