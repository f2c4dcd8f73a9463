"""A deterministic ZIP: the same entries give the same bytes, written safely.

Entries are written in sorted name order, uncompressed (``STORED``: a WACZ's WARCs must be read
at offsets, and deflate output depends on the zlib build), with one fixed time, Unix mode 0644
and no owner or extra fields. The file is built under a temporary name in the target folder,
fsynced, then linked to its final name, which must not exist: nothing is overwritten.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.base.errors import ArchiverError
from archiver.base.fsutil import fsync_dir

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One member: bytes in memory, or a file copied as it is (checked while copied)."""

    name: str
    data: bytes | None = None
    source: Path | None = None
    size: int = 0
    sha256: str | None = None  # hex the copied file must still have, when known


def _info(name: str, when: datetime, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever the platform, so the bytes do not depend on it
    info.external_attr = 0o100644 << 16
    info.file_size = size
    return info


def _copy(entry: Entry, out: zipfile.ZipFile, when: datetime) -> None:
    assert entry.source is not None
    digest = hashlib.sha256()
    size = entry.source.stat().st_size
    big = size >= zipfile.ZIP64_LIMIT
    with (
        open(entry.source, "rb") as src,
        out.open(_info(entry.name, when, size), "w", force_zip64=big) as dst,
    ):
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    if entry.sha256 is not None and digest.hexdigest() != entry.sha256:
        raise ArchiverError(
            f"{entry.source}: changed while it was being exported (its SHA-256 no longer "
            "matches the bag's manifest); nothing was written, run `archiver verify`",
            1,
        )


def write_zip(
    target: Path,
    entries: Sequence[Entry],
    when: datetime,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write ``entries`` (sorted by name) to ``target``, which must not exist yet."""
    folder = target.parent
    if os.path.lexists(target):
        raise ArchiverError(f"{target}: already exists; it is never overwritten (use --out)")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as raw:
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as out:
                for entry in sorted(entries, key=lambda e: e.name):
                    if progress is not None:
                        progress(entry.name)
                    if entry.data is not None:
                        out.writestr(_info(entry.name, when, len(entry.data)), entry.data)
                    else:
                        _copy(entry, out, when)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, target)  # fails if the name was taken meanwhile: never overwrite
        except FileExistsError:
            raise ArchiverError(f"{target}: already exists; it is never overwritten") from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(folder)
    return target


def file_sha256(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size) of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        size = 0
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
