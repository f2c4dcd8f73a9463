"""The capture log's faster JSON: to_json spelt out field by field, and records read with a fast
path, give exactly what the generic implementations they replace gave (kept here as references).

Every run journals each URL through ``to_json`` and reads its journal back through ``from_json``
while sealing; these pin that the quicker code changes no byte and no verdict on a bad line.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

import pytest

from archiver.capture import logread
from archiver.capture.imported import Imported
from archiver.capture.log import (
    CaptureEntry,
    DnsFacts,
    EntryShapeError,
    Memento,
    MementoOf,
    ProxyFacts,
    ProxyResolved,
    TextError,
    TextRef,
    ThirdPartyQuery,
    dumps_entry,
)
from archiver.capture.logparts import as_object, get_field, ref_from_json, ref_to_json
from archiver.collect.seeds import Citation
from archiver.warc.writer import RecordRef
from tests.helpers import DATA

_HAD_NO_TO_JSON = ("Redirect", "Attempt", "RobotsDecision", "CertSummary", "TlsFacts", "ProxyFacts")


def _generic_plain(value: Any) -> Any:
    """The generic walk ``CaptureEntry.to_json`` used before: its own to_json or its fields."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [_generic_plain(v) for v in value]
    if isinstance(value, RecordRef):
        return ref_to_json(value)
    # These had no to_json then: their fields, in order.
    if type(value).__name__ in _HAD_NO_TO_JSON:
        return {k: _generic_plain(v) for k, v in vars(value).items()}
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        return to_json()
    return {k: _generic_plain(v) for k, v in vars(value).items()}


def _generic_to_json(entry: CaptureEntry) -> dict[str, Any]:
    out = {k: _generic_plain(v) for k, v in vars(entry).items()}
    for optional in ("attempts", "witnesses", "save_now", "memento_of", "imported"):
        if getattr(entry, optional) is None:
            del out[optional]
    return out


def _generic_ref_from_json(raw: Any) -> RecordRef:
    """``ref_from_json`` before its fast path: field by field."""
    r = as_object(raw, "a record")
    return RecordRef(
        warc_file=get_field(r, "warc_file", str),
        record_id=get_field(r, "record_id", str),
        offset=get_field(r, "offset", int),
        length=get_field(r, "length", int),
        type=get_field(r, "type", str),
        target_uri=get_field(r, "target_uri", str, null=True),
    )


def _golden() -> list[CaptureEntry]:
    lines = (DATA / "capture-log" / "v1.jsonl").read_bytes().splitlines()
    lines += (DATA / "bags" / "old-layout" / "data" / "capture-log.jsonl").read_bytes().splitlines()
    return [CaptureEntry.from_json(json.loads(line)) for line in lines]


def _ref(n: int, kind: str = "response", target: str | None = "https://e.org/") -> RecordRef:
    return RecordRef(f"A-{n}.warc.gz", f"<urn:uuid:{n}>", n * 100, 50 + n, kind, target)


def _varied() -> list[CaptureEntry]:
    """Golden entries, and each with the parts the golden log lacks filled in some other way."""
    base = _golden()
    query = ThirdPartyQuery(
        service="timemap",
        endpoint="https://timetravel.example/",
        request_url="https://timetravel.example/timemap/json/https://e.org/",
        asked="2026-01-02T03:04:05Z",
        status=200,
        error=None,
        mementos=[
            Memento(
                "web.archive.org",
                "https://web.archive.org/web/1/x",
                "2020-01-01T00:00:00Z",
                "first",
            )
        ],
        count=7,
        records=[_ref(1, "request"), _ref(2, "response", None)],
    )
    failed = dataclasses.replace(
        query, service="save-now", status=None, error={"class": "timeout", "message": "slow"}
    )
    extra = [
        dataclasses.replace(
            base[0],
            citations=[Citation("sources/a.md", "sources/a.md:3", "e.org/x#frag")] * 2,
            witnesses=[query, failed],
            save_now=[],
            memento_of=MementoOf("https://e.org/", "web.archive.org", "2020-01-01T00:00:00Z", "x"),
            proxy=ProxyFacts("http://proxy.example:3128", None),
            dns=ProxyResolved("e.org", "http://proxy.example:3128"),
            resolved_by="proxy",
            text=TextRef("text/a.txt", "text/a.json", "ab" * 32, reason="clean-time-limit"),
            truncated="time",
        ),
        dataclasses.replace(
            base[-1],
            dns=DnsFacts("nx.example", [], None, "system", "2026-01-01T00:00:00Z", "NXDOMAIN"),
            text=TextError("ValueError: no text"),
            imported=Imported("archiver 0.1", "crawl.warc.gz", "response", software="wget 1.21"),
            save_now=[failed],
        ),
    ]
    for entry in base:
        if entry.attempts:
            extra.append(
                dataclasses.replace(
                    entry,
                    attempts=[
                        dataclasses.replace(entry.attempts[0], wait=3),
                        dataclasses.replace(entry.attempts[0], wait=1.5, retried=False),
                    ],
                )
            )
    parts = {"witnesses", "save_now", "memento_of", "imported", "proxy", "attempts", "tls"}
    covered = {k for e in base + extra for k in parts if getattr(e, k)}
    assert covered == parts  # every kind of part is among the entries compared
    return base + extra


@pytest.mark.parametrize("entry", _varied(), ids=lambda e: f"{e.outcome}-{e.url[-24:]}")
def test_to_json_is_the_generic_walks_output_in_the_same_order(entry: CaptureEntry) -> None:
    new, old = entry.to_json(), _generic_to_json(entry)
    assert json.dumps(new) == json.dumps(old)  # not sorted: the order of keys too
    assert dumps_entry(entry) == dumps_entry(old)
    assert CaptureEntry.from_json(json.loads(dumps_entry(entry))) == entry


def _record(**change: Any) -> dict[str, Any]:
    raw: dict[str, Any] = ref_to_json(_ref(3))
    raw.update(change)
    return {k: v for k, v in raw.items() if v != "DROP"}


class _Dict(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    "raw",
    [
        _record(),
        _record(target_uri=None),
        _record(target_uri="DROP"),
        _record(offset=True),
        _record(length=2.0),
        _record(offset=None),
        _record(type=None),
        _record(warc_file="DROP"),
        _record(record_id=5),
        _record(target_uri=7),
        _record(extra="kept out"),
        _Dict(_record()),
        [],
        None,
        "record",
    ],
)
def test_record_fast_path_reads_and_refuses_as_the_field_checks_do(raw: Any) -> None:
    try:
        expected: RecordRef | str = _generic_ref_from_json(raw)
    except EntryShapeError as err:
        expected = f"EntryShapeError: {err}"
    try:
        got: RecordRef | str = ref_from_json(raw)
    except EntryShapeError as err:
        got = f"EntryShapeError: {err}"
    assert got == expected
    if isinstance(got, RecordRef):
        assert [type(v) for v in vars(got).values()] == [type(v) for v in vars(expected).values()]


@pytest.mark.parametrize("value", ["x", 1, 0, True, False, 1.5, None, [], {}, [1], {"a": 1}])
@pytest.mark.parametrize("kind", [str, int, bool, list, dict, (int, float)])
@pytest.mark.parametrize("null", [False, True])
def test_get_field_verdicts_are_those_of_the_checks_it_shortcuts(
    value: Any, kind: Any, null: bool
) -> None:
    def generic() -> Any:
        if value is None and null:
            return None
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise EntryShapeError("'k' is not a number")
        if not isinstance(value, kind):
            raise EntryShapeError(f"'k' has the wrong type ({type(value).__name__})")
        return value

    def verdict(call: Any) -> Any:
        try:
            return ("ok", call())
        except EntryShapeError as err:
            return ("refused", str(err))

    assert verdict(lambda: get_field({"k": value}, "k", kind, null=null)) == verdict(generic)


def _checked_entry(raw: Any) -> CaptureEntry:
    """``from_json`` before its fast path: every field checked in turn (logread._checked)."""
    r = as_object(raw, "the entry")
    return cast(
        CaptureEntry,
        logread._checked(CaptureEntry, r, raw["outcome"], raw["resolved_by"], raw["truncated"]),
    )


def _verdict(read: Any, raw: Any) -> Any:
    try:
        entry = read(raw)
    except EntryShapeError as err:
        return f"EntryShapeError: {err}"
    # The same fields, in the same order, of the same types, as __init__ would have set them.
    return entry, [(k, type(v)) for k, v in vars(entry).items()]


@pytest.mark.parametrize("entry", _varied(), ids=lambda e: f"{e.outcome}-{e.url[-24:]}")
def test_entries_read_at_once_are_those_read_field_by_field(entry: CaptureEntry) -> None:
    raw = json.loads(dumps_entry(entry))
    assert _verdict(CaptureEntry.from_json, raw) == _verdict(_checked_entry, raw)
    assert list(vars(CaptureEntry.from_json(raw))) == [f.name for f in dataclasses.fields(entry)]


_WRONG = {
    "url": [None, 1, "DROP"],
    "hop": [True, 1.0, None],
    "via": [3, "DROP"],
    "status": ["200", True],
    "citations": [None, {}, [{"document": 1}]],
    "redirects": [None, [{"url": "x"}]],
    "error": ["boom", [], {"class": "x"}],
    "robots": [[], {"url": "x"}],
    "dns": ["1.2.3.4", {"answers": "x"}],
    "tls": [[], {"version": 1}],
    "records": [{}, [{"warc_file": 1}]],
    "text": ["t", {"path": 1}],
    "payload_size": ["9", 1.5],
    "content_type": [5],
}


def _wrong_lines() -> list[dict[str, Any]]:
    """Golden lines with one field wrong, and with two wrong (a plain one and a part)."""
    base = json.loads(dumps_entry(_golden()[0]))
    out = []
    for key, values in _WRONG.items():
        for value in values:
            out.append({k: v for k, v in {**base, key: value}.items() if v != "DROP"})
            for part in ("records", "error", "citations"):
                if part != key:
                    out.append({**out[-1], part: _WRONG[part][-1]})
    return out


@pytest.mark.parametrize("raw", _wrong_lines())
def test_a_wrong_line_gets_the_verdict_of_the_field_by_field_checks(raw: dict[str, Any]) -> None:
    assert _verdict(CaptureEntry.from_json, raw) == _verdict(_checked_entry, raw)
