"""Checking custody logs: the hash chain, the bag's copy against the log, anchor events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archiver.attest.anchors import ANCHORS_DIR, BAG_COPY
from archiver.attest.custody import (
    EVENTS,
    GENESIS,
    _concerns,
    _parse,
    bag_identity,
    default_log,
    events_for_bag,
    line_sha256,
)
from archiver.base.problems import Problem


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
            problems += _excerpt_link_problems(entry, here, prev, last_seq)
            seq = entry.get("seq")
            last_seq = seq if isinstance(seq, int) else last_seq
        else:
            problems += _link_problems(entry, here, n, prev)
        if entry is not None:
            problems += _event_problems(entry, here, last_at)
            at = entry.get("at")
            if isinstance(at, str):
                last_at = max(last_at, at)
        prev = line_sha256(raw + b"\n")
    return problems


def _excerpt_link_problems(
    entry: dict[str, Any], here: str, prev: str, last_seq: int
) -> list[Problem]:
    """In a bag's excerpt seq must rise, and a line that follows its predecessor must link."""
    seq = entry.get("seq")
    if not isinstance(seq, int) or seq <= last_seq:
        return [
            Problem(
                "custody-log-sequence",
                here,
                f"seq is {seq!r} after {last_seq}: a line was inserted or moved",
            )
        ]
    if seq == last_seq + 1 and entry.get("prev_sha256") != prev:
        return [
            Problem(
                "custody-log-chain-broken",
                here,
                "prev_sha256 does not match the line before: that line was edited",
            )
        ]
    return []


def _link_problems(entry: dict[str, Any], here: str, n: int, prev: str) -> list[Problem]:
    """In the whole log line ``n`` has seq ``n`` and names the previous line's hash."""
    problems: list[Problem] = []
    if entry.get("seq") != n:
        problems.append(
            Problem(
                "custody-log-sequence",
                here,
                f"seq is {entry.get('seq')!r}, expected {n}: a line was deleted, inserted or moved",
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
    return problems


def _event_problems(entry: dict[str, Any], here: str, last_at: str) -> list[Problem]:
    """A known event, and (a warning) a time not before the previous event's."""
    problems: list[Problem] = []
    if entry.get("event") not in EVENTS:
        problems.append(
            Problem("custody-log-bad-line", here, f"unknown event {entry.get('event')!r}")
        )
    at = entry.get("at")
    if isinstance(at, str) and at < last_at:
        problems.append(
            Problem(
                "custody-log-time-order",
                here,
                f"time {at} is before the previous event's {last_at}",
                "warning",
            )
        )
    return problems


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
    if received_from_sender(log, bag, copy):
        return []  # a receiver's log: it links to the copy's last event instead of holding it
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


def received_from_sender(log: Path, bag: Path, copy: Path) -> bool:
    """Whether ``log`` is a receiver's: it records this bag ``received`` from a sender whose
    last custody event (the copy's last line, by SHA-256) is the one the copy ends with now.

    `archiver receive` writes that event; the sender's own log stays with the sender, so the
    copy is checked against the hash the receiver recorded on arrival, not line by line.
    """
    lines = copy.read_bytes().split(b"\n")[:-1]
    if not lines:
        return False
    head = line_sha256(lines[-1] + b"\n")
    for raw in events_for_bag(log, bag):
        entry = _parse(raw.rstrip(b"\n")) or {}
        details = entry.get("details")
        link = details.get("sender_last_event_sha256") if isinstance(details, dict) else None
        if entry.get("event") == "received" and link == head:
            return True
    return False


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
