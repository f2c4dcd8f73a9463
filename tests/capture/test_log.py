"""The capture log: one typed entry, serialised in one place, the same bytes as ever, and the
dataclass saying what manifests/capture-log.schema.json says."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from archiver.capture.log import (
    CaptureEntry,
    EntryShapeError,
    Journal,
    dumps_entry,
    journal_lines,
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


def test_journal_syncs_in_the_background_one_fsync_for_many_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 threads append while an fsync is slow: they share a few fsyncs, a line is made
    durable without close(), and close() leaves every line on disk."""
    path = tmp_path / "journal.jsonl"
    first = CaptureEntry.from_json(json.loads(_golden()[0]))
    journal = Journal(path)
    synced_upto: list[int] = []  # file size when each fsync began: what it made durable
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        synced_upto.append(os.fstat(fd).st_size)
        time.sleep(0.05)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    threads = [
        threading.Thread(
            target=journal.append, args=(dataclasses.replace(first, url=f"https://e.org/{i}"),)
        )
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    size = path.stat().st_size
    deadline = time.monotonic() + 10
    while (not synced_upto or max(synced_upto) < size) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert synced_upto and max(synced_upto) == size  # durable in the background, no close
    journal.close()
    assert len(list(read_entries(path))) == 20
    assert len(synced_upto) <= 4  # a few for the whole burst, not one per line


def test_a_failed_fsync_stops_the_next_append_and_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk error met in the background is raised to the run, never lost with the thread."""
    path = tmp_path / "journal.jsonl"
    first = CaptureEntry.from_json(json.loads(_golden()[0]))
    journal = Journal(path)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    journal.append(first)
    deadline = time.monotonic() + 10
    while journal._failure is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(OSError, match="Input/output error"):
        journal.append(dataclasses.replace(first, url="https://e.org/2"))
    with pytest.raises(OSError, match="Input/output error"):
        journal.close()
    assert [e.url for e in read_entries(path)] == [first.url]  # written, kept for a re-run


def test_journal_lines_are_given_byte_for_byte_and_bad_lines_left_out(tmp_path: Path) -> None:
    """The bag's capture log is the journal's entry lines as written, never re-encoded."""
    path = tmp_path / "journal.jsonl"
    good = _golden()
    path.write_bytes(
        good[0] + b"not json\n" + good[1] + b'{"url": "no other field"}\n' + good[2]
        + b'{"url": "torn'
    )  # fmt: skip
    lines = list(journal_lines(path))
    assert [line for line, _ in lines] == good[:3]
    assert [e.url for _, e in lines] == [e.url for e in read_entries(path)]


def test_a_pass_over_the_failures_reads_only_their_lines_and_finds_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``where`` skips a line before it is read as an entry; what is left is what filtering
    the entries afterwards leaves, a line that is not an entry still left out."""
    path = tmp_path / "journal.jsonl"
    bad = b'{"outcome": "failed", "url": "no other field"}\n'
    path.write_bytes(b"".join(_golden()) + bad)
    wanted = [e for e in read_entries(path) if e.outcome != "captured"]
    assert wanted and len(wanted) < len(list(read_entries(path)))
    read = []
    real = CaptureEntry.from_json
    monkeypatch.setattr(CaptureEntry, "from_json", lambda raw: read.append(raw) or real(raw))
    got = list(read_entries(path, lambda raw: raw.get("outcome") != "captured"))
    assert got == wanted
    assert len(read) == len(wanted) + 1  # the bad line is read, and refused


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
