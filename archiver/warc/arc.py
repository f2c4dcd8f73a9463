"""ARC files (the Internet Archive's format before WARC, written by Heritrix until 2008).

ARC records carry a URL, an IP address, a 14-digit date, a content type and a length, and no
digest. warcio reads them, so this module only turns its reading into problems: a readable ARC
file is a warning (nothing inside it proves its bytes; the bag's manifests still do), a record
that cannot be read or a file that ends inside a record is an error.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ARC_SUFFIXES = (".arc", ".arc.gz")
ARC_MAGIC = b"filedesc://"


def looks_like_arc(path: Path) -> bool:
    """Does the file start with an ARC version block (``filedesc://``), gzipped or not?"""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError, zlib.error):
            head = zlib.decompressobj(31).decompress(head, 64)
    return head.lstrip(b"\r\n").startswith(ARC_MAGIC)


def arc_date_to_iso(value: str | None) -> str | None:
    """ARC's ``YYYYMMDDhhmmss`` as ``YYYY-MM-DDThh:mm:ssZ`` (None when it is not that)."""
    v = (value or "").strip()
    if len(v) < 14 or not v[:14].isdigit():
        return None
    return f"{v[0:4]}-{v[4:6]}-{v[6:8]}T{v[8:10]}:{v[10:12]}:{v[12:14]}Z"


def arc_record_id(file_name: str, offset: int) -> str:
    """ARC records have no identifier; name one by file and offset, stable across runs."""
    return f"<urn:x-arc-record:{file_name.replace(' ', '%20')}:{offset}>"


class ArcTruncated(ValueError):
    """The ARC file ends inside a record's block."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"the ARC record at offset {offset} ends before its length (truncated)")
        self.offset = offset


def iter_arc(fh: Any) -> Iterator[tuple[Any, int]]:
    """Each record of an ARC file (warcio's record) and its offset; the only warcio reading left.

    The record's block is read to its end once the caller moves on; ``ArcTruncated`` when the
    file ends inside it.
    """
    from warcio.archiveiterator import ArchiveIterator

    records = ArchiveIterator(fh)
    for record in records:
        offset = records.offset
        yield record, offset
        stream = record.raw_stream
        while stream.read(1024 * 1024):
            pass
        if getattr(stream, "limit", 0):
            raise ArcTruncated(offset)


def arc_entity(record: Any, chunked: bool) -> Any:
    """An ARC record's entity body as a stream (transfer-encoding removed)."""
    from warcio.bufferedreaders import ChunkedDataReader

    return ChunkedDataReader(record.raw_stream) if chunked else record.raw_stream


def read_arc(path: Path, on_record: Any = None) -> tuple[int, list[tuple[int, str, str]]]:
    """(records read, [(offset, code, message)]) for one ARC file; never raises for content.

    ``on_record(record, offset)`` is called for each record while its block can be read.
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    problems: list[tuple[int, str, str]] = []
    count = 0
    chatter = io.StringIO()
    offset = 0
    with open(path, "rb") as fh, contextlib.redirect_stderr(chatter):
        records = ArchiveIterator(fh)
        try:
            for record in records:
                offset = records.offset
                if record.format != "arc":
                    problems.append(
                        (offset, "arc-mixed-format", "a WARC record inside an ARC file")
                    )
                count += 1
                if on_record is not None:
                    on_record(record, offset)
                stream = record.raw_stream
                while stream.read(1024 * 1024):
                    pass
                if getattr(stream, "limit", 0):
                    problems.append(
                        (
                            offset,
                            "warc-truncated-file",
                            f"ARC record for {record.rec_headers.get_header('uri')}: the file "
                            f"ends {stream.limit} bytes before the end of its block",
                        )
                    )
            end = records.offset
            size = path.stat().st_size
            if end < size:
                fh.seek(end)
                tail = fh.read(65536)
                if tail[:2] != b"\x1f\x8b" and tail.strip(b"\r\n\0 \t"):
                    problems.append(
                        (end, "arc-unreadable", f"{size - end} bytes after the last record")
                    )
        except (ArchiveLoadFailed, ValueError, EOFError, OSError, zlib.error) as e:
            detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            problems.append(
                (
                    records.offset,
                    "arc-unreadable",
                    f"cannot read the record here ({detail}); the rest of the file was not read",
                )
            )
        except Exception as e:  # noqa: BLE001 - warcio fails in many ways on damaged ARC
            problems.append(
                (records.offset, "arc-unreadable", f"reading stopped: {type(e).__name__}")
            )
    return count, problems
