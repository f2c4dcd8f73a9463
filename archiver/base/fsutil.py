"""Durable file writes and locks: the one helper every stage uses.

Every write goes to a temporary name, is fsynced, then linked or renamed into place, and the
directory is fsynced so the new name survives a power cut. Appends are fsynced per line; locks
are ``flock`` on a file or a directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from archiver.base.errors import ArchiverError
from archiver.base.hashing import FileDigests, HashingWriter


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(directory: Path, data: bytes, mode: int = 0o644) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def free_name(directory: Path, stem: str, suffix: str) -> str:
    """``stem + suffix``, or ``stem-2 + suffix``, ... : the first name not yet taken."""
    name, n = f"{stem}{suffix}", 1
    while (directory / name).exists():
        n += 1
        name = f"{stem}-{n}{suffix}"
    return name


def write_new(directory: Path, name: str, data: bytes, mode: int = 0o644) -> Path:
    """Write a file that must not exist yet; an existing file is never overwritten."""
    tmp = _write_temp(directory, data, mode)
    target = directory / name
    try:
        os.link(tmp, target)  # fails if the name is taken: no overwrite, even in a race
    except FileExistsError:
        raise ArchiverError(f"{target}: already exists; it is never overwritten") from None
    finally:
        os.unlink(tmp)
    fsync_dir(directory)
    return target


def replace_file(path: Path, data: bytes) -> None:
    """Atomically replace an index-like file (temporary name, fsync, rename)."""
    tmp = _write_temp(path.parent, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` as indented JSON: ``<name>.tmp``, fsync, rename, fsync dir."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class AtomicFile:
    """Write ``.<name>.tmp`` (hashed), fsync, rename, fsync the folder: never half a file."""

    def __init__(self, final: Path, algorithms: tuple[str, ...] = ("sha256",)) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}.tmp")
        self.tmp.unlink(missing_ok=True)  # left over from an interrupted run
        self._writer = HashingWriter(self.tmp, algorithms)

    def write(self, data: bytes) -> int:
        return self._writer.write(data)

    def close(self) -> FileDigests:
        digests = self._writer.close()  # flushes and fsyncs
        os.replace(self.tmp, self.final)
        fsync_dir(self.final.parent)
        return digests

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._writer.close()
        self.tmp.unlink(missing_ok=True)


def file_lock(handle: IO[Any], *, blocking: bool = True) -> None:
    """Take an exclusive ``flock`` on an open file; ``BlockingIOError`` if held and not blocking."""
    flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
    fcntl.flock(handle.fileno(), flags)


@contextlib.contextmanager
def dir_lock(path: Path) -> Iterator[Path]:
    """Hold an exclusive lock on a directory for the ``with`` block."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def append_synced(handle: IO[bytes], line: bytes) -> None:
    """Append one line and fsync it: an append-only log survives a crash up to its last line."""
    handle.write(line)
    handle.flush()
    os.fsync(handle.fileno())
