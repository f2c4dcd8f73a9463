"""The `archiver custody record|check|repair` verbs over the custody log."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from archiver.attest.custody import (
    LOG_NAME,
    TORN_SUFFIX,
    _parse,
    _write_event,
    append_event,
    default_log,
    tagmanifest_sha256,
)
from archiver.attest.custodycheck import verify_chain
from archiver.attest.keys import key_id, load_public_key
from archiver.bag.reader import require_sealed_bag
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.fsutil import file_lock, free_name, write_new
from archiver.base.timefmt import compact


def record_command(
    bag: Path,
    event: str,
    *,
    log: Path | None,
    actor: str,
    note: str | None,
    receipt: Path | None = None,
    receiver_key: Path | None = None,
) -> int:
    """``archiver custody record``: add a hand-off event (exported, received, ...) for a bag."""
    require_sealed_bag(bag)
    target = log or default_log(bag)
    details: dict[str, Any] = {"note": note} if note else {}
    if receipt is not None:
        details.update(receipt_details(bag, receipt, target))
        details["receipt_signature"] = _receipt_signature(receipt, receiver_key)
        if details["exported_seq"] is None:
            print(f"custody: {receipt} answers no `exported` event in {target}", file=sys.stderr)
    elif event == "acknowledged":
        raise ArchiverError("custody record acknowledged: give --receipt FILE", EXIT_USAGE)
    entry = append_event(target, event, bag=bag, actor=actor, details=details or None)
    print(f"custody: {event} recorded as seq {entry['seq']} in {target}")
    return 0


def receipt_details(bag: Path, receipt: Path, log: Path) -> dict[str, Any]:
    """What a receiver's receipt says, checked to be about this very bag (same tag manifest)."""
    try:
        data = receipt.read_bytes()
        doc = json.loads(data)
    except (OSError, ValueError) as err:
        raise ArchiverError(f"{receipt}: not a readable receipt ({err})", EXIT_USAGE) from None
    if not isinstance(doc, dict) or doc.get("format") != "archiver-receipt/1":
        raise ArchiverError(f"{receipt}: not an archiver receipt (format)", EXIT_USAGE)
    shapes: dict[str, tuple[type, ...]] = {
        "receiver": (dict,),
        "verification": (dict,),
        "receiver_event": (dict, type(None)),
    }
    wrong = [k for k, kind in shapes.items() if not isinstance(doc.get(k), kind)]
    if wrong:
        raise ArchiverError(f"{receipt}: not an archiver receipt ({', '.join(wrong)})", EXIT_USAGE)
    mine = tagmanifest_sha256(bag)
    if mine not in (doc.get("tagmanifest_sha256"), doc.get("original_tagmanifest_sha256")):
        raise ArchiverError(
            f"{receipt}: the receipt is for another bag (its tag manifest SHA-256 is "
            f"{doc.get('tagmanifest_sha256')}, this bag's {mine})",
            EXIT_USAGE,
        )
    return {
        "receipt_sha256": hashlib.sha256(data).hexdigest(),
        "receiver": doc.get("receiver", {}),
        "received_at": doc.get("received_at"),
        "receiver_valid": doc.get("verification", {}).get("valid"),
        "receiver_event": doc.get("receiver_event"),
        "archive_sha256": doc.get("archive_sha256"),
        "exported_seq": _matching_export(log, doc),
    }


def _receipt_signature(receipt: Path, receiver_key: Path | None) -> str:
    """What the receipt's signature (``NAME.receipt.json.sig``) shows. Anyone holding the bag
    can write a receipt: only one signed by the receiver's key says who received it."""
    sig = receipt.with_name(receipt.name + ".sig")
    if receiver_key is None:
        return "present, not checked (give --receiver-key)" if sig.is_file() else "absent"
    if not sig.is_file():
        raise ArchiverError(f"{receipt}: unsigned, so --receiver-key cannot vouch for it")
    public = load_public_key(receiver_key)
    try:
        public.verify(
            base64.b64decode(sig.read_bytes().strip(), validate=True), receipt.read_bytes()
        )
    except (InvalidSignature, ValueError):
        raise ArchiverError(
            f"{sig}: does not verify with {receiver_key}; the receipt is not the receiver's"
        ) from None
    return f"verified: key {key_id(public)}"


def _matching_export(log: Path, receipt: dict[str, Any]) -> int | None:
    """The seq of the last ``exported`` event that made what the receipt acknowledges: same
    file SHA-256 (tar, zip, tgz) or same tag manifest SHA-256 (a folder); None if none does."""
    wanted = [
        ("archive_sha256", receipt.get("archive_sha256")),
        ("tagmanifest_sha256", receipt.get("tagmanifest_sha256")),
    ]
    found = None
    for raw in log.read_bytes().splitlines() if log.is_file() else []:
        event = _parse(raw)
        details = event.get("details") if event else None
        if not event or event.get("event") != "exported" or not isinstance(details, dict):
            continue
        if any(value and details.get(key) == value for key, value in wanted):
            found = event.get("seq")
    return found


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
        file_lock(f)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        torn = data[cut:]
        if not torn:
            print(f"custody: {log} has no torn line; nothing to repair")
            return 0
        now = datetime.now(UTC)
        side_name = free_name(log.parent, f"{log.name}{TORN_SUFFIX}{compact(now)}", "")
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
