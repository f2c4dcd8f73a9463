"""Remove an HTTP content-encoding (gzip, deflate, br) from a captured body, within a size limit.

Written here rather than using warcio's decoding reader because that reader silently stops on a
truncated or corrupt stream: a page cut off mid-download would be cleaned as if complete. Here
the caller learns that the stream ended early and can say so in the sidecar. Output is bounded:
a decompression bomb stops at ``limit`` bytes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import IO

SUPPORTED = ("gzip", "x-gzip", "deflate", "br")
IN_BLOCK = 64 * 1024


class UnsupportedEncoding(ValueError):
    """The body uses a content-encoding this module cannot remove."""


@dataclass
class DecodedBody:
    data: bytes | None  # None when the decoded body is larger than the limit
    complete: bool  # False: the compressed stream was cut off or corrupt


class _Zlib:
    def __init__(self, coding: str) -> None:
        # 32 + 15: accept a gzip or zlib header; plain "deflate" may also be raw (no header).
        self._wbits = 47 if coding in ("gzip", "x-gzip") else 15
        self._d = zlib.decompressobj(self._wbits)
        self._started = False
        self._raw_retry = coding == "deflate"

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode ``data``; output beyond ``room`` bytes is not produced (caller then stops)."""
        try:
            out = self._d.decompress(data, room)
        except zlib.error:
            if self._raw_retry and not self._started:
                self._raw_retry = False
                self._d = zlib.decompressobj(-15)
                return self.feed(data, room)
            raise
        self._started = True
        if self._d.eof and self._d.unused_data.strip(b"\0") and len(out) < room:
            # Another gzip member follows (concatenated gzip is valid): continue with it.
            rest = self._d.unused_data
            self._d = zlib.decompressobj(self._wbits)
            out += self.feed(rest, room - len(out))
        return out

    @property
    def finished(self) -> bool:
        return self._d.eof


class _Brotli:
    def __init__(self) -> None:
        import brotli

        self._d = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        out = self._d.process(data, output_buffer_limit=room)
        while not self._d.can_accept_more_data() and len(out) < room:
            out += self._d.process(b"", output_buffer_limit=room - len(out))
        return out

    @property
    def finished(self) -> bool:
        return bool(self._d.is_finished())


def decode_head(body: IO[bytes], coding: str | None, size: int) -> bytes:
    """The first ``size`` decoded bytes (fewer if the stream is shorter or breaks), for sniffing."""
    coding = (coding or "").strip().lower()
    if coding in ("", "identity"):
        return body.read(size)
    if coding not in SUPPORTED:
        raise UnsupportedEncoding(coding)
    decoder: _Zlib | _Brotli = _Brotli() if coding == "br" else _Zlib(coding)
    out = b""
    try:
        while len(out) < size and (block := body.read(IN_BLOCK)):
            out += decoder.feed(block, size - len(out))
    except Exception:  # noqa: BLE001 - a broken stream: sniff what decoded
        pass
    return out[:size]


def decode_body(body: IO[bytes], coding: str | None, limit: int) -> DecodedBody:
    """Read ``body`` to the end, removing ``coding``; stop with ``data=None`` past ``limit``."""
    coding = (coding or "").strip().lower()
    if coding in ("", "identity"):
        data = body.read(limit + 1)
        return DecodedBody(data if len(data) <= limit else None, True)
    if coding not in SUPPORTED:
        raise UnsupportedEncoding(coding)
    try:
        decoder: _Zlib | _Brotli = _Brotli() if coding == "br" else _Zlib(coding)
    except ImportError as exc:  # brotli is a declared dependency, but be clear if it is missing
        raise UnsupportedEncoding(f"{coding} (the brotli package is not installed)") from exc
    chunks: list[bytes] = []
    size = 0
    try:
        while block := body.read(IN_BLOCK):
            out = decoder.feed(block, limit + 1 - size)
            size += len(out)
            if size > limit:
                return DecodedBody(None, True)
            chunks.append(out)
    except Exception:  # noqa: BLE001 - zlib.error / brotli.error: keep what decoded so far
        return DecodedBody(b"".join(chunks), False)
    return DecodedBody(b"".join(chunks), decoder.finished)
