"""The custody log: an append-only, hash-chained JSON Lines record of what happened to each bag.

The Berkeley Protocol asks for a chronological record of custody (who held the evidence, when,
and what was done to it). Each line names the SHA-256 of the line before it, so an edited,
deleted or reordered line breaks the chain at the next line and ``verify_chain`` says where.
Editing or cutting off the *last* lines cannot be seen from the log alone; that is why the
events concerning a bag are also copied into its ``provenance-anchors/custody.jsonl`` when it is
timestamped, and ``cross_check_bag_copy`` compares the two.

The log lives beside the bags (``OUT/custody-log.jsonl``). It is appended under an exclusive
lock and fsynced after each line, never rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.attest.anchors import BAG_COPY, anchors_dir
from archiver.bag.reader import bag_info_value, read_bag_info
from archiver.base import faults
from archiver.base.compactjson import compact
from archiver.base.errors import EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import append_synced, file_lock, replace_file
from archiver.base.timefmt import utc_iso
from archiver.base.userconfig import default_actor

LOG_NAME = "custody-log.jsonl"
GENESIS = "0" * 64
EVENTS = (
    "captured",
    "imported",  # another tool's capture wrapped into a bag (docs/import.md)
    "sealed",
    "timestamped",
    "signed",
    "verified",
    "exported",
    "received",
    "acknowledged",  # the receiver's receipt came back (``custody record ... --receipt``)
    "repaired",
    "audited",
)
TORN_SUFFIX = ".torn-"  # custody-log.jsonl.torn-20261124T131500Z keeps what a repair cut off


def default_log(bag: Path) -> Path:
    """Where a bag's custody log lives: beside it."""
    return bag.resolve().parent / LOG_NAME


def line_sha256(line: bytes) -> str:
    """The chain hash of one log line, its LF included (``sed -n Np LOG | sha256sum``)."""
    return hashlib.sha256(line).hexdigest()


def bag_identity(bag: Path) -> dict[str, str]:
    ext = bag_info_value(read_bag_info(bag), "External-Identifier") or ""
    return {"name": bag.name, "external_identifier": ext}


def tagmanifest_sha256(bag: Path) -> str | None:
    path = bag / "tagmanifest-sha256.txt"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _dumps(entry: dict[str, Any]) -> bytes:
    return (compact(entry) + "\n").encode("utf-8")


def _utc(moment: datetime) -> str:
    return utc_iso(moment)


def append_event(
    log: Path,
    event: str,
    *,
    bag: Path | None = None,
    actor: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Append one event, chained to the last line; return the entry written.

    ``bag`` names the bag the event concerns (name, External-Identifier, and the SHA-256 of its
    ``tagmanifest-sha256.txt``, which covers every payload byte). ``identity`` names a bag that
    is no longer there to read (an audit that found it missing).
    """
    if event not in EVENTS:
        raise ArchiverError(
            f"custody event {event!r} unknown; use one of {', '.join(EVENTS)}", EXIT_USAGE
        )
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        f = open(log, "a+b")  # noqa: SIM115 - closed below, after the lock is released
    except OSError as err:
        raise ArchiverError(
            f"{log}: cannot open the custody log ({err.strerror}); check the folder is writable",
            EXIT_RUN_FAILED,
        ) from err
    with f:
        file_lock(f)
        f.seek(0)
        data = f.read()
        if data and not data.endswith(b"\n"):
            raise ArchiverError(_torn_message(log), EXIT_RUN_FAILED)
        return _write_event(
            f, data, event, bag=bag, actor=actor, details=details, at=at, identity=identity
        )


def _torn_message(log: Path) -> str:
    return (
        f"{log}: the custody log's last line is torn (a write was interrupted); nothing was "
        f"added. Repair it with `archiver custody repair {log}` (the torn bytes are kept and "
        "the repair is recorded), then run again"
    )


def _write_event(
    f: Any,
    data: bytes,
    event: str,
    *,
    bag: Path | None,
    actor: str,
    details: dict[str, Any] | None,
    at: datetime | None,
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Append one event after ``data`` (the whole lines already in the locked file ``f``)."""
    lines = data.split(b"\n")[:-1]
    prev = line_sha256(lines[-1] + b"\n") if lines else GENESIS
    entry = {
        "seq": len(lines) + 1,
        "prev_sha256": prev,
        "at": _utc(at or datetime.now(UTC)),
        "event": event,
        "bag": bag_identity(bag) if bag is not None else identity,
        "tagmanifest_sha256": tagmanifest_sha256(bag) if bag is not None else None,
        "actor": actor or default_actor() or "(not given)",
        "details": details or {},
    }
    f.seek(0, os.SEEK_END)
    line = _dumps(entry)
    if faults.enabled():  # a crash here leaves a torn last line
        faults.point("custody.mid-append", before=lambda: (f.write(line[:20]), f.flush()))
    append_synced(f, line)
    faults.point("custody.appended")
    return entry


def check_appendable(log: Path) -> None:
    """Refuse early (before a run captures anything) when events could not be added to ``log``."""
    if log.is_symlink() or (log.exists() and not log.is_file()):
        raise ArchiverError(
            f"{log}: the custody log is not a regular file; move it away", EXIT_RUN_FAILED
        )
    if not log.is_file():
        return
    try:
        with open(log, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            last = f.read(1)
    except OSError as err:
        raise ArchiverError(
            f"{log}: cannot read the custody log ({err.strerror})", EXIT_RUN_FAILED
        ) from err
    if last != b"\n":
        raise ArchiverError(_torn_message(log), EXIT_RUN_FAILED)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def head_sha256(path: Path) -> str:
    """SHA-256 of the last complete line: what to anchor or hand to a partner."""
    lines = [x for x in path.read_bytes().split(b"\n")[:-1]]
    return line_sha256(lines[-1] + b"\n") if lines else GENESIS


def _concerns(entry: dict[str, Any], ident: dict[str, str]) -> bool:
    bag = entry.get("bag")
    if not isinstance(bag, dict):
        return False
    ext = ident["external_identifier"]
    if ext and bag.get("external_identifier"):
        return bool(bag.get("external_identifier") == ext)
    return bool(bag.get("name") == ident["name"])


def events_for_bag(log: Path, bag: Path) -> list[bytes]:
    """The exact log lines (with LF) that concern ``bag``."""
    if not log.is_file():
        return []
    ident = bag_identity(bag)
    needles = [v.encode("utf-8") for v in ident.values() if v]
    out: list[bytes] = []
    for raw in log.read_bytes().split(b"\n")[:-1]:
        if not _may_concern(raw, needles):
            continue
        entry = _parse(raw)
        if entry is not None and _concerns(entry, ident):
            out.append(raw + b"\n")
    return out


def _may_concern(raw: bytes, needles: list[bytes]) -> bool:
    """False only for a line that cannot name the bag, so a log of many runs is not parsed
    line by line on every run (each of its checks read the whole log).

    A line without a backslash or NUL holds every JSON string as its UTF-8 bytes, so one that
    names the bag (by name or External-Identifier) holds that value verbatim; any other line
    is parsed.
    """
    return b"\\" in raw or b"\x00" in raw or any(n in raw for n in needles)


def events_recorded(log: Path, bag: Path) -> set[str]:
    """Which events about ``bag`` the log already holds (a resumed run adds only the others)."""
    return {str((_parse(raw.rstrip(b"\n")) or {}).get("event")) for raw in events_for_bag(log, bag)}


def copy_into_bag(log: Path, bag: Path) -> Path | None:
    """Write the bag's events into ``provenance-anchors/custody.jsonl`` (outside the manifests)."""
    lines = events_for_bag(log, bag)
    if not lines:
        return None
    target = anchors_dir(bag, create=True) / BAG_COPY
    replace_file(target, b"".join(lines))
    return target
