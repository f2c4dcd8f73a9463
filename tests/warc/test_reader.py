"""The reader handles every real WARC in tests/data/warc (other tools' files) and our own."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.base.errors import ArchiverError
from archiver.warc.digest import parse_label
from archiver.warc.reader import WarcFormatError, WarcReader, iter_records, read_record_at
from archiver.warc.writer import NewRecord, WarcWriter
from tests.helpers import DATA

WARCS = DATA / "warc"
FIXTURES = sorted(p for p in WARCS.iterdir() if ".warc" in p.name)
BROKEN = {"warcio-example-trunc.warc"}


def warcio_view(path: Path) -> list[tuple[int, str, str]]:
    with open(path, "rb") as f:
        it = ArchiveIterator(f)
        return [
            (it.get_record_offset(), r.rec_type, r.rec_headers.get_header("WARC-Record-ID"))
            for r in it
        ]


def test_fixtures_are_all_present():
    assert len(FIXTURES) == 13


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_reads_like_warcio_sees_it(path):
    reader = WarcReader(path, strict=path.name not in BROKEN)
    mine = []
    for rec in reader:
        assert rec.version in ("1.0", "1.1")
        assert rec.record_id and rec.type
        data = rec.block.read()
        assert len(data) == rec.content_length
        mine.append((rec.offset, rec.type, rec.record_id))
    assert mine == warcio_view(path)
    assert bool(reader.problems) == (path.name in BROKEN)


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.suffix == ".gz"], ids=lambda p: p.name)
def test_read_record_at_every_offset(path):
    records = list(iter_records(path))  # each record's length is set once it has been passed
    listed = [(r.offset, r.record_id, r.length) for r in records]
    sizes = [b - a for (a, _, _), (b, _, _) in zip(listed, listed[1:], strict=False)]
    sizes.append(path.stat().st_size - listed[-1][0])
    for (offset, rid, length), size in zip(listed, sizes, strict=True):
        assert length == size  # compressed member length, known once the record is read
        with read_record_at(path, offset) as rec:
            assert rec.record_id == rid


def test_strict_reader_raises_one_line_error_naming_the_file():
    path = WARCS / "warcio-example-trunc.warc"
    with pytest.raises(WarcFormatError) as e:
        for rec in iter_records(path):
            rec.block.read()
    msg = str(e.value)
    assert "warcio-example-trunc.warc" in msg and "\n" not in msg and "offset 1197" in msg


def test_not_a_warc_and_missing_file(tmp_path):
    p = tmp_path / "notes.warc"
    p.write_text("hello\nworld\n")
    with pytest.raises(WarcFormatError, match="not a WARC file"):
        list(iter_records(p))
    r = WarcReader(p, strict=False)
    assert list(r) == [] and r.problems[0].code == "warc-framing"
    with pytest.raises(ArchiverError, match="cannot read WARC file"):
        list(iter_records(tmp_path / "missing.warc.gz"))


def test_whole_file_gzip_is_read_but_flagged(tmp_path):
    src = WARCS / "warcio-example.warc.gz"
    plain = b"".join(_members(src.read_bytes()))
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain))
    reader = WarcReader(whole)  # strict: a valid file must not raise
    ids = [r.record_id for r in reader]
    assert ids == [rid for _, _, rid in warcio_view(src)]
    assert [p.code for p in reader.problems] == ["warc-not-record-gzip"]
    unzipped = tmp_path / "plain.warc"
    unzipped.write_bytes(plain)
    assert [r.record_id for r in iter_records(unzipped)] == ids


def _members(data: bytes):
    while data:
        d = zlib.decompressobj(31)
        yield d.decompress(data)
        data = d.unused_data


def test_legacy_chunked_fixture_payload_is_dechunked():
    path = WARCS / "warcio-example-iana.org-chunked.warc"
    for rec in iter_records(path):
        if rec.type == "response":
            head = rec.http_head()
            assert head is not None and head.status == 200 and head.chunked
            body = rec.payload().read()
            break
    assert body.startswith(b"<!doctype html>") and body.rstrip().endswith(b"</html>")
    # the recorded digest is over the raw chunked bytes, so it does not match the real payload
    algo, want = parse_label(rec.headers.get("WARC-Payload-Digest"))
    assert hashlib.new(algo, body).digest() != want


def _write_one(tmp_path: Path, block: bytes) -> Path:
    closed: list = []
    with WarcWriter(
        tmp_path,
        prefix="R",
        hostname="h",
        warcinfo={},
        on_file_closed=lambda p, d: closed.append(p),
    ) as w:
        w.write(
            [
                NewRecord(
                    "response",
                    "https://example.org/",
                    "application/http;msgtype=response",
                    block,
                    len(block),
                    http_payload=True,
                )
            ]
        )
    return closed[0]


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_payload_content_decoding_on_request(tmp_path, coding):
    text = ("<p>témoignage</p>\n" * 3000).encode()
    if coding == "br":
        brotli = pytest.importorskip("brotli")  # optional, as in urllib3
        encoded = brotli.compress(text)
    else:
        encoded = gzip.compress(text) if coding == "gzip" else zlib.compress(text)
    chunked = b"".join(
        b"%x\r\n" % len(encoded[i : i + 1000]) + encoded[i : i + 1000] + b"\r\n"
        for i in range(0, len(encoded), 1000)
    )
    block = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: "
        + coding.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked
        + b"0\r\n\r\n"
    )
    path = _write_one(tmp_path, block)
    records = list(iter_records(path))
    assert [r.type for r in records] == ["warcinfo", "response"]
    rec = records[1]
    with pytest.raises(ValueError, match="iterator moved on"):
        rec.block.read()  # the iterator moved on: reopen the record by offset
    with read_record_at(path, rec.offset) as again:
        stream = again.payload(decode_content=True)
        assert stream.read() == text and stream.content_encoding_removed and not stream.error
    with read_record_at(path, rec.offset) as again:
        assert again.payload().read() == encoded
    with read_record_at(path, rec.offset) as again:
        assert again.block.read() == block


def test_corrupt_content_encoding_stops_without_raising(tmp_path):
    body = gzip.compress(b"x" * 10000)[:-30] + b"garbage-garbage-garbage-garbage"
    block = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + body
    path = _write_one(tmp_path, block)
    offset = [r.offset for r in iter_records(path)][1]
    with read_record_at(path, offset) as rec:
        stream = rec.payload(decode_content=True)
        stream.read()
        assert stream.error and "content-encoding" in stream.error


def test_read_record_at_a_wrong_offset_is_a_one_line_error():
    with pytest.raises(WarcFormatError, match="no WARC record at offset|expected WARC"):
        read_record_at(WARCS / "warcio-example.warc.gz", 5).close()
