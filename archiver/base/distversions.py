"""The installed versions of the libraries that capture, record and seal: read cheaply.

The warcinfo records and the provenance summary name them. ``importlib.metadata`` answers the
question, but importing it (email parsing, zipfile, csv) and asking it cost ~12 ms of every
run, on one core: the same answer is read here from the installed ``*.dist-info`` and
``*.egg-info`` folders, found the way ``importlib.metadata`` finds them (first on ``sys.path``,
names compared after the same normalisation). Wherever the two could differ (a zip or egg on
the path, another finder that lists distributions, a metadata file this reader does not
follow), it is asked instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from importlib.machinery import PathFinder


class _Unsure(Exception):
    """This reader might not give importlib.metadata's answer: ask it."""


def versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """Each installed name's version, as ``importlib.metadata.version`` gives it (None for a
    distribution without one); the names not installed are left out."""
    try:
        found: dict[str, str | None] = dict(installed_versions(names))
    except _Unsure:
        found = {}
    for name in names:
        if name not in found:  # not found here: importlib.metadata has the last word
            from importlib import metadata  # imported only then

            with contextlib.suppress(metadata.PackageNotFoundError):
                found[name] = metadata.version(name)
    return found


def _normalize(name: str) -> str:
    """importlib.metadata's ``Prepared.normalize``: PEP 503, dashes as underscores."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Each name's version as importlib.metadata would give it (the names not found left out);
    ``_Unsure`` where it might not."""
    if any(
        hasattr(finder, "find_distributions") and finder is not PathFinder
        for finder in sys.meta_path
    ):
        raise _Unsure("another finder lists distributions")
    wanted = {_normalize(n): n for n in names}
    found: dict[str, str] = {}
    for entry in sys.path:
        root = entry or "."
        if os.path.basename(root).lower().endswith(".egg"):
            raise _Unsure(f"an egg on the path: {root}")
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.isfile(root):  # a zip: importlib.metadata looks inside
                raise _Unsure(f"a zip on the path: {root}") from None
            continue
        for child in children:  # in listing order, as importlib.metadata takes them
            low = child.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            name = wanted.get(_normalize(low.rpartition(".")[0].partition("-")[0]))
            if name is not None and name not in found:
                found[name] = _version(os.path.join(root, child))
    return found


def _version(info: str) -> str:
    """The ``Version`` header of METADATA, else PKG-INFO, else the file itself (an egg-info
    file), the first that is there and not empty, as importlib.metadata reads it."""
    for path in (os.path.join(info, "METADATA"), os.path.join(info, "PKG-INFO"), info):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            continue
        if text:
            return _header(text, info)
    raise _Unsure(f"{info}: no metadata")


def _header(text: str, info: str) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line or line[0] in " \t" or ":" not in line:
            break  # the end of the headers (or a line that is not one): ask importlib
        key, _, value = line.partition(":")
        if key.lower() == "version":
            if i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t"):
                break  # a folded value
            return value.lstrip(" \t").rstrip("\r")
    raise _Unsure(f"{info}: no plain Version header")
