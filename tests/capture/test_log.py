"""The capture log: appended durably, read back skipping a torn last line, serialised stably."""

from __future__ import annotations

from pathlib import Path

from archiver.capture.log import Journal, dumps_entry, read_entries
from tests.capture.helpers import entry


def test_journal_appends_and_skips_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.append(entry("https://e.org/1"))
    j.append(entry("https://e.org/2"))
    j.close()
    with open(path, "ab") as f:
        f.write(b'{"url": "https://e.org/3", "outc')  # crash mid-write
    urls = [e["url"] for e in read_entries(path)]
    assert urls == ["https://e.org/1", "https://e.org/2"]


def test_dumps_entry_is_stable() -> None:
    a = dumps_entry({"b": 1, "a": "é"})
    assert a == dumps_entry({"a": "é", "b": 1})
    assert a.endswith(b"\n") and "é".encode() in a
