"""``python -m archiver.bag BAG...``: validate bags like a Unix tool (for harnesses and scripts).

Problems go to stderr, one line each; the exit code is 0 when every bag is valid, 1 when one is
not, 2 when a bag cannot be read at all. This is the contract of the LoC conformance suite's
``test-harness``; the project's own CLI (``archiver verify``) builds on the same functions.
"""

from __future__ import annotations

import argparse
import json
import sys

from archiver.bag.profile import check_profile
from archiver.bag.validate import validate_bag
from archiver.base.errors import EXIT_INVALID, EXIT_OK, ArchiverError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archiver.bag", description=__doc__)
    parser.add_argument("bags", nargs="+", metavar="BAG")
    parser.add_argument("--fast", action="store_true", help="structure and Oxum only, no hashing")
    parser.add_argument("--processes", type=int, default=None, help="hashing threads")
    parser.add_argument("--profile", help="also check against this BagIt profile JSON")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)
    status = EXIT_OK
    for bag in args.bags:
        try:
            report = validate_bag(bag, processes=args.processes, fast=args.fast)
            problems = list(report.problems)
            if args.profile:
                problems += check_profile(bag, args.profile)
        except ArchiverError as e:
            print(f"error: {e}", file=sys.stderr)
            return e.exit_code
        valid = not any(p.severity == "error" for p in problems)
        if args.json:
            out = report.to_dict()
            out["valid"] = valid
            out["problems"] = [p.to_dict() for p in problems]
            out["errors"] = sum(p.severity == "error" for p in problems)
            out["warnings"] = sum(p.severity == "warning" for p in problems)
            print(json.dumps(out, ensure_ascii=False))
        else:
            for p in problems:
                print(f"{bag}: {p}", file=sys.stderr)
            verdict = "valid" if valid else "INVALID"
            print(f"{bag}: {verdict} ({report.files_checked} files, {report.bytes_checked} bytes)")
        if not valid:
            status = EXIT_INVALID
    return status


if __name__ == "__main__":
    sys.exit(main())
