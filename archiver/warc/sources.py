"""Byte sources under the WARC reader: plain or gzip (member by member, or one whole-file
member), and a record's block as a bounded stream.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

STEP = 1024 * 1024


MAX_LINE = 64 * 1024


GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FramingProblem:
    offset: int
    code: str  # warc-framing | warc-truncated-file | warc-not-record-gzip | warc-gzip-error
    message: str


class PlainSource:
    """An uncompressed file; offsets are file offsets."""

    def __init__(self, f: BinaryIO, start: int) -> None:
        self._f = f
        self._buf = bytearray()
        self._pos = start  # file offset of _buf[0]
        self.gzip_error: FramingProblem | None = None  # decoding stopped here

    def _fill(self) -> bool:
        data = self._f.read(STEP)
        self._buf += data
        return bool(data)

    def unread(self, data: bytes) -> None:
        self._buf[:0] = data
        self._pos -= len(data)

    def read(self, n: int) -> bytes:
        while len(self._buf) < n and self._fill():
            pass
        if n >= len(self._buf):  # the common case for block reads: hand over the whole buffer
            out = bytes(self._buf)
            self._buf.clear()
        else:
            with memoryview(self._buf) as view:
                out = bytes(view[:n])
            del self._buf[:n]
        self._pos += len(out)
        return out

    def readline(self, limit: int = MAX_LINE) -> bytes:
        scanned = 0
        while True:
            i = self._buf.find(b"\n", scanned)
            if i >= 0 and i < limit:
                return self.read(i + 1)
            scanned = len(self._buf)
            if scanned >= limit or not self._fill():
                return self.read(min(limit, len(self._buf)))

    def record_start(self) -> tuple[int, bool]:
        """(offset of the next byte, whether it starts a gzip member / is addressable)."""
        return self._pos, True

    def recover(self) -> bool:
        """After a decoding error: skip to the next gzip member; False if there is none."""
        return False

    def member_end(self) -> int | None:
        return self._pos


class GzipSource(PlainSource):
    """Concatenated gzip members, decompressed in bounded steps; tracks member boundaries.

    Offsets in ``_pos`` are positions in the decompressed stream; ``_members`` maps the
    decompressed position where each recent member starts to its offset in the file.
    """

    def __init__(self, f: BinaryIO, start: int) -> None:
        super().__init__(f, 0)
        self._pending = b""  # compressed bytes not yet given to the decompressor
        self._consumed = start  # file offset of _pending[0]
        self._d: zlib._Decompress | None = None
        self._members: list[tuple[int, int]] = []
        self._total_out = 0
        self._file_eof = False

    def _fill(self) -> bool:
        """Decompress more output into _buf; False at the end of the data."""
        while True:
            if self.gzip_error:
                return False
            if not self._pending and not self._file_eof:
                self._pending = self._f.read(STEP // 4)
                self._file_eof = not self._pending
            if not self._pending:
                if self._d is not None:
                    start = self._members[-1][1]
                    self._fail(start, "warc-truncated-file", "file ends inside a gzip member")
                    self._d = None  # reported once; the data simply ends here
                return False
            if self._d is None:
                if self._pending[:2] != GZIP_MAGIC[: len(self._pending[:2])]:
                    self._fail(self._consumed, "warc-gzip-error", "bytes that are not gzip data")
                    return False
                self._d = zlib.decompressobj(31)
                self._members.append((self._total_out, self._consumed))
            try:
                out = self._d.decompress(self._pending, STEP)
            except zlib.error as e:
                self._fail(self._members[-1][1], "warc-gzip-error", f"corrupt gzip member ({e})")
                return False
            left = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
            self._consumed += len(self._pending) - len(left)
            self._pending = left
            if self._d.eof:
                self._d = None
            if out:
                self._buf += out
                self._total_out += len(out)
                return True

    def record_start(self) -> tuple[int, bool]:
        if not self._buf:
            self._fill()  # may cross the end of the current member into the next
        if not self._buf:
            return self._consumed, True  # end of data
        while len(self._members) > 1 and self._members[1][0] <= self._pos:
            self._members.pop(0)
        pos, offset = self._members[0]
        return offset, pos == self._pos

    def member_end(self) -> int | None:
        start, boundary = self.record_start()
        return start if boundary else None

    def _fail(self, offset: int, code: str, message: str) -> None:
        who = self._describe_member(offset)
        self.gzip_error = FramingProblem(offset, code, f"{who}{message}")

    def _describe_member(self, offset: int) -> str:
        """Name the record in a broken member from whatever of its start still decompresses.

        A CRC error only surfaces at the member's end, so a fresh decompressor asked for the
        first few KiB usually still yields the WARC header.
        """
        here = self._f.tell()
        try:
            self._f.seek(offset)
            data = self._f.read(65536)
            out = b""
            with contextlib.suppress(zlib.error):
                out = zlib.decompressobj(31).decompress(data, 16384)
        finally:
            self._f.seek(here)
        head = out.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        fields = dict(
            (k.strip().lower(), v.strip())
            for k, sep, v in (line.partition(":") for line in head.split("\r\n")[1:])
            if sep
        )
        if not head.startswith("WARC/") or "warc-record-id" not in fields:
            return ""
        uri = fields.get("warc-target-uri", "")
        kind = " ".join(x for x in (fields.get("warc-type", "?"), uri) if x)
        return f"record {fields['warc-record-id'][:100]} ({kind[:200]}): "

    def recover(self) -> bool:
        """Drop the broken member and resume at the next gzip header after it."""
        if self.gzip_error is None:
            return True
        at = self.gzip_error.offset + 1
        self.gzip_error = None
        self._buf.clear()
        self._pos = self._total_out
        self._d = None
        self._f.seek(at)
        carry = b""
        while True:
            data = self._f.read(STEP)
            if not data:
                self._pending, self._file_eof, self._consumed = b"", True, at
                return False
            window = carry + data
            i = window.find(GZIP_MAGIC + b"\x08")
            if i >= 0:
                self._consumed = at - len(carry) + i
                self._pending = window[i:]
                self._file_eof = False
                return True
            at += len(data)
            carry = window[-2:]


class BlockReader(io.RawIOBase):
    """The record block: at most Content-Length bytes from the source, read once."""

    def __init__(self, source: PlainSource, length: int) -> None:
        self._src = source
        self.remaining = length
        self.read_bytes = 0
        self.expired = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.expired:
            raise ValueError(
                "record block read after the iterator moved on; read it inside the loop "
                "or reopen it with read_record_at()"
            )
        if self.remaining <= 0:
            return b""
        if n is None or n < 0:
            parts = []
            while self.remaining > 0 and (piece := self.read(STEP)):
                parts.append(piece)
            return b"".join(parts)
        data = self._src.read(min(n, self.remaining))
        self.remaining -= len(data)
        self.read_bytes += len(data)
        if not data:
            self.remaining = -1  # source ended early: the record is truncated
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    @property
    def cut_short(self) -> bool:
        return self.remaining < 0

    def drain(self) -> None:
        """Skip the unread rest; afterwards the block can no longer be read."""
        while self.remaining > 0 and self.read(STEP):
            pass
        self.expired = True


def open_source(f: BinaryIO, start: int) -> PlainSource:
    f.seek(start)
    magic = f.read(2)
    f.seek(start)
    return GzipSource(f, start) if magic == GZIP_MAGIC else PlainSource(f, start)
