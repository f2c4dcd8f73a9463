"""PDF text and metadata with pypdfium2: page breaks, NFKC, Info metadata, encrypted/broken files.

The PDFs are written by hand here (a few objects and an xref table), so the tests need no PDF
library besides the one under test; pypdf, when installed, adds a really encrypted file.
"""

from __future__ import annotations

import io

import pytest

from archiver.clean import extract

# A ToUnicode map that makes byte 0x01 extract as U+FB01 LATIN SMALL LIGATURE FI, as the "fi"
# glyph of a typeset PDF does.
LIGATURE_CMAP = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<00> <FF>
endcodespacerange
1 beginbfchar
<01> <FB01>
endbfchar
95 beginbfrange
<20> <7E> <0020>
endbfrange
endcmap
CMapName currentdict /CIDFont defineresource pop
end
end
""".replace(b"95 beginbfrange", b"1 beginbfrange")


def _pdf_string(value: str) -> bytes:
    """A PDF text string: literal if ASCII, else UTF-16BE with a BOM, in hex."""
    if value.isascii():
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("ascii") + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def make_pdf(
    pages: list[list[bytes]],
    info: dict[str, str] | None = None,
    encrypt: bytes | None = None,
) -> bytes:
    """A valid PDF 1.4: one Helvetica text line per item of each page (bytes, already escaped)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    cmap = add(b"<< /Length %d >>\nstream\n" % len(LIGATURE_CMAP) + LIGATURE_CMAP + b"\nendstream")
    font = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding "
        b"/ToUnicode %d 0 R >>" % cmap
    )
    kids = []
    for lines in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 16 TL"]
        ops += [b"(" + line + b") Tj T*" for line in lines]
        ops.append(b"ET")
        content = b"\n".join(ops)
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_obj, font, stream)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    trailer_extra = b""
    if info:
        entries = b" ".join(b"/" + k.encode() + b" " + _pdf_string(v) for k, v in info.items())
        trailer_extra += b" /Info %d 0 R" % add(b"<< " + entries + b" >>")
    if encrypt:
        trailer_extra += b" /Encrypt %d 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> "
        trailer_extra += b"<0123456789ABCDEF0123456789ABCDEF>]"
        trailer_extra = trailer_extra % add(encrypt)

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog) + trailer_extra)
    out.write(b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


REPORT_PAGES = [
    [b"Annual report on detention conditions", b"Chapter 1: Method", b"We visited 14 sites."],
    [b"Chapter 2: Findings", b"Overcrowding was observed in 9 of 14 facilities."],
    [b"Chapter 3: Recommendations", b"The signi\x01cant \x01ndings call for independent visits."],
]
REPORT_INFO = {
    "Title": "Detention conditions \u2013 annual report",
    "Author": "Monitoring Team",
    "Subject": "Prison monitoring",
    "CreationDate": "D:20240131120000+01'00'",
    "ModDate": "D:20240201090000Z",
}


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
