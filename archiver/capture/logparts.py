"""The parts of a capture-log entry (redirects, attempts, failure, robots, DNS, TLS, proxy,
text, records) and how each is read from JSON, checking its shape as it goes.

capture/log.py puts them together as :class:`~archiver.capture.log.CaptureEntry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from archiver.collect.seeds import Citation
from archiver.warc.writer import RecordRef


class EntryShapeError(ValueError):
    """A capture-log line that is not an entry of the documented shape."""


_T = TypeVar("_T")


def get_field(
    raw: Mapping[str, Any], key: str, kind: type[_T] | tuple[type, ...], *, null: bool = False
) -> Any:
    """``raw[key]`` checked to be of ``kind`` (or None when ``null``); EntryShapeError if not."""
    if key not in raw:
        raise EntryShapeError(f"no {key!r}")
    value = raw[key]
    if type(value) is kind:  # the usual case, decided at once (bool is never int here)
        return value
    if value is None and null:
        return None
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise EntryShapeError(f"{key!r} is not a number")
    if not isinstance(value, kind):
        raise EntryShapeError(f"{key!r} has the wrong type ({type(value).__name__})")
    return value


def as_object(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise EntryShapeError(f"{what} is not an object")
    return raw


def get_list(raw: Mapping[str, Any], key: str) -> list[Any]:
    return cast(list[Any], get_field(raw, key, list))


@dataclass(frozen=True)
class Redirect:
    url: str
    status: int
    location: str | None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "location": self.location}

    @classmethod
    def from_json(cls, raw: Any) -> Redirect:
        r = as_object(raw, "a redirect")
        return cls(
            get_field(r, "url", str),
            get_field(r, "status", int),
            get_field(r, "location", str, null=True),
        )


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

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "started": self.started,
            "status": self.status,
            "retry_after": self.retry_after,
            "wait": self.wait,
            "retried": self.retried,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Attempt:
        r = as_object(raw, "an attempt")
        return cls(
            get_field(r, "url", str),
            get_field(r, "started", str),
            get_field(r, "status", int, null=True),
            get_field(r, "retry_after", str, null=True),
            get_field(r, "wait", (int, float), null=True),
            get_field(r, "retried", bool),
            get_field(r, "reason", str, null=True),
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
        r = as_object(raw, "error")
        return cls(
            get_field(r, "class", str), get_field(r, "message", str), get_field(r, "at", str)
        )


@dataclass(frozen=True)
class RobotsDecision:
    url: str
    allowed: bool
    rule: str
    override: bool
    reason: str | None
    record_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "allowed": self.allowed,
            "rule": self.rule,
            "override": self.override,
            "reason": self.reason,
            "record_id": self.record_id,
        }

    @classmethod
    def from_json(cls, raw: Any) -> RobotsDecision:
        r = as_object(raw, "robots")
        return cls(
            get_field(r, "url", str),
            get_field(r, "allowed", bool),
            get_field(r, "rule", str),
            get_field(r, "override", bool),
            get_field(r, "reason", str, null=True),
            get_field(r, "record_id", str, null=True),
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


def dns_from_json(raw: Any) -> DnsFacts | ProxyResolved | None:
    if raw is None:
        return None
    r = as_object(raw, "dns")
    if r.get("resolved_by") == "proxy":
        return ProxyResolved(get_field(r, "host", str), get_field(r, "proxy", str, null=True))
    answers = get_list(r, "answers")
    resolver = get_field(r, "resolver", str)
    if resolver not in ("system", "literal") or not all(isinstance(a, str) for a in answers):
        raise EntryShapeError("dns is not of the documented shape")
    error = get_field(r, "error", str) if "error" in r else None
    return DnsFacts(
        get_field(r, "host", str),
        answers,
        get_field(r, "connected", str, null=True),
        resolver,
        get_field(r, "at", str),
        error,
    )


@dataclass(frozen=True)
class CertSummary:
    subject: str | None
    issuer: str | None
    not_before: str | None
    not_after: str | None
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, raw: Any) -> CertSummary:
        r = as_object(raw, "a certificate")
        return cls(
            get_field(r, "subject", str, null=True),
            get_field(r, "issuer", str, null=True),
            get_field(r, "not_before", str, null=True),
            get_field(r, "not_after", str, null=True),
            get_field(r, "sha256", str),
        )


@dataclass(frozen=True)
class TlsFacts:
    version: str | None
    cipher: str | None
    chain: list[CertSummary]
    record_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "cipher": self.cipher,
            "chain": [c.to_json() for c in self.chain],
            "record_id": self.record_id,
        }

    @classmethod
    def from_json(cls, raw: Any) -> TlsFacts:
        r = as_object(raw, "tls")
        return cls(
            get_field(r, "version", str, null=True),
            get_field(r, "cipher", str, null=True),
            [CertSummary.from_json(c) for c in get_list(r, "chain")],
            get_field(r, "record_id", str, null=True),
        )


@dataclass(frozen=True)
class ProxyFacts:
    url: str
    ip: str | None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "ip": self.ip}

    @classmethod
    def from_json(cls, raw: Any) -> ProxyFacts:
        r = as_object(raw, "proxy")
        return cls(get_field(r, "url", str), get_field(r, "ip", str, null=True))


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


def text_from_json(raw: Any) -> TextRef | TextError | None:
    if raw is None:
        return None
    r = as_object(raw, "text")
    if "error" in r and "path" not in r:
        return TextError(get_field(r, "error", str))
    reason = get_field(r, "reason", str) if "reason" in r else None
    return TextRef(
        get_field(r, "path", str), get_field(r, "sidecar", str), get_field(r, "sha256", str), reason
    )


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
    # Every entry holds several records: the usual shape (exactly these JSON types) is taken at
    # once; anything else goes through the field-by-field checks below and their messages.
    if type(raw) is dict:
        warc_file, record_id = raw.get("warc_file"), raw.get("record_id")
        offset, length = raw.get("offset"), raw.get("length")
        kind, target = raw.get("type"), raw.get("target_uri")
        if (
            type(warc_file) is str
            and type(record_id) is str
            and type(offset) is int
            and type(length) is int
            and type(kind) is str
            and (type(target) is str or (target is None and "target_uri" in raw))
        ):
            return RecordRef(warc_file, record_id, offset, length, kind, target)
    r = as_object(raw, "a record")
    return RecordRef(
        warc_file=get_field(r, "warc_file", str),
        record_id=get_field(r, "record_id", str),
        offset=get_field(r, "offset", int),
        length=get_field(r, "length", int),
        type=get_field(r, "type", str),
        target_uri=get_field(r, "target_uri", str, null=True),
    )


def citation_from_json(raw: Any) -> Citation:
    try:
        return Citation.from_json(raw)
    except ValueError as err:
        raise EntryShapeError(str(err)) from err
