"""A full disk is the archive's failure, not the server's: the run stops, records nothing false,
and a re-run after freeing space completes the bag with the complete capture."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from archiver.cli import main
from archiver.net import exchange
from tests.servers import Site, TestServer


def test_disk_full_stops_the_run_and_rerun_completes(
    tmp_path: Path,
    make_server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # noqa: ANN001
) -> None:
    server: TestServer = make_server()
    page = server.url("/articles/one.html")
    doc = tmp_path / "doc.txt"
    doc.write_text(f"Source: {page}\n")
    args = [
        "run",
        str(doc),
        "--out",
        str(tmp_path / "out"),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "bag",
    ]

    original = exchange.Exchange.add_response
    written: dict[int, int] = {}

    def request_head(ex: exchange.Exchange) -> bytes:
        pos = ex.request.tell()
        ex.request.seek(0)
        head = ex.request.read(200)
        ex.request.seek(pos)
        return head

    def fill_up(self: exchange.Exchange, data: bytes) -> None:
        written[id(self)] = written.get(id(self), 0) + len(data)
        if written[id(self)] > 200 and b"/articles/one.html" in request_head(self):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "spool"))
        original(self, data)

    monkeypatch.setattr(exchange.Exchange, "add_response", fill_up)
    assert main(args) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and "No space left on device" in err[-1]
    assert "Free space and run the same command again" in err[-1]
    journal = tmp_path / "out" / ".bag.capture-log.jsonl"
    logged = (
        [json.loads(x)["url"] for x in journal.read_text().splitlines()] if journal.exists() else []
    )
    assert page not in logged, "a disk failure must not be journaled as a capture"

    monkeypatch.setattr(exchange.Exchange, "add_response", original)
    assert main(args) == 0
    entries = [
        json.loads(x)
        for x in (tmp_path / "out" / "bag" / "data" / "capture-log.jsonl").read_text().splitlines()
    ]
    entry = next(e for e in entries if e["url"] == page)
    assert entry["outcome"] == "captured" and entry["truncated"] is None
    import hashlib

    assert (
        entry["payload_sha256"]
        == hashlib.sha256(Site().served("/articles/one.html").body).hexdigest()
    )
