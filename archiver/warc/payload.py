"""A record's HTTP payload as a stream: de-chunked and, when asked, content-decoded."""

from __future__ import annotations

import io
import zlib
from typing import Any, Protocol

from archiver.warc.digest import (
    Dechunker,
    HttpHead,
)
from archiver.warc.sources import STEP, BlockReader


class PayloadReader(io.RawIOBase):
    """Streams a payload: de-chunks and (optionally) content-decodes on the fly."""

    def __init__(
        self, first: bytes, rest: BlockReader, head: HttpHead | None, decode_content: bool
    ) -> None:
        self._first = first
        self._rest = rest
        self._out = bytearray()
        self._eof = False
        self.error: str | None = None
        self._dechunk = Dechunker() if head is not None and head.chunked else None
        self._decoders: list[_Decoder] = []
        self.content_encoding_removed = False
        if decode_content and head is not None:
            codings = [
                c.strip().lower()
                for v in head.get_all("content-encoding")
                for c in v.split(",")
                if c.strip() and c.strip().lower() != "identity"
            ]
            decoders = [_decoder(c) for c in reversed(codings)]
            usable = [d for d in decoders if d is not None]
            if len(usable) == len(decoders):  # all known: otherwise the body stays as stored
                self._decoders = usable
                self.content_encoding_removed = bool(usable)

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

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Decoder(Protocol):
    def decompress(self, data: bytes, /) -> bytes: ...


def _decoder(coding: str) -> _Decoder | None:
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(47)
    if coding == "deflate":
        return _Deflate()
    if coding == "br":
        return _Brotli.create()
    return None


class _Brotli:
    """Adapter giving brotli's ``process`` the zlib ``decompress`` shape; errors as ValueError."""

    def __init__(self, d: Any, error: type[Exception]) -> None:
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
            out: bytes = self._d.process(data)
            return out
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
