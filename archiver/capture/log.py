"""The capture log (JSON Lines): one typed entry per URL, appended durably while capturing.

:class:`CaptureEntry` is the one definition of an entry (manifests/capture-log.schema.json says
the same in JSON Schema); ``to_json``/``from_json`` and :func:`dumps_entry` are the one place an
entry becomes bytes and back. Capture writes it, the run journals it, the bag keeps it and verify
reads it: ``from_json`` raises :class:`EntryShapeError` on a line of the wrong shape so a reader
can report it instead of crashing.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from archiver.base.compactjson import compact
from archiver.capture.imported import Imported
from archiver.capture.logparts import (
    Attempt,
    CertSummary,
    DnsFacts,
    EntryShapeError,
    FetchFailure,
    ProxyFacts,
    ProxyResolved,
    Redirect,
    RobotsDecision,
    TextError,
    TextRef,
    TlsFacts,
    ref_to_json,
)
from archiver.capture.logread import OUTCOMES, read_entry
from archiver.capture.witnessparts import (
    Memento,
    MementoOf,
    ThirdPartyQuery,
)
from archiver.collect.seeds import Citation
from archiver.warc.writer import RecordRef

__all__ = [
    "OUTCOMES",
    "Attempt",
    "CaptureEntry",
    "CertSummary",
    "DnsFacts",
    "EntryLine",
    "EntryShapeError",
    "FetchFailure",
    "Imported",
    "Journal",
    "Memento",
    "MementoOf",
    "ProxyFacts",
    "ProxyResolved",
    "Redirect",
    "RobotsDecision",
    "TextError",
    "TextRef",
    "ThirdPartyQuery",
    "TlsFacts",
    "brief",
    "dumps_entry",
    "read_entries",
    "read_raw_entries",
]

LOG_NAME = "capture-log.jsonl"
REQUIRED_FIELDS = ("url", "outcome", "started", "ended", "records")

Outcome = Literal["captured", "http-error", "failed", "blocked"]

Truncation = Literal["length", "time", "disconnect"]


@dataclass(frozen=True)
class CaptureEntry:
    """What happened to one URL and where its evidence is (manifests/capture-log.schema.json)."""

    url: str
    citations: list[Citation]
    hop: int
    via: str | None
    started: str
    ended: str
    outcome: Outcome
    status: int | None
    final_url: str | None
    redirects: list[Redirect]
    error: FetchFailure | None
    robots: RobotsDecision | None
    ip: str | None
    resolved_by: Literal["client", "proxy"]
    proxy: ProxyFacts | None
    dns: DnsFacts | ProxyResolved | None
    tls: TlsFacts | None
    provenance_record: str | None
    content_type: str | None
    payload_size: int | None
    payload_sha256: str | None
    truncated: Truncation | None
    records: list[RecordRef]
    text: TextRef | TextError | None = None
    attempts: list[Attempt] | None = None  # None: a log written before attempts were recorded
    # Third-party facts (capture/witnessparts.py), absent from the JSON when None so older logs
    # read and re-serialise unchanged: public archives asked about a dead URL, a save-now
    # submission of a live one, and on our capture of a memento, whose memento it is.
    witnesses: list[ThirdPartyQuery] | None = None
    save_now: list[ThirdPartyQuery] | None = None
    memento_of: MementoOf | None = None
    imported: Imported | None = None  # another tool's capture, imported (docs/import.md)

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON, its fields in order; an optional one is left out when None.

        Spelt out field by field (each part has its own ``to_json``): it runs for every URL a
        run journals, and a generic walk over the fields cost three times as much.
        """
        out = {
            "url": self.url,
            "citations": [c.to_json() for c in self.citations],
            "hop": self.hop,
            "via": self.via,
            "started": self.started,
            "ended": self.ended,
            "outcome": self.outcome,
            "status": self.status,
            "final_url": self.final_url,
            "redirects": [r.to_json() for r in self.redirects],
            "error": None if self.error is None else self.error.to_json(),
            "robots": None if self.robots is None else self.robots.to_json(),
            "ip": self.ip,
            "resolved_by": self.resolved_by,
            "proxy": None if self.proxy is None else self.proxy.to_json(),
            "dns": None if self.dns is None else self.dns.to_json(),
            "tls": None if self.tls is None else self.tls.to_json(),
            "provenance_record": self.provenance_record,
            "content_type": self.content_type,
            "payload_size": self.payload_size,
            "payload_sha256": self.payload_sha256,
            "truncated": self.truncated,
            "records": [ref_to_json(r) for r in self.records],
            "text": None if self.text is None else self.text.to_json(),
        }
        if self.attempts is not None:
            out["attempts"] = [a.to_json() for a in self.attempts]
        if self.witnesses is not None:
            out["witnesses"] = [q.to_json() for q in self.witnesses]
        if self.save_now is not None:
            out["save_now"] = [q.to_json() for q in self.save_now]
        if self.memento_of is not None:
            out["memento_of"] = self.memento_of.to_json()
        if self.imported is not None:
            out["imported"] = self.imported.to_json()
        return out

    @classmethod
    def from_json(cls, raw: Any) -> CaptureEntry:
        """The entry of a parsed log line; EntryShapeError when it is not of the right shape."""
        return read_entry(cls, raw)

    def response_refs(self) -> list[RecordRef]:
        return [r for r in self.records if r.type == "response"]


@dataclass(frozen=True)
class EntryLine:
    """An entry as its log line, made by ``dumps_entry`` where it was captured (a capture
    process), so that the process journaling it writes those bytes and need not read it."""

    url: str
    line: bytes


def dumps_entry(entry: CaptureEntry | EntryLine | Mapping[str, Any]) -> bytes:
    """One log line: compact, sorted keys, UTF-8, LF. Stable bytes for the same entry."""
    if isinstance(entry, EntryLine):
        return entry.line
    data = entry.to_json() if isinstance(entry, CaptureEntry) else entry
    return (compact(data) + "\n").encode("utf-8")


def brief(entry: CaptureEntry) -> dict[str, Any]:
    """The fields of ``entry.to_json()`` that say how the URL went (url, outcome, status, error
    class, payload size, truncation): all a progress display reads, without the rest."""
    return {
        "url": entry.url,
        "outcome": entry.outcome,
        "status": entry.status,
        "error": None if entry.error is None else {"class": entry.error.cls},
        "payload_size": entry.payload_size,
        "truncated": entry.truncated,
    }


class Journal:
    """Append-only JSONL file shared by worker threads, made durable in the background.

    ``append`` writes its line to the OS and returns: a kill -9 keeps every appended line. A
    background thread fsyncs whatever was appended at most ``SYNC_INTERVAL`` seconds later, one
    fsync for every line since the last, and ``close`` fsyncs the rest. A power cut can so lose
    the last fraction of a second of lines; a re-run captures those URLs again, as after a
    crash between a WARC record and its line. An fsync per line, waited for, cost a system call
    and a thread hand-off per URL: a tenth of a fast run's time.
    """

    SYNC_INTERVAL = 0.05

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one writer at a time
        self._written = 0  # lines handed to the OS
        self._synced = 0  # lines known to be on disk
        self._failure: OSError | None = None  # an fsync that failed, raised to the next caller
        self._closing = threading.Event()
        self._syncer: threading.Thread | None = None
        self._file: BinaryIO = open(path, "ab")  # noqa: SIM115 - closed in close()

    def append(self, entry: CaptureEntry | EntryLine) -> None:
        line = dumps_entry(entry)
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._file.write(line)
            self._file.flush()
            self._written += 1
            if self._syncer is None:
                self._syncer = threading.Thread(
                    target=self._sync_loop, name="journal-sync", daemon=True
                )
                self._syncer.start()

    def _sync_loop(self) -> None:
        while not self._closing.wait(self.SYNC_INTERVAL):
            self._sync()

    def _sync(self) -> None:
        with self._lock:
            upto = self._written
        if upto <= self._synced or self._failure is not None:
            return
        try:
            os.fsync(self._file.fileno())
        except OSError as err:  # a disk error must stop the run, not vanish with the thread
            self._failure = err
            return
        self._synced = upto

    def close(self) -> None:
        """Every appended line on disk, then the file closed; a failed fsync is raised here."""
        self._closing.set()
        if self._syncer is not None:
            self._syncer.join()
        if self._file.closed:
            return
        try:
            self._sync()
        finally:
            self._file.close()
        if self._failure is not None:
            raise self._failure


def _object_lines(path: Path) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Each whole line that is a JSON object, with its bytes; a torn last line (crash
    mid-write) ends the file, other lines are skipped."""
    if not path.exists():
        return
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # incomplete final line from an interrupted write
            try:
                parsed = json.loads(raw)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                yield raw, parsed


def read_raw_entries(path: Path) -> Iterator[dict[str, Any]]:
    """Parsed JSON objects of a journal or log; a torn last line (crash mid-write) is skipped."""
    for _, parsed in _object_lines(path):
        yield parsed


def journal_lines(
    path: Path, where: Callable[[dict[str, Any]], bool] | None = None
) -> Iterator[tuple[bytes, CaptureEntry]]:
    """Each entry of a journal (as ``read_entries`` gives them) with its line exactly as
    written, one at a time: the bag's capture log is these lines, never re-encoded.

    ``where`` tests each parsed line before it is read as an entry: a line it refuses is
    skipped without that cost (e.g. a pass that wants only the URLs not captured).
    """
    for raw, parsed in _object_lines(path):
        if where is not None and not where(parsed):
            continue
        try:
            yield raw, CaptureEntry.from_json(parsed)
        except EntryShapeError:
            continue


def read_entries(
    path: Path, where: Callable[[dict[str, Any]], bool] | None = None
) -> Iterator[CaptureEntry]:
    """Typed entries of a journal or log; lines that are not entries (or that ``where``
    refuses) are skipped."""
    for _, entry in journal_lines(path, where):
        yield entry
