"""Fake-clock times for scheduled-run tests, always in the future of the real clock.

``archiver run --due`` takes a collection's last run from its bag name *and* its Capture-Start
(the real time the run began), so a fake ``ARCHIVER_NOW`` earlier than the real clock finds
nothing due. Fixed dates would therefore start failing once the real calendar passes them; these
are computed from today instead, a few weeks ahead, in the collection's own time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def fire_time(weekday: int, hour: int, zone: str, weeks_ahead: int = 3) -> datetime:
    """``hour``:00 local time on the first ``weekday`` (0 = Monday) ``weeks_ahead`` weeks from
    today, as an aware UTC datetime."""
    tz = ZoneInfo(zone)
    day = datetime.now(tz).date() + timedelta(weeks=weeks_ahead)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    local = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
    return local.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``ARCHIVER_NOW`` spelling: 2026-11-30T03:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(moment: datetime) -> str:
    """Bag-name spelling: 20261130T030000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
