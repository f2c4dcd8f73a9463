"""An interrupted run keeps what it captured, and running the same command again completes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import archiver, capture_log
from tests.servers import TestServer

SLOW_URLS = 6


def start_run(doc: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archiver",
            "run",
            str(doc),
            "--out",
            str(out),
            "--delay",
            "0",
            "--concurrency",
            "1",
            "--progress",
            "plain",
            "--name",
            "resumed",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_journal_entries(out: Path, n: int, proc: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for journal in out.glob(".*.capture-log.jsonl"):
            if len(journal.read_bytes().splitlines()) >= n:
                return journal
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the run never journaled a finished URL")


@pytest.fixture
def cited(tmp_path: Path, make_server) -> tuple[Path, list[str]]:  # noqa: ANN001 - fixture
    server: TestServer = make_server()
    urls = [server.url(f"/slow?s=0.4&n={i}") for i in range(SLOW_URLS)]
    doc = tmp_path / "doc.txt"
    doc.write_text("\n".join(f"Source {i}: {u}" for i, u in enumerate(urls)) + "\n")
    return doc, urls


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_rerun_completes_an_interrupted_run(
    tmp_path: Path, cited: tuple[Path, list[str]], how: signal.Signals
) -> None:
    doc, urls = cited
    out = tmp_path / "out"
    proc = start_run(doc, out)
    wait_for_journal_entries(out, 2, proc)
    proc.send_signal(how)
    _, stderr = proc.communicate(timeout=60)
    if how == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert "Run the same command again" in stderr
    assert not (out / "resumed").exists(), "an interrupted run must not look sealed"
    assert next(out.glob(".*.partial")).is_dir()
    journal = out / ".resumed.capture-log.jsonl"
    done_before = [json.loads(x)["url"] for x in journal.read_text().splitlines()]
    assert 2 <= len(done_before) < SLOW_URLS

    again = start_run(doc, out)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    assert "resuming interrupted run" in stderr
    bag = out / "resumed"
    assert Path(stdout.strip().splitlines()[-1]) == bag
    log = [json.loads(x) for x in (bag / "data" / "capture-log.jsonl").read_text().splitlines()]
    logged = [e["url"] for e in log]
    assert sorted(logged) == sorted(urls), "every URL exactly once"
    assert logged[: len(done_before)] == done_before, "earlier captures kept, not redone"
    assert not list(out.glob(".resumed.*")), "run state is cleaned up once sealed"
    assert not list(out.glob(".resumed.*")), "run state is cleaned up once sealed"
    verify = subprocess.run(
        [sys.executable, "-m", "archiver", "verify", str(bag)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_second_run_of_the_same_command_waits_its_turn(
    tmp_path: Path, cited: tuple[Path, list[str]]
) -> None:
    doc, urls = cited
    out = tmp_path / "out"
    first = start_run(doc, out)
    wait_for_journal_entries(out, 1, first)
    second = start_run(doc, out)
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 3, stderr
    assert "another archiver run is writing this bag" in stderr
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    log = (out / "resumed" / "data" / "capture-log.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["url"] for x in log) == sorted(urls)


def _run(*args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVER_FAULT"}
    if fault:
        env["ARCHIVER_FAULT"] = fault
    return archiver(*args, env=env)


def _tree(bag: Path) -> dict[str, bytes]:
    """Every payload and tag file of a bag (what sealing fixed), by path."""
    return {
        p.relative_to(bag).as_posix(): p.read_bytes()
        for p in bag.rglob("*")
        if p.is_file() and not p.relative_to(bag).as_posix().startswith("provenance-anchors")
    }


def test_kill_after_the_bag_was_renamed_into_place_is_finished_not_recaptured(
    tmp_path: Path,
    make_server,  # noqa: ANN001 - fixture
) -> None:
    server: TestServer = make_server()
    doc = tmp_path / "doc.txt"
    doc.write_text(f"See {server.url('/articles/one.html')} and {server.url('/doc.pdf')}\n")
    out = tmp_path / "out"
    args = ("run", str(doc), "--out", str(out), "--delay", "0", "--progress", "none")
    first = _run(*args, fault="seal.renamed")
    assert first.returncode == -signal.SIGKILL, first.stderr
    (bag,) = [p for p in out.iterdir() if not p.name.startswith(".") and p.is_dir()]
    sealed = _tree(bag)
    assert not (out / "custody-log.jsonl").exists()
    server.stats.reset()

    again = _run(*args)
    assert again.returncode == 0, again.stderr
    assert "was sealed before the interruption" in again.stderr
    assert Path(again.stdout.strip().splitlines()[-1]) == bag
    assert server.stats.paths() == [], "nothing is captured again"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [bag.name, "catalog.sqlite", "custody-log.jsonl"]
    )
    assert _tree(bag) == sealed, "the sealed payload, manifests and bag-info are untouched"
    events = [json.loads(x) for x in (out / "custody-log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["captured", "sealed"]
    assert events[0]["details"]["urls"] == 2
    copy = bag / "provenance-anchors" / "custody.jsonl"
    assert copy.read_bytes() == (out / "custody-log.jsonl").read_bytes()
    assert archiver("verify", str(bag)).returncode == 0
    # and once finished, the same command is a new run, never a second finish
    assert not list(out.glob(".*"))


def test_resumed_url_run_captures_the_links_found_before_the_interruption(
    tmp_path: Path,
    make_server,  # noqa: ANN001 - fixture
) -> None:
    server: TestServer = make_server()
    out = tmp_path / "out"
    start = server.url("/")  # links to three articles: 4 URLs with --hops 1
    args = ("run", start, "--out", str(out), "--delay", "0", "--concurrency", "1")
    args += ("--progress", "none", "--name", "site")
    first = _run(*args, fault="run.url-journaled:2")
    assert first.returncode == -signal.SIGKILL, first.stderr
    journal = out / ".site.capture-log.jsonl"
    done = [json.loads(x)["url"] for x in journal.read_text().splitlines()]
    assert len(done) == 2 and done[0] == start
    server.stats.reset()

    again = _run(*args)
    assert again.returncode == 0, again.stderr
    assert "2 URLs were done before the interruption; 2 links found" in again.stderr
    bag = out / "site"
    log = capture_log(bag)
    articles = [server.url(f"/articles/{n}.html") for n in ("one", "two", "three")]
    assert sorted(e["url"] for e in log) == sorted([start, *articles])
    assert [e["url"] for e in log][:2] == done, "earlier captures kept, not redone"
    for entry in log[2:]:
        assert entry["hop"] == 1 and entry["via"] == start
        assert entry["citations"][0]["document"] == start
    asked = [p for p in server.stats.paths() if p != "/robots.txt"]
    assert sorted(asked) == sorted(
        p
        for p in ("/articles/one.html", "/articles/two.html", "/articles/three.html")
        if server.url(p) not in done
    )
    assert archiver("verify", str(bag)).returncode == 0


def test_a_crash_while_appending_custody_is_repaired_explicitly_then_finished(
    tmp_path: Path,
    make_server,  # noqa: ANN001 - fixture
) -> None:
    server: TestServer = make_server()
    doc = tmp_path / "doc.txt"
    doc.write_text(f"See {server.url('/articles/two.html')}\n")
    out = tmp_path / "out"
    args = ("run", str(doc), "--out", str(out), "--delay", "0", "--progress", "none")
    args += ("--name", "bag")
    first = _run(*args, fault="custody.mid-append:2")  # torn 'sealed' line
    assert first.returncode == -signal.SIGKILL, first.stderr
    log = out / "custody-log.jsonl"
    assert not log.read_bytes().endswith(b"\n")

    refused = _run(*args)
    assert refused.returncode == 3 and f"archiver custody repair {log}" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert archiver("custody", "repair", str(log)).returncode == 0
    done = _run(*args)
    assert done.returncode == 0, done.stderr
    events = [json.loads(x)["event"] for x in log.read_text().splitlines()]
    assert events == ["captured", "repaired", "sealed"]
    assert archiver("custody", "check", str(log)).returncode == 0
    assert archiver("verify", str(out / "bag")).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "bag",
        "catalog.sqlite",
        "custody-log.jsonl",
    ] + sorted(p.name for p in out.glob("custody-log.jsonl.torn-*"))


def test_a_power_cut_that_kept_a_line_but_not_its_records_recaptures_that_url(
    tmp_path: Path,
    make_server,  # noqa: ANN001 - fixture
) -> None:
    """The disk kept the journal's third line but not the WARC bytes it names (writeback order
    is the disk's): the re-run drops that entry, captures the URL again, and the bag is valid."""
    server: TestServer = make_server()
    paths = [f"/articles/{n}.html" for n in ("one", "two", "three")] + ["/cp1251.html"]
    doc = tmp_path / "doc.txt"
    doc.write_text("".join(f"Source: {server.url(p)}\n" for p in paths))
    out = tmp_path / "out"
    args = ("run", str(doc), "--out", str(out), "--name", "bag", "--delay", "0",
            "--concurrency", "1", "--progress", "none")  # fmt: skip
    first = _run(*args, fault="run.url-journaled:3")
    assert first.returncode == -signal.SIGKILL, first.stderr
    journal = out / ".bag.capture-log.jsonl"
    third = json.loads(journal.read_bytes().splitlines()[2])
    (warc,) = (out / ".bag.partial" / "data" / "warcs").glob("*.open")
    with open(warc, "r+b") as f:  # the third URL's records never reached the disk
        f.truncate(min(r["offset"] for r in third["records"]))
    asked = server.stats.paths().count(urlsplit(third["url"]).path)
    again = _run(*args)
    assert again.returncode == 0, again.stderr
    assert "1 URLs logged before the interruption lost their WARC records" in again.stderr
    assert server.stats.paths().count(urlsplit(third["url"]).path) == asked + 1
    urls = [e["url"] for e in capture_log(out / "bag")]
    assert sorted(urls) == sorted(server.url(p) for p in paths)
    assert archiver("verify", str(out / "bag")).returncode == 0
