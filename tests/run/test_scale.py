"""A run's memory does not grow with its number of URLs: sealing streams the capture journal.

The capture log, the provenance summary, the custody details and the result line are all made
from the journal read entry by entry; a run of 50,000 URLs never holds 50,000 capture entries
(bench/scale/run.py measures the whole run; here the count of live entries is asserted).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from archiver.base.problems import Problem
from archiver.capture.log import CaptureEntry, journal_lines, read_entries
from archiver.cli import main
from archiver.run import command, sealpass
from archiver.verify import report as verify_report
from archiver.verify.capturelog import cross_check
from archiver.verify.indexed import IndexedRecord
from tests.helpers import REPO
from tests.servers import TestServer

URLS = 120


class LiveEntries:
    """Counts the capture entries alive at once among those read from a journal or log."""

    def __init__(self) -> None:
        self.live = 0
        self.most = 0
        self.read = 0

    def reader(self, path: Path, where: Any = None) -> Iterator[CaptureEntry]:
        for _, entry in self.lines(path, where):
            yield entry
            del entry

    def lines(self, path: Path, where: Any = None) -> Iterator[tuple[bytes, CaptureEntry]]:
        """``journal_lines``, counted: the pass that copies the journal into the capture log."""
        for line, entry in journal_lines(path, where):
            self.read += 1
            self.live += 1
            self.most = max(self.most, self.live)
            weakref.finalize(entry, self._gone)
            yield line, entry
            del entry

    def _gone(self) -> None:
        self.live -= 1


def test_sealing_never_holds_every_entry(
    tmp_path: Path, make_server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:  # noqa: ANN001
    server: TestServer = make_server()
    doc = tmp_path / "cited.txt"
    doc.write_text("".join(f"See {server.url(f'/large?size=64&n={i}')}\n" for i in range(URLS)))
    counter = LiveEntries()
    monkeypatch.setattr(command, "read_entries", counter.reader)
    monkeypatch.setattr(sealpass, "journal_lines", counter.lines)
    args = ["run", str(doc), "--out", str(tmp_path / "out"), "--name", "bag", "--delay", "0"]
    assert main([*args, "--progress", "none", "--no-clean", "--json"]) == 0

    # Every entry was read once (the capture log, the summary and the catalog rows from the
    # same pass), and at most a handful were alive at any time: before, the seal listed all
    # of them, twice.
    assert counter.read == URLS
    assert counter.most <= 3, counter.most
    result = json.loads(capsys.readouterr().out)
    assert result["urls"] == URLS and result["outcomes"]["captured"] == URLS

    bag = tmp_path / "out" / "bag"
    assert len(list(read_entries(bag / "data" / "capture-log.jsonl"))) == URLS
    html = (bag / "data" / "provenance-summary.html").read_text("utf-8")
    text = (bag / "data" / "provenance-summary.txt").read_text("utf-8")
    assert html.count("<h3>") == URLS and f"URLs attempted: {URLS}" in text
    assert html.endswith("</body></html>\n") and "Every URL was captured." in text

    # Verify indexes every WARC record of the bag while it cross-checks the log: one small
    # object per record (no per-record dict), the WARC's file name shared, not copied.
    seen: dict[str, IndexedRecord] = {}

    def keep_index(bag_root: Path, records: Mapping[str, IndexedRecord]) -> list[Problem]:
        seen.update(records)
        return cross_check(bag_root, records)

    monkeypatch.setattr(verify_report, "cross_check", keep_index)
    assert verify_report.verify_bag(bag).valid
    assert len(seen) >= 2 * URLS
    assert not any(hasattr(r, "__dict__") for r in seen.values())
    names = {r.warc_file: set() for r in seen.values()}
    for r in seen.values():
        names[r.warc_file].add(id(r.warc_file))
    assert all(len(ids) == 1 for ids in names.values()), names


def test_resuming_never_holds_every_entry(
    tmp_path: Path, make_server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:  # noqa: ANN001
    """A run killed after 60 URLs resumes reading its journal entry by entry, then seals."""
    server: TestServer = make_server()
    doc = tmp_path / "cited.txt"
    doc.write_text("".join(f"See {server.url(f'/large?size=64&n={i}')}\n" for i in range(URLS)))
    args = ["run", str(doc), "--out", str(tmp_path / "out"), "--name", "bag", "--delay", "0"]
    args += ["--progress", "none", "--no-clean", "--json"]
    env = {**os.environ, "ARCHIVER_FAULT": "run.url-journaled:60", "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-m", "archiver", *args], env=env, check=False)
    assert killed.returncode != 0
    journal = tmp_path / "out" / ".bag.capture-log.jsonl"
    assert len(journal.read_text().splitlines()) >= 60

    counter = LiveEntries()
    monkeypatch.setattr(command, "read_entries", counter.reader)
    assert main(args) == 0
    assert counter.most <= 3, counter.most  # before: the done entries were listed, twice
    assert json.loads(capsys.readouterr().out)["outcomes"]["captured"] == URLS
    log = tmp_path / "out" / "bag" / "data" / "capture-log.jsonl"
    assert sorted(e.url for e in read_entries(log)) == sorted(
        server.url(f"/large?size=64&n={i}") for i in range(URLS)
    )


@pytest.mark.timeout(300)
def test_scale_bench_runs_at_a_tiny_size(tmp_path: Path) -> None:
    """bench/scale/run.py at a tiny size, so it cannot rot unseen; no timing is asserted."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench/scale/run.py"), "--sizes", "20,40", "--hosts", "1"]
        + ["--files", "300", "--dir", str(tmp_path / "bench")],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(REPO)},
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for n in (20, 40):
        assert re.search(rf"archiver run no-clean +{n} URLs: .* peak RSS +[0-9.]+ MB", out), out
    assert "per-URL time 40 / 20 URLs (no-clean)" in out, out
    assert out.count("archiver verify") == 3 and "exit 0" in out, out  # two runs' bags, 300 files
    assert "exit 1" not in out and "exit 2" not in out and "exit 3" not in out, out
    assert "bagit.py --validate 300 files" in out, out
    assert "wget" in out, out
    assert not (tmp_path / "bench").exists()  # the bench cleans up after itself
