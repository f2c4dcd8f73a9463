"""Shared by the hand-off tests: copy a bag, rewrite a tag file and re-seal its tag manifests."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path


def copy_bag(bag: Path, dest: Path) -> Path:
    shutil.copytree(bag, dest)
    return dest


def reseal_tags(bag: Path) -> None:
    """Recompute every tag manifest over the tag files it lists that still exist."""
    for manifest in sorted(bag.glob("tagmanifest-*.txt")):
        alg = manifest.name[len("tagmanifest-") : -4]
        lines = []
        for line in manifest.read_text("utf-8").splitlines():
            _digest, path = line.split("  ", 1)
            if (bag / path).is_file():
                digest = hashlib.new(alg, (bag / path).read_bytes()).hexdigest()
                lines.append(f"{digest}  {path}\n")
        manifest.write_text("".join(lines), "utf-8")


def tree_digest(path: Path) -> str:
    """One digest over every file's path, bytes and mode under ``path`` (to prove it untouched)."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        h.update(p.relative_to(path).as_posix().encode() + b"\0")
        h.update(oct(p.stat().st_mode).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()
