"""Custody from the command line: verifications and hand-offs are recorded; a broken chain shows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.helpers import archiver
from tests.tsa import build_bag


def test_verify_record_and_handoff_events_chain(tmp_path: Path) -> None:
    bag = build_bag(tmp_path, files={"notes.txt": b"payload\n"})
    log = tmp_path / "custody-log.jsonl"
    assert archiver("verify", str(bag), "--record", "--actor", "librarian").returncode == 0
    proc = archiver("custody", "record", str(bag), "exported", "--note", "to Example Library")
    assert proc.returncode == 0, proc.stderr
    proc = archiver("custody", "record", str(bag), "received", "--actor", "Example Library")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["verified", "exported", "received"]
    assert events[0]["details"]["valid"] is True and events[0]["actor"] == "librarian"
    assert events[1]["details"]["note"] == "to Example Library"
    assert all(e["tagmanifest_sha256"] for e in events)
    check = archiver("custody", "check", str(log))
    assert check.returncode == 0 and "INTACT" in check.stdout


def test_custody_check_finds_an_edited_event(tmp_path: Path) -> None:
    bag = build_bag(tmp_path)
    log = tmp_path / "custody-log.jsonl"
    for event in ("exported", "received"):
        assert archiver("custody", "record", str(bag), event).returncode == 0
    lines = log.read_text().splitlines()
    lines[0] = lines[0].replace('"exported"', '"received"')
    log.write_text("\n".join(lines) + "\n")
    check = archiver("custody", "check", str(log))
    assert check.returncode == 1 and "BROKEN" in check.stdout


def test_custody_record_refuses_an_unsealed_folder(tmp_path: Path) -> None:
    proc = archiver("custody", "record", str(tmp_path), "exported")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _torn_log(tmp_path: Path) -> tuple[Path, Path, bytes]:
    bag = build_bag(tmp_path, files={"notes.txt": b"payload\n"})
    log = tmp_path / "custody-log.jsonl"
    for event in ("exported", "received"):
        assert archiver("custody", "record", str(bag), event).returncode == 0
    torn = b'{"seq":3,"prev_sha256":"ab'
    with open(log, "ab") as f:
        f.write(torn)  # a crash while appending
    return bag, log, torn


def test_custody_repair_keeps_the_torn_bytes_and_records_the_repair(tmp_path: Path) -> None:
    bag, log, torn = _torn_log(tmp_path)
    whole = log.read_bytes()[: -len(torn)]
    check = archiver("custody", "check", str(log))
    assert check.returncode == 1 and "archiver custody repair" in check.stdout
    # adding an event is refused with one line that names the log and the repair command
    refused = archiver("custody", "record", str(bag), "exported")
    assert refused.returncode == 3, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert f"archiver custody repair {log}" in refused.stderr

    proc = archiver("custody", "repair", str(log), "--actor", "archivist")
    assert proc.returncode == 0, proc.stderr
    side = list(tmp_path.glob("custody-log.jsonl.torn-*"))
    assert len(side) == 1 and side[0].read_bytes() == torn
    data = log.read_bytes()
    assert data.startswith(whole), "the whole lines are kept byte for byte"
    repaired = json.loads(data[len(whole) :])
    assert repaired["event"] == "repaired" and repaired["seq"] == 3
    assert repaired["actor"] == "archivist"
    assert repaired["details"]["removed_bytes"] == len(torn)
    assert repaired["details"]["removed_sha256"] == hashlib.sha256(torn).hexdigest()
    assert repaired["details"]["kept_in"] == side[0].name
    check = archiver("custody", "check", str(log))
    assert check.returncode == 0 and "INTACT" in check.stdout, check.stdout
    assert archiver("custody", "record", str(bag), "exported").returncode == 0
    assert archiver("custody", "check", str(log)).returncode == 0
    again = archiver("custody", "repair", str(log))
    assert again.returncode == 0 and "nothing to repair" in again.stdout


@pytest.mark.parametrize(
    "content", [b"just some notes\nnot a log\n", b"\x00\x01binary", b'{"url": "x"}\n']
)
def test_custody_check_on_a_file_that_is_not_a_log_is_bad_input(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    for verb in ("check", "repair"):
        proc = archiver("custody", verb, str(path))
        assert proc.returncode == 2, (verb, proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "not a custody log" in proc.stderr
        assert "BROKEN" not in proc.stdout
    assert path.read_bytes() == content


def test_run_refuses_a_torn_custody_log_before_capturing(tmp_path: Path, make_server) -> None:  # noqa: ANN001 - fixture
    server = make_server()
    out = tmp_path / "out"
    out.mkdir()
    log = out / "custody-log.jsonl"
    log.write_bytes(b'{"seq":1,"prev_sha256":"00')
    doc = tmp_path / "doc.txt"
    doc.write_text(f"See {server.url('/articles/one.html')}\n")
    command = ("run", str(doc), "--out", str(out), "--delay", "0", "--progress", "none")
    proc = archiver(*command)
    assert proc.returncode == 3, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"archiver custody repair {log}" in proc.stderr
    assert server.stats.paths() == [], "nothing is captured before the log is known good"
    assert [p.name for p in out.iterdir()] == ["custody-log.jsonl"], "no lock, no staging"

    assert archiver("custody", "repair", str(log)).returncode == 0
    proc = archiver(*command)
    assert proc.returncode == 0, proc.stderr
    assert archiver("custody", "check", str(log)).returncode == 0
    events = [json.loads(x)["event"] for x in log.read_text().splitlines()]
    assert events == ["repaired", "captured", "sealed"]
    bag = Path(proc.stdout.strip().splitlines()[-1])
    assert archiver("verify", str(bag)).returncode == 0
