"""Unpack a bag a sender handed over (tar, gzipped tar, zip or folder) without trusting it.

Every entry is checked before anything is written: one top-level folder; no absolute path, ``..``,
backslash or drive letter; only regular files and folders (a symbolic or hard link, device, FIFO
or sparse member is refused, never created); declared sizes within the bound and the free space.
While writing, no file may grow past its declared size (a zip bomb stops there). Files are created
with O_EXCL|O_NOFOLLOW inside a staging folder the caller removes on failure. Any refusal is one
line, exit 2.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.export.archive import sniff

_CHUNK = 1 << 20
_O_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
MAX_RATIO = 200  # a zip entry that inflates more than this is treated as a bomb


def _refuse(src: Path, what: str) -> ArchiverError:
    return ArchiverError(f"{src}: refused: {what}; nothing was kept", EXIT_USAGE)


def _safe_parts(src: Path, name: str) -> tuple[str, ...]:
    pure = PurePosixPath(name.rstrip("/"))
    bad = (
        name.startswith("/")
        or "\\" in name
        or "\0" in name
        or (len(name) > 1 and name[1] == ":")
        or any(p in ("..", ".") for p in pure.parts)
        or not pure.parts
    )
    if bad:
        raise _refuse(src, f"entry {name!r} would leave the destination")
    return pure.parts


def unpack(src: Path, staging: Path, max_bytes: int | None = None) -> Path:
    """Unpack ``src`` into ``staging``; return the bag folder (the single top-level folder)."""
    kind = sniff(src)
    if kind == "dir":
        entries = list(_dir_entries(src))
    elif kind == "zip":
        entries = list(_zip_entries(src))
    else:
        entries = list(_tar_entries(src))
    tops = {_safe_parts(src, name)[0] for name, _, _ in entries}
    if len(tops) != 1:
        raise _refuse(src, f"{len(tops)} top-level entries; a bag is one folder")
    total = sum(size for _, size, _ in entries)
    free = shutil.disk_usage(staging).free
    limit = min(max_bytes, free) if max_bytes is not None else free
    if total > limit:
        raise _refuse(src, f"it unpacks to {total} bytes, over the {limit} allowed here")
    for name, size, opener in entries:
        target = staging.joinpath(*_safe_parts(src, name))
        if opener is None:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with opener() as data:
                _write(src, name, target, data, size)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as err:
            raise _refuse(src, f"damaged entry {name} ({err})") from None
    return staging / tops.pop()


def _write(src: Path, name: str, target: Path, data: IO[bytes], size: int) -> None:
    fd = os.open(target, _O_FLAGS, 0o644)
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := data.read(min(_CHUNK, size - written + 1)):
            written += len(chunk)
            if written > size:
                raise _refuse(src, f"{name} holds more than the {size} bytes it declares")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if written != size:
        raise _refuse(src, f"{name} is cut short ({written} of {size} bytes)")


_Entry = tuple[str, int, Callable[[], IO[bytes]] | None]  # name, size, opener (None: folder)


def _dir_entries(src: Path) -> Iterator[_Entry]:
    root = src.resolve()
    yield root.name, 0, None
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        rel = f"{root.name}/{path.relative_to(root).as_posix()}"
        if stat.S_ISDIR(st.st_mode):
            yield rel, 0, None
        elif stat.S_ISREG(st.st_mode):
            yield rel, st.st_size, partial(_open_file, path)
        else:
            raise _refuse(src, f"{rel} is a link or special file")


def _open_file(path: Path) -> IO[bytes]:
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def _tar_entries(src: Path) -> Iterator[_Entry]:
    tar = tarfile.open(src, "r:*")  # noqa: SIM115 - members are read later, lazily
    try:
        members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise _refuse(src, f"damaged archive ({err})") from None
    for m in members:
        if m.isdir():
            yield m.name, 0, None
        elif m.isfile() and not m.issparse():
            yield m.name, m.size, partial(_tar_member, tar, m)
        else:
            kind = "sparse file" if m.issparse() else "link or special file"
            raise _refuse(src, f"{m.name} is a {kind}")


def _tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    f = tar.extractfile(member)
    assert f is not None
    return f


def _zip_entries(src: Path) -> Iterator[_Entry]:
    try:
        zf = zipfile.ZipFile(src)  # noqa: SIM115 - members are read later, lazily
    except (zipfile.BadZipFile, OSError) as err:
        raise _refuse(src, f"damaged archive ({err})") from None
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if info.is_dir():
            yield info.filename, 0, None
            continue
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # writestr() sets no type bits
            raise _refuse(src, f"{info.filename} is a link or special file")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise _refuse(src, f"{info.filename} inflates over {MAX_RATIO}x (a zip bomb?)")
        yield info.filename, info.file_size, partial(zf.open, info)
