"""Check a WARC file: framing, required headers, and every block and payload digest.

Hand-written rather than ``warcio check`` because warcio computes the payload digest of a chunked
response over the raw chunked bytes (so it passes legacy digests and fails correct ones), does not
check records of non-HTTP URIs, prints instead of returning findings, and stops at framing
errors. Here every problem is returned as a ``Problem`` and checking continues past broken
records.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from archiver.base.errors import ArchiverError
from archiver.base.problems import Problem, one_line
from archiver.warc.arc import looks_like_arc, read_arc
from archiver.warc.digest import PayloadHasher, label, parse_label
from archiver.warc.reader import WarcReader
from archiver.warc.record import WarcRecord
from archiver.warc.sources import STEP

# Findings that do not put the recorded bytes in doubt: reported, but a check still passes.
_WARNING_CODES = {
    "warc-not-record-gzip",  # whole-file gzip: valid, just not seekable by offset
    "warc-legacy-chunked-payload-digest",  # digest over the raw chunked body (pre-1.1 tools)
    "warc-chunked-header-unchunked-body",  # tool stored the body de-chunked, kept the header
    "warc-duplicate-record-id",  # breaks references by ID, not the bytes (seen in wget 1.14)
    "warc-digest-missing",  # allowed by WARC 1.1; the bag's manifests still cover the bytes
    "warc-old-version",  # WARC/0.17 or 0.18 (Heritrix before 2009): read by the 1.0 rules
    "warc-version-case",  # "warc/1.0": a lax writer; the record itself is sound
    "warc-repeated-header-same",  # a field written twice with the same value: not ambiguous
    "warc-date-form",  # a valid W3C-DTF date, but not the UTC seconds form WARC asks for
    "warc-record-id-brackets",  # a URI without the <> WARC 1.0 puts around it
    "arc-file",  # ARC: readable, but holds no digests of its own
}
_REQUIRED = ("WARC-Type", "WARC-Date")
# WARC 1.1 §5: every named field except these may appear at most once per record.
_REPEATABLE = {"warc-concurrent-to", "warc-protocol"}
_NEEDS_TARGET = {"response", "request", "resource", "revisit", "conversion", "continuation"}
_OLD_VERSIONS = {"0.17", "0.18"}
_KNOWN_VERSIONS = {"1.0", "1.1"} | _OLD_VERSIONS
# W3C-DTF (the profile of ISO 8601 WARC-Date uses), from a year alone to fractional seconds.
_W3C_DTF = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2}))?)?)?$"
)
_WARC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>]+$")
_NO_PAYLOAD_CHECK = {"revisit", "warcinfo"}  # a revisit's payload digest names another record


class IndexEntry(NamedTuple):
    offset: int
    type: str
    target_uri: str | None
    payload_sha256_hex: str | None  # SHA-256 of the payload as we define it; None for revisits
    status: int | None = None  # HTTP status of a response record, from its status line


@dataclass
class WarcCheck:
    path: str
    problems: list[Problem] = field(default_factory=list)
    records: int = 0
    index: dict[str, IndexEntry] = field(default_factory=dict)
    format: str = "warc"  # or "arc"
    eras: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    # WARC-Record-ID -> what failed ("WARC-Block-Digest", ...), for the cleaner's sidecar
    digest_failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)

    def codes(self) -> set[str]:
        return {p.code for p in self.problems}


def check_warc(
    path: Path, display_path: str | None = None, *, require_digests: bool = False
) -> WarcCheck:
    """Read the whole file once and return every problem found; never raises for bad content.

    ``require_digests`` warns about records without WARC-Block-Digest: right for archiver's
    own WARCs (which always carry them), noise for older tools' files (which often don't).
    """
    shown = display_path or str(path)
    result = WarcCheck(shown)

    def add(code: str, message: str) -> None:
        severity = "warning" if code in _WARNING_CODES else "error"
        result.problems.append(Problem(code, shown, one_line(message), severity))

    if looks_like_arc(path):
        return _check_arc(path, result, add)

    reader = WarcReader(path, strict=False, display=shown)
    seen_framing = 0
    try:
        for rec in reader:
            result.records += 1
            _check_record(rec, result, add, require_digests)
            # framing problems of this record are known once it has been consumed
            seen_framing = _flush_framing(reader, seen_framing, add)
    except ArchiverError as e:  # unreadable file
        add("warc-unreadable", str(e))
    except OSError as e:
        add("warc-unreadable", f"cannot read the file: {e.strerror or e}")
    except Exception as e:  # a reader bug must not hide the rest of a report
        add("warc-check-error", f"checking stopped: {type(e).__name__}: {e}")
    _flush_framing(reader, seen_framing, add)
    _report_eras(result.eras, add)
    if result.records == 0 and not result.problems:
        add("warc-empty", "the file holds no WARC record")
    return result


def _report_eras(eras: dict[str, list[int]], add) -> None:
    """One warning per file and era: how many records, and where the first one is."""
    for era, offsets in sorted(eras.items()):
        n, first = len(offsets), offsets[0]
        if era == "lower-case":
            add(
                "warc-version-case",
                f"{n} record(s) start with a lower-case version line such as 'warc/1.0' "
                f"(first at offset {first}); read as WARC",
            )
        else:
            add(
                "warc-old-version",
                f"{n} record(s) are {era}, a draft Heritrix wrote before WARC 1.0 (first at "
                f"offset {first}); checked by the WARC 1.0 rules, which match for every "
                "field checked",
            )


def _check_arc(path: Path, result: WarcCheck, add) -> WarcCheck:
    """An ARC file: readable record by record, but with no digest inside to check."""
    result.format = "arc"
    result.records, problems = read_arc(path)
    add(
        "arc-file",
        f"ARC file ({result.records} records): read, but ARC records carry no digests, so only "
        "the bag's manifests protect their bytes",
    )
    for offset, code, message in problems:
        add(code, f"{message} (offset {offset})")
    return result


def _flush_framing(reader: WarcReader, seen: int, add) -> int:
    for fp in reader.problems[seen:]:
        add(fp.code, f"{fp.message} (offset {fp.offset})")
    return len(reader.problems)


def _describe(rec: WarcRecord) -> str:
    uri = f" {_excerpt(rec.target_uri, 200)}" if rec.target_uri else ""
    rid = _excerpt(rec.record_id, 100) if rec.record_id else "(no WARC-Record-ID)"
    return f"record {rid} ({rec.type or '?'}{uri}, offset {rec.offset})"


_DIGESTED_TYPES = ("request", "response", "resource", "metadata", "revisit", "conversion")


def _status_code(head: bytes) -> int | None:
    """The status code from an HTTP status line (``HTTP/1.1 404 Not Found``)."""
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def _check_record(rec: WarcRecord, result: WarcCheck, add, require_digests: bool) -> None:
    where = _describe(rec)
    rid = rec.record_id
    if not rid:
        add("warc-missing-record-id", f"{where}: has no WARC-Record-ID")
    elif rid in result.index:
        first = result.index[rid]
        add(
            "warc-duplicate-record-id",
            f"{where}: WARC-Record-ID already used by the record at offset {first.offset}",
        )
    _check_headers(rec, where, add, result.eras)

    block_label = rec.headers.get("WARC-Block-Digest")
    payload_label = rec.headers.get("WARC-Payload-Digest")
    block_want = _parse(block_label, "WARC-Block-Digest", where, add)
    payload_want = _parse(payload_label, "WARC-Payload-Digest", where, add)
    # A segment holds part of a payload; its WARC-Payload-Digest (if any) covers the whole one.
    segmented = rec.headers.get("WARC-Segment-Number") is not None or rec.type == "continuation"
    check_payload = payload_want is not None and rec.type not in _NO_PAYLOAD_CHECK and not segmented

    block_hash = hashlib.new(block_want[0]) if block_want else None
    algos = ("sha256",) + (
        (payload_want[0],) if check_payload and payload_want[0] != "sha256" else ()
    )
    http = rec.is_http and rec.type not in ("revisit", "continuation") and not segmented
    payload_hasher = PayloadHasher(algos) if http else None
    plain_payload = {a: hashlib.new(a) for a in algos} if not http else {}
    if require_digests and block_label is None and rec.type in _DIGESTED_TYPES:
        add(
            "warc-digest-missing",
            f"{where}: has no WARC-Block-Digest, so only a bag manifest protects its bytes",
        )
    status: int | None = None
    first = True
    while piece := rec.block.read(STEP):
        if first and http and rec.type == "response":
            status = _status_code(piece)
        first = False
        if block_hash is not None:
            block_hash.update(piece)
        if payload_hasher is not None:
            payload_hasher.update(piece)
        for h in plain_payload.values():
            h.update(piece)
    if rec.truncated:
        return  # reported as warc-truncated-file by the reader; digests cannot match

    if block_want and block_hash is not None and block_hash.digest() != block_want[1]:
        got = label(block_want[0], block_hash.digest())
        if rid:
            result.digest_failures[rid] = "WARC-Block-Digest"
        add(
            "warc-block-digest-mismatch",
            f"{where}: WARC-Block-Digest {_excerpt(block_label or '')} does not match the "
            f"block ({got})",
        )

    if payload_hasher is not None:
        digests = payload_hasher.finish()
        payload, raw = digests.payload, digests.raw_body
    else:
        payload = {a: h.digest() for a, h in plain_payload.items()}
        raw = {}
    if rid and rid not in result.index:
        sha = payload.get("sha256")
        hex_ = sha.hex() if sha is not None and rec.type not in _NO_PAYLOAD_CHECK else None
        result.index[rid] = IndexEntry(rec.offset, rec.type, rec.target_uri, hex_, status)
    if not check_payload or payload_want is None:
        return
    algo, want = payload_want
    if payload[algo] == want:
        return
    if raw.get(algo) == want and digests.chunk_error and digests.dechunked_bytes == 0:
        add(
            "warc-chunked-header-unchunked-body",
            f"{where}: the HTTP headers say Transfer-Encoding: chunked but the stored body is not "
            "chunked (the capturing tool removed the chunking); the payload digest matches the "
            "stored body",
        )
        return
    if raw.get(algo) == want:
        add(
            "warc-legacy-chunked-payload-digest",
            f"{where}: WARC-Payload-Digest covers the raw chunked body, not the body with "
            f"transfer-encoding removed as WARC 1.1 requires ({label(algo, payload[algo])})",
        )
        return
    if rid:
        result.digest_failures.setdefault(rid, "WARC-Payload-Digest")
    note = f"; {digests.chunk_error}" if payload_hasher is not None and digests.chunk_error else ""
    add(
        "warc-payload-digest-mismatch",
        f"{where}: WARC-Payload-Digest {_excerpt(payload_label or '')} does not match the payload "
        f"({label(algo, payload[algo])}){note}",
    )


def _check_headers(rec: WarcRecord, where: str, add, eras: defaultdict[str, list[int]]) -> None:
    """Version line, mandatory and non-repeatable fields, the date and the record ID.

    Sound records of an older era are collected in ``eras`` and reported once per file, so
    800 good WARC/0.17 records do not bury a real problem under 800 lines.
    """
    if rec.version not in _KNOWN_VERSIONS:
        add(
            "warc-unknown-version",
            f"{where}: WARC/{rec.version} is not a published WARC version (0.17, 0.18, 1.0, 1.1)",
        )
    elif rec.version in _OLD_VERSIONS:
        eras[f"WARC/{rec.version}"].append(rec.offset)
    if rec.version_line and not rec.version_line.startswith("WARC/"):
        eras["lower-case"].append(rec.offset)
    for name in _REQUIRED:
        if name not in rec.headers:
            add("warc-missing-header", f"{where}: has no {name}")
    if rec.type in _NEEDS_TARGET and "WARC-Target-URI" not in rec.headers:
        add("warc-missing-header", f"{where}: a {rec.type} record must have a WARC-Target-URI")
    seen: dict[str, list[str]] = {}
    for name, value in rec.headers.fields:
        seen.setdefault(name.lower(), []).append(value)
    for key, values in seen.items():
        if len(values) < 2 or key in _REPEATABLE:
            continue
        shown = next(n for n, _ in rec.headers.fields if n.lower() == key)
        if len(set(values)) == 1:
            add(
                "warc-repeated-header-same",
                f"{where}: {shown} appears {len(values)} times (with the same value)",
            )
        else:
            add(
                "warc-repeated-header",
                f"{where}: {shown} appears {len(values)} times with different values "
                f"({', '.join(repr(_excerpt(v)) for v in values[:3])}); which one holds is "
                "ambiguous",
            )
    date = rec.headers.get("WARC-Date")
    if date is not None:
        form = _date_form(date.strip())
        if form == "bad":
            add(
                "warc-bad-date",
                f"{where}: WARC-Date {_excerpt(date)!r} is not a W3C-DTF date "
                "(YYYY-MM-DDThh:mm:ssZ)",
            )
        elif form == "loose":
            add(
                "warc-date-form",
                f"{where}: WARC-Date {_excerpt(date)!r} is W3C-DTF but not "
                "YYYY-MM-DDThh:mm:ss[.f]Z",
            )
    rid = rec.record_id
    if rid:
        rid = rid.strip()
        if rid.startswith("<") and rid.endswith(">") and _URI.match(rid[1:-1]):
            pass
        elif _URI.match(rid):
            add(
                "warc-record-id-brackets", f"{where}: WARC-Record-ID {_excerpt(rid)!r} lacks its <>"
            )
        else:
            add(
                "warc-bad-record-id",
                f"{where}: WARC-Record-ID {_excerpt(rid)!r} is not a URI in <> "
                "(e.g. <urn:uuid:...>)",
            )


def _date_form(value: str) -> str:
    """'ok' (WARC's own form), 'loose' (other W3C-DTF) or 'bad'."""
    m = _W3C_DTF.match(value)
    if not m:
        return "bad"
    year, month, day, hour, minute, second = (int(g) if g else None for g in m.groups()[:6])
    try:
        datetime(year or 1, month or 1, day or 1, hour or 0, minute or 0, second or 0)
    except ValueError:
        return "bad"
    if hour is not None and hour > 23:
        return "bad"
    return "ok" if _WARC_DATE.match(value) else "loose"


def _excerpt(text: str, limit: int = 80) -> str:
    """At most ``limit`` characters of a value from the file, so a report stays small."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _parse(value: str | None, name: str, where: str, add) -> tuple[str, bytes] | None:
    if value is None:
        return None
    parsed = parse_label(value)
    if parsed is None:
        add(
            "warc-unreadable-digest",
            f"{where}: {name} {_excerpt(value)!r} is not a sha1/sha256/sha512 digest",
        )
    return parsed
