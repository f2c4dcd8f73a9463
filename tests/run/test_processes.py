"""Capture in several processes (archiver/capture/shards.py): one bag, as if one process made it.

Four loopback hosts serve pages that each take 0.15 s, so every process has URLs in flight at
once. The checks: the bag is valid for ``archiver verify`` and bagit-python, every URL is logged
once with its texts (the parent cleans bodies that a child keeps on disk until told), WARCs from
more than one process, the same payloads and texts as a one-process run; a parent killed with
-9 takes its capture processes along and a re-run completes the bag; a capture process that
dies fails the run with one line, and a re-run completes it; Ctrl-C stops every process.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bagit
import pytest

from archiver.capture import shards
from archiver.capture.log import CaptureEntry
from archiver.capture.shards import process_count, split_by_host
from archiver.cli import main
from archiver.collect.seeds import Seed
from archiver.run import sink
from tests.helpers import archiver, capture_log
from tests.servers import TestServer

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
PER_HOST = 6


@pytest.fixture
def hosts() -> Iterator[list[TestServer]]:
    servers = [TestServer(host) for host in HOSTS]
    yield servers
    for server in servers:
        server.close()


def cite(tmp_path: Path, servers: list[TestServer]) -> Path:
    doc = tmp_path / "report.txt"
    lines = [
        f"Source {s.host} {i}: {s.url(f'/slowish/{s.host}-{i}.html')}\n"
        for i in range(PER_HOST)
        for s in servers
    ]
    doc.write_text("".join(lines))
    return doc


def run_args(doc: Path, out: Path, *extra: str) -> list[str]:
    """``archiver run`` in two processes without cleaning, for a run in this interpreter."""
    return ["run", str(doc), "--out", str(out), "--name", "bag", "--delay", "0",
            "--progress", "none", "--processes", "2", "--no-clean", *extra]  # fmt: skip


def run(doc: Path, out: Path, *extra: str, env: dict[str, str] | None = None):  # noqa: ANN201
    return archiver(
        "run", str(doc), "--out", str(out), "--name", "bag", "--delay", "0",
        "--progress", "none", "--concurrency", "8", *extra, env=env,
    )  # fmt: skip


def assert_every_url_once(bag: Path) -> None:
    urls = [e["url"] for e in capture_log(bag)]
    assert len(urls) == len(HOSTS) * PER_HOST and len(set(urls)) == len(urls)


def payloads(bag: Path) -> dict[str, tuple[str, str | None]]:
    """URL -> (payload SHA-256, text SHA-256) from the capture log."""
    out = {}
    for entry in capture_log(bag):
        text = entry.get("text") or {}
        out[entry["url"]] = (entry["payload_sha256"], text.get("sha256"))
    return out


def test_two_processes_make_one_valid_bag_with_the_same_captures(
    tmp_path: Path, hosts: list[TestServer]
) -> None:
    doc = cite(tmp_path, hosts)
    two = run(doc, tmp_path / "two", "--processes", "2")
    assert two.returncode == 0, two.stderr
    bag = tmp_path / "two" / "bag"
    assert archiver("verify", str(bag)).returncode == 0
    assert bagit.Bag(str(bag)).is_valid()
    assert_every_url_once(bag)
    # Each process wrote its own WARC: more than one file, and no host split between them.
    warcs = Counter(r["warc_file"] for e in capture_log(bag) for r in e["records"])
    assert len(warcs) >= 2
    files_of_host: dict[str, set[str]] = {}
    for entry in capture_log(bag):
        host = entry["url"].split("/")[2]
        files_of_host.setdefault(host, set()).update(r["warc_file"] for r in entry["records"])
    assert all(len(files) == 1 for files in files_of_host.values()), files_of_host
    one = run(doc, tmp_path / "one", "--processes", "1")
    assert one.returncode == 0, one.stderr
    single = payloads(tmp_path / "one" / "bag")
    assert payloads(bag) == single
    assert all(text for _, text in single.values())  # every page cleaned in both runs


def test_a_killed_run_takes_its_capture_processes_along_and_a_rerun_completes(
    tmp_path: Path, hosts: list[TestServer]
) -> None:
    doc = cite(tmp_path, hosts)
    out = tmp_path / "out"
    env = {**os.environ, "ARCHIVER_FAULT": "run.url-journaled:5"}
    first = run(doc, out, "--processes", "2", "--no-clean", env=env)
    assert first.returncode == -signal.SIGKILL, first.stderr
    # The capture process died with its parent: nothing holds the run's lock or writes on.
    again = run(doc, out, "--processes", "2", "--no-clean")
    assert again.returncode == 0, again.stderr
    assert "URLs were done before the interruption" in again.stderr
    bag = out / "bag"
    assert_every_url_once(bag)
    assert archiver("verify", str(bag)).returncode == 0
    assert sorted(p.name for p in out.iterdir() if p.name != "catalog.sqlite") == [
        "bag",
        "custody-log.jsonl",
    ]


def test_a_capture_process_that_dies_fails_the_run_in_one_line_and_a_rerun_completes(
    tmp_path: Path, hosts: list[TestServer]
) -> None:
    doc = cite(tmp_path, hosts)
    out = tmp_path / "out"
    env = {**os.environ, "ARCHIVER_FAULT": "capture.result-sent:3"}
    first = run(doc, out, "--processes", "2", "--no-clean", env=env)
    assert first.returncode == 3, first.stderr
    assert "Traceback" not in first.stderr
    assert "capture process" in first.stderr and "ended unexpectedly" in first.stderr
    # The main process stopped its own hosts (.1 and .3, see split_by_host) at once, too.
    own = sum(1 for s in (hosts[0], hosts[2]) for p in s.stats.paths() if p != "/robots.txt")
    assert own < 2 * PER_HOST
    again = run(doc, out, "--processes", "2", "--no-clean")
    assert again.returncode == 0, again.stderr
    bag = out / "bag"
    assert_every_url_once(bag)
    assert archiver("verify", str(bag)).returncode == 0


def test_ctrl_c_stops_every_process_and_a_rerun_completes(
    tmp_path: Path, hosts: list[TestServer]
) -> None:
    doc = cite(tmp_path, hosts)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "archiver", "run", str(doc), "--out", str(out), "--name", "bag",
            "--delay", "0", "--progress", "none", "--concurrency", "2", "--processes", "2",
            "--no-clean"]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, start_new_session=True)
    journal = out / ".bag.capture-log.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        not journal.exists() or len(journal.read_bytes().splitlines()) < 2
    ):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    logged = [json.loads(line)["url"] for line in journal.read_text().splitlines()]
    assert 2 <= len(logged) < len(HOSTS) * PER_HOST
    again = run(doc, out, "--processes", "2", "--no-clean")
    assert again.returncode == 0, again.stderr
    assert_every_url_once(out / "bag")


def test_hosts_are_dealt_whole_and_evenly() -> None:
    seeds = [Seed(f"http://h{i % 5}.example/{i}") for i in range(50)]  # 5 hosts x 10
    seeds += [Seed(f"http://big.example/{i}") for i in range(30)]
    groups = split_by_host(seeds, 2)
    assert sorted(len(g) for g in groups) == [40, 40]
    owners = {s.url.split("/")[2]: k for k, g in enumerate(groups) for s in g}
    assert all(owners[s.url.split("/")[2]] == k for k, g in enumerate(groups) for s in g)


def test_a_process_with_more_threads_is_dealt_more_hosts() -> None:
    """8 threads over 3 processes are 3, 3 and 2: the one with 2 fetches fewer hosts at once,
    so it gets fewer URLs, and all three end about together."""
    seeds = [Seed(f"http://h{i % 40}.example/{i}") for i in range(800)]  # 40 hosts x 20
    groups = split_by_host(seeds, [3, 3, 2])
    assert [len(g) for g in groups] == [300, 300, 200]
    assert sorted(len(g) for g in split_by_host(seeds, 3)) == [260, 260, 280]


def test_one_process_where_a_fork_would_not_pay_or_not_be_safe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shards, "fork_is_safe", lambda: True)  # pytest's own servers run threads
    many = [Seed(f"http://h{i % 4}.example/{i}") for i in range(1000)]
    assert process_count(many, 3, 8) == 3
    assert process_count(many, 9, 8) == 4  # never more processes than hosts
    assert process_count(many, 3, 2) == 2  # nor than hosts fetched at once (--concurrency)
    assert process_count(many, 1, 8) == 1
    assert process_count([Seed(f"http://one.example/{i}") for i in range(1000)], 4, 8) == 1
    assert process_count(many[:150], None, 8) == 1  # too few URLs for a second process
    following = [*many, Seed("http://h0.example/doc", hops=1)]
    assert process_count(following, 2, 8) == 1  # found links may name another process's host
    monkeypatch.undo()
    gate = threading.Event()
    thread = threading.Thread(target=gate.wait)
    thread.start()
    try:
        assert process_count(many, 2, 8) == 1  # a running thread: no fork
    finally:
        gate.set()
        thread.join()


def test_processes_out_of_range_is_one_line(tmp_path: Path) -> None:
    doc = tmp_path / "d.txt"
    doc.write_text("http://127.0.0.1:9/x\n")
    bad = archiver("run", str(doc), "--out", str(tmp_path / "o"), "--processes", "0")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "archiver: --processes 0: out of range"


def test_a_result_the_main_process_cannot_journal_stops_every_process(
    tmp_path: Path,
    hosts: list[TestServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The disk fills while journaling: one line, exit 3, every process stops, a re-run ends it."""
    doc = cite(tmp_path, hosts)
    out = tmp_path / "out"
    args = run_args(doc, out, "--concurrency", "4")
    original = sink.RunJournal.append
    calls: list[str] = []

    def fill_up(self: sink.RunJournal, entry: CaptureEntry) -> None:
        calls.append(entry.url)
        if "//127.0.0.2:" in entry.url:  # a host of the capture process (see split_by_host)
            raise OSError(errno.ENOSPC, "No space left on device", str(out))
        original(self, entry)

    monkeypatch.setattr(shards, "fork_is_safe", lambda: True)  # the test servers run threads
    monkeypatch.setattr(sink.RunJournal, "append", fill_up)

    def pages_asked(servers: list[TestServer]) -> int:
        return sum(1 for s in servers for p in s.stats.paths() if p.startswith("/slowish/"))

    assert main(args) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert "No space left on device" in err[-1] and "Traceback" not in "\n".join(err)
    # The main process stopped its own crawl too: its hosts (.1 and .3) were not all asked.
    assert pages_asked([hosts[0], hosts[2]]) < 2 * PER_HOST
    monkeypatch.setattr(sink.RunJournal, "append", original)
    assert main(args) == 0
    assert_every_url_once(out / "bag")


def test_a_second_ctrl_c_aborts_every_process_at_once(
    tmp_path: Path, hosts: list[TestServer]
) -> None:
    """URLs that take 30 s are in flight in both processes: the second Ctrl-C does not wait."""
    doc = tmp_path / "slow.txt"
    doc.write_text("".join(f"{s.url(f'/slow?s=30&n={i}')}\n" for s in hosts for i in range(2)))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "archiver", "run", str(doc), "--out", str(out), "--name", "bag",
            "--delay", "0", "--progress", "none", "--processes", "2", "--no-clean",
            "--read-timeout", "60", "--max-time", "60"]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(len(s.stats.paths()) for s in hosts) < 8:
        time.sleep(0.05)  # every host has its robots.txt and a slow page asked
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=20)  # long before any slow page could finish
    assert proc.returncode == 130, err
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no capture process outlived the run


def test_a_failure_before_the_children_are_answered_is_reported_not_hung(
    tmp_path: Path,
    hosts: list[TestServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = cite(tmp_path, hosts)
    args = run_args(doc, tmp_path / "out")

    def broken(*args: object) -> None:
        raise OSError(errno.EIO, "Input/output error", "setup")

    monkeypatch.setattr(shards, "fork_is_safe", lambda: True)  # the test servers run threads
    monkeypatch.setattr(shards.ShardedCapture, "serve", broken)
    assert main(args) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert "Input/output error" in err[-1], err  # the real cause, not "ended unexpectedly"
