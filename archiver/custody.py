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

import fcntl
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.anchors import ANCHORS_DIR, BAG_COPY, anchors_dir
from archiver.bag.reader import bag_info_value, read_bag_info, require_sealed_bag
from archiver.base import faults
from archiver.base.errors import EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import free_name, replace_file, write_new
from archiver.base.problems import Problem
from archiver.base.timefmt import utc_iso

LOG_NAME = "custody-log.jsonl"
GENESIS = "0" * 64
EVENTS = (
    "captured",
    "sealed",
    "timestamped",
    "signed",
    "verified",
    "exported",
    "received",
    "repaired",
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
    return (
        json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode("utf-8")


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
) -> dict[str, Any]:
    """Append one event, chained to the last line; return the entry written.

    ``bag`` names the bag the event concerns (name, External-Identifier, and the SHA-256 of its
    ``tagmanifest-sha256.txt``, which covers every payload byte).
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
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        f.seek(0)
        data = f.read()
        if data and not data.endswith(b"\n"):
            raise ArchiverError(_torn_message(log), EXIT_RUN_FAILED)
        return _write_event(f, data, event, bag=bag, actor=actor, details=details, at=at)


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
) -> dict[str, Any]:
    """Append one event after ``data`` (the whole lines already in the locked file ``f``)."""
    lines = data.split(b"\n")[:-1]
    prev = line_sha256(lines[-1] + b"\n") if lines else GENESIS
    entry = {
        "seq": len(lines) + 1,
        "prev_sha256": prev,
        "at": _utc(at or datetime.now(UTC)),
        "event": event,
        "bag": bag_identity(bag) if bag is not None else None,
        "tagmanifest_sha256": tagmanifest_sha256(bag) if bag is not None else None,
        "actor": actor or "(not given)",
        "details": details or {},
    }
    f.seek(0, os.SEEK_END)
    line = _dumps(entry)
    if faults.enabled():  # a crash here leaves a torn last line
        faults.point("custody.mid-append", before=lambda: (f.write(line[:20]), f.flush()))
    f.write(line)
    f.flush()
    os.fsync(f.fileno())
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


def verify_chain(path: Path, display: str | None = None, *, excerpt: bool = False) -> list[Problem]:
    """Every problem in the chain: edits, deletions, insertions, reordering, bad lines.

    With ``excerpt`` the file is a bag's copy: only the log's lines about that bag, so ``seq``
    may jump where other bags' events were left out. Seq must still rise, and each line that
    directly follows its predecessor in the log (seq + 1) must name that line's hash.
    """
    where = display or str(path)
    if not path.is_file():
        return [Problem("custody-log-missing", where, "the custody log is missing")]
    data = path.read_bytes()
    problems: list[Problem] = []
    lines = data.split(b"\n")
    tail = lines.pop()
    if tail:
        problems.append(
            Problem("custody-log-torn", f"{where}:{len(lines) + 1}", "the last line is incomplete")
        )
    prev = GENESIS
    last_at = ""
    last_seq = 0
    for n, raw in enumerate(lines, start=1):
        here = f"{where}:{n}"
        entry = _parse(raw)
        if entry is None:
            problems.append(Problem("custody-log-bad-line", here, "not a JSON object"))
            last_seq = 0  # the next line's link cannot be judged from an unreadable line
        elif excerpt:
            seq = entry.get("seq")
            if not isinstance(seq, int) or seq <= last_seq:
                problems.append(
                    Problem(
                        "custody-log-sequence",
                        here,
                        f"seq is {seq!r} after {last_seq}: a line was inserted or moved",
                    )
                )
            elif seq == last_seq + 1 and entry.get("prev_sha256") != prev:
                problems.append(
                    Problem(
                        "custody-log-chain-broken",
                        here,
                        "prev_sha256 does not match the line before: that line was edited",
                    )
                )
            last_seq = seq if isinstance(seq, int) else last_seq
        if entry is not None and not excerpt:
            if entry.get("seq") != n:
                problems.append(
                    Problem(
                        "custody-log-sequence",
                        here,
                        f"seq is {entry.get('seq')!r}, expected {n}: a line was deleted, "
                        "inserted or moved",
                    )
                )
            if entry.get("prev_sha256") != prev:
                problems.append(
                    Problem(
                        "custody-log-chain-broken",
                        here,
                        "prev_sha256 does not match the line before: that line was edited, "
                        "deleted or moved",
                    )
                )
        if entry is not None:
            if entry.get("event") not in EVENTS:
                problems.append(
                    Problem("custody-log-bad-line", here, f"unknown event {entry.get('event')!r}")
                )
            at = entry.get("at")
            if isinstance(at, str):
                if at < last_at:
                    problems.append(
                        Problem(
                            "custody-log-time-order",
                            here,
                            f"time {at} is before the previous event's {last_at}",
                            "warning",
                        )
                    )
                last_at = max(last_at, at)
        prev = line_sha256(raw + b"\n")
    return problems


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
    out: list[bytes] = []
    for raw in log.read_bytes().split(b"\n")[:-1]:
        entry = _parse(raw)
        if entry is not None and _concerns(entry, ident):
            out.append(raw + b"\n")
    return out


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


def cross_check_bag_copy(bag: Path, log: Path | None = None) -> list[Problem]:
    """Each event copied into the bag must still be in the custody log, byte for byte.

    This is what catches an edited or cut-off end of the log, which the chain alone cannot.
    """
    copy = bag / ANCHORS_DIR / BAG_COPY
    if not copy.is_file():
        return []
    log = log or default_log(bag)
    rel = f"{ANCHORS_DIR}/{BAG_COPY}"
    if not log.is_file():
        return [
            Problem(
                "custody-log-missing",
                rel,
                f"the bag carries custody events but the log {log} is not there to compare",
                "warning",
            )
        ]
    by_seq: dict[int, bytes] = {}
    for raw in log.read_bytes().split(b"\n")[:-1]:
        entry = _parse(raw)
        if entry is not None and isinstance(entry.get("seq"), int):
            by_seq.setdefault(entry["seq"], raw)
    problems: list[Problem] = []
    copied: set[int] = set()  # seqs present in the copy; a changed one is reported above
    for n, raw in enumerate(copy.read_bytes().split(b"\n")[:-1], start=1):
        entry = _parse(raw)
        seq = entry.get("seq") if entry else None
        if isinstance(seq, int):
            copied.add(seq)
        if not isinstance(seq, int) or by_seq.get(seq) != raw:
            problems.append(
                Problem(
                    "custody-log-differs",
                    f"{rel}:{n}",
                    f"event seq {seq} in the bag differs from (or is missing in) {log.name}",
                )
            )
    # The other direction: a line cut out of the copy leaves no gap the copy alone can show.
    last = max(copied, default=0)
    for raw in events_for_bag(log, bag):
        entry = _parse(raw)
        seq = entry.get("seq") if entry else None
        if isinstance(seq, int) and seq <= last and seq not in copied:
            problems.append(
                Problem(
                    "custody-log-differs",
                    rel,
                    f"event seq {seq} about this bag is in {log.name} but missing from the "
                    "bag's copy",
                )
            )
    return problems


def anchor_events(bag: Path, log: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(where, entry) of each ``timestamped``/``signed`` event about ``bag``.

    Read from the bag's own copy and from ``log`` (when it exists), so deleting the anchors
    *and* the copy is still seen while the log is at hand.
    """
    copy = bag / ANCHORS_DIR / BAG_COPY
    sources: list[tuple[str, list[bytes]]] = []
    if copy.is_file() and not copy.is_symlink():
        sources.append((f"{ANCHORS_DIR}/{BAG_COPY}", copy.read_bytes().split(b"\n")[:-1]))
    if log is not None and log.is_file():
        sources.append((log.name, [x.rstrip(b"\n") for x in events_for_bag(log, bag)]))
    ident = bag_identity(bag)
    out: list[tuple[str, dict[str, Any]]] = []
    for where, lines in sources:
        for raw in lines:
            entry = _parse(raw)
            if (
                entry
                and entry.get("event") in ("timestamped", "signed")
                and _concerns(entry, ident)
            ):
                out.append((f"{where} seq {entry.get('seq')}", entry))
    return out


def record_command(bag: Path, event: str, *, log: Path | None, actor: str, note: str | None) -> int:
    """``archiver custody record``: add a hand-off event (exported, received, ...) for a bag."""
    require_sealed_bag(bag)
    target = log or default_log(bag)
    entry = append_event(
        target, event, bag=bag, actor=actor, details={"note": note} if note else None
    )
    print(f"custody: {event} recorded as seq {entry['seq']} in {target}")
    return 0


def _is_custody_entry(entry: dict[str, Any] | None) -> bool:
    return entry is not None and {"seq", "prev_sha256", "event"} <= entry.keys()


def _require_log(log: Path) -> bytes:
    """The bytes of a custody log; anything else is bad input (exit 2), never "BROKEN"."""
    if not log.is_file():
        raise ArchiverError(f"{log}: no such custody log", EXIT_USAGE)
    try:
        data = log.read_bytes()
    except OSError as err:
        raise ArchiverError(f"{log}: cannot read the custody log ({err.strerror})") from err
    whole = data.split(b"\n")[:-1]
    looks_torn_first = not whole and data.startswith(b"{")  # the very first append was cut off
    if data and not looks_torn_first and not any(_is_custody_entry(_parse(r)) for r in whole):
        raise ArchiverError(
            f"{log}: not a custody log (no line is a custody event); give the "
            f"{LOG_NAME} beside the bags",
            EXIT_USAGE,
        )
    return data


def check_command(log: Path) -> int:
    """``archiver custody check``: is the log's hash chain intact? Exit 0 yes, 1 no, 2 not a log."""
    data = _require_log(log)
    problems = verify_chain(log)
    for problem in problems:
        print(problem)
    errors = [p for p in problems if p.severity == "error"]
    lines = sum(1 for raw in data.split(b"\n") if raw.strip())
    print(f"{'INTACT' if not errors else 'BROKEN'}: {log} — {lines} events, {len(errors)} errors")
    if any(p.code == "custody-log-torn" for p in problems):
        print(f"the last line is torn: repair it with `archiver custody repair {log}`")
    return 1 if errors else 0


def repair_command(log: Path, *, actor: str = "") -> int:
    """``archiver custody repair LOG``: cut off a torn last line, keep it, and record that.

    Only a torn last line (an append interrupted by a crash) is repaired. The removed bytes go
    to a dated side file beside the log, and a ``repaired`` event naming their size and SHA-256
    is chained on, so the repair is itself on the record. Anything else is left for a person.
    """
    _require_log(log)
    with open(log, "r+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        torn = data[cut:]
        if not torn:
            print(f"custody: {log} has no torn line; nothing to repair")
            return 0
        now = datetime.now(UTC)
        side_name = free_name(log.parent, f"{log.name}{TORN_SUFFIX}{now:%Y%m%dT%H%M%SZ}", "")
        write_new(log.parent, side_name, torn, mode=0o644)
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
        kept = data[:cut]
        last = _parse(kept.split(b"\n")[-2]) if kept else None
        entry = _write_event(
            f,
            kept,
            "repaired",
            bag=None,
            actor=actor,
            details={
                "reason": "torn last line (an interrupted append) removed",
                "removed_bytes": len(torn),
                "removed_sha256": hashlib.sha256(torn).hexdigest(),
                "removed_after_seq": last.get("seq") if last else None,
                "kept_in": side_name,
            },
            at=now,
        )
    print(
        f"custody: removed a torn last line of {len(torn)} bytes from {log} (kept in "
        f"{log.parent / side_name}); recorded as seq {entry['seq']} ('repaired')"
    )
    return 0
