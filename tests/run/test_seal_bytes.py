"""Sealing writes the same capture log, provenance summary and counts, byte for byte.

The journal is copied into the bag's capture log and rendered into the summary at the end of
every run; these tests pin those bytes (made by the three-pass reader this replaced) for a
journal of every kind of entry and line: outcomes, redirects, a proxy, witnesses, HTML and
non-ASCII in URLs, lines that are not entries, and a torn last line.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from archiver.bag import summary
from archiver.bag.summary import render_summary
from archiver.bag.writer import BagBuilder
from archiver.base import spool
from archiver.base.settings import Settings
from archiver.capture.log import LOG_NAME, dumps_entry, read_entries
from archiver.keep.catalog import bag_rows
from archiver.run.finish import SUMMARY_FILES, write_summary
from archiver.run.sealpass import SealPass
from tests.helpers import REPO

GOLDEN = REPO / "tests" / "data" / "capture-log" / "v1.jsonl"
RUN_ID = "urn:uuid:3f0c6a52-8d7e-4f55-9a43-6e0e2f7b9b10"
BAG_INFO = [
    ("Source-Organization", "Example Rights Watch"),
    ("External-Description", "URLs cited by <report> & notes"),
    ("External-Identifier", RUN_ID),
    ("Bagging-Date", "2026-11-21"),
    ("Capture-Start", "2026-11-20T23:01:02.123456Z"),
    ("Capture-End", "2026-11-20T23:05:00.000000Z"),
    ("Capture-Operator", "op-7f3a"),
]
SETTINGS = Settings(hostname="capture-02", operator="op-7f3a", contact_email="desk@example.org")
QUERY = {
    "service": "timemap",
    "endpoint": "https://web.archive.invalid/timemap",
    "request_url": "https://web.archive.invalid/timemap/link/https://gone.example/",
    "asked": "2026-11-20T23:03:00.000000Z",
    "status": 200,
    "error": None,
    "mementos": [
        {
            "archive": "web.archive.invalid",
            "url": "https://web.archive.invalid/web/2020/https://gone.example/",
            "datetime": "2020-01-01T00:00:00Z",
            "rel": "memento",
        }
    ],
    "count": 1,
    "records": [],
}
TIMEOUT = {"class": "timeout", "message": "too slow"}
MEMENTO_OF = {
    "original_url": "https://gone.example/",
    "archive": "web.archive.invalid",
    "memento_datetime": "2020-01-01T00:00:00Z",
    "endpoint": "https://web.archive.invalid/timemap",
}
# sha256 of (capture log, summary HTML, summary text), as the three-pass reader wrote them.
PINNED = (
    "c562cea6b3f495f83a03e64876083195812f4db63906b16642de73602ee70bc4",
    "d59332228ce8234184a8f5cf5d8d618dfbec3e61124078c574e684d9078abeba",
    "e37ce77cc4d26f9532b3e12c8d8777b7fe54ff8fde5c63a81934c289183fc849",
)


def varied_journal(path: Path, copies: int = 1) -> None:
    """The golden log's entries and variants of them, with lines a reader must skip."""
    golden = [json.loads(line) for line in GOLDEN.read_bytes().splitlines()]
    proxied = {**golden[0], "resolved_by": "proxy", "ip": None, "url": "https://p.example/"}
    proxied["dns"] = {"resolved_by": "proxy", "host": "p.example", "proxy": "http://proxy:3128"}
    evil = {**golden[2], "url": "https://e.example/<script>alert('x')</script>?a=1&b=\"2\""}
    wide = {**golden[7], "url": "https://例え.jp/über?q=ü", "final_url": None}
    witnessed = {**golden[7], "url": "https://gone.example/", "witnesses": [QUERY]}
    failed_query = {**QUERY, "service": "save-now", "status": None, "error": TIMEOUT}
    saved = {**golden[0], "url": "https://saved.example/", "save_now": [failed_query]}
    memento = {**golden[1], "memento_of": MEMENTO_OF}
    entries = [*golden, proxied, evil, wide, witnessed, saved, memento]
    with open(path, "wb") as f:
        for n in range(copies):
            for i, e in enumerate(entries):
                f.write(dumps_entry({**e, "url": f"{e['url']}#{n}"} if n else e))
                if i == 3:  # lines that are not entries are skipped, wherever they are
                    f.write(b"not json\n[1, 2]\n" + dumps_entry({"url": "https://x.example/"}))
                    f.write(dumps_entry({**golden[0], "outcome": "lost"}))
        f.write(b'{"url": "https://torn.example/", "outc')  # a crash mid-write


def sealed_bytes(tmp_path: Path, journal: Path) -> tuple[Counter[str], list[bytes]]:
    """What a run's seal writes into the payload from ``journal``."""
    builder = BagBuilder(tmp_path / "bag")
    with SealPass(tmp_path, RUN_ID, summary=True) as sealing:
        sealing.copy_log(journal, builder)
        assert sealing.summary is not None
        write_summary(builder, BAG_INFO, sealing.summary, SETTINGS)
    data = builder.staging / "data"
    return sealing.outcomes, [(data / name).read_bytes() for name in (LOG_NAME, *SUMMARY_FILES)]


@pytest.fixture(autouse=True)
def _fixed_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed libraries' versions are the machine's, not the journal's."""
    monkeypatch.setattr(summary, "components", lambda: "Python 3.11.7, requests 2.32.3")


def test_capture_log_and_summary_bytes_are_pinned(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    varied_journal(journal)
    outcomes, files = sealed_bytes(tmp_path, journal)
    assert dict(outcomes) == {"captured": 8, "http-error": 2, "blocked": 2, "failed": 3}
    text = files[2].decode()
    for shown in (
        "Third-party witnesses",
        "Save-now",
        "Memento of",
        "例え",
        "resolved by the proxy",
    ):
        assert shown in text
    assert tuple(hashlib.sha256(b).hexdigest() for b in files) == PINNED


@pytest.mark.parametrize("spilled", [False, True])
def test_the_summary_is_what_rendering_every_entry_at_once_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spilled: bool
) -> None:
    """The reference: the summary of the same entries held in memory (few, here); spooled in
    memory or (as a large run's are) in temporary files, the bytes are the same."""
    if spilled:
        monkeypatch.setattr(spool, "TEXT_LIMIT", 1000)
    journal = tmp_path / "journal.jsonl"
    varied_journal(journal, copies=3)
    _, (log, html, text) = sealed_bytes(tmp_path, journal)
    entries = [e.to_json() for e in read_entries(journal)]
    facts = {**SETTINGS.to_dict(), "effective_user_agent": SETTINGS.effective_user_agent()}
    whole_html, whole_text = render_summary(BAG_INFO, entries, facts)
    assert (html, text) == (whole_html.encode(), whole_text.encode())
    assert log == b"".join(dumps_entry(e) for e in entries)


@pytest.mark.parametrize("spilled", [False, True])
def test_the_catalog_rows_made_in_the_pass_are_those_the_sealed_bag_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spilled: bool
) -> None:
    if spilled:
        monkeypatch.setattr(spool, "ROW_LIMIT", 4)
    journal = tmp_path / "journal.jsonl"
    varied_journal(journal, copies=3)
    builder = BagBuilder(tmp_path / "bag")
    with SealPass(tmp_path, RUN_ID, summary=False) as sealing:
        sealing.copy_log(journal, builder)
        bag = builder.seal(BAG_INFO)
        made = list(sealing.catalog)
    assert made == list(bag_rows(bag)[1])
    assert len(made) == sealing.catalog.count == 45
    assert not (bag / "data" / SUMMARY_FILES[0]).exists()  # summary=False: not written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag", "journal.jsonl"]  # no spool left
