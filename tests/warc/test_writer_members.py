"""A record's gzip member: the same bytes whether its block is kept in memory or streamed.

WarcWriter reads a block of at most ``KEEP`` bytes once, hashes it and writes its member in one
go; a larger block is read again and streamed in 1 MiB pieces. Either way the compressor is fed
the header, the block's pieces and the closing CRLFs, so each member written here is rebuilt
the way the writer always built it (one compress call per piece) and compared byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.warc.salvage import PIECE
from archiver.warc.writer import KEEP, NewRecord, WarcWriter

WHEN = datetime(2026, 11, 20, 23, 41, 5, 123456, tzinfo=UTC)


def _members(data: bytes) -> list[bytes]:
    """The file's gzip members, each as its compressed bytes."""
    out = []
    while data:
        d = zlib.decompressobj(31)
        d.decompress(data)
        used = len(data) - len(d.unused_data)
        out.append(data[:used])
        data = d.unused_data
    return out


def _as_always(member: bytes) -> bytes:
    """The member rebuilt as the writer built every member before blocks were kept."""
    record = zlib.decompress(member, 31)
    end = record.index(b"\r\n\r\n") + 4
    head, block = record[:end], record[end:-4]
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts = [gz.compress(head)]
    parts += [gz.compress(block[i : i + PIECE]) for i in range(0, len(block), PIECE)]
    return b"".join([*parts, gz.compress(b"\r\n\r\n"), gz.flush()])


def _block(kind: str, data: bytes) -> Any:
    if kind == "bytes":
        return data
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(data)
    if kind == "bytesio":
        return io.BytesIO(data)
    spooled = tempfile.SpooledTemporaryFile(max_size=1000)  # noqa: SIM115 - closed by the GC
    spooled.write(data)
    return spooled


def _data(size: int) -> bytes:
    text = b"".join(b"<p>line %d of a page</p>\n" % i for i in range(size // 20 + 1))
    return (text + hashlib.sha512(text).digest() * 8)[:size]


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "bytesio", "spooled"])
def test_every_member_is_byte_for_byte_the_streamed_one(tmp_path: Path, kind: str) -> None:
    sizes = [0, 1, 700, KEEP - 1, KEEP, KEEP + 1, PIECE + 5]
    records = [
        NewRecord(
            "resource",
            f"urn:x:{n}",
            "text/html",
            _block(kind, _data(n)),
            n,
            WHEN,
            f"<urn:uuid:{n}>",
            headers={"WARC-Protocol": ["http/1.1", "tls/1.3"]},
        )  # fmt: skip
        for n in sizes
    ]
    with WarcWriter(tmp_path, prefix="T", hostname="h", warcinfo={"software": "t"}) as writer:
        refs = writer.write(records)
    (path,) = tmp_path.glob("*.warc.gz")
    members = _members(path.read_bytes())
    assert len(members) == 1 + len(sizes)  # warcinfo first
    for member in members:
        assert member == _as_always(member)
    for ref, n in zip(refs, sizes, strict=True):
        record = zlib.decompress(members[refs.index(ref) + 1], 31)
        assert record.endswith(_data(n) + b"\r\n\r\n")
        assert f"Content-Length: {n}\r\n".encode() in record


def test_a_block_longer_than_its_length_is_cut_as_when_streamed(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, prefix="T", hostname="h", warcinfo={}) as writer:
        writer.write([NewRecord("resource", "urn:x", "text/plain", b"abcdef", 3, WHEN)])
        writer.write([NewRecord("resource", "urn:y", "text/plain", io.BytesIO(b"abcdef"), 3)])
    (path,) = tmp_path.glob("*.warc.gz")
    for member in _members(path.read_bytes())[1:]:
        assert zlib.decompress(member, 31).endswith(b"\r\n\r\nabc\r\n\r\n")
        assert member == _as_always(member)
