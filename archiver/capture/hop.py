"""What one fetch brings back: its hops (one per redirect) and the result the crawler records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.capture.failures import FetchError
from archiver.net.exchange import DNSInfo, Exchange, Peer, TLSInfo


@dataclass
class Hop:
    """One request to one URL: the recorded exchange (if any bytes moved) and what came back."""

    url: str
    started: datetime
    exchange: Exchange | None = None
    status: int | None = None
    http_version: str = "HTTP/1.1"
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, last value wins
    location: str | None = None
    payload_sha256: str | None = None  # hex, transfer-encoding removed, content-encoding kept
    payload_size: int = 0
    truncated: str | None = None  # None | "length" | "time" | "disconnect"
    error: FetchError | None = None
    peer: Peer | None = None  # also known when no exchange (TLS failure after TCP connect)
    dns: DNSInfo | None = None  # our own resolution (None when a proxy resolved the name)
    tls: TLSInfo | None = None


@dataclass
class FetchResult:
    url: str
    started: datetime
    ended: datetime | None = None
    hops: list[Hop] = field(default_factory=list)
    error: FetchError | None = None
    proxy: str | None = None
    resolved_by: str = "client"
    blocked: Any = None  # robots decision for a hop that was not fetched
    blocked_url: str | None = None  # that hop's URL
    payload_path: Path | None = None  # final body, both encodings removed (for the cleaner)
    provenance_record_id: str | None = None  # set by records.write_fetch
    attempts: list[dict[str, Any]] = field(default_factory=list)  # Retry-After answers, retries

    @property
    def final(self) -> Hop | None:
        return self.hops[-1] if self.hops else None

    def close(self) -> None:
        for hop in self.hops:
            if hop.exchange is not None:
                hop.exchange.close()
        if self.payload_path is not None:
            self.payload_path.unlink(missing_ok=True)
            self.payload_path = None
