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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar, cast

from archiver.collect.seeds import Citation
from archiver.warc.writer import RecordRef

LOG_NAME = "capture-log.jsonl"
REQUIRED_FIELDS = ("url", "outcome", "started", "ended", "records")
OUTCOMES = {"captured", "http-error", "failed", "blocked"}

Outcome = Literal["captured", "http-error", "failed", "blocked"]
Truncation = Literal["length", "time", "disconnect"]


class EntryShapeError(ValueError):
    """A capture-log line that is not an entry of the documented shape."""


_T = TypeVar("_T")


def _get(
    raw: Mapping[str, Any], key: str, kind: type[_T] | tuple[type, ...], *, null: bool = False
) -> Any:
    """``raw[key]`` checked to be of ``kind`` (or None when ``null``); EntryShapeError if not."""
    if key not in raw:
        raise EntryShapeError(f"no {key!r}")
    value = raw[key]
    if value is None and null:
        return None
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise EntryShapeError(f"{key!r} is not a number")
    if not isinstance(value, kind):
        raise EntryShapeError(f"{key!r} has the wrong type ({type(value).__name__})")
    return value


def _obj(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise EntryShapeError(f"{what} is not an object")
    return raw


def _items(raw: Mapping[str, Any], key: str) -> list[Any]:
    return cast(list[Any], _get(raw, key, list))


@dataclass(frozen=True)
class Redirect:
    url: str
    status: int
    location: str | None

    @classmethod
    def from_json(cls, raw: Any) -> Redirect:
        r = _obj(raw, "a redirect")
        return cls(_get(r, "url", str), _get(r, "status", int), _get(r, "location", str, null=True))


@dataclass(frozen=True)
class Attempt:
    """One try at a URL answered 429/503 with Retry-After, and whether it was waited for."""

    url: str
    started: str
    status: int | None
    retry_after: str | None
    wait: float | None
    retried: bool
    reason: str | None

    @classmethod
    def from_json(cls, raw: Any) -> Attempt:
        r = _obj(raw, "an attempt")
        return cls(
            _get(r, "url", str),
            _get(r, "started", str),
            _get(r, "status", int, null=True),
            _get(r, "retry_after", str, null=True),
            _get(r, "wait", (int, float), null=True),
            _get(r, "retried", bool),
            _get(r, "reason", str, null=True),
        )


@dataclass(frozen=True)
class FetchFailure:
    """Why a URL was not captured: the stable error class (JSON key "class"), words, when."""

    cls: str
    message: str
    at: str

    def to_json(self) -> dict[str, Any]:
        return {"class": self.cls, "message": self.message, "at": self.at}

    @classmethod
    def from_json(cls, raw: Any) -> FetchFailure:
        r = _obj(raw, "error")
        return cls(_get(r, "class", str), _get(r, "message", str), _get(r, "at", str))


@dataclass(frozen=True)
class RobotsDecision:
    url: str
    allowed: bool
    rule: str
    override: bool
    reason: str | None
    record_id: str | None

    @classmethod
    def from_json(cls, raw: Any) -> RobotsDecision:
        r = _obj(raw, "robots")
        return cls(
            _get(r, "url", str),
            _get(r, "allowed", bool),
            _get(r, "rule", str),
            _get(r, "override", bool),
            _get(r, "reason", str, null=True),
            _get(r, "record_id", str, null=True),
        )


@dataclass(frozen=True)
class DnsFacts:
    """How this machine resolved the final hop's host (``error``: why resolution failed)."""

    host: str
    answers: list[str]
    connected: str | None
    resolver: Literal["system", "literal"]
    at: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "answers": list(self.answers),
            "connected": self.connected,
            "resolver": self.resolver,
            "at": self.at,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class ProxyResolved:
    """The proxy resolved the host name: no answers of our own."""

    host: str
    proxy: str | None

    def to_json(self) -> dict[str, Any]:
        return {"resolved_by": "proxy", "host": self.host, "proxy": self.proxy}


def _dns_from_json(raw: Any) -> DnsFacts | ProxyResolved | None:
    if raw is None:
        return None
    r = _obj(raw, "dns")
    if r.get("resolved_by") == "proxy":
        return ProxyResolved(_get(r, "host", str), _get(r, "proxy", str, null=True))
    answers = _items(r, "answers")
    resolver = _get(r, "resolver", str)
    if resolver not in ("system", "literal") or not all(isinstance(a, str) for a in answers):
        raise EntryShapeError("dns is not of the documented shape")
    error = _get(r, "error", str) if "error" in r else None
    return DnsFacts(
        _get(r, "host", str),
        answers,
        _get(r, "connected", str, null=True),
        resolver,  # type: ignore[arg-type]
        _get(r, "at", str),
        error,
    )


@dataclass(frozen=True)
class CertSummary:
    subject: str | None
    issuer: str | None
    not_before: str | None
    not_after: str | None
    sha256: str

    @classmethod
    def from_json(cls, raw: Any) -> CertSummary:
        r = _obj(raw, "a certificate")
        return cls(
            _get(r, "subject", str, null=True),
            _get(r, "issuer", str, null=True),
            _get(r, "not_before", str, null=True),
            _get(r, "not_after", str, null=True),
            _get(r, "sha256", str),
        )


@dataclass(frozen=True)
class TlsFacts:
    version: str | None
    cipher: str | None
    chain: list[CertSummary]
    record_id: str | None

    @classmethod
    def from_json(cls, raw: Any) -> TlsFacts:
        r = _obj(raw, "tls")
        return cls(
            _get(r, "version", str, null=True),
            _get(r, "cipher", str, null=True),
            [CertSummary.from_json(c) for c in _items(r, "chain")],
            _get(r, "record_id", str, null=True),
        )


@dataclass(frozen=True)
class ProxyFacts:
    url: str
    ip: str | None

    @classmethod
    def from_json(cls, raw: Any) -> ProxyFacts:
        r = _obj(raw, "proxy")
        return cls(_get(r, "url", str), _get(r, "ip", str, null=True))


@dataclass(frozen=True)
class TextRef:
    """The cleaned text and its sidecar in the bag; ``reason`` when a cap left it empty."""

    path: str
    sidecar: str
    sha256: str
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"path": self.path, "sidecar": self.sidecar, "sha256": self.sha256}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class TextError:
    """Cleaning failed (the capture is kept): why."""

    error: str

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error}


def _text_from_json(raw: Any) -> TextRef | TextError | None:
    if raw is None:
        return None
    r = _obj(raw, "text")
    if "error" in r and "path" not in r:
        return TextError(_get(r, "error", str))
    reason = _get(r, "reason", str) if "reason" in r else None
    return TextRef(_get(r, "path", str), _get(r, "sidecar", str), _get(r, "sha256", str), reason)


def ref_to_json(ref: RecordRef) -> dict[str, Any]:
    return {
        "warc_file": ref.warc_file,
        "record_id": ref.record_id,
        "type": ref.type,
        "target_uri": ref.target_uri,
        "offset": ref.offset,
        "length": ref.length,
    }


def ref_from_json(raw: Any) -> RecordRef:
    r = _obj(raw, "a record")
    return RecordRef(
        warc_file=_get(r, "warc_file", str),
        record_id=_get(r, "record_id", str),
        offset=_get(r, "offset", int),
        length=_get(r, "length", int),
        type=_get(r, "type", str),
        target_uri=_get(r, "target_uri", str, null=True),
    )


def _citation(raw: Any) -> Citation:
    try:
        return Citation.from_json(raw)
    except ValueError as err:
        raise EntryShapeError(str(err)) from err


def _plain(value: Any) -> Any:
    """A nested record as JSON: its own ``to_json`` or its fields in order."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, RecordRef):
        return ref_to_json(value)
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        return to_json()
    return {k: _plain(v) for k, v in vars(value).items()}


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

    def to_json(self) -> dict[str, Any]:
        out = {k: _plain(v) for k, v in vars(self).items()}
        if self.attempts is None:
            del out["attempts"]
        return out

    @classmethod
    def from_json(cls, raw: Any) -> CaptureEntry:
        """The entry of a parsed log line; EntryShapeError when it is not of the right shape."""
        r = _obj(raw, "the entry")
        outcome = _get(r, "outcome", str)
        resolved_by = _get(r, "resolved_by", str)
        truncated = _get(r, "truncated", str, null=True)
        if outcome not in OUTCOMES:
            raise EntryShapeError(f"unknown outcome {outcome!r:.40}")
        if resolved_by not in ("client", "proxy") or truncated not in (
            None,
            "length",
            "time",
            "disconnect",
        ):
            raise EntryShapeError("resolved_by or truncated is not a documented value")
        error, robots = r.get("error"), r.get("robots")
        proxy, tls = r.get("proxy"), r.get("tls")
        return cls(
            url=_get(r, "url", str),
            citations=[_citation(c) for c in _items(r, "citations")],
            hop=_get(r, "hop", int),
            via=_get(r, "via", str, null=True),
            started=_get(r, "started", str),
            ended=_get(r, "ended", str),
            outcome=outcome,
            status=_get(r, "status", int, null=True),
            final_url=_get(r, "final_url", str, null=True),
            redirects=[Redirect.from_json(x) for x in _items(r, "redirects")],
            error=FetchFailure.from_json(error)
            if _get(r, "error", dict, null=True) is not None
            else None,
            robots=RobotsDecision.from_json(robots)
            if _get(r, "robots", dict, null=True) is not None
            else None,
            ip=_get(r, "ip", str, null=True),
            resolved_by=resolved_by,
            proxy=ProxyFacts.from_json(proxy)
            if _get(r, "proxy", dict, null=True) is not None
            else None,
            dns=_dns_from_json(_get(r, "dns", dict, null=True)),
            tls=TlsFacts.from_json(tls) if _get(r, "tls", dict, null=True) is not None else None,
            provenance_record=_get(r, "provenance_record", str, null=True),
            content_type=_get(r, "content_type", str, null=True),
            payload_size=_get(r, "payload_size", int, null=True),
            payload_sha256=_get(r, "payload_sha256", str, null=True),
            truncated=truncated,
            records=[ref_from_json(x) for x in _items(r, "records")],
            text=_text_from_json(_get(r, "text", dict, null=True)),
            attempts=[Attempt.from_json(a) for a in _items(r, "attempts")]
            if "attempts" in r
            else None,
        )

    def response_refs(self) -> list[RecordRef]:
        return [r for r in self.records if r.type == "response"]


def dumps_entry(entry: CaptureEntry | Mapping[str, Any]) -> bytes:
    """One log line: compact, sorted keys, UTF-8, LF. Stable bytes for the same entry."""
    data = entry.to_json() if isinstance(entry, CaptureEntry) else entry
    return (
        json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode("utf-8")


class Journal:
    """Append-only, fsynced JSONL file shared by worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: BinaryIO = open(path, "ab")  # noqa: SIM115 - closed in close()

    def append(self, entry: CaptureEntry) -> None:
        line = dumps_entry(entry)
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_raw_entries(path: Path) -> Iterator[dict[str, Any]]:
    """Parsed JSON objects of a journal or log; a torn last line (crash mid-write) is skipped."""
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


def read_entries(path: Path) -> Iterator[CaptureEntry]:
    """Typed entries of a journal or log; lines that are not entries are skipped."""
    for raw in read_raw_entries(path):
        try:
            yield CaptureEntry.from_json(raw)
        except EntryShapeError:
            continue
