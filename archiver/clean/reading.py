"""Reading the records ``archiver clean`` cleans: WARC with the project's reader, ARC via warcio.

WARCs are read with ``warc.reader`` (the one ``verify`` uses), so whatever ``verify`` reads
``clean`` reads, whole-file gzip included. ARC files are read through warcio (``warc.arc``).
Both give a ``RecordView``: the header fields, the HTTP head and the entity body.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

from archiver.warc.arc import arc_date_to_iso, arc_entity, arc_record_id, iter_arc
from archiver.warc.check import check_warc
from archiver.warc.reader import WarcReader
from archiver.warc.record import WarcRecord
from archiver.warc.sources import FramingProblem

READ_BLOCK = 1024 * 1024


class BrokenWarc(Exception):
    """The file is not a WARC, or breaks off: reported as one line, other files continue."""


def header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    getter = getattr(headers, "get_header", None) or headers.get  # warcio's (ARC) or ours
    value = getter(name)
    return value.strip() if value else None


@dataclass
class RecordView:
    """What the cleaner reads of a record, from our WARC reader or (ARC only) warcio's."""

    rec_type: str
    headers: Any  # WARC header fields: ``get``/``get_header``
    http: Any  # HTTP head or None
    status: str
    body: Callable[[], IO[bytes]]  # entity body: transfer-encoding removed, content-coding kept
    complete: Callable[[], bool]  # False when the file ended inside the block


def _warc_view(rec: WarcRecord) -> RecordView:
    http = rec.http_head() if rec.type == "response" else None
    status = str(http.status or "") if http is not None else ""
    return RecordView(
        rec.type,
        rec.headers,
        http,
        status,
        lambda: cast(IO[bytes], rec.payload(decode_content=False)),
        lambda: not rec.block.cut_short,
    )


def spool_entity(view: RecordView, spool_dir: Path) -> tuple[IO[bytes], str, bool]:
    """Copy the entity body (transfer-encoding removed, content-encoding kept) to a spool file.

    Returns the named file (at offset 0; a worker process opens it by name), its hex SHA-256
    (what a WARC-Payload-Digest covers) and whether the record's block was complete (False
    when the WARC file ends inside it).
    """
    stream = view.body()
    spool = tempfile.NamedTemporaryFile(dir=spool_dir)  # noqa: SIM115 - returned
    sha = hashlib.sha256()
    while block := stream.read(READ_BLOCK):
        sha.update(block)
        spool.write(block)
    spool.seek(0)
    return spool, sha.hexdigest(), view.complete()


def warc_views(path: Path, framing: list[FramingProblem]) -> Iterator[RecordView]:
    """(record ID, view) of each record, read by the WARC reader ``verify`` uses.

    A damaged place stops the file (``BrokenWarc``; records before it are still cleaned);
    a record not closed by CRLF CRLF is read anyway and counted in ``framing``.
    """
    reader = WarcReader(path, strict=False)
    seen = 0
    try:
        for rec in reader:
            _stop_at_damage(reader, seen)
            seen = len(reader.problems)
            yield _warc_view(rec)
        _stop_at_damage(reader, seen)
    finally:
        framing.extend(p for p in reader.problems if p.code == "warc-framing")


def _framing_only(problem: FramingProblem) -> bool:
    return problem.code == "warc-not-record-gzip" or (
        problem.code == "warc-framing" and "not followed by CRLF CRLF" in problem.message
    )


def _stop_at_damage(reader: WarcReader, since: int) -> None:
    for problem in reader.problems[since:]:
        if not _framing_only(problem):
            raise BrokenWarc(f"{problem.message} (offset {problem.offset}); the file looks cut off")


def _arc_complete(record: Any) -> bool:
    return getattr(record.raw_stream, "limit", 0) == 0


def arc_views(path: Path) -> Iterator[RecordView]:
    """(record ID, view) of each ARC record (warcio reads ARC; see ``warc.arc``)."""
    with open(path, "rb") as fh:
        for record, offset in iter_arc(fh):
            if not _arc_as_warc(record, path.name, offset):
                continue
            http = record.http_headers
            chunked = (header(http, "Transfer-Encoding") or "").lower() == "chunked"
            view = RecordView(
                record.rec_type,
                record.rec_headers,
                http,
                ((http.get_statuscode() or "").strip() if http is not None else ""),
                partial(arc_entity, record, chunked),
                partial(_arc_complete, record),
            )
            yield view


def check_start(fh: IO[bytes]) -> None:
    """Refuse files that do not start like a WARC (or ARC), before any record is read."""
    head = fh.read(2)
    fh.seek(0)
    if head == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=fh) as gz:
            head = gz.read(16)
        fh.seek(0)
    else:
        head = fh.read(16)
        fh.seek(0)
    if not head.lstrip(b"\r\n").startswith((b"WARC/", b"filedesc://")):
        raise BrokenWarc("it does not start with a WARC header")


def _arc_as_warc(record: Any, file_name: str, offset: int) -> bool:
    """Give an ARC record the WARC header fields the cleaner reads; False for the file header.

    ARC records have no ID: one is made from the file name and offset, so re-cleaning the
    same file names its texts the same way.
    """
    from warcio.statusandheaders import StatusAndHeaders

    if record.rec_type == "arc_header":
        return False
    arc = record.rec_headers
    fields = [
        ("WARC-Type", "response" if record.http_headers is not None else "resource"),
        ("WARC-Record-ID", arc_record_id(file_name, offset)),
        ("WARC-Target-URI", arc.get_header("uri") or ""),
        ("WARC-Date", arc_date_to_iso(arc.get_header("archive-date")) or ""),
        ("Content-Type", arc.get_header("content-type") or ""),
    ]
    record.rec_headers = StatusAndHeaders("", [(k, v) for k, v in fields if v], "WARC/1.0")
    record.rec_type = fields[0][1]
    return True


def digest_failures(path: Path) -> dict[str, str]:
    """WARC-Record-ID -> the digest field its bytes fail, from the project's WARC checker.

    A text cleaned from such a record is still written (it may be all that is left), but its
    sidecar says the bytes no longer match what the capturing tool recorded.
    """
    try:
        return check_warc(path).digest_failures
    except Exception:  # noqa: BLE001 - cleaning must not depend on the checker working
        return {}
