"""`archiver clean WARC... --out DIR` over WARCs we build here and WARCs other tools wrote."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import zlib
from pathlib import Path

import brotli
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.base.errors import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.clean.command import clean_command, clean_warcs
from tests.clean.helpers import (
    ARABIC,
    REPORT_INFO,
    REPORT_PAGES,
    RUSSIAN,
    SPANISH,
    make_pdf,
    page_bytes,
)
from tests.helpers import DATA

WARCS = DATA / "clean" / "warc"
ES = page_bytes(SPANISH, "utf-8", "utf-8")
RU = page_bytes(RUSSIAN, "windows-1251", None)
AR = page_bytes(ARABIC, "utf-8", "utf-8")
PDF = make_pdf(REPORT_PAGES, REPORT_INFO)


def _response(
    writer: WARCWriter,
    uri: str,
    body: bytes,
    headers: list[tuple[str, str]],
    status: str = "200 OK",
    record_id: str | None = None,
) -> None:
    http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    extra = {"WARC-Date": "2024-05-01T10:00:00Z"}
    if record_id:
        extra["WARC-Record-ID"] = record_id
    record = writer.create_warc_record(
        uri, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict=extra
    )
    writer.write_record(record)


def _chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def _uuid(n: int) -> str:
    return f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>"


@pytest.fixture
def own_warc(tmp_path: Path) -> Path:
    """A WARC with every kind of record the command must clean or skip."""
    path = tmp_path / "mixed.warc.gz"
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        html = [("Content-Type", "text/html; charset=utf-8")]
        _response(
            w,
            "https://ngo.example.org/es",
            gzip.compress(ES, mtime=0),
            [*html, ("Content-Encoding", "gzip")],
            record_id=_uuid(1),
        )
        _response(
            w,
            "https://ngo.example.org/ar",
            brotli.compress(AR),
            [*html, ("Content-Encoding", "br")],
            record_id=_uuid(2),
        )
        _response(
            w,
            "https://ngo.example.org/ru",
            _chunked(zlib.compress(RU)),
            [
                ("Content-Type", "text/html"),
                ("Content-Encoding", "deflate"),
                ("Transfer-Encoding", "chunked"),
            ],
            record_id=_uuid(3),
        )
        _response(
            w,
            "https://ngo.example.org/report.pdf",
            PDF,
            [("Content-Type", "application/pdf")],
            record_id=_uuid(4),
        )
        _response(w, "https://ngo.example.org/gone", ES, html, status="404 Not Found")
        _response(
            w,
            "https://ngo.example.org/logo.png",
            b"\x89PNG\r\n\x1a\n" + bytes(100),
            [("Content-Type", "image/png")],
        )
        _response(
            w,
            "https://ngo.example.org/z",
            b"(zstd bytes)",
            [*html, ("Content-Encoding", "zstd")],
            record_id=_uuid(5),
        )
        w.write_record(
            w.create_revisit_record(
                "https://ngo.example.org/es",
                "sha1:AAAA",
                "https://ngo.example.org/es",
                "2024-04-01T10:00:00Z",
                http_headers=StatusAndHeaders("200 OK", html, "HTTP/1.1"),
            )
        )
        w.write_record(
            w.create_warc_record(
                "https://ngo.example.org/local",
                "resource",
                payload=io.BytesIO(ES),
                warc_content_type="text/html; charset=utf-8",
                warc_headers_dict={"WARC-Record-ID": _uuid(6)},
            )
        )
    return path


def _sidecar(out: Path, n: int) -> dict:
    return json.loads((out / f"00000000-0000-4000-8000-{n:012d}.json").read_text("utf-8"))


def _text(out: Path, n: int) -> str:
    return (out / f"00000000-0000-4000-8000-{n:012d}.txt").read_text("utf-8")


def test_cleans_every_html_and_pdf_response_and_skips_the_rest(
    own_warc: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    summary = clean_warcs([own_warc], out)
    assert (summary.files_read, summary.files_failed, summary.cleaned) == (1, 0, 6)
    assert summary.skipped == {"revisit": 1, "status 404": 1, "not HTML or PDF": 1}
    assert summary.empty == 1  # the zstd body, which the sidecar explains

    assert SPANISH.paragraphs[1] in _text(out, 1)  # gzip
    assert ARABIC.paragraphs[1] in _text(out, 2)  # br
    assert RUSSIAN.paragraphs[1] in _text(out, 3)  # chunked + deflate, cp1251 undeclared
    assert "Chapter 2: Findings" in _text(out, 4) and "\f" in _text(out, 4)
    assert SPANISH.paragraphs[1] in _text(out, 6)  # resource record
    assert _sidecar(out, 2)["metadata"]["language"] == "ar"
    assert _sidecar(out, 3)["input"]["charset"] == "cp1251"
    assert _sidecar(out, 4)["metadata"]["author"] == "Monitoring Team"
    assert _sidecar(out, 4)["extractor"]["path"] == "pdf"
    zstd = _sidecar(out, 5)
    assert zstd["text"]["empty"] and "zstd" in zstd["reason"]

    src = _sidecar(out, 1)["source"]
    assert src == {
        "warc_file": "mixed.warc.gz",
        "record_id": _uuid(1),
        "target_uri": "https://ngo.example.org/es",
        "warc_date": "2024-05-01T10:00:00Z",
        "payload_sha256": hashlib.sha256(gzip.compress(ES, mtime=0)).hexdigest(),
        "content_type": "text/html; charset=utf-8",
    }
    # Chunked: the digest covers the de-chunked body, content-encoding kept.
    assert (
        _sidecar(out, 3)["source"]["payload_sha256"]
        == hashlib.sha256(zlib.compress(RU)).hexdigest()
    )
    # The capture date bounds the page date.
    assert (
        _sidecar(out, 1)["extractor"]["options"]["trafilatura"]["date_extraction_params"][
            "max_date"
        ]
        == "2024-05-01"
    )
    assert not list(out.glob(".*")), "no temporary files left behind"


def test_same_warc_same_output_bytes(own_warc: Path, tmp_path: Path) -> None:
    clean_warcs([own_warc], tmp_path / "a")
    clean_warcs([own_warc], tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir()) and len(names) == 12
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_rerun_into_the_same_folder_replaces_files(own_warc: Path, tmp_path: Path) -> None:
    clean_warcs([own_warc], tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    clean_warcs([own_warc], tmp_path / "out")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_warcs_written_by_other_tools(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = [
        "warcio-example.warc.gz",
        "warcio-example-iana.org-chunked.warc",
        "warcio-example-resource.warc.gz",
        "warcio-example-wget-bad-target-uri.warc.gz",
        "pywacz-example-iana-warc11-sha256.warc.gz",
    ]
    summary = clean_warcs([WARCS / f for f in files], out)
    assert summary.files_failed == 0 and summary.files_read == 5
    assert summary.skipped["revisit"] > 0
    sidecars = [json.loads(p.read_text("utf-8")) for p in sorted(out.glob("*.json"))]
    by_file: dict[str, list[dict]] = {}
    for s in sidecars:
        by_file.setdefault(s["source"]["warc_file"], []).append(s)
    assert set(by_file) == set(files)

    # gzip content-encoding (warcio example): example.com's paragraph, not gzip bytes.
    (example,) = by_file["warcio-example.warc.gz"]
    text = (out / example["text"]["file"]).read_text("utf-8")
    assert "This domain is established to be used for illustrative examples" in text
    # wget wrapped the target URI in angle brackets.
    (wget,) = by_file["warcio-example-wget-bad-target-uri.warc.gz"]
    assert wget["source"]["target_uri"] == "http://example.com/"
    (chunked,) = by_file["warcio-example-iana.org-chunked.warc"]
    assert chunked["metadata"]["language"] == "en" and not chunked["text"]["empty"]

    # Our payload digest equals the WARC-Payload-Digest that ArchiveWeb.page wrote (SHA-256).
    digests = {}
    with open(WARCS / "pywacz-example-iana-warc11-sha256.warc.gz", "rb") as fh:
        for record in ArchiveIterator(fh):
            label = record.rec_headers.get_header("WARC-Payload-Digest") or ""
            if record.rec_type == "response" and label.startswith("sha256:"):
                digests[record.rec_headers.get_header("WARC-Record-ID")] = label[7:]
    checked = 0
    for s in by_file["pywacz-example-iana-warc11-sha256.warc.gz"]:
        label = digests[s["source"]["record_id"]]
        expected = base64.b32decode(label).hex() if len(label) == 52 else label
        assert s["source"]["payload_sha256"] == expected
        checked += 1
    assert checked >= 5


def test_broken_warcs_give_one_line_each_and_others_are_cleaned(
    own_warc: Path, tmp_path: Path
) -> None:
    not_warc = tmp_path / "notes.warc"
    not_warc.write_text("This is not a WARC file.\n")
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(own_warc.read_bytes()[:-700])  # ends inside a gzip member
    missing = tmp_path / "missing.warc.gz"
    lines: list[str] = []
    summary = clean_warcs([not_warc, cut, missing, own_warc], tmp_path / "out", lines.append)
    assert summary.files_failed == 3 and len(summary.errors) == 3 and lines == summary.errors
    for path, line in zip([not_warc, cut, missing], summary.errors, strict=True):
        assert line.startswith(f"{path}: ") and "\n" not in line
    assert summary.files_read == 1
    assert _text(tmp_path / "out", 1)  # the good WARC was still cleaned

    echoed: list[str] = []
    assert (
        clean_command([not_warc], tmp_path / "out2", echo=echoed.append, echo_error=echoed.append)
        == EXIT_USAGE
    )
    assert any("not a readable WARC" in line for line in echoed)
    assert clean_command([own_warc], tmp_path / "out3", echo=echoed.append) == EXIT_OK


def test_json_summary(own_warc: Path, tmp_path: Path) -> None:
    echoed: list[str] = []
    assert clean_command([own_warc], tmp_path, as_json=True, echo=echoed.append) == EXIT_OK
    (report,) = echoed
    data = json.loads(report)
    assert data["cleaned"] == 6 and data["files_failed"] == 0
    assert data["skipped"] == {"not HTML or PDF": 1, "revisit": 1, "status 404": 1}
    assert {o["path"] for o in data["outputs"]} >= {"trafilatura", "pdf", "empty"}
    assert all((tmp_path / o["sidecar"]).is_file() for o in data["outputs"])


def test_truncated_gzip_body_is_cleaned_with_a_note(tmp_path: Path) -> None:
    summary = clean_warcs([WARCS / "warcio-example-trunc.warc"], tmp_path)
    assert summary.cleaned == 1
    (sidecar,) = [json.loads(p.read_text("utf-8")) for p in tmp_path.glob("*.json")]
    assert any("cut off" in note for note in sidecar["notes"])


def test_unwritable_output_folder_is_one_error(own_warc: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArchiverError) as err:
        clean_warcs([own_warc], blocker / "out")
    assert err.value.exit_code == EXIT_RUN_FAILED
    assert "--out" in str(err.value)


@pytest.mark.parametrize(
    ("name", "keep"),
    [
        ("pywacz-example-iana-warc11-sha256.warc.gz", 400_000),  # inside an image's gzip member
        ("warcio-example-iana.org-chunked.warc", 8731),  # inside the last record's headers
        ("warcio-example.warc.gz", 3516),  # inside the last gzip member
    ],
)
def test_a_file_cut_off_anywhere_is_reported(name: str, keep: int, tmp_path: Path) -> None:
    cut = tmp_path / name
    cut.write_bytes((WARCS / name).read_bytes()[:keep])
    summary = clean_warcs([cut], tmp_path / "out")
    assert summary.files_failed == 1
    (line,) = summary.errors
    assert "cut off" in line or "truncated" in line
    assert "record(s) before the damage were cleaned" in line  # earlier records are kept
    assert summary.cleaned >= 1


def test_a_whole_file_gzip_warc_is_cleaned_like_its_record_gzip_original(
    own_warc: Path, tmp_path: Path
) -> None:
    # `gzip -c` of the uncompressed WARC: one member for all records, as some tools write it.
    whole = tmp_path / "whole" / own_warc.name
    whole.parent.mkdir()
    whole.write_bytes(gzip.compress(gzip.decompress(own_warc.read_bytes()), mtime=0))
    expected = clean_warcs([own_warc], tmp_path / "a")
    got = clean_warcs([whole], tmp_path / "b")
    assert got.files_failed == 0 and got.errors == []
    assert (got.cleaned, got.skipped) == (expected.cleaned, expected.skipped) == (6, got.skipped)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_an_arc_file_is_still_cleaned(tmp_path: Path) -> None:
    page = (
        b"<html><head><title>Report</title></head><body><main><h1>Report</h1>"
        + b"<p>The monitoring team documented the detention of four journalists.</p>" * 5
        + b"</main></body></html>"
    )
    http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + page
    version = b"1 0 Archiver\nURL IP-address Archive-date Content-type Archive-length\n"
    arc = tmp_path / "old.arc"
    arc.write_bytes(
        b"filedesc://old.arc 0.0.0.0 20060101000000 text/plain %d\n" % len(version)
        + version
        + b"\nhttp://example.org/report 93.184.216.34 20060101000000 text/html %d\n" % len(http)
        + http
        + b"\n"
    )
    summary = clean_warcs([arc], tmp_path / "out")
    assert (summary.cleaned, summary.errors) == (1, [])
    (text,) = (tmp_path / "out").glob("*.txt")
    assert "detention of four journalists" in text.read_text("utf-8")
