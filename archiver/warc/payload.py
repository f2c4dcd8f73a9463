"""A record's HTTP payload as a stream: de-chunked and, when asked, content-decoded."""

from __future__ import annotations

import io
from typing import Any

from archiver.base.contentcoding import ContentDecoder, DecodingError, UnsupportedEncoding
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
        self._decoders: list[ContentDecoder] = []
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
                tail = d.flush()
                self._out += tail
            if self._dechunk is not None and self._dechunk.finish():
                self.error = self._dechunk.error
            self._eof = True
            return
        data = self._dechunk.feed(raw) if self._dechunk is not None else raw
        try:
            for d in self._decoders:
                data = d.feed(data)
        except DecodingError as e:  # a corrupt or truncated body
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


def _decoder(coding: str) -> ContentDecoder | None:
    try:
        return ContentDecoder(coding)
    except UnsupportedEncoding:
        return None
