"""Remove an HTTP content-encoding (gzip, deflate, br): the one decoder of capture, WARC and clean.

Written here rather than using warcio's or urllib3's decoding because those silently stop on a
truncated or corrupt stream (a page cut off mid-download would look complete) or after the first
gzip member. ``ContentDecoder`` decodes in steps with a room limit, so a decompression bomb stops
at the caller's limit, and says whether the stream really ended (``finished``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import IO, Any

SUPPORTED = ("gzip", "x-gzip", "deflate", "br")
IN_BLOCK = 64 * 1024


class UnsupportedEncoding(ValueError):
    """The body uses a content-encoding this module cannot remove."""


class DecodingError(ValueError):
    """The encoded stream is corrupt (zlib and brotli errors, as one type)."""


@dataclass
class DecodedBody:
    data: bytes | None  # None when the decoded body is larger than the limit
    complete: bool  # False: the compressed stream was cut off or corrupt


class ContentDecoder:
    """Decodes one content-coding in steps: gzip (members in a row), deflate (zlib or raw), br.

    ``identity`` and "" pass bytes through. Raises ``UnsupportedEncoding`` for anything else.
    """

    def __init__(self, coding: str | None) -> None:
        self.coding = (coding or "").strip().lower()
        self._started = False
        self._tail = b""
        self._pending = False
        self._z: Any = None
        self._br: Any = None
        self._br_error: type[Exception] = Exception
        if self.coding in ("", "identity"):
            return
        if self.coding not in SUPPORTED:
            raise UnsupportedEncoding(self.coding)
        if self.coding == "br":
            try:
                import brotli
            except ImportError as exc:  # a declared dependency, but be clear if it is missing
                raise UnsupportedEncoding("br (the brotli package is not installed)") from exc
            self._br, self._br_error = brotli.Decompressor(), brotli.error
            return
        # 32 + 15: accept a gzip or zlib header; plain "deflate" may also be raw (no header).
        self._wbits = 47 if self.coding in ("gzip", "x-gzip") else 15
        self._raw_retry = self.coding == "deflate"
        self._z = zlib.decompressobj(self._wbits)

    def feed(self, data: bytes, room: int | None = None) -> bytes:
        """Decode ``data``; at most ``room`` bytes come out (then the caller stops feeding)."""
        if room is not None and room <= 0:
            return b""
        if self._br is not None:
            return self._feed_br(data, room)
        if self._z is None:
            return data if room is None else data[:room]
        data, self._tail = self._tail + data, b""
        try:
            out = self._z.decompress(data, room or 0)
        except zlib.error as exc:
            if self._raw_retry and not self._started:
                self._raw_retry = False
                self._z = zlib.decompressobj(-15)
                return self.feed(data, room)
            raise DecodingError(str(exc)) from exc
        self._started = True
        self._tail = self._z.unconsumed_tail  # output held back by ``room``: fed next time
        if self._z.eof and self._z.unused_data.strip(b"\0"):
            # Another gzip member follows (concatenated gzip is valid): continue with it.
            rest = self._z.unused_data
            self._z = zlib.decompressobj(self._wbits)
            if room is None or len(out) < room:
                out += self.feed(rest, None if room is None else room - len(out))
            else:
                self._tail = rest
        return bytes(out)

    def _feed_br(self, data: bytes, room: int | None) -> bytes:
        # brotli's output limit is a hint (it may return more, and keep output back even when
        # it says it can take input): drain with empty input until it gives nothing.
        try:
            if room is None:
                out = bytes(self._br.process(data))
                while not self._br.is_finished() and (more := self._br.process(b"")):
                    out += more
                return out
            out = bytes(self._br.process(data, output_buffer_limit=room))
            while len(out) < room and not self._br.is_finished():
                more = self._br.process(b"", output_buffer_limit=room - len(out))
                if not more:
                    break
                out += more
        except self._br_error as exc:
            raise DecodingError(str(exc)) from exc
        self._pending = len(out) >= room and not self._br.is_finished()
        return out

    def flush(self) -> bytes:
        """What a zlib stream still holds at the end of input (nothing for br or identity)."""
        if self._z is None:
            return b""
        try:
            return bytes(self._z.flush())
        except zlib.error as exc:
            raise DecodingError(str(exc)) from exc

    @property
    def pending(self) -> bool:
        """Is decoded output held back by the last ``room``? (``feed(b"", room)`` gives it.)"""
        return bool(self._tail) or self._pending

    @property
    def identity(self) -> bool:
        """No coding to remove: bytes pass through."""
        return self.coding in ("", "identity")

    @property
    def finished(self) -> bool:
        """Did the encoded stream reach its proper end (False: cut off)?"""
        if self._br is not None:
            return bool(self._br.is_finished())
        if self._z is None:
            return True
        return bool(self._z.eof)


def decode_head(body: IO[bytes], coding: str | None, size: int) -> bytes:
    """The first ``size`` decoded bytes (fewer if the stream is shorter or breaks), for sniffing."""
    decoder = ContentDecoder(coding)
    if decoder.identity:
        return body.read(size)
    out = b""
    try:
        while len(out) < size and (block := body.read(IN_BLOCK)):
            out += decoder.feed(block, size - len(out))
    except DecodingError:  # a broken stream: sniff what decoded
        pass
    return out[:size]


def decode_body(body: IO[bytes], coding: str | None, limit: int) -> DecodedBody:
    """Read ``body`` to the end, removing ``coding``; stop with ``data=None`` past ``limit``."""
    decoder = ContentDecoder(coding)
    if decoder.identity:
        data = body.read(limit + 1)
        return DecodedBody(data if len(data) <= limit else None, True)
    chunks: list[bytes] = []
    size = 0
    try:
        while block := body.read(IN_BLOCK):
            out = decoder.feed(block, limit + 1 - size)
            size += len(out)
            if size > limit:
                return DecodedBody(None, True)
            chunks.append(out)
    except DecodingError:  # keep what decoded so far
        return DecodedBody(b"".join(chunks), False)
    return DecodedBody(b"".join(chunks), decoder.finished)
