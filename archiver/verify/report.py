"""``archiver verify BAG``: is this bag exactly what was sealed, and does it hang together?

Three layers, each reporting every problem it finds rather than stopping at the first:
1. BagIt 1.0 completeness and fixity (``archiver.bag.validate``);
2. every WARC (and ARC) file in the payload: record framing, header fields, block and payload
   digests (``archiver.warc.check``);
3. the capture log cross-checked against the WARC records and text files it names.
Exit 0 valid (warnings allowed), 1 invalid, 2 not a readable bag.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.bag.profile import (
    LEGACY_IDENTIFIER,
    PLACEHOLDER,
    PROFILE_IDENTIFIER,
    check_profile,
    profile_for_bag,
)
from archiver.bag.reader import bag_info_value, read_bag_info
from archiver.bag.validate import validate_bag
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.problems import Problem
from archiver.capture.log import LOG_NAME
from archiver.verify.capturelog import cross_check
from archiver.verify.indexed import IndexedRecord
from archiver.verify.provenance import verify_provenance
from archiver.warc.check import check_warc

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")  # ARC: read and reported as such


@dataclass
class VerifyReport:
    bag: Path
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    warc_files: int = 0
    warc_records: int = 0
    log_checked: bool = False
    provenance: Any = None  # archiver.attest.anchors.ProvenanceReport

    @property
    def valid(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bag": str(self.bag),
            "valid": self.valid,
            "verifier": f"archiver {__version__}",
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "warc_files": self.warc_files,
            "warc_records": self.warc_records,
            "capture_log_checked": self.log_checked,
            "errors": sum(p.severity == "error" for p in self.problems),
            "warnings": sum(p.severity == "warning" for p in self.problems),
            "problems": [p.to_dict() for p in self.problems],
            "provenance": self.provenance.to_dict() if self.provenance is not None else None,
        }


def _warc_files(bag: Path) -> list[Path]:
    """WARCs inside data/, never following a symlink out of the bag."""
    data = bag / "data"
    found: list[Path] = []
    if not data.is_dir() or data.is_symlink():
        return found
    for path in sorted(data.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.name.endswith(WARC_SUFFIXES):
            found.append(path)
    return found


def verify_bag(
    bag: Path,
    processes: int | None = None,
    *,
    tsa_roots: Sequence[Path] = (),
    trusted_keys: Sequence[Path] = (),
    custody_log: Path | None = None,
) -> VerifyReport:
    if not bag.exists():
        raise ArchiverError(f"{bag}: no such bag (give the bag's folder)", EXIT_USAGE)
    if not bag.is_dir():
        raise ArchiverError(f"{bag}: not a folder; a bag is a folder with bagit.txt", EXIT_USAGE)
    if not (bag / "bagit.txt").exists() and not any(bag.glob("manifest-*.txt")):
        raise ArchiverError(f"{bag}: not a BagIt bag (no bagit.txt, no manifests)", EXIT_USAGE)

    report = VerifyReport(bag)
    bag_report = validate_bag(bag, processes=processes)
    report.problems.extend(bag_report.problems)
    report.files_checked = bag_report.files_checked
    report.bytes_checked = bag_report.bytes_checked

    report.problems.extend(_profile_problems(bag))

    index: dict[str, IndexedRecord] = {}
    # Our own WARCs always carry digests; another tool's (imported, docs/import.md) often don't.
    ours = bag_info_value(read_bag_info(bag), "Import-Software") is None
    for warc in _warc_files(bag):
        rel = warc.relative_to(bag).as_posix()
        result = check_warc(warc, display_path=rel, require_digests=ours)
        report.warc_files += 1
        report.warc_records += result.records
        report.problems.extend(result.problems)
        name = warc.name  # one string for every record of this file
        for record_id, (offset, rtype, target, payload_sha, status) in result.index.items():
            rtype = sys.intern(rtype)  # a handful of record types, not one string per record
            index[record_id] = IndexedRecord(name, offset, rtype, target, payload_sha, status)
        result.index.clear()  # this file's own index is not kept beside the bag's

    if (bag / "data" / LOG_NAME).is_file():
        report.log_checked = True
        report.problems.extend(cross_check(bag, index))

    report.provenance = verify_provenance(
        bag, extra_roots=tsa_roots, trusted_keys=trusted_keys, custody_log=custody_log
    )
    report.problems.extend(report.provenance.problems)
    return report


def _profile_problems(bag: Path) -> list[Problem]:
    """Bags archiver made must keep conforming to its profile.

    Plain BagIt lets tag manifests, the SHA-512 manifest or bag-info.txt disappear with only a
    warning; for an archiver bag that is how bag-info (capture dates, who) could be rewritten
    unnoticed. A bag is taken as archiver's if it declares the profile or has a capture log.
    """
    info = bag / "bag-info.txt"
    text = info.read_text("utf-8", errors="replace") if info.is_file() else ""
    declared = PROFILE_IDENTIFIER in text or LEGACY_IDENTIFIER in text
    if not declared and not (bag / "data" / LOG_NAME).is_file():
        return []
    profile = profile_for_bag(bag)
    problems = check_profile(bag, profile) if profile is not None else []
    if PLACEHOLDER in text:  # bags before profile 1.1: still valid, but say what is unknown
        problems.append(
            Problem(
                "bag-info-placeholder",
                "bag-info.txt",
                f"holds {PLACEHOLDER!r} where the operator gave no identity (bags before "
                "profile 1.1); an export to a profile that requires the field will ask for it",
                "warning",
            )
        )
    return problems
