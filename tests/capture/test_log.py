"""The capture log: one typed entry, serialised in one place, the same bytes as ever, and the
dataclass saying what manifests/capture-log.schema.json says."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from archiver.capture.log import (
    CaptureEntry,
    EntryShapeError,
    Journal,
    dumps_entry,
    read_entries,
)
from archiver.collect.seeds import Seed
from tests.capture.helpers import SCHEMA, run_crawl
from tests.helpers import REPO
from tests.servers import TestServer

GOLDEN = REPO / "tests" / "data" / "capture-log" / "v1.jsonl"


def _golden() -> list[bytes]:
    return GOLDEN.read_bytes().splitlines(keepends=True)


def test_golden_lines_round_trip_byte_for_byte() -> None:
    lines = _golden()
    outcomes = {json.loads(line)["outcome"] for line in lines}
    assert outcomes == {"captured", "http-error", "failed", "blocked"}
    for line in lines:
        entry = CaptureEntry.from_json(json.loads(line))
        assert dumps_entry(entry) == line
        assert CaptureEntry.from_json(entry.to_json()) == entry


def test_journal_appends_and_skips_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = CaptureEntry.from_json(json.loads(_golden()[0]))
    j = Journal(path)
    j.append(first)
    j.append(dataclasses.replace(first, url="https://e.org/2"))
    j.close()
    with open(path, "ab") as f:
        f.write(b'{"url": "https://e.org/3", "outc')  # crash mid-write
    assert [e.url for e in read_entries(path)] == [first.url, "https://e.org/2"]
    assert path.read_bytes().startswith(_golden()[0])


def test_dumps_entry_is_stable() -> None:
    a = dumps_entry({"b": 1, "a": "é"})
    assert a == dumps_entry({"a": "é", "b": 1})
    assert a.endswith(b"\n") and "é".encode() in a


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


def test_dataclass_fields_are_the_schema_properties() -> None:
    schema = _schema()
    fields = {f.name: f for f in dataclasses.fields(CaptureEntry)}
    assert set(fields) == set(schema["properties"])
    required = {
        n for n, f in fields.items() if f.default is dataclasses.MISSING or n == "text"
    }  # text: always written (null until cleaned)
    assert required == set(schema["required"])
    nested = {
        "error": ("FetchFailure", {"class", "message", "at"}),
        "robots": ("RobotsDecision", None),
        "proxy": ("ProxyFacts", None),
    }
    from archiver.capture import log

    for key, (cls_name, expected) in nested.items():
        obj = next(o for o in schema["properties"][key]["oneOf"] if o.get("type") == "object")
        names = {f.name for f in dataclasses.fields(getattr(log, cls_name))}
        names = {"class" if n == "cls" else n for n in names}
        assert names == set(obj["properties"]) == set(obj["required"]), key
        if expected:
            assert names == expected
    attempt = schema["properties"]["attempts"]["items"]
    assert {f.name for f in dataclasses.fields(log.Attempt)} == set(attempt["required"])
    redirect = schema["properties"]["redirects"]["items"]
    assert {f.name for f in dataclasses.fields(log.Redirect)} == set(redirect["required"])


@pytest.mark.parametrize(
    "change",
    [
        {"outcome": "fine"},
        {"url": 5},
        {"records": [{"warc_file": "a"}]},
        {"hop": True},
        {"citations": [{"document": 1}]},
        {"error": {"class": "x"}},
    ],
)
def test_malformed_entry_is_a_shape_error(change: dict[str, Any]) -> None:
    good = json.loads(_golden()[0])
    with pytest.raises(EntryShapeError):
        CaptureEntry.from_json({**good, **change})
    with pytest.raises(EntryShapeError):
        CaptureEntry.from_json([good])


def test_entries_from_local_crawls_match_schema_and_round_trip(
    tmp_path: Path, http_server: TestServer, make_server, refused_url: str
) -> None:
    retry = make_server().url("/retry-after?times=1&value=0")
    urls = [
        http_server.url(p)
        for p in ("/articles/one.html", "/redirect/301", "/status/404", "/private/secret.html")
    ] + [refused_url, retry]
    run = run_crawl(tmp_path / "a", [Seed(u, 0) for u in urls])
    private = http_server.url("/articles/two.html")
    run_private = run_crawl(tmp_path / "b", [Seed(private, 0)], allow_private=False)
    results = run.results + run_private.results
    assert {r.entry.outcome for r in results} == {"captured", "http-error", "failed", "blocked"}
    assert {r.entry.error.cls for r in results if r.entry.error} >= {
        "robots",
        "private-address",
        "connection-refused",
        "http-4xx",
    }
    assert any(r.entry.attempts and r.entry.attempts[0].retried for r in results)
    validator = jsonschema.Draft202012Validator(_schema())
    for r in results:
        as_json = r.entry.to_json()
        assert list(validator.iter_errors(as_json)) == [], r.entry.url
        assert CaptureEntry.from_json(as_json) == r.entry
        assert dumps_entry(CaptureEntry.from_json(json.loads(dumps_entry(r.entry)))) == (
            dumps_entry(r.entry)
        )
