"""Read a bag as it is handed over: a folder, or a tar, zip or gzipped tar judged by its bytes.

The file name never decides the format (a ``.zip`` that holds a tar is a tar). For a profile
check only the listing and the tag files are needed: tag files (everything outside ``data/``)
are copied, bounded in size, into a temporary folder under names this module builds itself;
payload files are listed with their sizes and never unpacked.
"""

from __future__ import annotations

import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from archiver.base.errors import EXIT_USAGE, ArchiverError

MAX_TAG_FILE = 64 << 20  # a tag file (manifest, token, custody copy) larger than this is refused
MAX_TAG_BYTES = 256 << 20  # all tag files of one serialised bag, unpacked to a temporary folder
MEDIA_TYPES = {
    "tar": "application/tar",
    "zip": "application/zip",
    "tgz": "application/gzip",
}
# The spellings profiles use for the same format.
ALIASES = {
    "application/tar": {"application/tar", "application/x-tar"},
    "application/zip": {"application/zip", "application/x-zip-compressed"},
    "application/gzip": {"application/gzip", "application/x-gzip", "application/tar+gzip"},
}


@dataclass
class BagView:
    """What a profile check needs: tag files on disk, every file's path and payload sizes."""

    root: Path  # holds the tag files (the bag itself for a folder)
    files: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    kind: str = "dir"  # dir | tar | zip | tgz
    top: str = ""  # the serialisation's single top-level folder
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # code, path, message
    tag_bytes: int = 0  # tag-file bytes unpacked so far (MAX_TAG_BYTES)


def sniff(path: Path) -> str:
    """``dir``, ``tar``, ``zip`` or ``tgz`` from the content; anything else is bad input."""
    if path.is_dir():
        return "dir"
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as err:
        raise ArchiverError(f"{path}: cannot read ({err.strerror})", EXIT_USAGE) from None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "tgz"
    if len(head) == 512 and head[257:262] == b"ustar":
        return "tar"
    raise ArchiverError(
        f"{path}: neither a bag folder nor a tar, zip or gzipped tar (judged by content)",
        EXIT_USAGE,
    )


@contextmanager
def open_bag(path: Path) -> Iterator[BagView]:
    """A BagView of the folder or serialised bag at ``path`` (temporary files removed after)."""
    kind = sniff(path)
    if kind == "dir":
        files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        sizes = {f: (path / f).stat().st_size for f in files if f.startswith("data/")}
        yield BagView(path, files, sizes)
        return
    with tempfile.TemporaryDirectory(prefix="archiver-bag-") as tmp:
        view = BagView(Path(tmp), kind=kind)
        try:
            if kind == "zip":
                _read_zip(path, view)
            else:
                _read_tar(path, view)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
            raise ArchiverError(f"{path}: damaged {kind} ({err})", EXIT_USAGE) from None
        yield view


def _split(name: str, view: BagView) -> str | None:
    """The member's path inside the bag, or None (recorded as a problem) if it cannot be one."""
    pure = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or ".." in pure.parts or not pure.parts:
        view.problems.append(("unsafe-member", name, "absolute, '..' or backslash path"))
        return None
    top, rest = pure.parts[0], "/".join(pure.parts[1:])
    if view.top and top != view.top:
        view.problems.append(
            (
                "top-folder",
                name,
                f"a second top-level entry beside {view.top}/; a serialised bag holds one folder",
            )
        )
        return None
    view.top = top
    return rest


def _keep(view: BagView, rel: str, size: int, opener: IO[bytes] | None) -> None:
    view.files.append(rel)
    if rel.startswith("data/"):
        view.sizes[rel] = size
        return
    if size > MAX_TAG_FILE or opener is None:
        view.problems.append(("tag-file-size", rel, "tag file over 64 MiB; not read"))
        return
    if view.tag_bytes + size > MAX_TAG_BYTES:  # thousands of tag files must not fill /tmp
        view.problems.append(("tag-file-size", rel, "tag files over 256 MiB in all; not read"))
        return
    data = opener.read(min(size, MAX_TAG_FILE) + 1)
    view.tag_bytes += len(data)
    target = view.root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _read_tar(path: Path, view: BagView) -> None:
    with tarfile.open(path, "r:*") as tar:
        for m in tar:
            rel = _split(m.name.rstrip("/"), view)
            if rel is None or m.isdir() or rel == "":
                if rel == "" and not m.isdir():
                    view.problems.append(("top-folder", m.name, "a file at the top level"))
                continue
            if not m.isfile():
                view.problems.append(("member-type", m.name, "not a regular file (link/device)"))
                continue
            _keep(view, rel, m.size, tar.extractfile(m) if not rel.startswith("data/") else None)
    view.files.sort()


def _read_zip(path: Path, view: BagView) -> None:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            rel = _split(info.filename.rstrip("/"), view)
            if rel is None or info.is_dir() or rel == "":
                if rel == "" and not info.is_dir():
                    view.problems.append(("top-folder", info.filename, "a file at the top level"))
                continue
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # writestr() sets no type bits
                view.problems.append(("member-type", info.filename, "not a regular file"))
                continue
            opener = None if rel.startswith("data/") else zf.open(info)
            _keep(view, rel, info.file_size, opener)
    view.files.sort()
