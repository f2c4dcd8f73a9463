"""The capture-log journal survives crashes, and the cross-check catches a log that lies."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from archiver.capture.log import dumps_entry
from archiver.verify.capturelog import cross_check
from archiver.verify.indexed import IndexedRecord
from tests.capture.helpers import entry


def make_bag(tmp_path: Path, entries: list[dict[str, object]]) -> Path:
    bag = tmp_path / "bag"
    (bag / "data" / "text").mkdir(parents=True)
    (bag / "data" / "capture-log.jsonl").write_bytes(b"".join(dumps_entry(e) for e in entries))
    return bag


def index_for(url: str, offset: int = 100, sha: str = "ab" * 32) -> dict[str, IndexedRecord]:
    return {f"<urn:uuid:{url[-1]}>": IndexedRecord("a.warc.gz", offset, "response", url, sha)}


def test_consistent_log_has_no_problems(tmp_path: Path) -> None:
    text = b"clean text\n"
    (tmp_path / "bag" / "data" / "text").mkdir(parents=True)
    (tmp_path / "bag" / "data" / "text" / "1.txt").write_bytes(text)
    (tmp_path / "bag" / "data" / "text" / "1.json").write_text("{}")
    e = entry(
        "https://e.org/1",
        text={
            "path": "text/1.txt",
            "sidecar": "text/1.json",
            "sha256": hashlib.sha256(text).hexdigest(),
        },
    )
    (tmp_path / "bag" / "data" / "capture-log.jsonl").write_bytes(dumps_entry(e))
    assert cross_check(tmp_path / "bag", index_for("https://e.org/1")) == []


def test_missing_record_wrong_offset_and_payload(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, [entry("https://e.org/1"), entry("https://e.org/2")])
    index = index_for("https://e.org/1", offset=999, sha="cd" * 32)
    codes = sorted(p.code for p in cross_check(bag, index))
    assert codes == [
        "capture-log-payload-mismatch",
        "capture-log-record-missing",
        "capture-log-record-moved",
    ]


def test_text_missing_and_changed_and_unlisted(tmp_path: Path) -> None:
    e1 = entry(
        "https://e.org/1",
        text={"path": "text/1.txt", "sidecar": "text/1.json", "sha256": "00" * 32},
    )
    bag = make_bag(tmp_path, [e1])
    (bag / "data" / "text" / "1.txt").write_bytes(b"edited")
    (bag / "data" / "text" / "stray.txt").write_bytes(b"who put this here")
    problems = cross_check(bag, index_for("https://e.org/1"))
    by_code = {p.code: p for p in problems}
    assert by_code["capture-log-text-mismatch"].path == "data/text/1.txt"
    assert by_code["capture-log-text-missing"].path == "data/text/1.json"
    assert by_code["capture-log-unlisted-text"].path == "data/text/stray.txt"


def test_bad_json_line_is_reported_with_line_number(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, [entry("https://e.org/1")])
    with open(bag / "data" / "capture-log.jsonl", "ab") as f:
        f.write(b"not json\n")
    problems = cross_check(bag, index_for("https://e.org/1"))
    assert [p.path for p in problems] == ["data/capture-log.jsonl:2"]
    assert problems[0].code == "capture-log-bad-json"


def test_text_path_cannot_escape_bag(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside")
    e = entry("https://e.org/1", text={"path": "../../secret.txt", "sidecar": "text/1.json"})
    bag = make_bag(tmp_path, [e])
    codes = {p.code for p in cross_check(bag, index_for("https://e.org/1"))}
    assert "capture-log-unsafe-path" in codes


def test_unlisted_response_record_is_a_warning(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, [entry("https://e.org/1")])
    index = index_for("https://e.org/1")
    index["<urn:uuid:orphan>"] = IndexedRecord("a.warc.gz", 5000, "response", "https://x/", None)
    problems = cross_check(bag, index)
    assert [(p.code, p.severity) for p in problems] == [("capture-log-unlisted-record", "warning")]
    json.dumps([p.to_dict() for p in problems])


def _robots_entry(url: str, outcome: str, **extra: object) -> dict[str, object]:
    robots = url.split("/", 3)
    robots_url = f"{robots[0]}//{robots[2]}/robots.txt"
    refs = [
        {"warc_file": "a.warc.gz", "record_id": "<urn:uuid:rq>", "type": "request", "offset": 1},
        {"warc_file": "a.warc.gz", "record_id": "<urn:uuid:rs>", "type": "response", "offset": 2},
    ]
    for ref in refs:
        ref.update(target_uri=robots_url, length=1)
    fields: dict[str, object] = {"status": None, **extra}
    e = entry(url, outcome=outcome, records=refs, payload_sha256=None, **fields)
    allowed = outcome != "blocked"
    e["robots"] = {
        "url": robots_url,
        "allowed": allowed,
        "rule": "Disallow: /private/",
        "override": False,
        "reason": None,
        "record_id": "<urn:uuid:rs>",
    }
    return e


def _robots_index(url: str) -> dict[str, IndexedRecord]:
    robots_url = url.split("/", 3)
    robots_url = f"{robots_url[0]}//{robots_url[2]}/robots.txt"
    return {
        "<urn:uuid:rq>": IndexedRecord("a.warc.gz", 1, "request", robots_url, None),
        "<urn:uuid:rs>": IndexedRecord("a.warc.gz", 2, "response", robots_url, "cd" * 32, 200),
    }


def test_robots_records_of_a_blocked_or_failed_url_are_not_its_response(tmp_path: Path) -> None:
    """The first URL of a site carries the site's robots.txt records; they are not its page."""
    url = "https://e.org/private/page"
    for outcome in ("blocked", "failed"):
        bag = make_bag(tmp_path / outcome, [_robots_entry(url, outcome)])
        assert cross_check(bag, _robots_index(url)) == [], outcome


def test_robots_records_cannot_stand_in_for_a_capture(tmp_path: Path) -> None:
    url = "https://e.org/private/page"
    bag = make_bag(tmp_path, [_robots_entry(url, "captured", status=200)])
    codes = {p.code for p in cross_check(bag, _robots_index(url))}
    assert "capture-log-outcome-mismatch" in codes


def test_entries_of_the_wrong_shape_are_reported_not_fatal(tmp_path: Path) -> None:
    """Found by the property test: a list as outcome or a string as a record crashed verify."""
    bad = [
        entry("https://e.org/1", outcome=[]),
        entry("https://e.org/2", records=["<urn:uuid:2>"]),
        {**entry("https://e.org/3"), "url": ["x"]},
        entry("https://e.org/4\r", status="200"),
    ]
    bag = make_bag(tmp_path, bad)
    problems = cross_check(bag, index_for("https://e.org/1"))
    assert [p.code for p in problems if p.path.endswith((":1", ":2", ":3", ":4"))] == [
        "capture-log-bad-entry"
    ] * 4
    assert all("\r" not in p.message for p in problems)


def test_forged_field_outside_the_index_checks_is_named(tmp_path: Path) -> None:
    """Read as the typed entry capture writes: a field of the wrong shape is a Problem."""
    url = "https://e.org/1"
    forged = [
        entry(url, hop="one"),
        entry(url, robots={"url": 1}),
        entry(url, dns={"host": "e.org", "answers": "x"}),
        entry(url, citations=[["report.md"]]),
    ]
    for n, e in enumerate(forged):
        bag = make_bag(tmp_path / str(n), [e])
        problems = cross_check(bag, index_for(url))
        assert [p.code for p in problems] == ["capture-log-bad-entry"], e
        assert (
            problems[0].severity == "warning" and "not a capture-log entry" in problems[0].message
        )
