"""``archiver run --due DIR``: run, one after another, every collection whose schedule is due.

One lock file in the output folder makes a second ``--due`` started meanwhile (a slow run
overlapping the next timer tick) say so and exit 0 instead of racing the first.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from archiver.base.errors import EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import file_lock
from archiver.base.timefmt import clock_now, compact
from archiver.keep.report import write_report_beside
from archiver.keep.schedule import find_collections, interrupted_run, is_due, last_run
from archiver.run.command import run_command
from archiver.run.options import RunOptions

DUE_LOCK = ".due.lock"


def run_due(root: Path, options: RunOptions) -> int:
    """Run every due collection under ``root``; the exit code is the worst of the runs."""
    if options.name:
        raise ArchiverError(
            "--name cannot be used with --due (each bag is named for its collection)", EXIT_USAGE
        )
    collections = find_collections(root)  # every file checked before anything runs
    moment = clock_now()
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    with open(out / DUE_LOCK, "a") as lock:
        try:
            file_lock(lock, blocking=False)
        except BlockingIOError:
            print(
                f"archiver: another 'archiver run --due' holds {out / DUE_LOCK}; it runs what is"
                " due, so this one does nothing",
                file=sys.stderr,
            )
            return EXIT_OK
        due = [c for c in collections if is_due(c, last_run(out, c.name), moment)]
        if not due:
            print(
                f"archiver: nothing due in {root} at {moment:%Y-%m-%dT%H:%M:%SZ}", file=sys.stderr
            )
            return EXIT_OK
        worst = EXIT_OK
        for c in due:
            resumed = interrupted_run(out, c.name)
            name = resumed or f"{c.name}-{compact(moment)}"
            print(f"archiver: {c.name} is due; running it into {out / name}", file=sys.stderr)
            if options.dry_run:
                continue
            one = dataclasses.replace(
                options, sources=[str(c.root)], name=None if resumed else name
            )
            try:
                code = run_command(one)
            except ArchiverError as err:
                print(f"archiver: {c.name}: {err}", file=sys.stderr)
                code = err.exit_code
            worst = max(worst, code)
            if code == EXIT_OK:
                _report(out, c.name, name)
        return worst


def _report(out: Path, collection: str, bag_name: str) -> None:
    """The change report of a scheduled run, beside its bag; a failure here loses no capture."""
    try:
        written = write_report_beside(out, collection, bag_name)
    except (ArchiverError, OSError, ValueError) as err:
        print(
            f"archiver: {bag_name}: no change report ({err}); run `archiver report`",
            file=sys.stderr,
        )
        return
    print(f"archiver: change report: {written[0]}", file=sys.stderr)
