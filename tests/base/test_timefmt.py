"""timefmt is the one place UTC times are written; its helpers give the forms used before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from archiver.base.timefmt import compact, day, iso, utc_iso

MOMENT = datetime(2026, 11, 20, 23, 41, 5, tzinfo=UTC)
ELSEWHERE = MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30)))


def test_forms_match_the_hand_rolled_ones_they_replace() -> None:
    for m in (MOMENT, ELSEWHERE):
        assert utc_iso(m, micros=False) == m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert compact(m) == m.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") == "20261120T234105Z"
        assert day(m) == "2026-11-20"
    assert day(ELSEWHERE) == "2026-11-20"  # 05:11 on the 21st in India is still the 20th in UTC


def test_iso_is_utc_iso_with_microseconds() -> None:
    old = MOMENT.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert iso(MOMENT) == utc_iso(MOMENT) == old == "2026-11-20T23:41:05.000000Z"
    assert iso(MOMENT.replace(microsecond=7)) == "2026-11-20T23:41:05.000007Z"


def test_naive_times_count_as_utc() -> None:
    naive = MOMENT.replace(tzinfo=None)
    assert utc_iso(naive) == utc_iso(MOMENT) and compact(naive) == compact(MOMENT)
