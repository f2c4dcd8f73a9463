"""WarcWriter: what it writes must read back, byte for byte, with an independent reader (warcio)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import random
import re
import shutil
import threading
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from archiver.base.hashing import hash_file
from archiver.warc.digest import Dechunker, parse_label
from archiver.warc.salvage import salvage_open_file
from archiver.warc.writer import NewRecord, WarcWriter

NAME_RE = re.compile(r"^TEST-\d{20}-(\d{5})-host-1\.warc\.gz$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def b32(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def http_response(body: bytes, extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    return head + b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


REQUEST = b"GET /page HTTP/1.1\r\nHost: example.org\r\nUser-Agent: archiver-test\r\n\r\n"


def pair(uri: str, body: bytes, **resp_headers: str) -> list[NewRecord]:
    resp = http_response(body)
    rid = (
        f"<urn:uuid:{hashlib.md5(uri.encode() + body).hexdigest()[:8]}-0000-4000-8000-000000000000>"
    )
    when = datetime(2026, 11, 20, 23, 41, 5, 123456, tzinfo=UTC)
    return [
        NewRecord(
            "response",
            uri,
            "application/http;msgtype=response",
            resp,
            len(resp),
            date=when,
            record_id=rid,
            http_payload=True,
            headers={"WARC-IP-Address": "127.0.0.1", **resp_headers},
        ),
        NewRecord(
            "request",
            uri,
            "application/http;msgtype=request",
            io.BytesIO(REQUEST),
            len(REQUEST),
            date=when,
            http_payload=True,
            headers={"WARC-Concurrent-To": rid},
        ),
    ]


def read_all(path: Path) -> list[tuple[dict[str, str], bytes, int]]:
    """Every record as (WARC headers, raw block, offset), via warcio."""
    out = []
    with open(path, "rb") as f:
        it = ArchiveIterator(f, no_record_parse=True)
        for rec in it:
            headers = dict(rec.rec_headers.headers)
            block = rec.raw_stream.read()
            out.append((headers, block, it.get_record_offset()))
    return out


def make_writer(tmp_path: Path, closed: list, **kw) -> WarcWriter:
    return WarcWriter(
        tmp_path / "warcs",
        prefix="TEST",
        hostname="host-1",
        warcinfo={"software": "archiver/test", "operator": "Tester", "robots": "obey"},
        on_file_closed=lambda p, d: closed.append((p, d)),
        **kw,
    )


def test_round_trip_pair_reads_back_with_warcio_and_passes_warcio_check(tmp_path, capsys):
    closed: list = []
    w = make_writer(tmp_path, closed)
    body = b"<html><body>evidence</body></html>"
    refs = w.write(pair("http://example.org/page", body, **{"WARC-Truncated": "length"}))
    assert w.current_file is not None and w.current_file.name.endswith(".warc.gz.open")
    assert not (w.current_file.parent / refs[0].warc_file).exists()
    w.close()
    w.close()  # idempotent

    assert len(closed) == 1
    path, digests = closed[0]
    assert path.name == refs[0].warc_file and NAME_RE.match(path.name)
    assert NAME_RE.match(path.name).group(1) == "00000"
    assert not list(path.parent.glob("*.open"))
    assert digests == hash_file(path)

    records = read_all(path)
    assert [h["WARC-Type"] for h, _, _ in records] == ["warcinfo", "response", "request"]
    info_h, info_block, _ = records[0]
    assert info_h["WARC-Filename"] == path.name
    assert info_h["Content-Type"] == "application/warc-fields"
    assert b"format: WARC File Format 1.1\r\n" in info_block
    assert b"operator: Tester\r\n" in info_block

    resp_h, resp_block, resp_off = records[1]
    req_h, req_block, req_off = records[2]
    assert resp_block == http_response(body)  # captured bytes unchanged
    assert req_block == REQUEST
    assert resp_h["WARC-Target-URI"] == "http://example.org/page"
    assert resp_h["WARC-Date"] == "2026-11-20T23:41:05.123456Z"
    assert DATE_RE.match(info_h["WARC-Date"])
    assert resp_h["WARC-Warcinfo-ID"] == req_h["WARC-Warcinfo-ID"] == info_h["WARC-Record-ID"]
    assert req_h["WARC-Concurrent-To"] == resp_h["WARC-Record-ID"] == refs[0].record_id
    assert resp_h["WARC-IP-Address"] == "127.0.0.1"
    assert resp_h["WARC-Truncated"] == "length"
    assert resp_h["Content-Length"] == str(len(resp_block))
    assert resp_h["WARC-Block-Digest"] == b32(resp_block)
    assert resp_h["WARC-Payload-Digest"] == b32(body)
    assert req_h["WARC-Payload-Digest"] == b32(b"")
    assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", req_h["WARC-Record-ID"])
    assert (refs[0].offset, refs[1].offset) == (resp_off, req_off)
    assert refs[1].offset == refs[0].offset + refs[0].length
    assert refs[1].offset + refs[1].length == path.stat().st_size

    # each member decompresses alone to exactly one record: the file is seekable by offset
    with open(path, "rb") as f:
        f.seek(refs[0].offset)
        member = gzip.decompress(f.read(refs[0].length))
    assert member.startswith(b"WARC/1.1\r\nWARC-Type: response\r\n")
    assert member.endswith(http_response(body) + b"\r\n\r\n")

    checker = Checker(type("Args", (), {"inputs": [str(path)], "verbose": True})())
    assert checker.process_all() == 0, capsys.readouterr().out


def test_chunked_response_payload_digest_is_over_dechunked_body(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed)
    chunked = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n"
    block = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    w.write(
        [
            NewRecord(
                "response",
                "https://example.org/c",
                "application/http;msgtype=response",
                block,
                len(block),
                http_payload=True,
            )
        ]
    )
    w.close()
    (h, raw, _) = read_all(closed[0][0])[1]
    assert raw == block
    assert h["WARC-Block-Digest"] == b32(block)
    assert h["WARC-Payload-Digest"] == b32(b"Wikipedia in\r\n\r\nchunks.")
    assert h["WARC-Payload-Digest"] != b32(chunked)


@pytest.mark.parametrize(
    "chunked, decoded",
    [
        (b"4\r\nWiki\r\n5\r\nped", b"Wikiped"),  # cut inside a chunk
        (b"4\r\nWiki\r\nZZ\r\npedia\r\n0\r\n\r\n", b"Wiki"),  # bad size line
        (b"4\r\nWikiXX5\r\npedia\r\n0\r\n\r\n", b"Wiki"),  # missing CRLF
    ],
)
def test_malformed_chunked_body_hashes_what_decodes(tmp_path, chunked, decoded):
    closed: list = []
    w = make_writer(tmp_path, closed)
    block = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    rec = NewRecord("response", "http://x.test/", "application/http;msgtype=response", block, 0)
    rec.block_length = len(block)
    rec.http_payload = True
    w.write([rec])
    w.close()
    (h, raw, _) = read_all(closed[0][0])[1]
    assert raw == block
    assert h["WARC-Payload-Digest"] == b32(decoded)


def test_dechunker_fed_one_byte_at_a_time():
    data = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"
    d = Dechunker()
    out = b"".join(d.feed(data[i : i + 1]) for i in range(len(data)))
    assert out == b"Wikipedia" and d.finish() is None and d.done
    d2 = Dechunker()
    d2.feed(data[:12])
    assert d2.finish() and "ends inside a chunk" in d2.finish()


def test_dechunker_many_tiny_chunks_and_long_size_line():
    body = bytes(range(256)) * 40
    data = b"".join(b"1\r\n" + body[i : i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"
    d = Dechunker()
    assert d.feed(memoryview(data)) == body and d.finish() is None
    d = Dechunker()
    assert d.feed(b"4\r\nWiki\r\n" + b"0" * 20000 + b"5\r\npedia") == b"Wiki"
    assert d.error and "too long" in d.error


def test_caller_payload_digest_and_resource_record(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed)
    known = b32(b"elsewhere")
    w.write(
        [
            NewRecord(
                "revisit",
                "http://example.org/",
                "application/http;msgtype=response",
                b"HTTP/1.1 200 OK\r\n\r\n",
                19,
                payload_digest=known,
                headers={
                    "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                    "WARC-Refers-To": "<urn:uuid:00000000-0000-4000-8000-000000000001>",
                },
            ),
            NewRecord("resource", "urn:x:log", "text/plain", b"log line\n", 9),
        ]
    )
    w.close()
    recs = read_all(closed[0][0])
    assert recs[1][0]["WARC-Payload-Digest"] == known
    assert recs[1][0]["WARC-Refers-To"] == "<urn:uuid:00000000-0000-4000-8000-000000000001>"
    assert "WARC-Payload-Digest" not in recs[2][0]
    assert recs[2][1] == b"log line\n"


def test_rollover_keeps_groups_together_and_seals_every_file(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed, max_file_size=1)  # every group fills a file
    groups = [pair(f"http://example.org/{i}", b"x" * (100 * i)) for i in range(3)]
    refs = [w.write(g) for g in groups]
    assert len(closed) == 3  # each group rolled over as soon as it exceeded the limit
    w.write(pair("http://example.org/last", b"y"))
    w.close()
    assert len(closed) == 4
    serials = [NAME_RE.match(p.name).group(1) for p, _ in closed]
    assert serials == ["00000", "00001", "00002", "00003"]
    for (path, digests), group_refs in zip(closed[:3], refs, strict=True):
        assert {r.warc_file for r in group_refs} == {path.name}
        recs = read_all(path)
        assert [h["WARC-Type"] for h, _, _ in recs] == ["warcinfo", "response", "request"]
        assert recs[0][0]["WARC-Filename"] == path.name
        assert digests == hash_file(path)
    assert sorted(p.name for p in (tmp_path / "warcs").iterdir()) == sorted(
        p.name for p, _ in closed
    )


def test_no_file_when_nothing_written(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed)
    assert w.write([]) == []
    w.close()
    assert closed == [] and list((tmp_path / "warcs").iterdir()) == []


class FailsOnSecondPass(io.BytesIO):
    """A block that reads fine once (digests) and then fails while being written."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.passes = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self.passes += 1
        return super().seek(pos, whence)

    def read(self, n: int = -1) -> bytes:
        if self.passes > 1 and self.tell() > 1000:
            raise OSError("disk went away")
        return super().read(n)


def test_failure_mid_record_seals_complete_records_and_writer_goes_on(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed)
    first = w.write(pair("http://example.org/ok", b"fine"))
    big = b"HTTP/1.1 200 OK\r\n\r\n" + b"q" * 5_000_000
    with pytest.raises(OSError, match="disk went away"):
        w.write(
            [
                NewRecord(
                    "response", "http://x/", "application/http", FailsOnSecondPass(big), len(big)
                )
            ]
        )
    assert len(closed) == 1  # the broken file was salvaged and sealed at once
    path, digests = closed[0]
    assert path.name == first[0].warc_file and digests == hash_file(path)
    assert [h["WARC-Type"] for h, _, _ in read_all(path)] == ["warcinfo", "response", "request"]
    later = w.write(pair("http://example.org/later", b"again"))
    w.close()
    assert later[0].warc_file != first[0].warc_file
    assert NAME_RE.match(later[0].warc_file).group(1) == "00001"


def test_bad_record_writes_nothing_of_its_group(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed)
    good = pair("http://example.org/a", b"a")
    bad = NewRecord("resource", "urn:x", "text/plain", io.BytesIO(b"short"), 99)
    with pytest.raises(ValueError, match="block_length says 99"):
        w.write([good[0], bad])
    with pytest.raises(ValueError, match="line break"):
        w.write([NewRecord("resource", "urn:x\r\nX: y", "text/plain", b"", 0)])
    with pytest.raises(ValueError, match="set by the writer"):
        w.write([NewRecord("resource", "urn:x", "text/plain", b"", 0, headers={"WARC-Type": "x"})])
    w.write(good)
    w.close()
    assert [h["WARC-Type"] for h, _, _ in read_all(closed[0][0])] == [
        "warcinfo",
        "response",
        "request",
    ]
    with pytest.raises(ValueError, match="closed"):
        w.write(good)


def test_threads_never_interleave_groups(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed, max_file_size=20_000)

    def work(t: int) -> None:
        for i in range(15):
            w.write(pair(f"http://t{t}.example/{i}", b"z" * (i * 37 + t)))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    total = 0
    for path, _ in closed:
        recs = read_all(path)
        assert recs[0][0]["WARC-Type"] == "warcinfo"
        body = recs[1:]
        assert len(body) % 2 == 0
        for resp, req in zip(body[::2], body[1::2], strict=True):
            assert req[0]["WARC-Concurrent-To"] == resp[0]["WARC-Record-ID"]
            assert resp[0]["WARC-Block-Digest"] == b32(resp[1])
        total += len(body) // 2
    assert total == 60


def test_salvage_keeps_complete_records_of_a_file_cut_mid_record(tmp_path):
    closed: list = []
    w = make_writer(tmp_path, closed)
    refs = w.write(pair("http://example.org/1", b"one" * 1000))
    refs += w.write(pair("http://example.org/2", b"two" * 1000))
    open_path = w.current_file
    assert open_path is not None
    crashed = tmp_path / "crashed" / open_path.name
    crashed.parent.mkdir()
    shutil.copyfile(open_path, crashed)
    w.close()
    cut = refs[2].offset + refs[2].length // 2  # inside the second response's member
    with open(crashed, "r+b") as f:
        f.truncate(cut)

    final = salvage_open_file(crashed)
    assert final is not None and final.name == refs[0].warc_file
    assert not crashed.exists()
    assert final.stat().st_size == refs[2].offset
    types = [h["WARC-Type"] for h, _, _ in read_all(final)]
    assert types == ["warcinfo", "response", "request"]


def test_salvage_of_file_without_a_complete_record_returns_none(tmp_path):
    p = tmp_path / "X-20260101000000000000-00000-h.warc.gz.open"
    p.write_bytes(gzip.compress(b"WARC/1.1\r\n" * 100)[:30])
    assert salvage_open_file(p) is None
    assert p.exists()


@pytest.mark.timeout(30)  # the old drain loop spun forever here: fail, never hang
def test_salvage_of_a_3_mb_member_followed_by_another_ends(tmp_path):
    # A 3 MB record compresses to well under the 1 MiB read size: the whole member and the next
    # one arrive in one read, and the member ends while its output is being drained.
    big = b"".join(b"line %d of a captured page\r\n" % i for i in range(110_000))
    assert len(big) > 3_000_000
    first = gzip.compress(b"WARC/1.1\r\n" + big, mtime=0)
    second = gzip.compress(b"WARC/1.1\r\nsecond record\r\n\r\n", mtime=0)
    noise = random.Random(7).randbytes(200_000)
    torn = gzip.compress(b"WARC/1.1\r\n" + noise, mtime=0)[:50_000]
    p = tmp_path / "X-20260101000000000000-00000-h.warc.gz.open"
    p.write_bytes(first + second + torn)
    final = salvage_open_file(p)
    assert final is not None and final.name.endswith(".warc.gz") and not p.exists()
    assert final.read_bytes() == first + second  # the cut-off third member is dropped


def test_memory_stays_bounded_for_a_large_streamed_block(tmp_path):
    size = 50 * 1024 * 1024
    src = tmp_path / "big.bin"
    pattern = hashlib.sha512(b"seed").digest() * 16384  # 1 MiB, compresses fast
    with open(src, "wb") as f:
        f.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        for _ in range(size // len(pattern)):
            f.write(pattern)
    length = src.stat().st_size
    closed: list = []
    w = make_writer(tmp_path, closed)
    with open(src, "rb") as block:
        block.seek(1234)  # the writer must start from offset 0 whatever the position
        tracemalloc.start()
        w.write(
            [
                NewRecord(
                    "response",
                    "http://big.test/",
                    "application/http;msgtype=response",
                    block,
                    length,
                    http_payload=True,
                )
            ]
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    w.close()
    assert peak < 8 * 1024 * 1024, peak
    (h, raw, _) = read_all(closed[0][0])[1]
    assert len(raw) == length and h["WARC-Block-Digest"] == b32(src.read_bytes())


@pytest.mark.parametrize(
    "value",
    [
        "sha256:" + base64.b32encode(hashlib.sha256(b"a").digest()).decode(),
        "sha256:" + hashlib.sha256(b"a").hexdigest(),
        "sha256:" + base64.b64encode(hashlib.sha256(b"a").digest()).decode(),
        "SHA-256:" + base64.b32encode(hashlib.sha256(b"a").digest()).decode().rstrip("="),
    ],
)
def test_parse_label_accepts_base32_hex_and_base64(value):
    assert parse_label(value) == ("sha256", hashlib.sha256(b"a").digest())


def test_parse_label_rejects_nonsense():
    assert parse_label("md5:abc") is None
    assert parse_label("sha1:tooshort") is None
    assert parse_label("no-colon") is None
