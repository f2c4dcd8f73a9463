"""One walk of a bag's folder: every file and folder, and what is odd about each (links)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from archiver.bag import paths as bagpaths
from archiver.base.problems import Problem


@dataclass
class _Manifest:
    rel: str
    kind: Literal["payload", "tag"]
    algorithm: str | None  # hashlib name; None when unknown
    # resolved bag-relative path -> [(checksum, line)]
    entries: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


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
                rel = f"{d}/{entry.name}" if d else entry.name
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
