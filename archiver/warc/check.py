"""Check a WARC file: framing, required headers, and every block and payload digest.

Hand-written rather than ``warcio check`` because warcio computes the payload digest of a chunked
response over the raw chunked bytes (so it passes legacy digests and fails correct ones), does not
check records of non-HTTP URIs, prints instead of returning findings, and stops at framing
errors. Here every problem is returned as a ``Problem`` and checking continues past broken
records.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from archiver.base.errors import ArchiverError
from archiver.base.problems import Problem, Severity, one_line
from archiver.warc.arc import looks_like_arc, read_arc
from archiver.warc.digest import PayloadHasher, label
from archiver.warc.headercheck import Add, check_headers, excerpt, parse_digest
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
        severity: Severity = "warning" if code in _WARNING_CODES else "error"
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


def _report_eras(eras: dict[str, list[int]], add: Add) -> None:
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


def _check_arc(path: Path, result: WarcCheck, add: Add) -> WarcCheck:
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


def _flush_framing(reader: WarcReader, seen: int, add: Add) -> int:
    for fp in reader.problems[seen:]:
        add(fp.code, f"{fp.message} (offset {fp.offset})")
    return len(reader.problems)


def _describe(rec: WarcRecord) -> str:
    uri = f" {excerpt(rec.target_uri, 200)}" if rec.target_uri else ""
    rid = excerpt(rec.record_id, 100) if rec.record_id else "(no WARC-Record-ID)"
    return f"record {rid} ({rec.type or '?'}{uri}, offset {rec.offset})"


_DIGESTED_TYPES = ("request", "response", "resource", "metadata", "revisit", "conversion")


def _status_code(head: bytes) -> int | None:
    """The status code from an HTTP status line (``HTTP/1.1 404 Not Found``)."""
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def _check_record(rec: WarcRecord, result: WarcCheck, add: Add, require_digests: bool) -> None:
    where = _describe(rec)
    rid = rec.record_id
    _check_record_id(rid, where, result, add)
    check_headers(rec, where, add, result.eras)

    block_label = rec.headers.get("WARC-Block-Digest")
    payload_label = rec.headers.get("WARC-Payload-Digest")
    block_want = parse_digest(block_label, "WARC-Block-Digest", where, add)
    payload_want = parse_digest(payload_label, "WARC-Payload-Digest", where, add)
    # A segment holds part of a payload; its WARC-Payload-Digest (if any) covers the whole one.
    segmented = rec.headers.get("WARC-Segment-Number") is not None or rec.type == "continuation"
    check_payload = payload_want is not None and rec.type not in _NO_PAYLOAD_CHECK and not segmented
    if require_digests and block_label is None and rec.type in _DIGESTED_TYPES:
        add(
            "warc-digest-missing",
            f"{where}: has no WARC-Block-Digest, so only a bag manifest protects its bytes",
        )
    http = rec.is_http and rec.type not in ("revisit", "continuation") and not segmented
    hashed = _hash_record(
        rec, block_want[0] if block_want else None, payload_want if check_payload else None, http
    )
    if rec.truncated:
        return  # reported as warc-truncated-file by the reader; digests cannot match

    if block_want and hashed.block is not None and hashed.block != block_want[1]:
        got = label(block_want[0], hashed.block)
        if rid:
            result.digest_failures[rid] = "WARC-Block-Digest"
        add(
            "warc-block-digest-mismatch",
            f"{where}: WARC-Block-Digest {excerpt(block_label or '')} does not match the "
            f"block ({got})",
        )
    if rid and rid not in result.index:
        sha = hashed.payload.get("sha256")
        hex_ = sha.hex() if sha is not None and rec.type not in _NO_PAYLOAD_CHECK else None
        result.index[rid] = IndexEntry(rec.offset, rec.type, rec.target_uri, hex_, hashed.status)
    if check_payload and payload_want is not None:
        _check_payload_digest(where, rid, payload_want, payload_label or "", hashed, result, add)


def _check_record_id(rid: str | None, where: str, result: WarcCheck, add: Add) -> None:
    """A record must have an ID, and one no earlier record in the file used."""
    if not rid:
        add("warc-missing-record-id", f"{where}: has no WARC-Record-ID")
    elif rid in result.index:
        first = result.index[rid]
        add(
            "warc-duplicate-record-id",
            f"{where}: WARC-Record-ID already used by the record at offset {first.offset}",
        )


@dataclass
class _Hashed:
    """What one pass over a record block measured."""

    status: int | None
    block: bytes | None  # in the WARC-Block-Digest's algorithm; None when there is none
    payload: dict[str, bytes]  # algorithm -> digest of the payload as WARC 1.1 defines it
    raw: dict[str, bytes]  # algorithm -> digest of the raw (still chunked) HTTP body
    chunk_error: str | None = None
    dechunked_bytes: int = 0


def _hash_record(
    rec: WarcRecord, block_algo: str | None, payload_want: tuple[str, bytes] | None, http: bool
) -> _Hashed:
    """Read the block once, hashing the block, the payload and (for HTTP) the raw body."""
    block_hash = hashlib.new(block_algo) if block_algo else None
    algos = ("sha256",) + (
        (payload_want[0],) if payload_want is not None and payload_want[0] != "sha256" else ()
    )
    payload_hasher = PayloadHasher(algos) if http else None
    plain_payload = {a: hashlib.new(a) for a in algos} if not http else {}
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
    block = block_hash.digest() if block_hash is not None else None
    if payload_hasher is None:
        return _Hashed(status, block, {a: h.digest() for a, h in plain_payload.items()}, {})
    digests = payload_hasher.finish()
    return _Hashed(
        status,
        block,
        digests.payload,
        digests.raw_body,
        digests.chunk_error,
        digests.dechunked_bytes,
    )


def _check_payload_digest(
    where: str,
    rid: str | None,
    payload_want: tuple[str, bytes],
    payload_label: str,
    hashed: _Hashed,
    result: WarcCheck,
    add: Add,
) -> None:
    """WARC-Payload-Digest against the de-chunked payload, naming the legacy raw-body forms."""
    algo, want = payload_want
    payload, raw = hashed.payload, hashed.raw
    if payload[algo] == want:
        return
    if raw.get(algo) == want and hashed.chunk_error and hashed.dechunked_bytes == 0:
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
    note = f"; {hashed.chunk_error}" if hashed.chunk_error else ""
    add(
        "warc-payload-digest-mismatch",
        f"{where}: WARC-Payload-Digest {excerpt(payload_label)} does not match the payload "
        f"({label(algo, payload[algo])}){note}",
    )
