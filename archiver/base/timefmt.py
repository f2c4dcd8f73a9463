"""One way to write and read times: UTC, ISO 8601, with a ``Z``.

Evidence is compared across machines and years, so every time archiver writes (WARC-Date,
capture log, bag-info, custody log) is UTC and every time it reads back is parsed the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_iso(moment: datetime | None = None, *, micros: bool = True) -> str:
    """``2026-11-20T23:41:05.123456Z`` (or without microseconds); naive datetimes count as UTC."""
    moment = moment or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micros else "%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    """Parse an ISO 8601 time (``Z`` or an offset); None when absent or unreadable.

    A time without a zone is taken as UTC, which is what archiver always writes.
    """
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, microseconds kept."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
