"""The anchors of one bag checked together: tokens, signature, custody copy, stray files."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.attest import custody, custodycheck, renewal, signaturecheck
from archiver.attest.anchors import (
    ANCHORS_DIR,
    BAG_COPY,
    CHAINS_DIR,
    INDEX_NAME,
    KEY_ID,
    PUBLIC_KEY,
    SIGNATURE,
    STATEMENT,
    anchors_dir,
)
from archiver.attest.tokencheck import (
    covered_tag_manifests,
    timestamp_problems,
    verify_bag_timestamps,
)
from archiver.attest.tsa import ROOT_UNVERIFIED
from archiver.bag.paths import unsafe_reason
from archiver.base.problems import Problem
from archiver.base.timefmt import clock_now


@dataclass
class ProvenanceReport:
    """Everything ``archiver verify`` needs from the anchors folder, checked once."""

    token_checks: list[Any] = field(default_factory=list)  # tokencheck.TokenCheck
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
    report = ProvenanceReport()
    checks = verify_bag_timestamps(bag, extra_roots=extra_roots)
    renewal.apply_expiry(bag, checks, clock_now())
    report.token_checks = checks
    report.problems.extend(timestamp_problems(checks))
    report.problems.extend(renewal.renewal_problems(bag))
    if not covered_tag_manifests(checks):
        unverified = any(
            c.problem is not None and c.problem.code == ROOT_UNVERIFIED for c in checks
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
        signaturecheck.signature_problems(
            bag, checks, trusted_keys=trusted_keys, include_token_problems=False
        )
    )
    statement = anchors_dir(bag) / STATEMENT
    if statement.is_file():
        try:
            report.signed_by = json.loads(statement.read_bytes())["signer"]["key_id"]
        except (ValueError, KeyError, TypeError):
            report.signed_by = None
    log = custody_log or custody.default_log(bag)
    if log.is_file():
        report.problems.extend(custodycheck.verify_chain(log, display=log.name))
    copy = anchors_dir(bag) / BAG_COPY
    if copy.is_file():
        report.problems.extend(
            custodycheck.verify_chain(copy, display=f"{ANCHORS_DIR}/{BAG_COPY}", excerpt=True)
        )
    report.problems.extend(custodycheck.cross_check_bag_copy(bag, log))
    reported = {p.path for p in report.problems if p.code == "timestamp-missing"}
    report.problems.extend(missing_anchors(bag, log, reported))
    report.problems.extend(unexpected_anchor_files(bag))
    return report


def missing_anchors(bag: Path, log: Path | None, reported: Collection[str] = ()) -> list[Problem]:
    """Files the custody events say were written into the anchors folder but are gone.

    ``anchors.json`` can be rewritten along with the files it lists; the custody events are
    chained, and copied to the log beside the bags, so they are the record to check against.
    """
    expected: dict[str, str] = {}
    for where, entry in custodycheck.anchor_events(bag, log):
        details = entry.get("details")
        details = details if isinstance(details, dict) else {}
        event = str(entry.get("event"))
        if event == "signed":
            for name in (STATEMENT, SIGNATURE, PUBLIC_KEY, KEY_ID):
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
    folder = bag / ANCHORS_DIR
    if folder.is_symlink() or not folder.is_dir():
        return []
    known = {INDEX_NAME, BAG_COPY}
    known |= {STATEMENT, SIGNATURE, PUBLIC_KEY, KEY_ID}
    odd: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_symlink():
            odd.append(entry.name)
        elif entry.is_dir() and entry.name == CHAINS_DIR:
            for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
                if sub.is_symlink() or not sub.is_file() or not _CHAIN_FILE.match(sub.name):
                    odd.append(f"{CHAINS_DIR}/{sub.name}")
        elif not entry.is_file() or not (
            entry.name in known or entry.name.endswith(".tsr") or renewal.is_statement(entry.name)
        ):
            odd.append(entry.name)
    return [
        Problem(
            "anchors-unexpected-file",
            f"{ANCHORS_DIR}/{name}",
            "not a token, statement, renewal statement, signature, key, TSA chain, index or "
            "custody copy; "
            "nothing checks it, so it proves nothing",
            "warning",
        )
        for name in odd
    ]
