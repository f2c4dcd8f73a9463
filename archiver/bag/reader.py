"""The sealed-bag reader, mirror of :mod:`archiver.bag.writer`: it reads back what was sealed.

The writer seals the payload, its manifests, ``bag-info.txt`` and the tag manifests over them;
here a sealed bag is recognised (``require_sealed_bag``), its tag manifests listed and read
(``tag_manifests``, ``tag_manifest_entries``), its tag files checked against them
(``check_tag_files``; payload fixity is the validator's job) and its ``bag-info.txt`` read
(``read_bag_info``). Attest and verify read a sealed bag only through here, with the
validator's own parsers, so a crafted tag file cannot make them read outside the bag.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from archiver.bag.paths import decode_path, is_inside, unsafe_reason
from archiver.bag.tagfiles import (
    parse_bag_info,
    parse_bagit_txt,
    parse_manifest_line,
    read_tag_lines,
)
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.problems import Problem

_TAGMANIFEST = re.compile(r"^tagmanifest-([a-z0-9]+)\.txt$")


_MAX_BAGIT_TXT = 64 * 1024


def require_sealed_bag(bag: Path) -> Path:
    """Fail with one line unless ``bag`` is a sealed bag (bagit.txt and a tag manifest)."""
    if not bag.is_dir():
        raise ArchiverError(f"{bag}: no such bag folder (give the bag's folder)", EXIT_USAGE)
    if bag.name.endswith(".partial"):
        raise ArchiverError(f"{bag}: an unfinished bag; seal it before anchoring it", EXIT_USAGE)
    if not (bag / "bagit.txt").is_file():
        raise ArchiverError(f"{bag}: not a BagIt bag (no bagit.txt)", EXIT_USAGE)
    if not tag_manifests(bag):
        raise ArchiverError(
            f"{bag}: has no tag manifest, so nothing covers bag-info.txt and the manifests; "
            "re-bag it with tag manifests before anchoring",
            EXIT_USAGE,
        )
    return bag


def tag_manifests(bag: Path) -> list[str]:
    """Names of the bag's tag manifests, strongest algorithm last (sha256 before sha512)."""
    names = [p.name for p in bag.iterdir() if p.is_file() and _TAGMANIFEST.match(p.name)]
    order = {"sha256": 0, "sha512": 1}
    return sorted(names, key=lambda n: (order.get(_TAGMANIFEST.match(n)[1], 2), n))  # type: ignore[index]


def _bagit_format(bag: Path) -> tuple[tuple[int, int], str]:
    """(BagIt version, tag-file encoding) from ``bagit.txt``; 1.0 and UTF-8 when unreadable."""
    path = bag / "bagit.txt"
    if path.is_symlink() or not path.is_file():
        return (1, 0), "utf-8"
    with open(path, "rb") as f:
        parsed = parse_bagit_txt(f.read(_MAX_BAGIT_TXT), [])
    return parsed.version, parsed.encoding


def _inside(bag: Path, target: Path) -> bool:
    """``target`` is a regular file whose real path is inside the bag (no symlink escapes)."""
    return (
        not target.is_symlink()
        and target.is_file()
        and is_inside(os.path.realpath(bag), os.path.realpath(target))
    )


def tag_manifest_entries(bag: Path, name: str) -> list[tuple[str, str]]:
    """(digest, bag-relative path) for each line of tag manifest ``name``, paths checked.

    Parsed with the validator's own readers (percent-decoding as the bag's BagIt version says),
    so a crafted line cannot make an anchoring command read a file outside the bag: an unsafe
    or malformed line is refused with one line, never followed.
    """
    version, encoding = _bagit_format(bag)
    problems: list[Problem] = []
    entries: list[tuple[str, str]] = []
    if not _inside(bag, bag / name):
        raise ArchiverError(f"{bag}: {name} is not a regular file inside the bag", EXIT_USAGE)
    for n, text in read_tag_lines(bag / name, name, encoding, version, problems):
        line = parse_manifest_line(n, text, name, problems)
        if line is None:
            continue
        rel = decode_path(line.raw_path, version)
        reason = unsafe_reason(rel)
        if reason is None and not is_inside(str(bag), os.path.join(bag, rel)):
            reason = "the path resolves outside the bag"
        if reason is not None:
            raise ArchiverError(
                f"{bag}: {name} line {n} names {line.raw_path!r}: {reason}; refusing to anchor "
                "a bag whose tag manifest points outside it (run `archiver verify`)",
                EXIT_USAGE,
            )
        entries.append((line.checksum, rel))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ArchiverError(
            f"{bag}: {name}: {errors[0].message}; refusing to anchor a damaged tag manifest "
            "(run `archiver verify`)",
            EXIT_USAGE,
        )
    return entries


def check_tag_files(bag: Path) -> None:
    """Refuse to anchor a bag whose tag files no longer match its tag manifests.

    Anchoring a damaged bag would certify the damage. Tag files are small, so this is cheap;
    payload fixity is the verifier's job and is covered through the payload manifests anyway.
    """
    for name in tag_manifests(bag):
        algorithm = _TAGMANIFEST.match(name)[1]  # type: ignore[index]
        if algorithm not in hashlib.algorithms_available:
            continue
        for digest, rel in tag_manifest_entries(bag, name):
            target = bag / rel
            if not target.is_symlink() and not target.exists():
                raise ArchiverError(
                    f"{bag}: {rel} is listed in {name} but missing; run `archiver verify` "
                    "before anchoring",
                    EXIT_USAGE,
                )
            if not _inside(bag, target):
                raise ArchiverError(
                    f"{bag}: {rel} (listed in {name}) is a symlink or not a regular file inside "
                    "the bag; refusing to anchor it (run `archiver verify`)",
                    EXIT_USAGE,
                )
            with open(target, "rb") as f:
                actual = hashlib.file_digest(f, algorithm).hexdigest()
            if actual != digest:
                raise ArchiverError(
                    f"{bag}: {rel} does not match {name}; the bag was changed after sealing, "
                    "run `archiver verify` and do not anchor it",
                    EXIT_USAGE,
                )


def read_bag_info(bag: Path) -> list[tuple[str, str]]:
    """``bag-info.txt`` as (label, value) pairs, read by the validator's parser.

    A ``bag-info.txt`` that is a symlink is not followed (it could point anywhere); the
    validator reports it, and anchoring refuses the bag.
    """
    path = bag / "bag-info.txt"
    if not _inside(bag, path):
        return []
    version, encoding = _bagit_format(bag)
    problems: list[Problem] = []
    return parse_bag_info(
        read_tag_lines(path, "bag-info.txt", encoding, version, problems), version, problems
    )


def bag_info_value(bag_info: list[tuple[str, str]], label: str) -> str | None:
    for key, value in bag_info:
        if key.lower() == label.lower():
            return value
    return None
