"""Custody from the command line: verifications and hand-offs are recorded; a broken chain shows."""

from __future__ import annotations

import json
from pathlib import Path

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
