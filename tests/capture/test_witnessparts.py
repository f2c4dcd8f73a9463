"""Witness log fields and the parsing of what archives answer (TimeMaps, availability JSON)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import jsonschema
import pytest

from archiver.capture.log import CaptureEntry, dumps_entry
from archiver.capture.memento import (
    MementoFormatError,
    availability_url,
    closest_memento,
    parse_availability,
    parse_timemap,
    timemap_url,
)
from archiver.capture.witness import wants_witnesses
from archiver.capture.witnessparts import Memento, MementoOf, ThirdPartyQuery
from tests.capture.helpers import SCHEMA
from tests.helpers import REPO

GOLDEN = REPO / "tests" / "data" / "capture-log" / "v1.jsonl"
AT = datetime(2026, 11, 24, tzinfo=UTC)
TIMEMAP = b"""<http://example.org/a?x=1,2>; rel="original",
<http://agg.example/timemap/link/http://example.org/a?x=1,2>; rel="self";
  type="application/link-format",
<http://arc.example/web/20100101000000/http://example.org/a?x=1,2>; rel="first memento";
  datetime="Fri, 01 Jan 2010 00:00:00 GMT",
<http://other.example/20260101000000/http://example.org/a?x=1,2>; rel="memento";
  datetime="Thu, 01 Jan 2026 00:00:00 GMT",
<http://arc.example/web/20250101000000/http://example.org/a?x=1,2>; rel="last memento";
  datetime="Wed, 01 Jan 2025 00:00:00 GMT"
"""


def _golden(outcome: str) -> CaptureEntry:
    for line in GOLDEN.read_bytes().splitlines():
        raw = json.loads(line)
        if raw["outcome"] == outcome:
            return CaptureEntry.from_json(raw)
    raise AssertionError(outcome)


def test_timemap_keeps_first_last_and_closest_with_commas_in_urls() -> None:
    mementos, count = parse_timemap(TIMEMAP, AT)
    assert count == 3
    assert [(m.rel, m.archive, m.datetime) for m in mementos] == [
        ("first", "arc.example", "2010-01-01T00:00:00Z"),
        ("last", "other.example", "2026-01-01T00:00:00Z"),
    ]  # the latest is also the closest to the failure: listed once
    assert mementos[0].url.endswith("/http://example.org/a?x=1,2")


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not a timemap</html>",
        b'<http://a/>; rel="memento"; datetime="yesterday"',
        b"\xff\xfe<",
        b"<http://a/",
    ],
)
def test_malformed_timemap_is_named(body: bytes) -> None:
    with pytest.raises(MementoFormatError):
        parse_timemap(body, AT)


def test_availability_answers() -> None:
    found = parse_availability(
        b'{"archived_snapshots": {"closest": {"available": true, "status": "200", '
        b'"url": "http://arc.example/web/20200102030405/http://e.org/", '
        b'"timestamp": "20200102030405"}}}'
    )
    assert found == [
        Memento(
            "arc.example",
            "http://arc.example/web/20200102030405/http://e.org/",
            "2020-01-02T03:04:05Z",
            "closest",
        )
    ]
    assert parse_availability(b'{"url": "x", "archived_snapshots": {}}') == []
    for bad in (b"[]", b"nope", b'{"archived_snapshots": {"closest": {"url": "u"}}}'):
        with pytest.raises(MementoFormatError):
            parse_availability(bad)


def test_request_urls() -> None:
    assert timemap_url("http://agg/timemap/link/", "http://e.org/a") == (
        "http://agg/timemap/link/http://e.org/a"
    )
    assert timemap_url("http://agg/tm?u={url}&x", "http://e.org/a") == (
        "http://agg/tm?u=http://e.org/a&x"
    )
    assert availability_url("http://w/available", "http://e.org/a b", AT) == (
        "http://w/available?url=http%3A%2F%2Fe.org%2Fa+b&timestamp=20261124000000"
    )


def test_closest_memento_over_all_answers() -> None:
    a = Memento("a", "http://a/1", "2020-01-01T00:00:00Z", "first")
    b = Memento("b", "http://b/1", "2026-11-20T00:00:00Z", "closest")
    assert closest_memento([a, b, b], AT) is b
    assert closest_memento([], AT) is None


def test_which_outcomes_are_looked_up() -> None:
    gone = _golden("http-error")
    assert wants_witnesses(dataclasses.replace(gone, status=404))
    assert wants_witnesses(dataclasses.replace(gone, status=451))
    assert not wants_witnesses(dataclasses.replace(gone, status=500))
    assert not wants_witnesses(_golden("captured"))
    assert not wants_witnesses(_golden("blocked"))
    failed = _golden("failed")
    assert failed.error is not None
    for cls, asked in (("dns", True), ("timeout", True), ("proxy", False), ("invalid-url", False)):
        e = dataclasses.replace(failed, error=dataclasses.replace(failed.error, cls=cls))
        assert wants_witnesses(e) is asked, cls
    label = MementoOf("http://e.org/", "arc", "2020-01-01T00:00:00Z", "http://agg/")
    assert not wants_witnesses(dataclasses.replace(gone, status=404, memento_of=label))


def test_new_fields_round_trip_and_match_the_schema() -> None:
    query = ThirdPartyQuery(
        "timemap",
        "http://agg/timemap/link/",
        "http://agg/timemap/link/http://e.org/",
        "2026-11-24T00:00:00.000001Z",
        200,
        None,
        [Memento("arc", "http://arc/web/1/http://e.org/", "2020-01-01T00:00:00Z", "first")],
        1,
        [],
    )
    failed = dataclasses.replace(query, status=None, error={"class": "dns", "message": "x"})
    entry = dataclasses.replace(_golden("http-error"), witnesses=[query, failed])
    line = dumps_entry(entry)
    back = CaptureEntry.from_json(json.loads(line))
    assert back == entry and dumps_entry(back) == line
    label = MementoOf("http://e.org/", "arc", "2020-01-01T00:00:00Z", "http://agg/")
    memento = dataclasses.replace(_golden("captured"), memento_of=label, save_now=[query])
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for e in (entry, memento):
        validator.validate(e.to_json())
        assert CaptureEntry.from_json(e.to_json()) == e


def test_old_entries_have_no_third_party_fields() -> None:
    for line in GOLDEN.read_bytes().splitlines(keepends=True):
        entry = CaptureEntry.from_json(json.loads(line))
        assert entry.witnesses is None and entry.memento_of is None and entry.save_now is None
        assert dumps_entry(entry) == line
