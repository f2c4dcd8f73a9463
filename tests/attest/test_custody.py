"""The custody log is a hash chain: edits, deletions, insertions and reordering are caught."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from archiver.attest import custody, custodycheck
from archiver.base.errors import ArchiverError
from archiver.verify.provenance import verify_provenance
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
    assert custodycheck.verify_chain(log) == []
    assert custody.head_sha256(log) == hashlib.sha256(lines[-1] + b"\n").hexdigest()


def test_edited_line_breaks_the_chain_at_the_next_line(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"actor":"op-7f3a"', '"actor":"someone-else"')
    log.write_text("".join(lines))
    problems = custodycheck.verify_chain(log, display="custody-log.jsonl")
    assert [(p.code, p.path) for p in problems] == [
        ("custody-log-chain-broken", "custody-log.jsonl:3")
    ]


def test_deleted_line_is_caught(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    del lines[1]
    log.write_text("".join(lines))
    problems = custodycheck.verify_chain(log, display="L")
    assert codes(problems) == {"custody-log-sequence", "custody-log-chain-broken"}
    assert {p.path for p in problems} == {"L:2", "L:3"}


def test_reordered_lines_are_caught(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    log.write_text("".join(lines))
    problems = custodycheck.verify_chain(log, display="L")
    assert "custody-log-sequence" in codes(problems)
    assert "custody-log-chain-broken" in codes(problems)
    assert "L:2" in {p.path for p in problems}


def test_torn_last_line_and_bad_json(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path, 2)
    with open(log, "ab") as f:
        f.write(b'{"seq":3,"ev')
    assert "custody-log-torn" in codes(custodycheck.verify_chain(log))
    with pytest.raises(ArchiverError, match="last line is torn"):
        custody.append_event(log, "verified", bag=bag)
    log.write_bytes(log.read_bytes().rsplit(b"\n", 1)[0] + b"\nnot json\n")
    assert "custody-log-bad-line" in codes(custodycheck.verify_chain(log))


def test_unknown_event_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiverError, match="unknown"):
        custody.append_event(tmp_path / "log.jsonl", "deleted")
    assert not (tmp_path / "log.jsonl").exists()


def test_missing_log() -> None:
    assert codes(custodycheck.verify_chain(Path("/nonexistent/custody.jsonl"))) == {
        "custody-log-missing"
    }


def test_bag_copy_catches_an_edited_last_line(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path)
    other = build_bag(tmp_path, "other-bag")
    custody.append_event(log, "sealed", bag=other, actor="op-1")
    assert custody.copy_into_bag(log, bag) is not None
    copy = bag / "provenance-anchors" / "custody.jsonl"
    assert len(copy.read_text().splitlines()) == 4  # only this bag's events, byte for byte
    assert custodycheck.cross_check_bag_copy(bag, log) == []

    # Rewrite the log's last line of this bag *and* everything after it consistently:
    lines = log.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace('"actor":"op-7f3a"', '"actor":"forger"')
    rebuilt = lines[:4]
    entry = json.loads(lines[4])
    entry["prev_sha256"] = hashlib.sha256(rebuilt[-1].encode()).hexdigest()
    rebuilt.append(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
    log.write_text("".join(rebuilt))
    assert custodycheck.verify_chain(log) == []  # the chain alone cannot see it...
    problems = custodycheck.cross_check_bag_copy(bag, log)  # ...the copy in the bag can
    assert [(p.code, p.path) for p in problems] == [
        ("custody-log-differs", "provenance-anchors/custody.jsonl:4")
    ]


def test_events_for_bag_match_external_identifier(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path, 2)
    renamed = bag.rename(tmp_path / "renamed-copy")
    assert len(custody.events_for_bag(log, renamed)) == 2  # same External-Identifier


def test_events_for_bag_are_the_lines_a_full_parse_finds(tmp_path: Path) -> None:
    """Lines are parsed only where they may name the bag; whichever way a line spells the name
    (escaped, another tool's ASCII-only JSON), the same lines are found as by parsing all."""
    log, bag = make_log(tmp_path, 3)
    ident = custody.bag_identity(bag)
    other = {"name": "other-bag", "external_identifier": "urn:uuid:0"}
    escaped = {"name": ident["name"], "external_identifier": ""}  # matched by name
    lines = log.read_bytes().split(b"\n")[:-1]
    lines += [
        json.dumps({"event": "exported", "bag": other}).encode(),
        json.dumps({"event": "verified", "bag": escaped}).replace("-", "\\u002d").encode(),
        json.dumps({"event": "received", "bag": {**ident, "name": "x/y"}})
        .replace("/", "\\/")
        .encode(),  # fmt: skip
        json.dumps({"event": "audited", "bag": other, "note": ident["name"]}).encode(),
        b"not json " + ident["name"].encode(),
    ]
    log.write_bytes(b"\n".join(lines) + b"\n")
    every = [
        raw + b"\n"
        for raw in lines
        if (e := custody._parse(raw)) is not None and custody._concerns(e, ident)
    ]
    assert len(every) == 5  # the 3 appended, the escaped one, the one by identifier
    assert custody.events_for_bag(log, bag) == every
    assert custody.events_recorded(log, bag) == {"captured", "sealed", "timestamped",
                                                  "verified", "received"}  # fmt: skip


def test_bag_copy_is_chain_checked_on_its_own(tmp_path: Path) -> None:
    """Without any external log, an edited line in the bag's copy breaks its chain."""
    log, bag = make_log(tmp_path)
    custody.copy_into_bag(log, bag)
    log.unlink()
    copy = bag / "provenance-anchors" / "custody.jsonl"
    lines = copy.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"actor":"op-7f3a"', '"actor":"someone-else"')
    copy.write_text("".join(lines))
    problems = verify_provenance(bag)
    assert ("custody-log-chain-broken", "provenance-anchors/custody.jsonl:3", "error") in {
        (p.code, p.path, p.severity) for p in problems.problems
    }


def test_bag_copy_of_an_interleaved_log_is_a_valid_excerpt(tmp_path: Path) -> None:
    """Other bags' events are left out of the copy: the seq gaps they leave are not errors."""
    bag = build_bag(tmp_path)
    other = build_bag(tmp_path, "other-bag")
    log = tmp_path / "custody-log.jsonl"
    for event in ("captured", "sealed", "timestamped"):
        custody.append_event(log, event, bag=bag)
        custody.append_event(log, event, bag=other)
    custody.copy_into_bag(log, bag)
    copy = bag / "provenance-anchors" / "custody.jsonl"
    assert [json.loads(x)["seq"] for x in copy.read_text().splitlines()] == [1, 3, 5]
    assert custodycheck.verify_chain(copy, excerpt=True) == []
    assert "custody-log-sequence" in codes(custodycheck.verify_chain(copy))  # not a whole log
    report = verify_provenance(bag)
    assert not [p for p in report.problems if p.code.startswith("custody-")]
    # Moving lines in the copy is still seen, and so is a line cut out of it:
    lines = copy.read_text().splitlines(keepends=True)
    copy.write_text(lines[1] + lines[0] + lines[2])
    assert "custody-log-sequence" in codes(custodycheck.verify_chain(copy, excerpt=True))
    copy.write_text(lines[0] + lines[2])
    assert [(p.code, p.path) for p in custodycheck.cross_check_bag_copy(bag, log)] == [
        ("custody-log-differs", "provenance-anchors/custody.jsonl")
    ]


def test_anchors_recorded_in_custody_but_missing_are_errors(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path, 2)
    token = "provenance-anchors/tagmanifest-sha256.txt.a.20260101T000000Z.tsr"
    details = {"tsas": [{"tsa": "a", "ok": True, "files": [token]}]}
    custody.append_event(log, "timestamped", bag=bag, details=details)
    custody.copy_into_bag(log, bag)
    problems = triples(verify_provenance(bag).problems)
    assert ("anchors-missing", token, "error") in problems
    # Deleting the whole folder, copy included, is still seen while the log is beside the bag:
    shutil.rmtree(bag / "provenance-anchors")
    assert ("anchors-missing", token, "error") in triples(verify_provenance(bag).problems)


def test_unexpected_files_in_the_anchors_folder_are_warned_about(tmp_path: Path) -> None:
    log, bag = make_log(tmp_path, 2)
    custody.copy_into_bag(log, bag)
    anchors = bag / "provenance-anchors"
    (anchors / "tsa-chains").mkdir()  # made by the first token kept, not before
    (anchors / "tsa-chains" / "alpha.roots.pem").write_text("")
    (anchors / "tsa-chains" / "notes.txt").write_text("x")
    (anchors / "README-court.txt").write_text("this bag is genuine")
    (anchors / "extra").mkdir()
    found = {(p.code, p.path, p.severity) for p in verify_provenance(bag).problems}
    assert {x for x in found if x[0] == "anchors-unexpected-file"} == {
        ("anchors-unexpected-file", f"provenance-anchors/{name}", "warning")
        for name in ("README-court.txt", "extra", "tsa-chains/notes.txt")
    }


def triples(problems: list) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(p.code, p.path, p.severity) for p in problems}
