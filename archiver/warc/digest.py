"""WARC digests: labels ("sha256:<BASE32>"), and the HTTP payload digest computed while streaming.

The payload of an HTTP message is its entity body with the transfer-encoding removed and the
content-encoding kept (WARC 1.1 §6.3.2 and iipc/warc-specifications#22). Many tools (warcio,
warcprox before 2.x) hashed the raw chunked bytes instead, so a checker must tell a correct digest,
a legacy one and a wrong one apart. Everything here is incremental (``update(bytes)``) so blocks
of any size are hashed in bounded memory.

The de-chunker is written by hand: urllib3/http.client de-chunk only from a live socket, and
warcio's ``ChunkedDataReader`` gives up on the whole body at the first malformed chunk, while we
must hash exactly what decodes and report where it stopped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

ALGORITHMS = {"sha1": "sha1", "sha256": "sha256", "sha512": "sha512"}
_ALIASES = {"sha-1": "sha1", "sha-256": "sha256", "sha-512": "sha512"}

MAX_HEADER_BLOCK = 1024 * 1024  # an HTTP header block larger than this is not parsed as one
_MAX_CHUNK_LINE = 8192


def label(algorithm: str, raw_digest: bytes) -> str:
    """Format a digest the way warcio, pywb and most readers expect: ``sha256:<BASE32>``."""
    return f"{algorithm}:{base32(raw_digest)}"


def base32(raw: bytes) -> str:
    """RFC 4648 base32, padded, as digest labels write it."""
    return base64.b32encode(raw).decode("ascii")


def sha256_label(h: hashlib._Hash) -> str:
    return label("sha256", h.digest())


def parse_label(value: str) -> tuple[str, bytes] | None:
    """Parse ``algo:value`` in base32, base16 (hex) or base64 form; None if not understood.

    The form is decided by the length the algorithm's digest must have, so a hex string is never
    misread as base64.
    """
    if ":" not in value:
        return None
    algo, _, text = value.strip().partition(":")
    algo = algo.strip().lower()
    algo = _ALIASES.get(algo, algo)
    if algo not in ALGORITHMS:
        return None
    size = hashlib.new(algo).digest_size
    text = text.strip()
    candidates: list[Callable[[], bytes]] = []
    if len(text) == size * 2:
        candidates.append(lambda: bytes.fromhex(text))
    candidates.append(lambda: base64.b32decode(text.upper() + "=" * (-len(text) % 8)))
    candidates.append(lambda: base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    candidates.append(lambda: base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    for decode in candidates:
        try:
            raw = decode()
        except (ValueError, binascii.Error):
            continue
        if len(raw) == size:
            return algo, raw
    return None


class Dechunker:
    """Incrementally remove HTTP/1.1 chunked transfer-coding (RFC 9112 §7.1).

    ``feed`` returns the decoded bytes available so far. On malformed input it stops decoding,
    sets ``error`` and ignores the rest; ``finish`` reports a body cut before the last chunk.
    """

    def __init__(self) -> None:
        self._state = "size"  # size | data | data-end | trailer | done | error
        self._line = bytearray()
        self._remaining = 0
        self.error: str | None = None
        self.decoded = 0

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes | memoryview) -> bytes:
        out = bytearray()
        raw = data if isinstance(data, bytes) else bytes(data)  # bytes.find needs no copy
        view = memoryview(raw)
        i, n = 0, len(view)
        while i < n and self._state not in ("done", "error"):
            if self._state == "data":
                take = min(self._remaining, n - i)
                out += view[i : i + take]
                i += take
                self.decoded += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = "data-end"
            elif self._state == "data-end":
                b = view[i]
                if b == 0x0D and not self._line:
                    self._line.append(b)
                    i += 1
                elif b == 0x0A:
                    self._line.clear()
                    self._state = "size"
                    i += 1
                else:
                    self._fail("missing CRLF after chunk data")
            else:  # a line: chunk size or trailer field
                end = raw.find(b"\n", i, min(n, i + _MAX_CHUNK_LINE))
                if end >= 0:
                    end -= i
                else:
                    self._line += view[i:n]
                    i = n
                    if len(self._line) > _MAX_CHUNK_LINE:
                        self._fail("chunk-size line too long")
                    continue
                self._line += view[i : i + end]
                i += end + 1
                line = bytes(self._line).rstrip(b"\r")
                self._line.clear()
                if self._state == "size":
                    self._size_line(line)
                elif not line:  # end of trailer section
                    self._state = "done"
        return bytes(out)

    def _size_line(self, line: bytes) -> None:
        text = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", text):
            self._fail(f"bad chunk-size line {line[:40]!r}")
            return
        size = int(text, 16)
        if size == 0:
            self._state = "trailer"
        else:
            self._remaining = size
            self._state = "data"

    def _fail(self, why: str) -> None:
        self.error = f"{why} after {self.decoded} decoded bytes"
        self._state = "error"
        self._line.clear()

    def finish(self) -> str | None:
        """Return why the body is incomplete or malformed, or None when it ended properly."""
        if self._state in ("done", "error"):
            return self.error
        if self._state == "trailer" and not self._line:
            return None  # last-chunk seen, final CRLF missing: tolerated, nothing lost
        self.error = f"chunked body ends inside a chunk after {self.decoded} decoded bytes"
        return self.error


@dataclass
class HttpHead:
    """The parsed start line and header fields of an HTTP message (values decoded as latin-1)."""

    start_line: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    raw_length: int = 0  # bytes of the header block including the blank line

    def get(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.fields:
            if k.lower() == name:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.fields if k.lower() == name]

    @property
    def status(self) -> int | None:
        parts = self.start_line.split(None, 2)
        if len(parts) >= 2 and parts[0].upper().startswith("HTTP/") and parts[1].isdigit():
            return int(parts[1])
        return None

    @property
    def chunked(self) -> bool:
        codings = ",".join(self.get_all("transfer-encoding")).lower()
        return codings.split(",")[-1].strip() == "chunked" if codings.strip() else False


def parse_http_head(block: bytes) -> HttpHead:
    """Parse a complete header block (ending in an empty line) into an ``HttpHead``."""
    lines = block.replace(b"\r\n", b"\n").split(b"\n")
    start = lines[0].decode("latin-1").strip() if lines else ""
    fields: list[tuple[str, str]] = []
    for raw in lines[1:]:
        if not raw.strip():
            continue
        text = raw.decode("latin-1")
        if text[:1] in (" ", "\t") and fields:  # obsolete line folding
            k, v = fields[-1]
            fields[-1] = (k, f"{v} {text.strip()}")
            continue
        k, sep, v = text.partition(":")
        if sep:
            fields.append((k.strip(), v.strip()))
    return HttpHead(start, fields, len(block))


def find_head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """Index just past the blank line ending an HTTP header block, or -1 if not found yet."""
    crlf = buf.find(b"\r\n\r\n", start)
    lf = buf.find(b"\n\n", start)
    ends = [e + 4 for e in (crlf,) if e >= 0] + [e + 2 for e in (lf,) if e >= 0]
    return min(ends) if ends else -1


class PayloadHasher:
    """Feed the block of an HTTP message; get digests of its payload.

    ``payload`` digests cover the entity body with transfer-encoding removed; when the message
    was chunked, ``raw_body`` digests cover the body bytes as sent (the legacy digest).
    """

    def __init__(self, algorithms: tuple[str, ...] = ("sha256",)) -> None:
        self._algorithms = algorithms
        self._head = bytearray()
        self.head: HttpHead | None = None
        self._head_failed = False
        self._payload = {a: hashlib.new(a) for a in algorithms}
        self._raw: dict[str, hashlib._Hash] = {}
        self._dechunker: Dechunker | None = None
        self.chunk_error: str | None = None

    def update(self, data: bytes | memoryview) -> None:
        if self.head is None:
            if self._head_failed:
                return
            scan_from = max(0, len(self._head) - 3)
            self._head += data
            end = find_head_end(self._head, scan_from)
            if end < 0:
                if len(self._head) > MAX_HEADER_BLOCK:
                    self._head_failed = True
                    self._head = bytearray()
                return
            self.head = parse_http_head(bytes(self._head[:end]))
            rest = bytes(self._head[end:])
            self._head = bytearray()
            if self.head.chunked:
                self._dechunker = Dechunker()
                self._raw = {a: hashlib.new(a) for a in self._algorithms}
            data = rest
        if not data:
            return
        if self._dechunker is not None:
            for h in self._raw.values():
                h.update(data)
            data = self._dechunker.feed(data)
        for h in self._payload.values():
            h.update(data)

    def finish(self) -> PayloadDigests:
        if self._dechunker is not None:
            self.chunk_error = self._dechunker.finish()
        return PayloadDigests(
            payload={a: h.digest() for a, h in self._payload.items()},
            raw_body={a: h.digest() for a, h in self._raw.items()},
            chunked=self._dechunker is not None,
            chunk_error=self.chunk_error,
            head=self.head,
            dechunked_bytes=self._dechunker.decoded if self._dechunker is not None else 0,
        )


@dataclass
class PayloadDigests:
    payload: dict[str, bytes]
    raw_body: dict[str, bytes]
    chunked: bool
    chunk_error: str | None
    head: HttpHead | None
    dechunked_bytes: int = 0
