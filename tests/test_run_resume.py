"""An interrupted run keeps what it captured, and running the same command again completes it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
