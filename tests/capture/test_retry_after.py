"""429/503 with Retry-After: waited for within the bound, retried, every attempt kept as evidence
(each request/response pair in the WARC, each attempt in the capture-log entry)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.crawl import Seed
from archiver.capture.hostgate import HostGate
from archiver.capture.retry import retry_after_seconds
from tests.capture.helpers import assert_valid_entry, run_crawl
from tests.servers import TestServer


def responses_for(run: Any, url: str) -> list[bytes]:
    return [
        body
        for headers, body, kind in run.records()
        if kind == "response" and headers["WARC-Target-URI"] == url
    ]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_503_with_retry_after_seconds_is_waited_for_and_retried(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/retry-after?times=1&value=1")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    entry = run.entries[url]
    assert entry["outcome"] == "captured" and entry["status"] == 200
    first, second = entry["attempts"]
    assert (first["status"], first["retry_after"], first["wait"], first["retried"]) == (
        503,
        "1",
        1.0,
        True,
    )
    assert (second["status"], second["retried"], second["reason"]) == (200, False, None)
    assert at(second["started"]) - at(first["started"]) >= timedelta(seconds=1)  # it waited
    assert server.stats.paths().count(url.split(str(server.port))[1]) == 2
    # Both exchanges are evidence: the 503 and the 200, each its own response record.
    busy, page = responses_for(run, url)
    assert b"503 Busy" in busy and b"Detention of journalists" in page
    assert_valid_entry(entry)


def test_429_with_http_date_is_waited_for(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/retry-after?times=1&value=date%2B1&status=429")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    entry = run.entries[url]
    assert entry["outcome"] == "captured"
    first = entry["attempts"][0]
    assert first["status"] == 429 and first["retry_after"].endswith(" GMT")
    assert first["wait"] == 1.0 and first["retried"] is True  # measured from the answer's Date
    assert_valid_entry(entry)


def test_retry_after_beyond_the_bound_is_not_waited_for_but_recorded(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/retry-after?times=1&value=3600")
    run = run_crawl(tmp_path, [Seed(url, 0)], retry_after_max=120.0)
    entry = run.entries[url]
    assert entry["outcome"] == "http-error" and entry["status"] == 503
    [attempt] = entry["attempts"]
    assert attempt["wait"] == 3600.0 and attempt["retried"] is False
    assert "beyond the bound of 120s" in attempt["reason"]
    assert len(responses_for(run, url)) == 1
    assert_valid_entry(entry)


def test_retries_are_bounded(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/retry-after?times=9&value=0")
    run = run_crawl(tmp_path, [Seed(url, 0)], retry_attempts=2)
    entry = run.entries[url]
    assert entry["outcome"] == "http-error"
    assert [a["retried"] for a in entry["attempts"]] == [True, True, False]
    assert entry["attempts"][-1]["reason"] == "2 retries done"
    assert len(responses_for(run, url)) == 3
    assert_valid_entry(entry)


def test_no_retry_after_is_an_http_error_at_once(tmp_path: Path, http_server: TestServer):
    url = http_server.url("/status/500")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    assert run.entries[url]["outcome"] == "http-error"
    assert run.entries[url]["attempts"] == []


def test_back_off_slows_the_host_down():
    gate = HostGate(0.0)
    with gate.hold("h"):
        pass
    before = time.monotonic()
    gate.back_off("h", 5.0, 50.0)
    assert gate.next_allowed("h") >= before + 5.0
    assert gate.extra_delay["h"] == 30.0  # later requests: slower, up to the cap
    assert gate.next_allowed("other") == 0.0


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("120", None, 120.0),
        (" 0 ", None, 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:10 GMT", 0.0),  # past
        ("-5", None, None),
        ("soon", None, None),
    ],
)
def test_retry_after_values(value: str, date: str | None, expected: float | None):
    assert retry_after_seconds(value, date) == expected


def test_retry_after_date_without_date_header_uses_our_clock():
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = retry_after_seconds(later)
    assert wait is not None and 0 < wait <= 30


def test_interrupt_ends_a_retry_after_wait(make_server, spool_dir: Path):
    """Ctrl-C during a wait: the 503 stands (recorded), the run is not held for the wait."""
    import threading

    from archiver.base.settings import Settings
    from archiver.capture.fetch import Fetcher

    server: TestServer = make_server()
    stop = threading.Event()
    stop.set()
    settings = Settings(per_host_delay=0.0, allow_private=True)
    fetcher = Fetcher(settings, spool_dir=spool_dir, stop=stop)
    result = fetcher.fetch(server.url("/retry-after?times=1&value=100"))
    [attempt] = result.attempts
    assert attempt["retried"] is False and "interrupted" in attempt["reason"]
    assert [h.status for h in result.hops] == [503]
    result.close()
    fetcher.close()
