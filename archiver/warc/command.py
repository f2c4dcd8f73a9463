"""``archiver check WARC...``: the WARC checker for files outside a bag (the peer of
``warcio check``, jwat's checker and warc-tiny).

Each file is read to its end whatever it holds: every record that cannot be read is reported
with its offset and reading resumes at the next record. Exit codes are those of ``verify``:
0 every file sound (warnings allowed), 1 problems found, 2 a file could not be read at all
(missing, a folder, or holding no WARC or ARC record).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.base.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from archiver.base.problems import Problem
from archiver.warc.check import WarcCheck, check_warc


def check_one(path: Path) -> tuple[WarcCheck, bool]:
    """(the check, whether the file was readable at all)."""
    shown = str(path)
    if not path.exists():
        result = WarcCheck(shown)
        result.problems.append(Problem("warc-unreadable", shown, "no such file; check the path"))
        return result, False
    if not path.is_file():
        result = WarcCheck(shown)
        result.problems.append(
            Problem("warc-unreadable", shown, "not a file; give WARC (or ARC) files")
        )
        return result, False
    result = check_warc(path, shown)
    readable = result.records > 0 or result.ok
    return result, readable


def file_dict(result: WarcCheck, readable: bool) -> dict[str, Any]:
    return {
        "path": result.path,
        "format": result.format,
        "readable": readable,
        "ok": result.ok and readable,
        "records": result.records,
        "errors": sum(p.severity == "error" for p in result.problems),
        "warnings": sum(p.severity == "warning" for p in result.problems),
        "problems": [p.to_dict() for p in result.problems],
    }


def check_command(paths: Sequence[Path], *, as_json: bool = False) -> int:
    """Check every file, print a report, return 0 / 1 / 2 as ``verify`` does."""
    results = [check_one(Path(p)) for p in paths]
    unreadable = any(not readable for _, readable in results)
    invalid = any(not r.ok for r, _ in results)
    code = EXIT_USAGE if unreadable else EXIT_INVALID if invalid else EXIT_OK
    if as_json:
        report = {
            "checker": f"archiver {__version__}",
            "valid": code == EXIT_OK,
            "files": [file_dict(r, ok) for r, ok in results],
        }
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return code
    for result, readable in results:
        errors = [p for p in result.problems if p.severity == "error"]
        warnings = [p for p in result.problems if p.severity == "warning"]
        for p in errors + warnings:
            print(p)
        what = "ARC" if result.format == "arc" else "WARC"
        verdict = "UNREADABLE" if not readable else "OK" if result.ok else "PROBLEMS"
        print(
            f"{verdict}: {result.path} ({what}) — {result.records} records; "
            f"{len(errors)} errors, {len(warnings)} warnings"
        )
    return code
