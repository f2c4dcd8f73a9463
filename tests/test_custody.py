"""The custody log is a hash chain: edits, deletions, insertions and reordering are caught."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from archiver import custody
from archiver.errors import ArchiverError
from tests.tsa import build_bag


def make_log(tmp_path: Path, n: int = 4) -> tuple[Path, Path]:
    bag = build_bag(tmp_path)
    log = tmp_path / "custody-log.jsonl"
    events = ["captured", "sealed", "timestamped", "verified", "exported", "received"]
    for i in range(n):
        custody.append_event(
            log, events[i % len(events)], bag=bag, actor="op-7f3a", details={"i": i}
        )
    return log, bag


def codes(problems: list) -> set[str]:  # type: ignore[type-arg]
    return {p.code for p in problems}


def test_entries_are_chained(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path)
    lines = log.read_bytes().split(b"\n")[:-1]
    entries = [json.loads(x) for x in lines]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["prev_sha256"] == "0" * 64
    for before, entry in zip(lines, entries[1:], strict=False):
        assert entry["prev_sha256"] == hashlib.sha256(before + b"\n").hexdigest()
    first = entries[0]
    assert first["bag"] == custody.bag_identity(bag)
    assert first["bag"]["external_identifier"].startswith("urn:uuid:")
    tagmanifest = (bag / "tagmanifest-sha256.txt").read_bytes()
    assert first["tagmanifest_sha256"] == hashlib.sha256(tagmanifest).hexdigest()
    assert first["actor"] == "op-7f3a" and first["at"].endswith("Z")
    assert custody.verify_chain(log) == []
    assert custody.head_sha256(log) == hashlib.sha256(lines[-1] + b"\n").hexdigest()


def test_edited_line_breaks_the_chain_at_the_next_line(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"actor":"op-7f3a"', '"actor":"someone-else"')
    log.write_text("".join(lines))
    problems = custody.verify_chain(log, display="custody-log.jsonl")
    assert [(p.code, p.path) for p in problems] == [
        ("custody-log-chain-broken", "custody-log.jsonl:3")
    ]


def test_deleted_line_is_caught(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    del lines[1]
    log.write_text("".join(lines))
    problems = custody.verify_chain(log, display="L")
    assert codes(problems) == {"custody-log-sequence", "custody-log-chain-broken"}
    assert {p.path for p in problems} == {"L:2", "L:3"}


def test_reordered_lines_are_caught(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    log.write_text("".join(lines))
    problems = custody.verify_chain(log, display="L")
    assert "custody-log-sequence" in codes(problems)
    assert "custody-log-chain-broken" in codes(problems)
    assert "L:2" in {p.path for p in problems}


def test_torn_last_line_and_bad_json(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path, 2)
    with open(log, "ab") as f:
        f.write(b'{"seq":3,"ev')
    assert "custody-log-torn" in codes(custody.verify_chain(log))
    with pytest.raises(ArchiverError, match="last line is incomplete"):
        custody.append_event(log, "verified", bag=bag)
    log.write_bytes(log.read_bytes().rsplit(b"\n", 1)[0] + b"\nnot json\n")
    assert "custody-log-bad-line" in codes(custody.verify_chain(log))


def test_unknown_event_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiverError, match="unknown"):
        custody.append_event(tmp_path / "log.jsonl", "deleted")
    assert not (tmp_path / "log.jsonl").exists()


def test_missing_log() -> None:
    assert codes(custody.verify_chain(Path("/nonexistent/custody.jsonl"))) == {
        "custody-log-missing"
    }


def test_bag_copy_catches_an_edited_last_line(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path)
    other = build_bag(tmp_path, "other-bag")
    custody.append_event(log, "sealed", bag=other, actor="op-1")
    assert custody.copy_into_bag(log, bag) is not None
    copy = bag / "provenance-anchors" / "custody.jsonl"
    assert len(copy.read_text().splitlines()) == 4  # only this bag's events, byte for byte
    assert custody.cross_check_bag_copy(bag, log) == []

    # Rewrite the log's last line of this bag *and* everything after it consistently:
    lines = log.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace('"actor":"op-7f3a"', '"actor":"forger"')
    rebuilt = lines[:4]
    entry = json.loads(lines[4])
    entry["prev_sha256"] = hashlib.sha256(rebuilt[-1].encode()).hexdigest()
    rebuilt.append(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
    log.write_text("".join(rebuilt))
    assert custody.verify_chain(log) == []  # the chain alone cannot see it...
    problems = custody.cross_check_bag_copy(bag, log)  # ...the copy in the bag can
    assert [(p.code, p.path) for p in problems] == [
        ("custody-log-differs", "provenance-anchors/custody.jsonl:4")
    ]


def test_events_for_bag_match_external_identifier(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path, 2)
    renamed = bag.rename(tmp_path / "renamed-copy")
    assert len(custody.events_for_bag(log, renamed)) == 2  # same External-Identifier
