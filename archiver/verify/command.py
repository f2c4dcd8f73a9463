"""`archiver verify BAG`: run the checks, print the report (human or JSON), exit 0 or 1."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from archiver import __version__
from archiver.attest import custody
from archiver.attest.tokencheck import describe_check
from archiver.base.errors import EXIT_INVALID, EXIT_OK
from archiver.verify.report import VerifyReport, verify_bag


def verify_command(
    bag: Path,
    *,
    as_json: bool = False,
    processes: int | None = None,
    tsa_roots: Sequence[Path] = (),
    trusted_keys: Sequence[Path] = (),
    custody_log: Path | None = None,
    record: bool = False,
    actor: str = "",
) -> int:
    report = verify_bag(
        bag, processes, tsa_roots=tsa_roots, trusted_keys=trusted_keys, custody_log=custody_log
    )
    if record:
        details = {
            "valid": report.valid,
            "errors": sum(p.severity == "error" for p in report.problems),
            "warnings": sum(p.severity == "warning" for p in report.problems),
            "verifier": f"archiver {__version__}",
        }
        custody.append_event(
            custody_log or custody.default_log(bag),
            "verified",
            bag=bag,
            actor=actor,
            details=details,
        )
    if as_json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_human(report)
    return EXIT_OK if report.valid else EXIT_INVALID


def _print_human(report: VerifyReport) -> None:
    errors = [p for p in report.problems if p.severity == "error"]
    warnings = [p for p in report.problems if p.severity == "warning"]
    for p in errors + warnings:
        print(p)
    if report.provenance is not None:
        for check in report.provenance.token_checks:
            print(describe_check(check))
        if report.provenance.signed_by:
            print(f"signed by {report.provenance.signed_by}")
    verdict = "VALID" if report.valid else "INVALID"
    print(
        f"{verdict}: {report.bag} — {report.files_checked} files, {report.bytes_checked} bytes "
        f"checked; {report.warc_files} WARC files, {report.warc_records} records; "
        f"capture log {'cross-checked' if report.log_checked else 'absent'}; "
        f"{len(errors)} errors, {len(warnings)} warnings"
    )
