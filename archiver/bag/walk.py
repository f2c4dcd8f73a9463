"""One walk of a bag's folder (every file and folder, and what is odd about each), and the
state every check of that bag shares: problems found, bagit.txt, manifests read."""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from archiver.bag import paths as bagpaths
from archiver.bag.tagfiles import EXCERPT, BagitTxt, excerpt, read_tag_lines
from archiver.base.problems import Problem, Severity, one_line


@dataclass
class _Manifest:
    rel: str
    kind: Literal["payload", "tag"]
    algorithm: str | None  # hashlib name; None when unknown
    # resolved bag-relative path -> (checksum, line) of its first line; one tuple per file, no
    # list: a manifest of 100,000 files is held while the bag is verified
    entries: dict[str, tuple[str, int]] = field(default_factory=dict)
    more: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # repeated lines

    def lines_of(self, path: str) -> list[tuple[str, int]]:
        """Every (checksum, line) listing ``path``, in line order."""
        first = self.entries.get(path)
        return [] if first is None else [first, *self.more.get(path, ())]


@dataclass
class _Walk:
    files: dict[str, int] = field(default_factory=dict)  # regular files -> size
    dirs: set[str] = field(default_factory=set)


def _walk(root: str, problems: list[Problem]) -> _Walk:
    """List every entry under the bag with lstat semantics; never descend through a link."""
    walk = _Walk()
    stack = [""]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(os.path.join(root, d) if d else root)
        except OSError as e:
            problems.append(Problem("dir-unreadable", d, f"cannot list: {e.strerror}"))
            continue
        with it:
            for entry in it:
                # interned: each manifest's line for this file then shares this one string
                rel = sys.intern(f"{d}/{entry.name}" if d else entry.name)
                shown = bagpaths.encode_path(rel)
                try:
                    if entry.is_symlink():
                        problems.append(
                            Problem(
                                "symlink-in-bag",
                                shown,
                                "is a symbolic link; a bag must hold real files (not followed)",
                            )
                        )
                    elif entry.is_dir(follow_symlinks=False):
                        walk.dirs.add(rel)
                        stack.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        walk.files[rel] = entry.stat(follow_symlinks=False).st_size
                    else:
                        problems.append(
                            Problem(
                                "special-file-in-bag",
                                shown,
                                "is a device, FIFO or socket; a bag must hold regular files",
                            )
                        )
                except OSError as e:
                    problems.append(Problem("file-unreadable", shown, f"cannot stat: {e.strerror}"))
    return walk


class _BagCheck:
    """What a check of one bag has found so far, and the helpers every step uses."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.walk = _Walk()
        self.bagit = BagitTxt((1, 0), "utf-8", "")
        self.manifests: list[_Manifest] = []
        self._nfc_index: dict[str, list[str]] | None = None

    def add(self, code: str, path: str, message: str, severity: Severity = "error") -> None:
        shown = excerpt(one_line(bagpaths.encode_path(path)), 4 * EXCERPT)  # input text
        self.problems.append(Problem(code, shown, one_line(message), severity))

    def lines(self, rel: str) -> Iterator[tuple[int, str]]:
        return read_tag_lines(
            Path(self.root, rel), rel, self.bagit.encoding, self.bagit.version, self.problems
        )

    def resolve(self, raw: str) -> tuple[str, str | None]:
        """Decode a manifest path; return (path, why it is unsafe or None)."""
        version = self.bagit.version
        path = bagpaths.decode_path(raw, version)
        if version < (1, 0) and path not in self.walk.files:
            # bagit-python encodes CR/LF even in 0.97 bags: accept that when it names a file.
            alt = bagpaths.decode_path(raw, (1, 0))
            if alt in self.walk.files:
                path = alt
        reason = bagpaths.unsafe_reason(path)
        if reason is None and not bagpaths.is_inside(self.root, os.path.join(self.root, path)):
            reason = "the path resolves outside the bag"
        return path, reason

    def nfc_match(self, path: str) -> str | None:
        """The one file on disk whose NFC form equals ``path``'s, if exactly one."""
        if self._nfc_index is None:
            self._nfc_index = defaultdict(list)
            for f in self.walk.files:
                self._nfc_index[bagpaths.nfc(f)].append(f)
        hits = self._nfc_index.get(bagpaths.nfc(path), [])
        return hits[0] if len(hits) == 1 else None

    @property
    def payload_manifests(self) -> list[_Manifest]:
        return [m for m in self.manifests if m.kind == "payload"]

    @property
    def tag_manifests(self) -> list[_Manifest]:
        return [m for m in self.manifests if m.kind == "tag"]
