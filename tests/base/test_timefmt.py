"""timefmt is the one place UTC times are written; its helpers give the forms used before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

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


def _by_strftime(moment: datetime, micros: bool) -> str:
    """``utc_iso`` as it was: strftime of the moment in UTC."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micros else "%Y-%m-%dT%H:%M:%SZ")


def test_utc_iso_writes_what_strftime_wrote() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    moments = [
        MOMENT, ELSEWHERE, MOMENT.replace(tzinfo=None), MOMENT.replace(microsecond=999999),
        MOMENT.replace(microsecond=1), datetime(2000, 1, 1, tzinfo=india),
        datetime(1000, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),
        datetime(1, 1, 1, 6), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))).replace(hour=20),
        datetime(1970, 1, 1, tzinfo=timezone(timedelta(seconds=-1))),
    ]  # fmt: skip
    moments += [MOMENT + timedelta(seconds=7919 * i, microseconds=104729 * i) for i in range(500)]
    for m in moments:
        for micros in (True, False):
            assert utc_iso(m, micros=micros) == _by_strftime(m, micros), (m, micros)


def test_a_remembered_text_is_never_that_of_another_instant() -> None:
    """1:30 on 2026-10-25 happens twice in London: equal datetimes, an hour apart in UTC."""
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        london = zoneinfo.ZoneInfo("Europe/London")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database")
    first = datetime(2026, 10, 25, 1, 30, tzinfo=london)
    second = first.replace(fold=1)
    assert first == second  # Python compares them equal (same zone, fold ignored)
    for m in (first, second, first, second.astimezone(UTC), first.astimezone(UTC)):
        assert utc_iso(m) == _by_strftime(m, True)
    assert utc_iso(first) == "2026-10-25T00:30:00.000000Z"
    assert utc_iso(second) == "2026-10-25T01:30:00.000000Z"
