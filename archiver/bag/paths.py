"""Manifest path encoding and path safety, shared by the bag writer and the validator.

RFC 8493 percent-encodes exactly CR, LF and ``%`` in manifest and fetch.txt paths; other tools
get this wrong in both directions (bagit-python #157), so it is written out here rather than
borrowed from ``urllib.parse`` (which encodes far more). Path safety is checked per component,
so that a manifest can never make a validator read outside the bag.
"""

from __future__ import annotations

import os
import re
import unicodedata

_DECODE_1_0 = re.compile(r"%(0[DdAa]|25)")
_DECODE_MAP = {"0d": "\r", "0a": "\n", "25": "%"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")  # file:///etc/passwd, http://...

# Files that operating systems drop into folders by themselves; never evidence.
OS_JUNK_NAMES = frozenset(
    {
        ".DS_Store",
        "Thumbs.db",
        "ehthumbs.db",
        "desktop.ini",
        "Desktop.ini",
        ".Spotlight-V100",
        ".Trashes",
        ".fseventsd",
        ".TemporaryItems",
        "Icon\r",
        ".directory",
    }
)


def encode_path(path: str) -> str:
    """Percent-encode a bag-relative path for a manifest or fetch.txt (only ``%``, CR, LF)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(path: str, version: tuple[int, int]) -> str:
    """Decode a manifest path as the bag's BagIt version defines it.

    From 1.0 only ``%0D``, ``%0A`` and ``%25`` are encodings, decoded in one pass so ``%250A``
    stays the literal text ``%0A``. Before 1.0 there was no encoding: ``%7E`` is literal.
    """
    if version < (1, 0):
        return path
    return _DECODE_1_0.sub(lambda m: _DECODE_MAP[m.group(1).lower()], path)


def unsafe_reason(path: str) -> str | None:
    """Why a bag-relative path from a manifest or fetch.txt could escape the bag, or None.

    The rules are the same on every operating system: a bag is made to travel, so a path that
    is dangerous on Windows (drive letter, UNC, backslash) is rejected on Linux too.
    """
    if not path:
        return "the path is empty"
    if "\x00" in path:
        return "the path contains a NUL byte"
    if "\\" in path:
        return "the path contains a backslash (a Windows separator or UNC prefix)"
    if _URL.match(path):
        return "the path is a URL; a manifest names files by their path inside the bag"
    if path.startswith("/"):
        return "the path is absolute"
    if path.startswith("~"):
        return "the path starts with '~' (a home-directory shortcut)"
    if _DRIVE.match(path):
        return "the path starts with a drive letter"
    parts = path.split("/")
    if any(p == ".." for p in parts):
        return "the path contains a '..' component"
    if any(p in ("", ".") for p in parts):
        return "the path has an empty or '.' component"
    return None


def is_inside(root: str, candidate: str) -> bool:
    """True when ``candidate`` (already joined onto ``root``) stays inside ``root``.

    Uses ``commonpath`` rather than ``commonprefix``: ``/x/bag-evil`` shares the string prefix
    ``/x/bag`` but is not inside it (the hole bagit-python 1.9.0 has).
    """
    root_abs = os.path.abspath(root)
    cand_abs = os.path.abspath(candidate)
    try:
        return os.path.commonpath([root_abs, cand_abs]) == root_abs
    except ValueError:
        return False


def check_payload_relpath(relpath: str) -> str | None:
    """Why a path the writer was given (relative to ``data/``) is refused, or None."""
    reason = unsafe_reason(relpath)
    if reason:
        return reason
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        return "the path is not valid Unicode (cannot be written to a UTF-8 manifest)"
    if relpath.endswith("/"):
        return "the path names a directory"
    return None


def is_os_junk(path: str) -> bool:
    """True for a file an OS creates on its own (Finder, Explorer, AppleDouble ``._x``)."""
    name = path.rsplit("/", 1)[-1]
    return name in OS_JUNK_NAMES or name.startswith("._")


def nfc(path: str) -> str:
    """The NFC form of a path: macOS and Linux may store the same name in different forms."""
    return unicodedata.normalize("NFC", path)
