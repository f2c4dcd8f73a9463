"""Unpack a bag a sender handed over (tar, gzipped tar, zip or folder) without trusting it.

Every entry is checked before anything is written: one top-level folder; no absolute path, ``..``,
backslash or drive letter; only regular files and folders (a symbolic or hard link, device, FIFO
or sparse member is refused, never created); no name twice; at most MAX_ENTRIES entries; declared
sizes within the bound and the free space, less a reserve so the receiver's custody log and
receipts can still be written; nothing that unpacks to more than MAX_RATIO times its own size
(each zip member, and a tar or gzipped tar as a whole: a bomb). While writing, no file may grow
past its declared size (a zip bomb stops there). Files are created with O_EXCL|O_NOFOLLOW inside a
staging folder the caller removes on failure; a folder's files are opened with O_NOFOLLOW and must
still be the file that was listed. Any refusal is one line, exit 2.
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
MAX_RATIO = 200  # a zip entry (or a whole tar) that inflates more than this is treated as a bomb
# tarfile keeps every member's header in memory (about 0.7 KB each) before anything is written.
MAX_ENTRIES = 250_000
RESERVE = 512 * 1024**2  # free space left for the custody log and receipts (or a tenth of it)


_Entry = tuple[str, int, Callable[[], IO[bytes]] | None]  # name, size, opener (None: folder)


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
        entries = _listed(src, _dir_entries(src))
    elif kind == "zip":
        entries = _listed(src, _zip_entries(src))
    else:
        entries = _listed(src, _tar_entries(src))
    tops = {_safe_parts(src, name)[0] for name, _, _ in entries}
    if len(tops) != 1:
        raise _refuse(src, f"{len(tops)} top-level entries; a bag is one folder")
    total = sum(size for _, size, _ in entries)
    if kind not in ("dir", "zip") and total > MAX_RATIO * max(src.stat().st_size, 1):
        raise _refuse(src, f"it unpacks to {total} bytes, over {MAX_RATIO}x its size (a bomb?)")
    free = shutil.disk_usage(staging).free
    room = free - min(RESERVE, free // 10)
    limit = min(max_bytes, room) if max_bytes is not None else room
    if total > limit:
        raise _refuse(src, f"it unpacks to {total} bytes, over the {limit} allowed here")
    for name, size, opener in entries:
        target = staging.joinpath(*_safe_parts(src, name))
        try:
            if opener is None:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with opener() as data:
                _write(src, name, target, data, size)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as err:
            raise _refuse(src, f"damaged entry {name} ({err})") from None
        except RuntimeError as err:  # zipfile: an encrypted member
            raise _refuse(src, f"unreadable entry {name} ({err})") from None
        except OSError as err:
            raise _refuse(src, f"cannot unpack {name} ({err.strerror or err})") from None
    return staging / tops.pop()


def _listed(src: Path, entries: Iterator[_Entry]) -> list[_Entry]:
    """Every entry, checked: a bounded number, and no name twice (nor a file and a folder)."""
    out: list[_Entry] = []
    seen: set[tuple[str, ...]] = set()
    for entry in entries:
        if len(out) >= MAX_ENTRIES:
            raise _refuse(src, f"more than {MAX_ENTRIES} entries; unpack it yourself, then "
                          "receive the folder")  # fmt: skip
        parts = _safe_parts(src, entry[0])
        if parts in seen:
            raise _refuse(src, f"entry {entry[0]!r} appears twice")
        seen.add(parts)
        out.append(entry)
    return out


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


def _dir_entries(src: Path) -> Iterator[_Entry]:
    root = src.resolve()
    yield root.name, 0, None
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        rel = f"{root.name}/{path.relative_to(root).as_posix()}"
        if stat.S_ISDIR(st.st_mode):
            yield rel, 0, None
        elif stat.S_ISREG(st.st_mode):
            yield rel, st.st_size, partial(_open_listed, src, path, st)
        else:
            raise _refuse(src, f"{rel} is a link or special file")


def _open_listed(src: Path, path: Path, listed: os.stat_result) -> IO[bytes]:
    """The file as listed: never through a link swapped in since, never another file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    st = os.fstat(fd)
    if (st.st_ino, st.st_dev, st.st_size) != (listed.st_ino, listed.st_dev, listed.st_size):
        os.close(fd)
        raise _refuse(src, f"{path} changed while it was being received")
    return os.fdopen(fd, "rb")


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
