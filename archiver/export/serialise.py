"""Deterministic tar, zip and gzipped tar of a bag folder: the same bag gives the same bytes.

Entries are sorted with the tag files first (a receiver can read bagit.txt, bag-info.txt and the
manifests before the payload streams past), under one top-level folder named like the bag; every
entry has the same time (``mtime``, the bag's Bagging-Date at 00:00 UTC), uid/gid 0, no owner or
group names, and modes 0755 (folders) / 0644 (files). Tar is POSIX pax (long and non-ASCII
names without GNU extensions); zip entries are stored (WARCs are already gzip-compressed) with
zip64 where needed; gzip has no file name and the same time in its header. The archive is
written to a temporary name, fsynced and renamed into place.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import time
import zipfile
from pathlib import Path
from typing import IO, Any

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.fsutil import fsync_dir

EXTENSIONS = {"tar": ".tar", "zip": ".zip", "tgz": ".tar.gz"}
_CHUNK = 1 << 20


def entries(bag: Path) -> list[str]:
    """Every folder and file of the bag, relative, tag files before ``data/``, each sorted."""
    found = [p.relative_to(bag).as_posix() for p in bag.rglob("*")]
    for rel in found:
        if (bag / rel).is_symlink() or not ((bag / rel).is_file() or (bag / rel).is_dir()):
            raise ArchiverError(f"{bag / rel}: not a regular file or folder", EXIT_USAGE)
    return sorted(found, key=lambda rel: (rel == "data" or rel.startswith("data/"), rel))


def serialise(bag: Path, fmt: str, out_dir: Path, mtime: int) -> Path:
    """Write ``out_dir/<bag name><ext>`` for fmt tar|zip|tgz; never replaces an existing file."""
    target = out_dir / f"{bag.name}{EXTENSIONS[fmt]}"
    if target.exists():
        raise ArchiverError(f"{target}: already exists; exports are never overwritten", EXIT_USAGE)
    tmp = out_dir / f".{target.name}.partial"
    try:
        with open(tmp, "wb") as raw:
            if fmt == "zip":
                _write_zip(bag, raw, mtime)
            elif fmt == "tgz":
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as gz:
                    _write_tar(bag, gz, mtime)
            else:
                _write_tar(bag, raw, mtime)
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(tmp, target)
        fsync_dir(out_dir)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _write_tar(bag: Path, fileobj: IO[bytes] | Any, mtime: int) -> None:
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tarinfo(bag.name, None, mtime))
        for rel in entries(bag):
            path = bag / rel
            info = _tarinfo(f"{bag.name}/{rel}", path, mtime)
            if path.is_dir():
                tar.addfile(info)
            else:
                with open(path, "rb") as f:
                    tar.addfile(info, f)


def _tarinfo(name: str, path: Path | None, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path is None or path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.type = tarfile.REGTYPE
        info.mode = 0o644
        info.size = path.stat().st_size
    return info


def _write_zip(bag: Path, fileobj: IO[bytes], mtime: int) -> None:
    stamp = time.gmtime(max(mtime, 315532800))[:6]  # zip times start in 1980
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel in ["", *entries(bag)]:
            path = bag / rel
            is_dir = path.is_dir()
            name = f"{bag.name}/{rel}" if rel else bag.name
            info = zipfile.ZipInfo(name + ("/" if is_dir else ""), date_time=stamp)
            info.create_system = 3  # Unix, so the modes below are read
            info.external_attr = ((0o40755 if is_dir else 0o100644) << 16) | (0x10 if is_dir else 0)
            if is_dir:
                zf.writestr(info, b"")
                continue
            size = path.stat().st_size
            info.file_size = size
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=size > 0x7FFFFFFF) as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
