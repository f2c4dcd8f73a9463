"""Reading a response body off the socket: bounded in time and size, hashed, and decoded once.

The recorder keeps the raw bytes for the WARC; here the payload is hashed (transfer-encoding
removed, content-encoding kept) and, when the cleaner wants it, a decoded copy is spooled to
disk with the one content decoder (``base.contentcoding``), itself bounded so a gzip bomb stays
on disk.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import urllib3.exceptions

from archiver.base.contentcoding import ContentDecoder, DecodingError, UnsupportedEncoding
from archiver.capture.failures import FetchError, _message, _raise_if_local, classify
from archiver.capture.hop import FetchResult, Hop

READ_CHUNK = 1024 * 1024


class DecodedCopy:
    """The cleaner's copy of a body: content-coding removed, at most ``max_size`` bytes."""

    def __init__(self, decoder: ContentDecoder, spool_dir: str | None, max_size: int) -> None:
        self.decoder: ContentDecoder | None = decoder
        self.max_size = max_size
        self.size = 0
        self.out = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finish()
            prefix="payload-", dir=spool_dir, delete=False
        )

    @classmethod
    def open(cls, coding: str, spool_dir: str | None, max_size: int) -> DecodedCopy | None:
        """None when the coding cannot be removed (the cleaner then gets no copy)."""
        try:
            return cls(ContentDecoder(coding), spool_dir, max_size)
        except UnsupportedEncoding:
            return None

    def feed(self, data: bytes) -> None:
        if self.decoder is None:
            return
        try:
            self.size += _spool_decoded(self.decoder, data, self.out, self.max_size - self.size)
        except DecodingError:
            self.decoder = None  # undecodable: give the cleaner nothing rather than garbage

    def finish(self) -> Path | None:
        """Close the copy; its path, or None (deleted) when the body could not be decoded."""
        if self.decoder is not None:
            try:
                if self.size < self.max_size:
                    self.out.write(self.decoder.flush()[: self.max_size - self.size])
            except DecodingError:
                self.decoder = None
        self.out.close()
        if self.decoder is None:
            Path(self.out.name).unlink(missing_ok=True)
            return None
        return Path(self.out.name)


def read_body(
    resp: urllib3.BaseHTTPResponse,
    hop: Hop,
    result: FetchResult,
    limits: tuple[float, int, float],
    copy: DecodedCopy | None,
) -> None:
    """Stream the body off the socket (the recorder keeps the raw bytes), bounded in time,
    size and memory; hash the payload; keep the decoded copy for the cleaner if wanted.

    ``limits`` is (deadline on the monotonic clock, max payload bytes, read timeout).
    """
    digest = hashlib.sha256()
    size = 0

    def take(data: bytes, decode: bool = True) -> None:
        nonlocal size
        digest.update(data)
        size += len(data)
        if copy is not None and decode:
            copy.feed(data)

    try:
        _stream(resp, hop, limits, take, lambda: size)
    except Exception as exc:  # noqa: BLE001 - a dropped connection keeps what came
        _raise_if_local(exc, hop.url)
        hop.truncated = "disconnect"
        hop.error = FetchError(classify(exc), _message(exc), datetime.now(UTC))
    finally:
        # As requests' Response.close did: close (a connection with unread bytes is never
        # reused), then hand the connection back (a fully read one goes back to the pool).
        resp.close()
        resp.release_conn()
    hop.payload_sha256 = digest.hexdigest()
    hop.payload_size = size
    if copy is not None:
        path = copy.finish()
        if path is not None:
            if result.payload_path is not None:
                result.payload_path.unlink(missing_ok=True)
            result.payload_path = path


def _stream(
    resp: urllib3.BaseHTTPResponse,
    hop: Hop,
    limits: tuple[float, int, float],
    take: Callable[..., None],
    taken: Callable[[], int],
) -> bool:
    """Read until the end, the size bound or the deadline; True when the body ended cleanly."""
    deadline, max_size, read_timeout = limits
    raw, ex = resp, hop.exchange
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            hop.truncated = "time"
            return False
        if ex is not None and left < read_timeout:  # the URL's time limit is nearer
            ex.set_read_timeout(left)
        want = min(READ_CHUNK, max_size - taken())
        if want <= 0:
            if _more_after_limit(raw, take):
                hop.truncated = "length"
                return False
            return True
        try:
            data = raw.read1(want, decode_content=False)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            hop.truncated = "time"
            if deadline - time.monotonic() > 0.05:  # the server went quiet: a failure
                hop.error = FetchError("timeout", _message(exc), datetime.now(UTC))
            return False
        if not data:
            return True
        take(data)


def _more_after_limit(raw: Any, take: Callable[..., None]) -> bool:
    """At the size bound: does the body go on? (One more byte tells; it stays in the payload.)"""
    remaining = raw.length_remaining
    if remaining is not None and not raw.chunked:
        return bool(remaining > 0)
    extra = raw.read1(1, decode_content=False)
    if extra:
        take(extra, decode=False)
    return bool(extra)


def _spool_decoded(decoder: ContentDecoder, data: bytes, out: IO[bytes], room: int) -> int:
    """Decode ``data`` into ``out`` in steps of READ_CHUNK, at most ``room`` bytes; how many."""
    written = 0
    while written < room:
        piece = decoder.feed(data, min(READ_CHUNK, room - written))[: room - written]
        out.write(piece)
        written += len(piece)
        data = b""
        if not piece or not decoder.pending:
            break
    return written
