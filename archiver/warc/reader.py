"""Read WARC records from any tool's files: gzip per record, whole-file gzip or uncompressed.

The framing is parsed here by hand rather than with warcio's ``ArchiveIterator`` because a
verifier needs what warcio does not give: it refuses whole-file gzip after the first record,
prints framing problems to stderr instead of returning them, and cannot resynchronise after a
record whose Content-Length is wrong. Here framing problems are data (``WarcReader.problems``) and
iteration continues at the next ``WARC/x.y`` line. Tests cross-check offsets against warcio.

Memory stays bounded: blocks are streamed, decompression is done in 1 MiB steps.
"""

from __future__ import annotations

import contextlib
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.warc.digest import (
    MAX_HEADER_BLOCK,
    Dechunker,
    HttpHead,
    find_head_end,
    parse_http_head,
)

STEP = 1024 * 1024
_MAX_LINE = 64 * 1024
_VERSION_RE = re.compile(rb"^WARC/(\d+\.\d+)\r?\n$", re.IGNORECASE)  # case: checked later
GZIP_MAGIC = b"\x1f\x8b"


class WarcFormatError(ArchiverError):
    """A file that cannot be read as WARC at some offset."""

    def __init__(self, message: str, offset: int = 0, code: str = "warc-framing") -> None:
        super().__init__(message, EXIT_USAGE)
        self.offset = offset
        self.code = code


@dataclass(frozen=True)
class FramingProblem:
    offset: int
    code: str  # warc-framing | warc-truncated-file | warc-not-record-gzip | warc-gzip-error
    message: str


# -- byte sources -----------------------------------------------------------------------------


class _PlainSource:
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

    def readline(self, limit: int = _MAX_LINE) -> bytes:
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


class _GzipSource(_PlainSource):
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


# -- headers and records ----------------------------------------------------------------------


@dataclass
class WarcHeaders:
    """WARC header fields in file order; names compared case-insensitively."""

    fields: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self.fields:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.fields if k.lower() == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


class _BlockReader(io.RawIOBase):
    """The record block: at most Content-Length bytes from the source, read once."""

    def __init__(self, source: _PlainSource, length: int) -> None:
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

    def readinto(self, b) -> int:  # type: ignore[override]
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


@dataclass
class WarcRecord:
    """One record. ``block`` streams the raw block; valid until the iterator moves on."""

    offset: int
    version: str
    headers: WarcHeaders
    content_length: int
    block: _BlockReader
    addressable: bool = True  # offset starts a gzip member (or plain file position)
    length: int | None = None  # bytes in the file (compressed member length), once known
    end_ok: bool = True  # followed by CRLF CRLF
    version_line: str = ""  # as written, e.g. "WARC/1.1" (or "warc/1.0" from a lax tool)
    _head: HttpHead | None = None
    _head_rest: bytes = b""
    _file: BinaryIO | None = None

    @property
    def type(self) -> str:
        return (self.headers.get("WARC-Type") or "").strip()

    @property
    def record_id(self) -> str | None:
        return self.headers.get("WARC-Record-ID")

    @property
    def target_uri(self) -> str | None:
        uri = self.headers.get("WARC-Target-URI")
        return uri.strip().strip("<>") if uri is not None else None

    @property
    def date(self) -> str | None:
        return self.headers.get("WARC-Date")

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def truncated(self) -> bool:
        """The file ended before Content-Length bytes of block (known once the block is read)."""
        return self.block.cut_short

    @property
    def is_http(self) -> bool:
        """Does the block hold an HTTP message (request, response, or a revisit's headers)?"""
        ct = (self.content_type or "").lower()
        if ct.startswith("application/http"):
            return True
        uri = (self.target_uri or "").lower()
        return self.type in ("response", "request", "revisit") and uri.startswith(
            ("http:", "https:")
        )

    def http_head(self) -> HttpHead | None:
        """Parse the HTTP header block at the start of the block (consumes it from ``block``)."""
        if self._head is not None or not self.is_http:
            return self._head
        if self.block.read_bytes:
            raise ValueError("http_head() must be called before reading the block")
        buf = bytearray()
        while len(buf) <= MAX_HEADER_BLOCK:
            piece = self.block.read(16384)
            if not piece:
                break
            scan = max(0, len(buf) - 3)
            buf += piece
            end = find_head_end(buf, scan)
            if end >= 0:
                self._head = parse_http_head(bytes(buf[:end]))
                self._head_rest = bytes(buf[end:])
                return self._head
        self._head_rest = bytes(buf)
        return None

    def payload(self, decode_content: bool = False) -> PayloadReader:
        """The HTTP entity body (transfer-encoding removed), or the whole block if not HTTP.

        With ``decode_content`` the content-encoding (gzip, deflate, br) is removed as well, for
        the cleaner; the stored bytes are never changed.
        """
        head = self.http_head()
        return PayloadReader(self._head_rest, self.block, head, decode_content)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> WarcRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PayloadReader(io.RawIOBase):
    """Streams a payload: de-chunks and (optionally) content-decodes on the fly."""

    def __init__(
        self, first: bytes, rest: _BlockReader, head: HttpHead | None, decode_content: bool
    ) -> None:
        self._first = first
        self._rest = rest
        self._out = bytearray()
        self._eof = False
        self.error: str | None = None
        self._dechunk = Dechunker() if head is not None and head.chunked else None
        self._decoders = []
        self.content_encoding_removed = False
        if decode_content and head is not None:
            codings = [
                c.strip().lower()
                for v in head.get_all("content-encoding")
                for c in v.split(",")
                if c.strip() and c.strip().lower() != "identity"
            ]
            decoders = [_decoder(c) for c in reversed(codings)]
            if all(d is not None for d in decoders):
                self._decoders = decoders
                self.content_encoding_removed = bool(decoders)

    def readable(self) -> bool:
        return True

    def _next_raw(self) -> bytes:
        if self._first:
            data, self._first = self._first, b""
            return data
        return self._rest.read(STEP)

    def _pump(self) -> None:
        raw = self._next_raw()
        if not raw:
            for d in self._decoders:
                tail = d.flush() if hasattr(d, "flush") else b""
                self._out += tail
            if self._dechunk is not None and self._dechunk.finish():
                self.error = self._dechunk.error
            self._eof = True
            return
        data = self._dechunk.feed(raw) if self._dechunk is not None else raw
        try:
            for d in self._decoders:
                data = d.decompress(data)
        except (zlib.error, ValueError) as e:  # a corrupt or truncated body
            self.error = f"content-encoding could not be decoded: {e}"
            self._eof = True
            return
        self._out += data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            while not self._eof:
                self._pump()
            out, self._out = bytes(self._out), bytearray()
            return out
        while len(self._out) < n and not self._eof:
            self._pump()
        out = bytes(self._out[:n])
        del self._out[:n]
        return out

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _decoder(coding: str):
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(47)
    if coding == "deflate":
        return _Deflate()
    if coding == "br":
        return _Brotli.create()
    return None


class _Brotli:
    """Adapter giving brotli's ``process`` the zlib ``decompress`` shape; errors as ValueError."""

    def __init__(self, d, error: type[Exception]) -> None:
        self._d = d
        self._error = error

    @classmethod
    def create(cls) -> _Brotli | None:
        try:
            import brotli  # optional: installed alongside urllib3[brotli]/requests
        except ImportError:
            return None
        return cls(brotli.Decompressor(), brotli.error)

    def decompress(self, data: bytes) -> bytes:
        try:
            return self._d.process(data)
        except self._error as e:
            raise ValueError(str(e)) from e


class _Deflate:
    """'deflate' is zlib-wrapped per the RFC but raw deflate from some servers: try both."""

    def __init__(self) -> None:
        self._d: zlib._Decompress | None = None

    def decompress(self, data: bytes) -> bytes:
        if self._d is None:
            self._d = zlib.decompressobj(15 if data[:1] == b"\x78" else -15)
        return self._d.decompress(data)

    def flush(self) -> bytes:
        return self._d.flush() if self._d is not None else b""


# -- iteration --------------------------------------------------------------------------------


def _open_source(f: BinaryIO, start: int) -> _PlainSource:
    f.seek(start)
    magic = f.read(2)
    f.seek(start)
    return _GzipSource(f, start) if magic == GZIP_MAGIC else _PlainSource(f, start)


class WarcReader:
    """Iterate the records of one WARC file.

    With ``strict=True`` (the default) the first framing problem raises ``WarcFormatError``;
    with ``strict=False`` problems are collected in ``problems`` and reading resumes at the next
    record, which is what a checker needs.
    """

    def __init__(self, path: str | Path, *, strict: bool = True, display: str | None = None):
        self.path = Path(path)
        self.display = display or str(path)
        self.strict = strict
        self.problems: list[FramingProblem] = []
        self.records_read = 0

    def _problem(self, offset: int, code: str, message: str) -> None:
        if self.strict:
            raise WarcFormatError(f"{self.display}: {message} at offset {offset}", offset, code)
        self.problems.append(FramingProblem(offset, code, message))

    def __iter__(self) -> Iterator[WarcRecord]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed in finally
        except OSError as e:
            raise ArchiverError(
                f"cannot read WARC file {self.display}: {e.strerror}; check the path"
            ) from e
        try:
            src = _open_source(f, 0)
            warned_shared = False
            while True:
                rec = _next_record(src, self)
                if rec is None:
                    break
                if not rec.addressable and not warned_shared:
                    warned_shared = True
                    self.problems.append(  # a warning, even when strict: the file is valid
                        FramingProblem(
                            rec.offset,
                            "warc-not-record-gzip",
                            "records share one gzip member (whole-file gzip), so they cannot be "
                            "read by offset; recompress with `warcio recompress`",
                        )
                    )
                self.records_read += 1
                yield rec
                _finish_record(src, rec, self)
        finally:
            f.close()


def iter_records(path: str | Path, *, strict: bool = True) -> Iterator[WarcRecord]:
    """Yield every record of ``path``; each record's block is readable until the next one."""
    return iter(WarcReader(path, strict=strict))


def read_record_at(path: str | Path, offset: int) -> WarcRecord:
    """Open the record whose gzip member (or plain record) starts at ``offset``.

    The returned record owns the open file: use it as a context manager or call ``close()``.
    """
    reader = WarcReader(path, strict=True)
    f = open(path, "rb")  # noqa: SIM115 - owned by the returned record
    try:
        src = _open_source(f, offset)
        rec = _next_record(src, reader, resync=False)
    except BaseException:
        f.close()
        raise
    if rec is None:
        f.close()
        raise WarcFormatError(f"{path}: no WARC record at offset {offset}", offset)
    rec._file = f
    return rec


def _next_record(src: _PlainSource, reader: WarcReader, resync: bool = True) -> WarcRecord | None:
    """Parse the next record header; skip (and report) anything that is not a record start."""
    while True:
        rec = _parse_record(src, reader, resync)
        if rec is not False:
            return rec


def _parse_record(src: _PlainSource, reader: WarcReader, resync: bool) -> WarcRecord | None | bool:
    """A record, None at the end, or False for a header to skip (bad Content-Length)."""
    skipped_from: int | None = None
    while True:
        offset, addressable = src.record_start()
        line = src.readline()
        if not line and src.gzip_error is not None:
            err = src.gzip_error
            reader._problem(err.offset, err.code, err.message)
            if resync and src.recover():
                continue
            return None
        if not line:
            if skipped_from is not None:
                reader._problem(skipped_from, "warc-framing", "unparseable bytes before end")
            return None
        if not line.strip():
            continue  # blank lines between records
        m = _VERSION_RE.match(line)
        if m:
            break
        if skipped_from is None:
            skipped_from = offset
            if not resync:
                reader._problem(offset, "warc-framing", f"expected WARC/1.x, found {line[:40]!r}")
                return None
            if reader.records_read == 0 and line[:5].upper() != b"WARC/":
                reader._problem(
                    offset, "warc-framing", f"not a WARC file (starts with {line[:20]!r})"
                )
                return None
    if skipped_from is not None:
        reader._problem(
            skipped_from,
            "warc-framing",
            f"{offset - skipped_from} bytes that are not a WARC record (skipped)",
        )
    version = m.group(1).decode()
    version_line = line.rstrip(b"\r\n").decode("ascii", "replace")
    fields: list[tuple[str, str]] = []
    total = 0
    while True:
        hline = _read_header_line(src, MAX_HEADER_BLOCK - total + 1)
        total += len(hline)
        if total > MAX_HEADER_BLOCK:
            reader._problem(offset, "warc-framing", "record header block is over 1 MiB")
            return False if resync else None  # skip on to the next record
        if not hline.endswith(b"\n"):  # the data ended (or stopped decoding) mid-header
            err = src.gzip_error
            if err is not None and err.code == "warc-gzip-error":
                reader._problem(err.offset, err.code, f"{err.message} inside a record header")
                return False if resync and src.recover() else None
            rid = WarcHeaders(fields).get("WARC-Record-ID")
            who = f"record {rid[:100]}: " if rid else ""
            reader._problem(offset, "warc-truncated-file", f"{who}file ends inside its header")
            return None
        if hline in (b"\r\n", b"\n"):
            break
        text = hline.decode("utf-8", errors="replace").rstrip("\r\n")
        if text[:1] in (" ", "\t") and fields:
            k, v = fields[-1]
            fields[-1] = (k, f"{v} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            reader._problem(offset, "warc-framing", f"malformed header line {text[:60]!r}")
            continue
        fields.append((name.strip(), value.strip()))
    headers = WarcHeaders(fields)
    raw_len = headers.get("Content-Length")
    if raw_len is None or not raw_len.strip().isdigit():
        reader._problem(
            offset, "warc-framing", f"missing or bad Content-Length {(raw_len or '')[:40]!r}"
        )
        return False if resync else None
    length = int(raw_len)
    return WarcRecord(
        offset,
        version,
        headers,
        length,
        _BlockReader(src, length),
        addressable=addressable,
        version_line=version_line,
    )


def _read_header_line(src: _PlainSource, budget: int) -> bytes:
    """One header line however long (a 100 KB URL is real), up to ``budget`` bytes.

    ``readline`` stops at 64 KiB so that scanning garbage stays cheap; a header line is read
    on in pieces, since stopping there would lose the record and every record after it.
    """
    line = src.readline()
    if line.endswith(b"\n") or not line or len(line) >= budget:
        return line
    parts = [line]
    size = len(line)
    while size < budget:
        piece = src.readline()
        if not piece:
            break
        parts.append(piece)
        size += len(piece)
        if piece.endswith(b"\n"):
            break
    return b"".join(parts)


def _finish_record(src: _PlainSource, rec: WarcRecord, reader: WarcReader) -> None:
    """Skip what the caller did not read, check the CRLF CRLF end, note the record's length."""
    rec.block.drain()
    where = f"record {(rec.record_id or '(no id)')[:100]}"
    if rec.block.cut_short:
        rec.end_ok = False
        missing = rec.content_length - rec.block.read_bytes
        err = src.gzip_error
        if err is not None and err.code == "warc-gzip-error":
            reader._problem(
                rec.offset,
                err.code,
                f"{where}: {err.message} at offset {err.offset}; {missing} bytes of its block "
                "cannot be read",
            )
            src.recover()
        else:
            reader._problem(
                rec.offset,
                "warc-truncated-file",
                f"{where}: file ends {missing} bytes before the end of its block",
            )
            src.gzip_error = None
        return
    end = src.read(4)
    if len(end) < 4 and not end.strip():  # the data ends where the closing CRLF CRLF should be
        rec.end_ok = False
        err = src.gzip_error
        src.gzip_error = None
        detail = err.message if err is not None and err.code == "warc-gzip-error" else ""
        reader._problem(
            rec.offset,
            "warc-gzip-error" if detail else "warc-truncated-file",
            f"{where}: {detail or 'file ends'} before the CRLF CRLF that closes the record",
        )
        if detail:
            src.recover()
        return
    if end != b"\r\n\r\n":
        rec.end_ok = False
        reader._problem(
            rec.offset,
            "warc-framing",
            f"{where}: block not followed by CRLF CRLF (found {end!r}); Content-Length "
            "may be wrong",
        )
        src.unread(end)
    if rec.addressable:
        end_at = src.member_end()
        if end_at is not None:
            rec.length = end_at - rec.offset
