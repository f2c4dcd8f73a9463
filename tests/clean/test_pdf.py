"""PDF text and metadata with pypdfium2: page breaks, NFKC, Info metadata, encrypted/broken files.

The PDFs are written by hand here (a few objects and an xref table), so the tests need no PDF
library besides the one under test; pypdf, when installed, adds a really encrypted file.
"""

from __future__ import annotations

import io

import pytest

from archiver.clean.extract import extract
from tests.clean.helpers import REPORT_INFO, REPORT_PAGES, make_pdf


def test_pages_are_separated_by_form_feeds_and_text_is_nfkc() -> None:
    result = extract(make_pdf(REPORT_PAGES, REPORT_INFO), "https://ngo.example.org/r.pdf", None)
    assert (result.kind, result.path, result.reason) == ("pdf", "pdf", None)
    pages = result.text.split("\f")
    assert len(pages) == 3
    assert pages[0].splitlines()[0] == "Annual report on detention conditions"
    assert "Overcrowding was observed in 9 of 14 facilities." in pages[1]
    assert "The significant findings call for independent visits." in pages[2]  # ﬁ -> fi
    assert "\ufb01" not in result.text and "\r" not in result.text
    assert result.language == "en"
    assert result.metadata["pages"] == 3


def test_pdf_metadata_from_the_info_dictionary() -> None:
    result = extract(make_pdf(REPORT_PAGES, REPORT_INFO), "https://ngo.example.org/r.pdf", None)
    assert result.title == "Detention conditions \u2013 annual report"
    assert result.author == "Monitoring Team"
    assert result.date == "2024-01-31"
    assert result.description == "Prison monitoring"
    assert result.metadata["creation_date"] == "D:20240131120000+01'00'"
    assert result.extractor.engines["pypdfium2"]
    assert result.extractor.options["unicode_normalization"] == "NFKC"


def test_pdf_is_recognised_by_its_magic_even_when_mislabelled() -> None:
    result = extract(make_pdf(REPORT_PAGES), "https://ngo.example.org/r", "text/html")
    assert result.kind == "pdf" and "Chapter 2: Findings" in result.text


def test_pdf_without_text_layer_says_so() -> None:
    result = extract(make_pdf([[], []]), "https://ngo.example.org/scan.pdf", "application/pdf")
    assert result.text == ""
    assert "OCR" in (result.reason or "")


# Standard security handler, RC4 40-bit, with /O and /U values that match no password: a reader
# must ask for the user password, exactly as with a really protected file.
HAND_ENCRYPT = (
    b"<< /Filter /Standard /V 1 /R 2 /P -44 /O <" + b"4F" * 32 + b"> /U <" + b"55" * 32 + b"> >>"
)


def test_encrypted_pdf_gives_empty_text_and_a_reason() -> None:
    data = make_pdf(REPORT_PAGES, REPORT_INFO, encrypt=HAND_ENCRYPT)
    result = extract(data, "https://ngo.example.org/locked.pdf", "application/pdf")
    assert (result.text, result.path) == ("", "empty")
    assert "encrypted" in (result.reason or "")


def test_pdf_encrypted_by_pypdf() -> None:
    pypdf = pytest.importorskip("pypdf")  # test-only dependency
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(REPORT_PAGES))))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    result = extract(buf.getvalue(), "https://ngo.example.org/locked.pdf", "application/pdf")
    assert result.text == ""
    assert "encrypted" in (result.reason or "")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage",
        make_pdf(REPORT_PAGES)[:300],
        b"%PDF-" + bytes(range(256)) * 50,
    ],
    ids=["header-only", "garbage", "truncated", "binary-noise"],
)
def test_broken_pdf_gives_empty_text_and_a_reason(data: bytes) -> None:
    result = extract(data, "https://ngo.example.org/broken.pdf", "application/pdf")
    assert result.text == ""
    assert result.reason and "PDF" in result.reason
