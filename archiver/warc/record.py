"""One WARC record as read: its headers and its block, payload and HTTP head on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from archiver.warc.digest import (
    MAX_HEADER_BLOCK,
    HttpHead,
    find_head_end,
    parse_http_head,
)
from archiver.warc.payload import PayloadReader
from archiver.warc.sources import BlockReader


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


@dataclass
class WarcRecord:
    """One record. ``block`` streams the raw block; valid until the iterator moves on."""

    offset: int
    version: str
    headers: WarcHeaders
    content_length: int
    block: BlockReader
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
