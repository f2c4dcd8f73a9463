"""Capture-log entries derived from another tool's WARC records (``archiver import``).

One entry per response, resource or revisit record with a web URL: its URL, WARC-Date, HTTP
status, payload digest and where it is (WARC file, record ID, offset). Status and payload
SHA-256 come from the project's WARC checker, the same reading ``archiver verify`` cross-checks
the log against. Whose capture it is comes from the warcinfo record the tool wrote (docs/import.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from archiver import __version__
from archiver.base.timefmt import parse_iso, utc_iso
from archiver.capture.imported import Imported
from archiver.capture.log import CaptureEntry
from archiver.warc.check import WarcCheck
from archiver.warc.reader import WarcReader
from archiver.warc.record import WarcRecord
from archiver.warc.writer import RecordRef

_LISTED = ("response", "resource", "revisit")
_WEB = ("http:", "https:", "ftp:")
_MAX_WARCINFO = 65536
_TRUNCATION = ("length", "time", "disconnect")


@dataclass
class FileEntries:
    """What one imported WARC gave: its entries, the tools named, and the records left out."""

    entries: list[CaptureEntry] = field(default_factory=list)
    software: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many records

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def warcinfo_fields(rec: WarcRecord) -> dict[str, str]:
    """``name: value`` lines of a warcinfo block, names lower-cased (wpull writes "Software")."""
    data = rec.block.read(_MAX_WARCINFO)
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() and name.strip().lower() not in fields:
            fields[name.strip().lower()] = value.strip()
    return fields


def file_entries(path: Path, check: WarcCheck, source: str) -> FileEntries:
    """Entries for the records of ``path`` (already checked, sealed name) worth listing."""
    out = FileEntries()
    infos: dict[str, dict[str, str]] = {}
    current: tuple[str | None, dict[str, str]] = (None, {})
    ends = _record_ends(check, path.stat().st_size)
    for rec in WarcReader(path, strict=False):
        if rec.type == "warcinfo":
            current = (rec.record_id, warcinfo_fields(rec))
            infos[rec.record_id or ""] = current[1]
            _note_tool(out, current[1])
            continue
        info_id = rec.headers.get("WARC-Warcinfo-ID")
        info = (info_id, infos[info_id]) if info_id in infos else current
        entry = _entry(rec, path.name, check, ends, source, info, out)
        if entry is not None:
            out.entries.append(entry)
    return out


# warcinfo text is the other tool's (or anyone's): what reaches one bag-info line is bounded.
MAX_NAMED = 10  # distinct tools (operators) named
MAX_NAME_CHARS = 200


def _note_tool(out: FileEntries, info: dict[str, str]) -> None:
    for value, seen in (
        (info.get("software"), out.software),
        (info.get("operator"), out.operators),
    ):
        if value and len(value) > MAX_NAME_CHARS:
            value = value[: MAX_NAME_CHARS - 1] + "…"
        if value and value not in seen and len(seen) < MAX_NAMED:
            seen.append(value)


def _record_ends(check: WarcCheck, size: int) -> dict[int, int]:
    """Offset of each record -> where the next one starts (the file's end for the last)."""
    offsets = sorted({e.offset for e in check.index.values()})
    return {o: (offsets[i + 1] if i + 1 < len(offsets) else size) for i, o in enumerate(offsets)}


def _entry(
    rec: WarcRecord,
    warc_file: str,
    check: WarcCheck,
    ends: dict[int, int],
    source: str,
    info: tuple[str | None, dict[str, str]],
    out: FileEntries,
) -> CaptureEntry | None:
    """The entry of one record, or None (counted in ``out.skipped``) when it is not listed."""
    if rec.type not in _LISTED:
        return None
    rid, url = rec.record_id, rec.target_uri
    indexed = check.index.get(rid or "")
    when = parse_iso((rec.date or "").strip())
    if not url or not url.lower().startswith(_WEB):
        out.skip("no web target URI (the tool's own files, e.g. wget's log)")
        return None
    if rid is None or indexed is None or indexed.offset != rec.offset:
        out.skip("no record ID, or one an earlier record already used")
        return None
    if when is None:
        out.skip("no readable WARC-Date")
        return None
    head = rec.http_head() if rec.is_http else None
    size = _payload_size(rec) if rec.type != "revisit" else None
    status = indexed.status
    truncated = (rec.headers.get("WARC-Truncated") or "").strip().lower()
    stamp = utc_iso(when, micros=False)
    ref = RecordRef(
        warc_file, rid, rec.offset, max(1, ends.get(rec.offset, rec.offset + 1) - rec.offset),
        rec.type, url,
    )  # fmt: skip
    return CaptureEntry(
        url=url,
        citations=[],
        hop=0,
        via=None,
        started=stamp,
        ended=stamp,
        outcome="http-error" if status is not None and status >= 400 else "captured",
        status=status,
        final_url=url,
        redirects=[],
        error=None,
        robots=None,
        ip=None,  # archiver made no connection: the tool's WARC-IP-Address stays in its record
        resolved_by="client",
        proxy=None,
        dns=None,
        tls=None,
        provenance_record=None,
        content_type=(head.get("Content-Type") if head is not None else rec.content_type),
        payload_size=size,
        payload_sha256=indexed.payload_sha256_hex,
        truncated=truncated if truncated in _TRUNCATION else None,  # type: ignore[arg-type]
        records=[ref],
        imported=_imported(rec, source, info),
    )


def _imported(rec: WarcRecord, source: str, info: tuple[str | None, dict[str, str]]) -> Imported:
    fields = info[1]
    return Imported(
        imported_by=f"archiver {__version__}",
        source=source,
        record_type=rec.type,
        software=fields.get("software"),
        operator=fields.get("operator"),
        hostname=fields.get("hostname") or fields.get("host"),
        format=fields.get("format"),
        warcinfo_id=info[0],
        payload_digest=(rec.headers.get("WARC-Payload-Digest") or "").strip() or None,
    )


def _payload_size(rec: WarcRecord) -> int:
    """Bytes of the entity body (transfer-encoding removed), streamed, never held."""
    reader = rec.payload(decode_content=False)
    total = 0
    while piece := reader.read(1 << 20):
        total += len(piece)
    return total


def capture_span(entries: list[CaptureEntry]) -> tuple[str, str] | None:
    """The first and last WARC-Date among the entries (their capture time, not ours)."""
    stamps = sorted(e.started for e in entries)
    return (stamps[0], stamps[-1]) if stamps else None


@dataclass
class ImportFacts:
    """Tools and operators across the files, in first-seen order, and records not listed."""

    software: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def summary_fields(files: list[FileEntries]) -> ImportFacts:
    facts = ImportFacts()
    for f in files:
        facts.software += [s for s in f.software if s not in facts.software]
        facts.operators += [o for o in f.operators if o not in facts.operators]
        del facts.software[MAX_NAMED:], facts.operators[MAX_NAMED:]
        for why, n in f.skipped.items():
            facts.skipped[why] = facts.skipped.get(why, 0) + n
    return facts


def all_entries(files: list[FileEntries]) -> Iterator[CaptureEntry]:
    for f in files:
        yield from f.entries
