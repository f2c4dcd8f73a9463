"""Third-party parts of a capture-log entry: what public web archives said about a URL.

Kept apart from our own capture facts on purpose: a witness is another archive's claim that it
holds a copy (a memento), not evidence we gathered of the page. Each :class:`ThirdPartyQuery`
names the endpoint asked, when, what it answered and the WARC records that keep its answer;
``memento_of`` marks an entry that is our capture of such a memento, never of the URL itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from archiver.capture.logparts import (
    EntryShapeError,
    as_object,
    get_field,
    get_list,
    ref_from_json,
    ref_to_json,
)
from archiver.warc.writer import RecordRef

Service = Literal["timemap", "wayback-available", "save-now"]
SERVICES = ("timemap", "wayback-available", "save-now")


@dataclass(frozen=True)
class Memento:
    """One memento an archive says it holds: ``rel`` is first, last or closest (RFC 7089)."""

    archive: str  # host of the memento URL, e.g. web.archive.org
    url: str
    datetime: str  # Memento-Datetime as UTC ISO 8601
    rel: str

    def to_json(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "url": self.url,
            "datetime": self.datetime,
            "rel": self.rel,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Memento:
        r = as_object(raw, "a memento")
        return cls(
            get_field(r, "archive", str),
            get_field(r, "url", str),
            get_field(r, "datetime", str),
            get_field(r, "rel", str),
        )


@dataclass(frozen=True)
class ThirdPartyQuery:
    """One request to a third-party service about the entry's URL, and what it answered.

    ``error`` is ``{"class", "message"}`` when the lookup failed (network, too large, too slow,
    not parseable); ``count`` is how many mementos a TimeMap listed (only a few are kept).
    """

    service: Service
    endpoint: str
    request_url: str
    asked: str
    status: int | None
    error: dict[str, str] | None
    mementos: list[Memento] = field(default_factory=list)
    count: int | None = None
    records: list[RecordRef] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "endpoint": self.endpoint,
            "request_url": self.request_url,
            "asked": self.asked,
            "status": self.status,
            "error": self.error,
            "mementos": [m.to_json() for m in self.mementos],
            "count": self.count,
            "records": [ref_to_json(r) for r in self.records],
        }

    @classmethod
    def from_json(cls, raw: Any) -> ThirdPartyQuery:
        r = as_object(raw, "a third-party query")
        service = get_field(r, "service", str)
        if service not in SERVICES:
            raise EntryShapeError(f"unknown third-party service {service!r:.40}")
        error = get_field(r, "error", dict, null=True)
        if error is not None and not all(isinstance(v, str) for v in error.values()):
            raise EntryShapeError("a third-party error is not text")
        return cls(
            service=service,
            endpoint=get_field(r, "endpoint", str),
            request_url=get_field(r, "request_url", str),
            asked=get_field(r, "asked", str),
            status=get_field(r, "status", int, null=True),
            error=error,
            mementos=[Memento.from_json(m) for m in get_list(r, "mementos")],
            count=get_field(r, "count", int, null=True),
            records=[ref_from_json(x) for x in get_list(r, "records")],
        )


@dataclass(frozen=True)
class MementoOf:
    """On our capture of a memento: whose copy it is, of which URL, and who pointed to it."""

    original_url: str
    archive: str
    memento_datetime: str
    endpoint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "original_url": self.original_url,
            "archive": self.archive,
            "memento_datetime": self.memento_datetime,
            "endpoint": self.endpoint,
        }

    @classmethod
    def from_json(cls, raw: Any) -> MementoOf:
        r = as_object(raw, "memento_of")
        return cls(
            get_field(r, "original_url", str),
            get_field(r, "archive", str),
            get_field(r, "memento_datetime", str),
            get_field(r, "endpoint", str),
        )


def queries_from_json(r: Mapping[str, Any], key: str) -> list[ThirdPartyQuery] | None:
    """The list under ``key``, or None when an older log has no such field."""
    if key not in r:
        return None
    return [ThirdPartyQuery.from_json(q) for q in get_list(r, key)]


def third_party_refs(raw: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Each third-party query of a raw entry as ``{"records": [...]}`` (for verify's checks)."""
    for key in ("witnesses", "save_now"):
        value = raw.get(key)
        if isinstance(value, list):
            for q in value:
                if isinstance(q, dict) and isinstance(q.get("records"), list):
                    yield {"records": [r for r in q["records"] if isinstance(r, dict)]}
