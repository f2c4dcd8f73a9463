"""WarcWriter: rolling WARC/1.1 files, one gzip member per record, ``.open`` until sealed.

Records are written by hand rather than with warcio's ``WARCWriter`` (checked against warcio
1.8.1 ``warcwriter.py``/``recordbuilder.py``): warcio re-serialises parsed HTTP headers
(``compute_headers_buffer``), which can change captured bytes; it computes SHA-1 digests unless
subclassed; and its payload digest covers the raw chunked body, the pitfall WARC 1.1 warns about.
Writing a record is only a header block, the block and two CRLFs in one gzip member, so owning it
keeps captured bytes exactly as received. warcio's ``ArchiveIterator`` still reads what we write
(see tests).

Each record's block is read twice: once to compute the digests (which go in the header, before
the block), once to write it. Both passes stream in 1 MiB pieces, so memory stays bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from archiver.base import faults
from archiver.base.errors import EXIT_RUN_FAILED, ArchiverError
from archiver.base.fsutil import fsync_dir
from archiver.base.hashing import FileDigests, HashingWriter, hash_file
from archiver.base.timefmt import utc_iso
from archiver.warc.digest import PayloadHasher, label, sha256_label
from archiver.warc.naming import OPEN_SUFFIX, warc_file_name
from archiver.warc.salvage import PIECE, salvage_open_file

WARC_VERSION = b"WARC/1.1"
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
_COMPRESS_LEVEL = 6  # zlib default: level 9 costs ~3x the CPU for ~2% smaller files
KEEP = 64 * 1024  # a block up to this size is read once and held until written
_END = b"\r\n\r\n"  # after each record's block
_RESERVED = {
    "warc-type",
    "warc-record-id",
    "warc-date",
    "content-length",
    "content-type",
    "warc-block-digest",
    "warc-target-uri",
    "warc-warcinfo-id",
    "warc-filename",
}


@dataclass
class NewRecord:
    """A record to write; see docs/architecture.md ("WARC writer")."""

    type: str
    target_uri: str | None
    content_type: str
    block: bytes | BinaryIO
    block_length: int
    date: datetime | None = None
    record_id: str | None = None
    http_payload: bool = False
    payload_digest: str | None = None
    headers: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordRef:
    warc_file: str  # file name as sealed (".warc.gz", never ".open")
    record_id: str
    offset: int  # byte offset of the record's gzip member in the file
    length: int  # compressed length of the member
    type: str
    target_uri: str | None


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(dt: datetime | None) -> str:
    """UTC with microseconds, e.g. ``2026-11-20T23:41:05.123456Z``; naive datetimes are UTC."""
    return utc_iso(dt)


def _check_value(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"WARC header {name} contains a line break: {value[:80]!r}")
    return value


@dataclass
class _Prepared:
    record: NewRecord
    record_id: str
    header_fields: list[tuple[str, str]]
    kept: bytes | None = None  # the whole block, read once (at most KEEP bytes)


class WarcWriter:
    """Write groups of records to ``{prefix}-{timestamp}-{serial}-{hostname}.warc.gz`` files."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        hostname: str,
        warcinfo: dict[str, str],
        max_file_size: int = 1_000_000_000,
        on_file_closed: Callable[[Path, FileDigests], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.prefix = prefix
        self.hostname = hostname
        self.warcinfo = dict(warcinfo)
        self.max_file_size = max_file_size
        self.on_file_closed = on_file_closed
        self.closed_files: list[Path] = []
        self._serial = 0
        self._lock = threading.Lock()
        self._out: HashingWriter | None = None
        self._name = ""  # final name of the open file
        self._warcinfo_id = ""
        self._closed = False
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArchiverError(
                f"cannot create WARC directory {self.directory}: {e.strerror}; "
                "choose a writable output folder",
                EXIT_RUN_FAILED,
            ) from e

    # -- public API ---------------------------------------------------------------------------

    def write(self, records: Sequence[NewRecord]) -> list[RecordRef]:
        """Write one group of records, in order, to the same file; return where each went.

        All digests are computed (and every block checked for its declared length) before the
        first byte is written, so a bad record leaves no partial group behind. That first pass
        runs outside the lock, so other threads keep writing while a large block is hashed.
        """
        if self._closed:
            raise ValueError("WarcWriter is closed")
        prepared = [self._prepare(r) for r in records]
        with self._lock:
            if self._closed:
                raise ValueError("WarcWriter is closed")
            if not prepared:
                return []
            if self._out is None:
                self._open_file()
            assert self._out is not None
            refs = []
            for p in prepared:
                if p.record.type != "warcinfo":
                    p.header_fields.insert(3, ("WARC-Warcinfo-ID", self._warcinfo_id))
                try:
                    offset, length = self._write_member(p)
                except BaseException:
                    self._abandon_file()
                    raise
                refs.append(
                    RecordRef(
                        self._name, p.record_id, offset, length, p.record.type, p.record.target_uri
                    )
                )
            if self._out.tell() >= self.max_file_size:
                self._close_file()
            return refs

    def close(self) -> None:
        """Seal the current file (fsync, rename, fsync dir, callback). Idempotent."""
        with self._lock:
            self._closed = True
            if self._out is not None:
                self._close_file()

    @property
    def current_file(self) -> Path | None:
        """The ``.open`` path being written, if any."""
        return self._out.path if self._out is not None else None

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records ------------------------------------------------------------------------------

    def _prepare(self, r: NewRecord) -> _Prepared:
        """First pass over the block: check its length, compute block and payload digests.

        A block of at most ``KEEP`` bytes is read once and kept for the write, so the bytes
        written are the bytes hashed; a larger one is read again in 1 MiB pieces.
        """
        if r.block_length < 0:
            raise ValueError("block_length must be >= 0")
        payload = PayloadHasher(("sha256",)) if r.http_payload and not r.payload_digest else None
        kept = _small_block(r.block, r.block_length) if r.block_length <= KEEP else None
        if kept is not None:
            block_hash = hashlib.sha256(kept)
            if payload is not None:
                payload.update(kept)
            seen = len(kept)
        else:
            block_hash = hashlib.sha256()
            seen = 0
            for piece in _pieces(r.block, r.block_length):
                block_hash.update(piece)
                if payload is not None:
                    payload.update(piece)
                seen += len(piece)
        if seen != r.block_length:
            raise ValueError(
                f"record block for {r.target_uri or r.type} has {seen} bytes, "
                f"block_length says {r.block_length}"
            )
        record_id = r.record_id or new_record_id()
        fields: list[tuple[str, str]] = [
            ("WARC-Type", _check_value("WARC-Type", r.type)),
            ("WARC-Record-ID", _check_value("WARC-Record-ID", record_id)),
            ("WARC-Date", warc_date(r.date)),
        ]
        if r.target_uri is not None:
            uri = _check_value("WARC-Target-URI", r.target_uri.strip("<>"))
            fields.append(("WARC-Target-URI", uri))
        for name, value in r.headers.items():
            if name.lower() in _RESERVED:
                raise ValueError(f"header {name} is set by the writer; use the NewRecord field")
            if name.lower() == "warc-payload-digest" and (payload or r.payload_digest):
                raise ValueError("pass WARC-Payload-Digest as NewRecord.payload_digest")
            for v in [value] if isinstance(value, str) else value:
                fields.append((_check_value(name, name), _check_value(name, str(v))))
        fields.append(("Content-Type", _check_value("Content-Type", r.content_type)))
        fields.append(("WARC-Block-Digest", sha256_label(block_hash)))
        if r.payload_digest:
            fields.append(("WARC-Payload-Digest", _check_value("digest", r.payload_digest)))
        elif payload is not None:
            digests = payload.finish()
            fields.append(("WARC-Payload-Digest", label("sha256", digests.payload["sha256"])))
        fields.append(("Content-Length", str(r.block_length)))
        return _Prepared(r, record_id, fields, kept)

    def _write_member(self, p: _Prepared) -> tuple[int, int]:
        """Write one record as one gzip member; flush so a crash leaves whole records.

        A kept block goes out in one write (one pass of the file digests); the compressor is
        fed the same pieces either way, so the member's bytes are the same.
        """
        assert self._out is not None
        out = self._out
        start = out.tell()
        gz = zlib.compressobj(_COMPRESS_LEVEL, zlib.DEFLATED, 31)
        text = "".join([f"{k}: {v}\r\n" for k, v in p.header_fields])
        head = b"".join((WARC_VERSION, b"\r\n", text.encode(), b"\r\n"))
        if p.kept is not None and not faults.enabled():
            compress = gz.compress
            out.write(b"".join((compress(head), compress(p.kept), compress(_END), gz.flush())))
            out.flush()
            faults.point("warc.record-written")
            return start, out.tell() - start
        out.write(gz.compress(head))
        written = 0
        for piece in _pieces(p.record.block, p.record.block_length):
            out.write(gz.compress(piece))
            written += len(piece)
            if faults.enabled():  # a crash here leaves a member cut off mid-block
                faults.point("warc.mid-record", before=lambda: _cut_short(out, gz))
        if written != p.record.block_length:
            raise OSError(f"record block changed while being written ({p.record.target_uri})")
        out.write(gz.compress(_END))
        out.write(gz.flush())
        out.flush()
        faults.point("warc.record-written")
        return start, out.tell() - start

    # -- files --------------------------------------------------------------------------------

    def _open_file(self) -> None:
        for _ in range(100):
            name = warc_file_name(self.prefix, datetime.now(UTC), self._serial, self.hostname)
            path = self.directory / (name + OPEN_SUFFIX)
            if (self.directory / name).exists():
                continue
            try:
                self._out = HashingWriter(path)
                break
            except FileExistsError:
                continue
            except OSError as e:
                raise ArchiverError(
                    f"cannot create WARC file {path}: {e.strerror}; check the output folder",
                    EXIT_RUN_FAILED,
                ) from e
        else:  # pragma: no cover - needs 100 clashing names
            raise ArchiverError(f"cannot find a free WARC file name in {self.directory}")
        self._name = name
        self._serial += 1
        info = self._warcinfo_record(name)
        self._warcinfo_id = info.record_id
        self._write_member(info)
        faults.point("warc.warcinfo-written")

    def _warcinfo_record(self, name: str) -> _Prepared:
        fields = dict(self.warcinfo)
        fields.setdefault("format", "WARC File Format 1.1")
        fields.setdefault("conformsTo", CONFORMS_TO)
        body = "".join(f"{k}: {' '.join(str(v).split())}\r\n" for k, v in fields.items())
        block = body.encode("utf-8")
        p = self._prepare(NewRecord("warcinfo", None, "application/warc-fields", block, len(block)))
        p.header_fields.insert(3, ("WARC-Filename", name))
        return p

    def _close_file(self) -> None:
        assert self._out is not None
        out, name = self._out, self._name
        self._out = None
        digests = out.close()
        final = self.directory / name
        os.replace(out.path, final)
        fsync_dir(self.directory)
        faults.point("warc.closed")  # sealed on disk, its digests not yet in the bag journal
        self.closed_files.append(final)
        if self.on_file_closed is not None:
            self.on_file_closed(final, digests)

    def _abandon_file(self) -> None:
        """A record failed half-written: keep the complete records, seal what is there."""
        assert self._out is not None
        out = self._out
        self._out = None
        with contextlib.suppress(OSError):
            out.close()
        final = salvage_open_file(out.path)
        if final is not None:
            self.closed_files.append(final)
            if self.on_file_closed is not None:
                self.on_file_closed(final, hash_file(final))


def _cut_short(out: HashingWriter, gz: zlib._Compress) -> None:
    out.write(gz.flush(zlib.Z_SYNC_FLUSH))
    out.flush()


def _small_block(block: bytes | BinaryIO, length: int) -> bytes:
    """Up to ``length`` bytes of ``block`` from offset 0, at once (as ``_pieces`` gives them)."""
    if isinstance(block, bytes):
        return block if len(block) == length else block[:length]
    if isinstance(block, bytearray | memoryview):
        return bytes(memoryview(block)[:length])
    return b"".join(_pieces(block, length))


def _pieces(block: bytes | BinaryIO, length: int) -> Iterator[bytes | memoryview]:
    """Yield up to ``length`` bytes of ``block`` from offset 0 in pieces of at most 1 MiB."""
    if isinstance(block, bytes | bytearray | memoryview):
        view = memoryview(block)[:length]
        for i in range(0, len(view), PIECE):
            yield view[i : i + PIECE]
        return
    block.seek(0)
    left = length
    while left > 0:
        piece = block.read(min(PIECE, left))
        if not piece:
            return
        left -= len(piece)
        yield piece


__all__ = [
    "NewRecord",
    "RecordRef",
    "WarcWriter",
    "new_record_id",
    "warc_date",
]
