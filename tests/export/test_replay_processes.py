"""A bag captured by several processes (each with its own WARC files) replays in pywb as one
collection: every page at its own second, as served, whichever process captured it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.export.conftest import PAGES
from tests.export.pywb import Wayback
from tests.export.replaycheck import assert_replays_as_captured
from tests.helpers import archiver, capture_log
from tests.servers import TestServer


@pytest.fixture(scope="module")
def hosts() -> Iterator[list[TestServer]]:
    servers = [TestServer(f"127.0.0.{i}") for i in (11, 12, 13)]
    yield servers
    for server in servers:
        server.close()


def test_a_bag_from_two_capture_processes_replays_as_captured(
    hosts: list[TestServer], tmp_path: Path
) -> None:
    urls = [server.url(path) for server in hosts for path in PAGES.values()]
    doc = tmp_path / "sources.txt"
    doc.write_text("\n".join(urls) + "\n", encoding="utf-8")
    proc = archiver(
        "run", str(doc), "--out", str(tmp_path / "out"), "--name", "bag", "--delay", "0",
        "--progress", "none", "--processes", "2", "--no-clean",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bag = tmp_path / "out" / "bag"
    entries = list(capture_log(bag))
    assert sorted(e["url"] for e in entries) == sorted(urls)
    warcs = Counter(r["warc_file"] for e in entries for r in e["records"])
    assert len(warcs) >= 2, "expected the WARCs of two processes"
    (tmp_path / "pywb").mkdir()
    wb = Wayback(tmp_path / "pywb")
    wb.add(*sorted((bag / "data" / "warcs").glob("*.warc.gz")))
    with wb:
        # six kinds of page on each of three hosts, the redirect chains' hops included
        assert assert_replays_as_captured(wb, bag, entries) == 3 * (len(PAGES) + 2)
