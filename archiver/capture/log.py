"""The capture log (JSON Lines): one entry per URL, appended durably while capturing, read back."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

LOG_NAME = "capture-log.jsonl"


REQUIRED_FIELDS = ("url", "outcome", "started", "ended", "records")


OUTCOMES = {"captured", "http-error", "failed", "blocked"}


def dumps_entry(entry: Mapping[str, Any]) -> bytes:
    """One log line: compact, sorted keys, UTF-8, LF. Stable bytes for the same entry."""
    return (
        json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode("utf-8")


class Journal:
    """Append-only, fsynced JSONL file shared by worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: BinaryIO = open(path, "ab")  # noqa: SIM115 - closed in close()

    def append(self, entry: Mapping[str, Any]) -> None:
        line = dumps_entry(entry)
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """Entries of a journal or log; a torn last line (crash mid-write) is skipped."""
    if not path.exists():
        return
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # incomplete final line from an interrupted write
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry
