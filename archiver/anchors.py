"""The ``provenance-anchors/`` folder of a sealed bag: where tokens, signatures and chains live.

Anchors attest to the bag's tag manifests, so they cannot be listed in them; the folder sits at
the bag root, outside every manifest, and adding to it never invalidates the bag. Files in it
are only ever added (a new token gets a new name), except ``anchors.json``, an index that can be
rebuilt from the files, and the ``tsa-chains/`` PEM bundles, which only ever gain certificates.
Every write goes to a temporary name, is fsynced, then linked or renamed into place.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.bag.paths import unsafe_reason
from archiver.base.fsutil import replace_file
from archiver.base.problems import Problem

ANCHORS_DIR = "provenance-anchors"
CHAINS_DIR = "tsa-chains"
INDEX_NAME = "anchors.json"
INDEX_FORMAT = "archiver-anchors/1"


def anchors_dir(bag: Path, *, create: bool = False) -> Path:
    path = bag / ANCHORS_DIR
    if create:  # tsa-chains/ is made by the first token kept: no empty folder in the bag
        path.mkdir(parents=True, exist_ok=True)
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
        unverified = any(
            c.problem is not None and c.problem.code == timestamp.ROOT_UNVERIFIED for c in checks
        )
        report.problems.append(
            Problem(
                "timestamp-absent",
                "",
                "no token verified against an independently obtained root covers the tag "
                "manifests, so when the bag existed is unproven; pass --tsa-root"
                if unverified
                else "no valid RFC 3161 token covers the tag manifests, so when the bag existed "
                "is unproven; add one with `archiver timestamp`",
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
    copy = anchors_dir(bag) / custody.BAG_COPY
    if copy.is_file():
        report.problems.extend(
            custody.verify_chain(copy, display=f"{ANCHORS_DIR}/{custody.BAG_COPY}", excerpt=True)
        )
    report.problems.extend(custody.cross_check_bag_copy(bag, log))
    reported = {p.path for p in report.problems if p.code == "timestamp-missing"}
    report.problems.extend(missing_anchors(bag, log, reported))
    report.problems.extend(unexpected_anchor_files(bag))
    return report


def missing_anchors(bag: Path, log: Path | None, reported: Collection[str] = ()) -> list[Problem]:
    """Files the custody events say were written into the anchors folder but are gone.

    ``anchors.json`` can be rewritten along with the files it lists; the custody events are
    chained, and copied to the log beside the bags, so they are the record to check against.
    """
    from archiver import custody, signing

    expected: dict[str, str] = {}
    for where, entry in custody.anchor_events(bag, log):
        details = entry.get("details")
        details = details if isinstance(details, dict) else {}
        event = str(entry.get("event"))
        if event == "signed":
            for name in (signing.STATEMENT, signing.SIGNATURE, signing.PUBLIC_KEY, signing.KEY_ID):
                expected.setdefault(f"{ANCHORS_DIR}/{name}", f"the {event} event ({where})")
        results = details.get("tsas")
        for result in results if isinstance(results, list) else []:
            files = result.get("files") if isinstance(result, dict) and result.get("ok") else None
            for rel in files if isinstance(files, list) else []:
                if isinstance(rel, str):
                    expected.setdefault(rel, f"the {event} event ({where})")
    problems: list[Problem] = []
    for rel, source in sorted(expected.items()):
        if rel in reported:
            continue
        safe = rel.startswith(f"{ANCHORS_DIR}/") and unsafe_reason(rel) is None
        if safe and (bag / rel).is_file():
            continue
        problems.append(
            Problem(
                "anchors-missing",
                rel,
                f"{source} records this file, but it is not in the bag: anchors were deleted"
                if safe
                else f"{source} names a file outside {ANCHORS_DIR}/: the event was forged",
            )
        )
    return problems


_CHAIN_FILE = re.compile(r"^[A-Za-z0-9_-]{1,40}\.(chain|roots)\.pem$")


def unexpected_anchor_files(bag: Path) -> list[Problem]:
    """Files in the anchors folder that nothing archiver writes accounts for (warnings).

    Nothing checks such a file, so a reader must not take it for an anchor.
    """
    from archiver import custody, signing

    folder = bag / ANCHORS_DIR
    if folder.is_symlink() or not folder.is_dir():
        return []
    known = {INDEX_NAME, custody.BAG_COPY}
    known |= {signing.STATEMENT, signing.SIGNATURE, signing.PUBLIC_KEY, signing.KEY_ID}
    odd: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_symlink():
            odd.append(entry.name)
        elif entry.is_dir() and entry.name == CHAINS_DIR:
            for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
                if sub.is_symlink() or not sub.is_file() or not _CHAIN_FILE.match(sub.name):
                    odd.append(f"{CHAINS_DIR}/{sub.name}")
        elif not entry.is_file() or not (entry.name in known or entry.name.endswith(".tsr")):
            odd.append(entry.name)
    return [
        Problem(
            "anchors-unexpected-file",
            f"{ANCHORS_DIR}/{name}",
            "not a token, statement, signature, key, TSA chain, index or custody copy; "
            "nothing checks it, so it proves nothing",
            "warning",
        )
        for name in odd
    ]
