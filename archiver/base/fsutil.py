"""Durable file writes: a new file under a free name, an atomic replace, a durable rename.

Every write goes to a temporary name, is fsynced, then linked or renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from archiver.base.errors import ArchiverError


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
