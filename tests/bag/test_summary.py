"""The provenance summary shows every fact filled in, and escapes what it shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from archiver.bag import summary
from archiver.bag.summary import render_summary, stream_summary, summary_counts
from archiver.bag.summaryout import SummaryWriter
from archiver.base.settings import Settings
from archiver.base.timefmt import parse_iso

BAG_INFO = [
    ("Source-Organization", "Example Rights Watch"),
    ("Contact-Name", "Desk 3"),
    ("Contact-Email", "desk3@example.org"),
    ("External-Description", "URLs cited by report.md"),
    ("External-Identifier", "urn:uuid:3f0c6a52-8d7e-4f55-9a43-6e0e2f7b9b10"),
    ("Bagging-Date", "2026-11-21"),
    ("Bag-Software-Agent", "archiver/0.1.0 (https://archiver.invalid/)"),
    ("Capture-Start", "2026-11-20T23:01:02.123456Z"),
    ("Capture-End", "2026-11-20T23:05:00.000000Z"),
    ("Capture-Operator", "op-7f3a"),
    ("Capture-Software", "archiver 0.1.0; Python 3.11.7"),
]
EVIL = "https://evil.example/<script>alert(1)</script>?a=1&b=2"


def record(rid: str, rtype: str, offset: int) -> dict[str, Any]:
    return {
        "warc_file": "ARCHIVER-20261120230102123456-00000-host.warc.gz",
        "record_id": f"<urn:uuid:{rid}>",
        "type": rtype,
        "offset": offset,
        "length": 100,
        "target_uri": "https://example.org/",
    }


ENTRIES: list[dict[str, Any]] = [
    {
        "url": "https://example.org/a",
        "outcome": "captured",
        "status": 200,
        "final_url": "https://example.org/b",
        "redirects": [{"url": "https://example.org/a", "status": 301, "location": "/b"}],
        "error": None,
        "ip": "93.184.215.14",
        "started": "2026-11-20T23:01:03.000000Z",
        "ended": "2026-11-20T23:01:04.000000Z",
        "payload_sha256": "ab" * 32,
        "records": [record("1", "request", 0), record("2", "response", 400)],
        "text": None,
    },
    {  # DNS failure: no status, no IP, no payload, no records
        "url": "https://gone.example/",
        "outcome": "failed",
        "error": {"class": "dns", "message": "name does not resolve", "at": "2026-11-20T23:01Z"},
        "started": "2026-11-20T23:01:05.000000Z",
        "ended": "2026-11-20T23:01:06.000000Z",
        "records": [],
        "status": None,
        "final_url": None,
        "ip": None,
        "payload_sha256": None,
    },
    {
        "url": EVIL,
        "outcome": "http-error",
        "status": 404,
        "final_url": EVIL,
        "error": {"class": "http-4xx", "message": "Not Found"},
        "ip": "",
        "started": "2026-11-20T23:02:00.000000Z",
        "ended": "2026-11-20T23:02:01.000000Z",
        "payload_sha256": "cd" * 32,
        "records": [record("3", "response", 900)],
    },
]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("td", "th"):
            self._in = tag
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.cells[-1] += data


def settings(**changes: Any) -> dict[str, Any]:
    return Settings(hostname="capture-02", operator="op-7f3a", **changes).to_dict()


def render(entries: list[dict[str, Any]] = ENTRIES, **changes: Any) -> tuple[str, str]:
    return render_summary(BAG_INFO, entries, settings(**changes))


def test_every_cell_and_line_is_filled() -> None:
    html, text = render()
    parser = _Cells()
    parser.feed(html)
    assert len(parser.cells) > 60
    blank = [c for c in parser.cells if not c.strip() or c.strip() in ("None", "null")]
    assert blank == []
    assert "None" not in html and "None" not in text
    for line in text.splitlines():
        if ": " in line:
            assert line.split(": ", 1)[1].strip(), line
        assert not line.rstrip().endswith(":"), line


def test_shows_what_when_where_who_and_how() -> None:
    html, text = render()
    for fact in [
        "2026-11-20T23:01:02.123456Z (20 November 2026, 23:01:02 UTC)",  # capture start
        "2026-11-20T23:05:00.000000Z",  # capture end
        "https://example.org/b",  # final URL
        "HTTP status: 200",
        "93.184.215.14",
        "ab" * 32,
        "response record <urn:uuid:2> in ARCHIVER-20261120230102123456-00000-host.warc.gz "
        "at byte offset 400",
        "capture-02",
        "Proxy: no (direct connection)",
        "Example Rights Watch",
        "op-7f3a",
        "archiver 0.1.0; Python 3.11.7",
        "cryptography ",
        "archiver verify BAG",
        "bagit.py --validate BAG",
        "https://gone.example/: failed: dns: name does not resolve",
    ]:
        assert fact in text, fact
    assert "HTTP status: no HTTP response" in text
    assert "Server IP address: not reached" in text
    assert "WARC record: no WARC record (nothing was received)" in text
    assert "Server IP address: not recorded" in text  # a response, but the IP is unknown
    assert "Capture started" in html and "20 November 2026" in html


def test_html_escapes_everything() -> None:
    html, text = render()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?a=1&amp;b=2" in html
    assert EVIL in text  # plain text shows it as it is
    assert "href=" not in html and "<script" not in html.lower()


def test_proxy_password_is_not_shown() -> None:
    _, text = render(proxy="http://user:s3cret@proxy.example:3128")
    assert "s3cret" not in text
    assert "Proxy: yes, through http://user:***@proxy.example:3128" in text


def test_names_resolved_by_an_environment_proxy() -> None:
    entry = dict(ENTRIES[1], resolved_by="proxy")
    _, text = render([entry])
    assert "Server IP address: resolved by the proxy" in text
    assert "Proxy: yes, a proxy set in the environment" in text


def test_robots_override_and_tls_off_are_stated() -> None:
    _, text = render(
        respect_robots=False, robots_override_reason="court order 17", verify_tls=False
    )
    assert "robots.txt: ignored; reason given: court order 17" in text
    assert "TLS certificate checking: OFF" in text


def test_sparse_input_still_has_no_blanks() -> None:
    html, text = render_summary([], [{"url": "https://x.example/"}], {})
    assert "not recorded" in text
    parser = _Cells()
    parser.feed(html)
    assert all(c.strip() for c in parser.cells)
    assert not re.search(r": *$", text, re.M)


def test_summary_is_streamed_in_bounded_pieces_with_the_same_bytes() -> None:
    """A summary of thousands of captures is written in pieces of at most about 64 KB, read
    from the entries three times (never listed), and is the same text as rendered at once."""
    many = [dict(ENTRIES[n % len(ENTRIES)], url=f"https://example.org/{n}") for n in range(3000)]
    passes = 0

    def entries() -> Iterator[dict[str, Any]]:
        nonlocal passes
        passes += 1
        yield from many

    html_pieces: list[str] = []
    text_pieces: list[str] = []
    stream_summary(BAG_INFO, entries, {}, SummaryWriter(html_pieces.append, text_pieces.append))
    assert passes == 3
    assert len(html_pieces) > 10 and max(map(len, html_pieces)) < 70_000
    assert len(text_pieces) > 10 and max(map(len, text_pieces)) < 70_000
    html, text = render_summary(BAG_INFO, many, {})
    assert "".join(html_pieces) == html and "".join(text_pieces) == text
    assert "3000. https://example.org/2999" in text and "URLs attempted: 3000" in text


def test_counts_and_failures_given_by_the_caller_change_no_byte() -> None:
    """A run gives the counts it made while copying its capture log, and only the entries not
    captured for the failures' list: the entries are read once, and the summary is the same."""
    many = [dict(ENTRIES[n % len(ENTRIES)], url=f"https://example.org/{n}") for n in range(50)]
    many[7] = dict(many[7], resolved_by="proxy")
    passes = 0

    def entries() -> Iterator[dict[str, Any]]:
        nonlocal passes
        passes += 1
        yield from many

    def failures() -> Iterator[dict[str, Any]]:
        yield from (e for e in many if e.get("outcome") != "captured")

    pieces: list[str] = []
    counts = summary_counts(many)
    assert counts.via_proxy and 0 < counts.captured < counts.attempted == 50
    out = SummaryWriter(pieces.append, pieces.append)
    stream_summary(BAG_INFO, entries, {}, out, counts=counts, failures=failures)
    assert passes == 1
    whole: list[str] = []
    stream_summary(BAG_INFO, lambda: many, {}, SummaryWriter(whole.append, whole.append))
    assert "".join(pieces) == "".join(whole)
    assert "names were resolved by the proxy" in "".join(whole)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T23:01:02.123456Z",
        "2026-11-20T23:01:02.999999Z",  # the same second, spelt out from the cache
        "2026-02-30T23:01:02.123456Z",  # no such day: shown as given
        "2026-11-20T24:00:00.000000Z",
        "2026-11-20T23:01:02Z",
        "2026-11-20T23:01:02.123456+02:00",
        " 2026-11-20T23:01:02.123456Z ",
        "not a time",
        "",
        None,
    ],
)
def test_times_are_spelt_out_as_parsing_each_gives(value: str | None) -> None:
    text = summary._text(value)
    moment = parse_iso(text)
    expected = text
    if moment is not None and text != summary.NOT_GIVEN:
        expected = f"{text} ({moment.day} {moment.strftime('%B %Y, %H:%M:%S')} UTC)"
    assert summary._when(value) == expected
