"""Read WARC records from any tool's files: gzip per record, whole-file gzip or uncompressed.

The framing is parsed here by hand rather than with warcio's ``ArchiveIterator`` because a
verifier needs what warcio does not give: it refuses whole-file gzip after the first record,
prints framing problems to stderr instead of returning them, and cannot resynchronise after a
record whose Content-Length is wrong. Here framing problems are data (``WarcReader.problems``) and
iteration continues at the next ``WARC/x.y`` line. Tests cross-check offsets against warcio.

Memory stays bounded: blocks are streamed, decompression is done in 1 MiB steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.warc.digest import (
    MAX_HEADER_BLOCK,
)
from archiver.warc.record import WarcHeaders, WarcRecord
from archiver.warc.sources import BlockReader, FramingProblem, PlainSource, open_source

_VERSION_RE = re.compile(rb"^WARC/(\d+\.\d+)\r?\n$", re.IGNORECASE)  # case: checked later


class WarcFormatError(ArchiverError):
    """A file that cannot be read as WARC at some offset."""

    def __init__(self, message: str, offset: int = 0, code: str = "warc-framing") -> None:
        super().__init__(message, EXIT_USAGE)
        self.offset = offset
        self.code = code


# -- byte sources -----------------------------------------------------------------------------


# -- headers and records ----------------------------------------------------------------------


# -- iteration --------------------------------------------------------------------------------


class WarcReader:
    """Iterate the records of one WARC file.

    With ``strict=True`` (the default) the first framing problem raises ``WarcFormatError``;
    with ``strict=False`` problems are collected in ``problems`` and reading resumes at the next
    record, which is what a checker needs.
    """

    def __init__(self, path: str | Path, *, strict: bool = True, display: str | None = None):
        self.path = Path(path)
        self.display = display or str(path)
        self.strict = strict
        self.problems: list[FramingProblem] = []
        self.records_read = 0

    def _problem(self, offset: int, code: str, message: str) -> None:
        if self.strict:
            raise WarcFormatError(f"{self.display}: {message} at offset {offset}", offset, code)
        self.problems.append(FramingProblem(offset, code, message))

    def __iter__(self) -> Iterator[WarcRecord]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed in finally
        except OSError as e:
            raise ArchiverError(
                f"cannot read WARC file {self.display}: {e.strerror}; check the path"
            ) from e
        try:
            src = open_source(f, 0)
            warned_shared = False
            while True:
                rec = _next_record(src, self)
                if rec is None:
                    break
                if not rec.addressable and not warned_shared:
                    warned_shared = True
                    self.problems.append(  # a warning, even when strict: the file is valid
                        FramingProblem(
                            rec.offset,
                            "warc-not-record-gzip",
                            "records share one gzip member (whole-file gzip), so they cannot be "
                            "read by offset; recompress with `warcio recompress`",
                        )
                    )
                self.records_read += 1
                yield rec
                _finish_record(src, rec, self)
        finally:
            f.close()


def iter_records(path: str | Path, *, strict: bool = True) -> Iterator[WarcRecord]:
    """Yield every record of ``path``; each record's block is readable until the next one."""
    return iter(WarcReader(path, strict=strict))


def read_record_at(path: str | Path, offset: int) -> WarcRecord:
    """Open the record whose gzip member (or plain record) starts at ``offset``.

    The returned record owns the open file: use it as a context manager or call ``close()``.
    """
    reader = WarcReader(path, strict=True)
    f = open(path, "rb")  # noqa: SIM115 - owned by the returned record
    try:
        src = open_source(f, offset)
        rec = _next_record(src, reader, resync=False)
    except BaseException:
        f.close()
        raise
    if rec is None:
        f.close()
        raise WarcFormatError(f"{path}: no WARC record at offset {offset}", offset)
    rec._file = f
    return rec


def _next_record(src: PlainSource, reader: WarcReader, resync: bool = True) -> WarcRecord | None:
    """Parse the next record header; skip (and report) anything that is not a record start."""
    while True:
        rec = _parse_record(src, reader, resync)
        if rec is not False:
            return rec


def _parse_record(
    src: PlainSource, reader: WarcReader, resync: bool
) -> WarcRecord | None | Literal[False]:
    """A record, None at the end, or False for a header to skip (bad Content-Length)."""
    start = _find_version_line(src, reader, resync)
    if start is None:
        return None
    offset, addressable, version, line = start
    fields = _read_header_fields(src, reader, offset, resync)
    if not isinstance(fields, list):
        return fields
    headers = WarcHeaders(fields)
    raw_len = headers.get("Content-Length")
    if raw_len is None or not raw_len.strip().isdigit():
        reader._problem(
            offset, "warc-framing", f"missing or bad Content-Length {(raw_len or '')[:40]!r}"
        )
        return False if resync else None
    length = int(raw_len)
    return WarcRecord(
        offset,
        version,
        headers,
        length,
        BlockReader(src, length),
        addressable=addressable,
        version_line=line.rstrip(b"\r\n").decode("ascii", "replace"),
    )


def _find_version_line(
    src: PlainSource, reader: WarcReader, resync: bool
) -> tuple[int, bool, str, bytes] | None:
    """Offset, addressable?, version and line of the next ``WARC/x.y`` line; None at the end.

    Bytes skipped on the way are reported once, as one framing problem.
    """
    skipped_from: int | None = None
    while True:
        offset, addressable = src.record_start()
        line = src.readline()
        if not line and src.gzip_error is not None:
            err = src.gzip_error
            reader._problem(err.offset, err.code, err.message)
            if resync and src.recover():
                continue
            return None
        if not line:
            if skipped_from is not None:
                reader._problem(skipped_from, "warc-framing", "unparseable bytes before end")
            return None
        if not line.strip():
            continue  # blank lines between records
        m = _VERSION_RE.match(line)
        if m:
            break
        if skipped_from is None:
            skipped_from = offset
            if not resync:
                reader._problem(offset, "warc-framing", f"expected WARC/1.x, found {line[:40]!r}")
                return None
            if reader.records_read == 0 and line[:5].upper() != b"WARC/":
                reader._problem(
                    offset, "warc-framing", f"not a WARC file (starts with {line[:20]!r})"
                )
                return None
    if skipped_from is not None:
        reader._problem(
            skipped_from,
            "warc-framing",
            f"{offset - skipped_from} bytes that are not a WARC record (skipped)",
        )
    return offset, addressable, m.group(1).decode(), line


def _read_header_fields(
    src: PlainSource, reader: WarcReader, offset: int, resync: bool
) -> list[tuple[str, str]] | None | Literal[False]:
    """The header fields up to the blank line; None or False (skip) as ``_parse_record``."""
    fields: list[tuple[str, str]] = []
    total = 0
    while True:
        hline = _read_header_line(src, MAX_HEADER_BLOCK - total + 1)
        total += len(hline)
        if total > MAX_HEADER_BLOCK:
            reader._problem(offset, "warc-framing", "record header block is over 1 MiB")
            return False if resync else None  # skip on to the next record
        if not hline.endswith(b"\n"):  # the data ended (or stopped decoding) mid-header
            err = src.gzip_error
            if err is not None and err.code == "warc-gzip-error":
                reader._problem(err.offset, err.code, f"{err.message} inside a record header")
                return False if resync and src.recover() else None
            rid = WarcHeaders(fields).get("WARC-Record-ID")
            who = f"record {rid[:100]}: " if rid else ""
            reader._problem(offset, "warc-truncated-file", f"{who}file ends inside its header")
            return None
        if hline in (b"\r\n", b"\n"):
            return fields
        text = hline.decode("utf-8", errors="replace").rstrip("\r\n")
        if text[:1] in (" ", "\t") and fields:
            k, v = fields[-1]
            fields[-1] = (k, f"{v} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            reader._problem(offset, "warc-framing", f"malformed header line {text[:60]!r}")
            continue
        fields.append((name.strip(), value.strip()))


def _read_header_line(src: PlainSource, budget: int) -> bytes:
    """One header line however long (a 100 KB URL is real), up to ``budget`` bytes.

    ``readline`` stops at 64 KiB so that scanning garbage stays cheap; a header line is read
    on in pieces, since stopping there would lose the record and every record after it.
    """
    line = src.readline()
    if line.endswith(b"\n") or not line or len(line) >= budget:
        return line
    parts = [line]
    size = len(line)
    while size < budget:
        piece = src.readline()
        if not piece:
            break
        parts.append(piece)
        size += len(piece)
        if piece.endswith(b"\n"):
            break
    return b"".join(parts)


def _finish_record(src: PlainSource, rec: WarcRecord, reader: WarcReader) -> None:
    """Skip what the caller did not read, check the CRLF CRLF end, note the record's length."""
    rec.block.drain()
    where = f"record {(rec.record_id or '(no id)')[:100]}"
    if rec.block.cut_short:
        rec.end_ok = False
        missing = rec.content_length - rec.block.read_bytes
        err = src.gzip_error
        if err is not None and err.code == "warc-gzip-error":
            reader._problem(
                rec.offset,
                err.code,
                f"{where}: {err.message} at offset {err.offset}; {missing} bytes of its block "
                "cannot be read",
            )
            src.recover()
        else:
            reader._problem(
                rec.offset,
                "warc-truncated-file",
                f"{where}: file ends {missing} bytes before the end of its block",
            )
            src.gzip_error = None
        return
    end = src.read(4)
    if len(end) < 4 and not end.strip():  # the data ends where the closing CRLF CRLF should be
        rec.end_ok = False
        err = src.gzip_error
        src.gzip_error = None
        detail = err.message if err is not None and err.code == "warc-gzip-error" else ""
        reader._problem(
            rec.offset,
            "warc-gzip-error" if detail else "warc-truncated-file",
            f"{where}: {detail or 'file ends'} before the CRLF CRLF that closes the record",
        )
        if detail:
            src.recover()
        return
    if end != b"\r\n\r\n":
        rec.end_ok = False
        reader._problem(
            rec.offset,
            "warc-framing",
            f"{where}: block not followed by CRLF CRLF (found {end!r}); Content-Length "
            "may be wrong",
        )
        src.unread(end)
    if rec.addressable:
        end_at = src.member_end()
        if end_at is not None:
            rec.length = end_at - rec.offset
