"""What one recorded exchange is: the peer, DNS and TLS facts, the raw bytes; secret redaction."""

from __future__ import annotations

import ssl
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from archiver.base.timefmt import utc_iso
from archiver.net.certs import describe_certificate


@dataclass
class Peer:
    """The far end of the TCP connection an exchange used."""

    ip: str
    port: int
    via_proxy: bool  # True: ``ip`` is the proxy's address, not the origin server's
    proxy: str | None = None  # proxy URL without credentials


@dataclass
class TLSInfo:
    """TLS facts of one connection, shared by every exchange that used it."""

    version: str | None
    cipher: str | None
    chain: list[bytes] | None = None  # DER, leaf first, exactly as the server presented it
    verified_chain: list[bytes] | None = None  # up to the trusted root; None when unverified
    resumed: bool = False  # a resumed session presents no certificates of its own
    record_id: str | None = None  # WARC-Record-ID reserved for this connection's chain record
    _summary: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)
    _root: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def chain_summary(self) -> list[dict[str, Any]]:
        """``[{subject, issuer, not_before, not_after, sha256}]`` of ``chain``, parsed once."""
        if self._summary is None:
            self._summary = [describe_certificate(der) for der in self.chain or []]
        return self._summary

    def root_summary(self) -> dict[str, Any] | None:
        """The trusted root the chain was verified against (None: not verified), parsed once."""
        if self._root is None and self.verified_chain:
            self._root = describe_certificate(self.verified_chain[-1])
        return self._root


@dataclass
class DNSInfo:
    """How this machine resolved a host name before connecting (never filled behind a proxy
    that resolves names itself)."""

    host: str
    answers: list[str]  # every address getaddrinfo returned, in its order, duplicates dropped
    connected: str | None  # the address the TCP connection was made to
    at: datetime
    resolver: str = "system"  # "system": getaddrinfo; "literal": the URL held an IP address
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "answers": list(self.answers),
            "connected": self.connected,
            "resolver": self.resolver,
            "at": utc_iso(self.at),
        }
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Exchange:
    """One request sent and the response bytes received for it, spooled to disk when large."""

    started: datetime
    request: IO[bytes]
    response: IO[bytes]
    request_size: int = 0
    response_size: int = 0
    peer: Peer | None = None
    dns: DNSInfo | None = None
    tls: TLSInfo | None = None
    opened_tls: bool = False  # first exchange on its TLS connection: its records hold the chain
    # The TLS socket of the very connection used (may be closed by the time it is read; the
    # chain was copied into ``tls`` when the exchange started).
    ssl_socket: ssl.SSLSocket | None = None
    connection: Any = None  # the urllib3 connection, to tighten socket timeouts mid-body
    # Request header fields whose value was sent but not recorded (a proxy credential); the
    # request record then says so in ``WARC-Archiver-Redacted`` (docs/warc.md).
    redacted: list[str] = field(default_factory=list)
    _head: bytearray | None = field(default_factory=bytearray, repr=False)  # until complete

    @property
    def certificate_chain(self) -> list[bytes] | None:
        """DER certificates the server presented on this exchange's connection, leaf first."""
        return self.tls.chain if self.tls is not None else None

    def add_request(self, data: bytes | bytearray | memoryview) -> None:
        """Record bytes sent; the request head is held until complete so that a proxy
        credential in it is never written, not even to the spool."""
        if self._head is None:
            self._write_request(data)
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end >= 0:
            self.flush_request(end + 4)

    def flush_request(self, head_end: int | None = None) -> None:
        """Write the held request head (redacted) and whatever followed it."""
        if self._head is None:
            return
        held, self._head = bytes(self._head), None
        end = len(held) if head_end is None else head_end
        head, removed = redact_head(held[:end])
        self.redacted.extend(removed)
        self._write_request(head + held[end:])

    def _write_request(self, data: bytes | bytearray | memoryview) -> None:
        self.request.write(data)
        self.request_size += len(data)

    def add_response(self, data: bytes | bytearray | memoryview) -> None:
        self.response.write(data)
        self.response_size += len(data)

    def set_read_timeout(self, seconds: float) -> None:
        """Bound the next socket read (used to enforce the total time per URL)."""
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            with suppress(OSError):
                sock.settimeout(max(seconds, 0.001))

    def close(self) -> None:
        self.request.close()
        self.response.close()
        self.ssl_socket = None
        self.connection = None


# Request header fields that carry the operator's secrets, never the server's business.
SECRET_HEADERS = (b"proxy-authorization",)


REDACTED_VALUE = b"[redacted by archiver]"


def redact_head(head: bytes) -> tuple[bytes, list[str]]:
    """Replace the value of each secret header field in a request head (keeping the auth
    scheme, e.g. ``Basic``); return the new head and the names of the fields changed."""
    lines = head.split(b"\r\n")
    removed: list[str] = []
    for i, line in enumerate(lines[1:], start=1):
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in SECRET_HEADERS:
            scheme = value.strip().split(b" ", 1)[0] if b" " in value.strip() else b""
            kept = scheme + b" " + REDACTED_VALUE if scheme else REDACTED_VALUE
            lines[i] = name + b": " + kept
            removed.append(name.strip().decode("latin-1"))
    return b"\r\n".join(lines), removed


def redact_proxy(proxy_url: str) -> str:
    """Drop credentials from a proxy URL before it is written anywhere."""
    parts = urlsplit(proxy_url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
