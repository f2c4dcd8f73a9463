"""The ``imported`` part of a capture-log entry: a record another tool captured, not archiver.

``archiver import`` wraps other tools' WARCs into a bag (docs/import.md). Each entry it derives
says whose capture it is, from the warcinfo record that tool wrote, so no reader mistakes it for
one of archiver's own captures (which carry recorded IP, DNS and TLS facts and a provenance
record; an imported entry has none of those, by design).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archiver.capture.logparts import as_object, get_field

_OPTIONAL = ("software", "operator", "hostname", "format", "warcinfo_id", "payload_digest")


@dataclass(frozen=True)
class Imported:
    """Who captured the record (their warcinfo), which input it came from, and who imported it."""

    imported_by: str  # "archiver <version>"
    source: str  # the input file as given: "crawl.warc.gz" or "site.wacz!archive/data.warc.gz"
    record_type: str  # the WARC-Type of the record this entry stands for
    software: str | None = None  # their warcinfo's "software" field
    operator: str | None = None
    hostname: str | None = None  # "hostname" (or "host")
    format: str | None = None
    warcinfo_id: str | None = None  # WARC-Record-ID of the warcinfo these facts come from
    payload_digest: str | None = None  # WARC-Payload-Digest as they wrote it (any algorithm)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_json(cls, raw: Any) -> Imported:
        r = as_object(raw, "imported")
        return cls(
            imported_by=get_field(r, "imported_by", str),
            source=get_field(r, "source", str),
            record_type=get_field(r, "record_type", str),
            **{k: get_field(r, k, str, null=True) for k in _OPTIONAL if k in r},
        )
