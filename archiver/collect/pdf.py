"""URLs cited in a PDF: link annotations and the text layer."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.collect.normalize import normalize_url
from archiver.collect.seeds import Finding as Citation
from archiver.collect.text import (
    find_urls_in_text,
)


def _pdf_link_uris(pdf: object, page: object) -> Iterator[str]:
    """URI actions of the page's link annotations (pypdfium2 has no helper for these)."""
    import pypdfium2.raw as pdfium_c

    pos = ctypes.c_int(0)
    link = pdfium_c.FPDF_LINK()
    while pdfium_c.FPDFLink_Enumerate(page, ctypes.byref(pos), ctypes.byref(link)):
        action = pdfium_c.FPDFLink_GetAction(link)
        if not action or pdfium_c.FPDFAction_GetType(action) != pdfium_c.PDFACTION_URI:
            continue
        size = pdfium_c.FPDFAction_GetURIPath(pdf, action, None, 0)
        if size <= 1:
            continue
        buf = ctypes.create_string_buffer(size)
        pdfium_c.FPDFAction_GetURIPath(pdf, action, buf, size)
        yield buf.value.decode("utf-8", "replace")


def pdf_citations(source: bytes | Path, document: str) -> list[Citation]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise ArchiverError(
            f"{document}: not a readable PDF ({exc}); check the file or give its URL instead",
            EXIT_USAGE,
        ) from None
    found: list[Citation] = []
    try:
        for index in range(len(pdf)):
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                raise ArchiverError(
                    f"{document}: page {index + 1} cannot be read ({exc}); "
                    "repair the PDF (e.g. print it to a new PDF) and try again",
                    EXIT_USAGE,
                ) from None
            where = f"{document}:page {index + 1}"
            seen: set[str] = set()
            for uri in _pdf_link_uris(pdf, page):
                url = normalize_url(uri)
                if url is not None and url not in seen:
                    seen.add(url)
                    found.append(Citation(url, uri.strip(), where, document))
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            for c in find_urls_in_text(text, document):
                if c.url not in seen:
                    seen.add(c.url)
                    found.append(Citation(c.url, c.cited_as, where, document, c.truncated))
    finally:
        pdf.close()
    return found


def find_urls_in_pdf(data: bytes, document: str) -> list[Citation]:
    """URLs in a PDF's link annotations and page text, located as ``document:page N``.

    A URL both linked and printed on one page is reported once for that page. Raises
    ``ArchiverError`` if the bytes are not a PDF pdfium can open.
    """
    return pdf_citations(data, document)
