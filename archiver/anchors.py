"""The ``provenance-anchors/`` folder of a sealed bag: where tokens, signatures and chains live.

Anchors attest to the bag's tag manifests, so they cannot be listed in them; the folder sits at
the bag root, outside every manifest, and adding to it never invalidates the bag. Files in it
are only ever added (a new token gets a new name), except ``anchors.json``, an index that can be
rebuilt from the files, and the ``tsa-chains/`` PEM bundles, which only ever gain certificates.
Every write goes to a temporary name, is fsynced, then linked or renamed into place.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.errors import EXIT_USAGE, ArchiverError
from archiver.hashing import fsync_dir
from archiver.problems import Problem

ANCHORS_DIR = "provenance-anchors"
CHAINS_DIR = "tsa-chains"
INDEX_NAME = "anchors.json"
INDEX_FORMAT = "archiver-anchors/1"
_TAGMANIFEST = re.compile(r"^tagmanifest-([a-z0-9]+)\.txt$")


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


def check_tag_files(bag: Path) -> None:
    """Refuse to anchor a bag whose tag files no longer match its tag manifests.

    Anchoring a damaged bag would certify the damage. Tag files are small, so this is cheap;
    payload fixity is the verifier's job and is covered through the payload manifests anyway.
    """
    for name in tag_manifests(bag):
        algorithm = _TAGMANIFEST.match(name)[1]  # type: ignore[index]
        if algorithm not in hashlib.algorithms_available:
            continue
        for line in (bag / name).read_text("utf-8").splitlines():
            if not line.strip():
                continue
            digest, _, rel = line.partition(" ")
            rel = rel.strip().lstrip("*")
            target = bag / rel
            if not target.is_file():
                raise ArchiverError(
                    f"{bag}: {rel} is listed in {name} but missing; run `archiver verify` "
                    "before anchoring",
                    EXIT_USAGE,
                )
            actual = hashlib.new(algorithm, target.read_bytes()).hexdigest()
            if actual != digest.lower():
                raise ArchiverError(
                    f"{bag}: {rel} does not match {name}; the bag was changed after sealing, "
                    "run `archiver verify` and do not anchor it",
                    EXIT_USAGE,
                )


def read_bag_info(bag: Path) -> list[tuple[str, str]]:
    """``bag-info.txt`` as (label, value) pairs, continuation lines joined."""
    path = bag / "bag-info.txt"
    items: list[tuple[str, str]] = []
    if not path.is_file():
        return items
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and items:
            label, value = items[-1]
            items[-1] = (label, f"{value} {line.strip()}")
        elif ":" in line:
            label, value = line.split(":", 1)
            items.append((label.strip(), value.strip()))
    return items


def bag_info_value(bag_info: list[tuple[str, str]], label: str) -> str | None:
    for key, value in bag_info:
        if key.lower() == label.lower():
            return value
    return None


def anchors_dir(bag: Path, *, create: bool = False) -> Path:
    path = bag / ANCHORS_DIR
    if create:
        (path / CHAINS_DIR).mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(bag: Path) -> Iterator[Path]:
    """Hold an exclusive lock on the bag's anchors folder (two `archiver timestamp` at once)."""
    path = anchors_dir(bag, create=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_temp(directory: Path, data: bytes, mode: int = 0o644) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def free_name(directory: Path, stem: str, suffix: str) -> str:
    """``stem + suffix``, or ``stem-2 + suffix``, ... : the first name not yet taken."""
    name, n = f"{stem}{suffix}", 1
    while (directory / name).exists():
        n += 1
        name = f"{stem}-{n}{suffix}"
    return name


def write_new(directory: Path, name: str, data: bytes, mode: int = 0o644) -> Path:
    """Write a file that must not exist yet; an existing file is never overwritten."""
    tmp = _write_temp(directory, data, mode)
    target = directory / name
    try:
        os.link(tmp, target)  # fails if the name is taken: no overwrite, even in a race
    except FileExistsError:
        raise ArchiverError(f"{target}: already exists; it is never overwritten") from None
    finally:
        os.unlink(tmp)
    fsync_dir(directory)
    return target


def replace_file(path: Path, data: bytes) -> None:
    """Atomically replace an index-like file (temporary name, fsync, rename)."""
    tmp = _write_temp(path.parent, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_index(bag: Path) -> dict[str, Any]:
    """The ``anchors.json`` index, or an empty one when absent or unreadable."""
    path = anchors_dir(bag) / INDEX_NAME
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        data = {}
    data.setdefault("format", INDEX_FORMAT)
    data.setdefault("anchors", [])
    data.setdefault("failures", [])
    return data


def add_to_index(
    bag: Path, anchors: list[dict[str, Any]], failures: list[dict[str, Any]] | None = None
) -> None:
    """Append anchor and failure records to ``anchors.json`` (caller holds ``locked``)."""
    index = read_index(bag)
    index["anchors"].extend(anchors)
    index["failures"].extend(failures or [])
    text = json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    replace_file(anchors_dir(bag) / INDEX_NAME, text.encode("utf-8"))


def merge_pem(path: Path, pems: list[bytes]) -> None:
    """Add certificates to a PEM bundle, keeping every certificate already there."""
    existing = path.read_bytes() if path.exists() else b""
    blocks = _pem_blocks(existing)
    changed = False
    for pem in pems:
        for block in _pem_blocks(pem):
            if block not in blocks:
                blocks.append(block)
                changed = True
    if changed or not path.exists():
        replace_file(path, b"".join(blocks))


def _pem_blocks(data: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----"
    blocks: list[bytes] = []
    for part in data.split(end)[:-1]:
        start = part.find(b"-----BEGIN CERTIFICATE-----")
        if start >= 0:
            blocks.append(part[start:].strip() + b"\n" + end + b"\n")
    return blocks


@dataclass
class ProvenanceReport:
    """Everything ``archiver verify`` needs from the anchors folder, checked once."""

    token_checks: list[Any] = field(default_factory=list)  # timestamp.TokenCheck
    problems: list[Problem] = field(default_factory=list)
    signed_by: str | None = None  # key id of the bag statement's signer

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamps": [c.to_dict() for c in self.token_checks],
            "signed_by": self.signed_by,
            "problems": [p.to_dict() for p in self.problems],
        }


def verify_provenance(
    bag: Path,
    *,
    extra_roots: Sequence[Path] = (),
    trusted_keys: Sequence[Path] = (),
    custody_log: Path | None = None,
) -> ProvenanceReport:
    """Tokens, signature and custody copy of one bag; each problem reported once."""
    from archiver import custody, signing, timestamp

    report = ProvenanceReport()
    checks = timestamp.verify_bag_timestamps(bag, extra_roots=extra_roots)
    report.token_checks = checks
    report.problems.extend(timestamp.timestamp_problems(checks))
    if not timestamp.covered_tag_manifests(checks):
        report.problems.append(
            Problem(
                "timestamp-absent",
                "",
                "no valid RFC 3161 token covers the tag manifests, so when the bag existed is "
                "unproven; add one with `archiver timestamp`",
                "warning",
            )
        )
    report.problems.extend(
        signing.signature_problems(
            bag, checks, trusted_keys=trusted_keys, include_token_problems=False
        )
    )
    statement = anchors_dir(bag) / signing.STATEMENT
    if statement.is_file():
        try:
            report.signed_by = json.loads(statement.read_bytes())["signer"]["key_id"]
        except (ValueError, KeyError, TypeError):
            report.signed_by = None
    log = custody_log or custody.default_log(bag)
    if log.is_file():
        report.problems.extend(custody.verify_chain(log, display=log.name))
    report.problems.extend(custody.cross_check_bag_copy(bag, log))
    return report
