"""A run's state beside its output: state file, journal, lock; finding a run to resume."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from archiver.bag.reader import bag_info_value, read_bag_info
from archiver.base.errors import (
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    ArchiverError,
)
from archiver.base.fsutil import file_lock, fsync_dir

# Run state lives beside the staging folder, never inside it, so it can never end up in the bag
# and survives a failed seal: .NAME.run.json, .NAME.capture-log.jsonl (journal), .NAME.lock
STATE_SUFFIX = ".run.json"


JOURNAL_SUFFIX = ".capture-log.jsonl"


LOCK_SUFFIX = ".lock"


def run_file(out: Path, name: str, suffix: str) -> Path:
    return out / f".{name}{suffix}"


def find_resumable(out: Path, fingerprint: str) -> dict[str, Any] | None:
    """The state of an unfinished run of the same sources, if any.

    Unfinished means: its staging folder is there (capture or seal was interrupted), its bag
    is sealed but the steps after sealing were not all done (custody, timestamps, signature,
    clean-up), or neither exists yet (stopped before the staging folder was made).
    """
    for state_file in sorted(out.glob(f".*{STATE_SUFFIX}")):
        try:
            state = json.loads(state_file.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
            continue
        name = state.get("name")
        if not isinstance(name, str) or not isinstance(state.get("run_id"), str):
            continue
        bag = out / name
        if (out / f".{name}.partial").is_dir():
            return state
        if bag.exists():
            if is_sealed_run(bag, state["run_id"]):
                return state
            continue  # a bag of another run took that name: never touched
        return state
    return None


def is_sealed_run(bag: Path, run_id: str) -> bool:
    """``bag`` is the sealed bag of run ``run_id`` (its bag-info names the run)."""
    if not (bag / "bagit.txt").is_file() or not (bag / "tagmanifest-sha256.txt").is_file():
        return False
    return bag_info_value(read_bag_info(bag), "External-Identifier") == run_id


def lock_run(out: Path, name: str) -> Any:
    """Hold an exclusive lock for the run: two runs into one staging folder corrupt each other."""
    path = run_file(out, name, LOCK_SUFFIX)
    handle = open(path, "a")  # noqa: SIM115 - held until the process ends
    try:
        file_lock(handle, blocking=False)
    except BlockingIOError:
        handle.close()
        raise ArchiverError(
            f"{out / name}: another archiver run is writing this bag; wait for it to finish",
            EXIT_RUN_FAILED,
        ) from None
    return handle


def check_bag_name(name: str) -> str:
    if not name or name in (".", "..") or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ArchiverError(
            f"--name {name!r}: give a plain folder name (no '/', not starting with '.')", EXIT_USAGE
        )
    return name


def clean_up_state(out: Path, name: str) -> None:
    """Remove everything the run kept beside the bag; the state file goes last.

    Until the state file is gone a re-run of the same command finds the run and finishes it,
    so a crash anywhere in here is completed by the next run.
    """
    for suffix in (JOURNAL_SUFFIX, ".journal.jsonl", STATE_SUFFIX + ".tmp"):
        run_file(out, name, suffix).unlink(missing_ok=True)
    shutil.rmtree(run_file(out, name, ".spool"), ignore_errors=True)
    run_file(out, name, LOCK_SUFFIX).unlink(missing_ok=True)
    run_file(out, name, STATE_SUFFIX).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        fsync_dir(out)


def drop_torn_tail(path: Path) -> None:
    """Cut a journal's torn last line (a crash mid-append) so new entries start on a line.

    Reads back from the end only as far as the last line break: a journal of any size is never
    read whole.
    """
    try:
        with open(path, "r+b") as f:
            end = f.seek(0, os.SEEK_END)
            pos, cut = end, 0
            while pos > 0:
                step = min(64 * 1024, pos)
                pos -= step
                f.seek(pos)
                found = f.read(step).rfind(b"\n")
                if found >= 0:
                    cut = pos + found + 1
                    break
            if cut != end:
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
    except FileNotFoundError:
        return
