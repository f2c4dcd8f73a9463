"""One way to write and read times: UTC, ISO 8601, with a ``Z``.

Evidence is compared across machines and years, so every time archiver writes (WARC-Date,
capture log, bag-info, custody log) is UTC and every time it reads back is parsed the same way.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime

from archiver.base.errors import EXIT_USAGE, ArchiverError

NOW_VARIABLE = "ARCHIVER_NOW"  # a fake clock, for tests only


def utc_iso(moment: datetime | None = None, *, micros: bool = True) -> str:
    """``2026-11-20T23:41:05.123456Z`` (or without microseconds); naive datetimes count as UTC.

    Written a dozen times per captured URL (WARC-Date, log entry, provenance), mostly of the
    same few moments: a UTC moment's text is remembered. Only UTC ones: two equal moments of
    another zone may differ by ``fold`` and so be different instants.
    """
    if moment is not None and moment.tzinfo is UTC:
        return _utc_text(moment, micros)
    return _iso(_utc(moment), micros)


@functools.lru_cache(maxsize=512)
def _utc_text(moment: datetime, micros: bool) -> str:
    return _iso(moment, micros)


def _iso(moment: datetime, micros: bool) -> str:
    """``isoformat`` is half the cost of ``strftime`` and gives the same text from the year
    1000 on (``strftime`` does not pad earlier years)."""
    if moment.year < 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micros else "%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="microseconds" if micros else "seconds")[:-6] + "Z"


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
    """UTC ISO 8601 with a ``Z``, microseconds kept (the capture log's form; = ``utc_iso``)."""
    return utc_iso(moment)


def compact(moment: datetime | None = None) -> str:
    """``20261120T234105Z``: UTC to the second, for names (bag names, token file names)."""
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


def day(moment: datetime | None = None) -> str:
    """``2026-11-20``: the UTC calendar day (Bagging-Date, date bounds)."""
    return _utc(moment).strftime("%Y-%m-%d")


def _utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is UTC:  # already UTC (astimezone would copy it)
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def clock_now() -> datetime:
    """The current time, or ``ARCHIVER_NOW`` (a testing aid: a fake clock, ISO 8601)."""
    text = os.environ.get(NOW_VARIABLE)
    if not text:
        return datetime.now(UTC)
    moment = parse_iso(text)
    if moment is None:
        raise ArchiverError(
            f"{NOW_VARIABLE}={text!r} is not an ISO 8601 time; e.g. 2026-11-30T03:00:00Z",
            EXIT_USAGE,
        )
    return moment.astimezone(UTC)
