"""``archiver receive PATH``: take in a bag from a sender, and continue its chain of custody.

Unpack safely (archiver.export.unpack) into ``--into`` (default ``received/``), verify it as
``archiver verify`` does, check a profile if asked, then append a ``received`` event to the
receiver's custody log beside the received bags, linked to the sender's last custody event (the
SHA-256 of the last line of the bag's custody copy, ``provenance-anchors/custody.jsonl``, or
``archiver-original/provenance-anchors/custody.jsonl`` in an export). Finally write a receipt for
the sender, ``NAME.receipt.json`` and ``NAME.receipt.txt`` (signed, ``NAME.receipt.json.sig``,
when a key is configured); the sender records it with ``archiver custody record BAG
acknowledged --receipt FILE``. Exit 0 received and valid, 1 received but invalid or not
conforming (the receipt says so), 2 refused (nothing kept).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from archiver.attest.anchors import ANCHORS_DIR, BAG_COPY
from archiver.attest.custody import LOG_NAME, append_event, line_sha256, tagmanifest_sha256
from archiver.attest.keys import key_id, load_private_key
from archiver.bag.reader import bag_info_value, read_bag_info
from archiver.base import userconfig
from archiver.base.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, ArchiverError
from archiver.base.fsutil import fsync_dir, replace_file
from archiver.export.bagexport import ORIGINAL_DIR
from archiver.export.handed import export_digest
from archiver.export.profilecheck import check_bag
from archiver.export.profiles import resolve_profile
from archiver.export.unpack import unpack
from archiver.verify.report import verify_bag

RECEIPT_FORMAT = "archiver-receipt/1"


def receive_command(
    path: Path,
    into: Path,
    profile_spec: str | None,
    actor: str = "",
    max_bytes: int | None = None,
) -> int:
    """Receive ``path``; the receipt is signed with ARCHIVER_SIGN_KEY when it is set."""
    profile = resolve_profile(profile_spec) if profile_spec else None
    key_path = os.environ.get("ARCHIVER_SIGN_KEY") or None
    key = load_private_key(Path(key_path)) if key_path else None
    if not path.exists():
        raise ArchiverError(f"{path}: no such file or folder", EXIT_USAGE)
    into.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".receiving-", dir=into))
    try:
        unpacked = unpack(path, staging, max_bytes)
        _refuse_our_names(path, unpacked.name)
        final = into / unpacked.name
        if final.exists():
            raise ArchiverError(f"{final}: already received; nothing was kept", EXIT_USAGE)
        report = verify_bag(unpacked)
        # The sender's log stays with the sender: the received event links to its head instead.
        report.problems = [p for p in report.problems if p.code != "custody-log-missing"]
        # A serialised bag is judged as it came (its format and folder name count too).
        problems = check_bag(path, profile[0]) if profile else []
        os.rename(unpacked, final)
        fsync_dir(into)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    conforms = not any(p.severity == "error" for p in problems)
    sender = sender_head(final)
    who = actor or userconfig.default_actor()
    details = {
        "from": path.name,
        "archive_sha256": export_digest(path)["archive_sha256"] if path.is_file() else None,
        "sender_last_event_sha256": sender.get("line_sha256"),
        "sender_last_seq": sender.get("seq"),
        "valid": report.valid,
        "profile": profile[1] if profile else None,
        "conforms": conforms if profile else None,
    }
    entry = append_event(into / LOG_NAME, "received", bag=final, actor=who, details=details)
    receipt = _receipt(final, report.valid, report.problems, profile, problems, sender, entry)
    written = write_receipt(into, final.name, receipt, key)
    for p in [*report.problems, *problems]:
        print(p)
    verdict = "valid" if report.valid else "INVALID"
    if profile:
        verdict += f", {'conforms to' if conforms else 'does NOT conform to'} {profile[1]}"
    print(f"archiver: received {final} ({verdict}); receipt {written}")
    return EXIT_OK if report.valid and conforms else EXIT_INVALID


def _refuse_our_names(path: Path, name: str) -> None:
    """A bag folder may not take the name of the receiver's own files (its custody log, a
    receipt, a staging folder): the event and receipt of every later receive would fail."""
    if name.startswith((".", LOG_NAME)) or ".receipt." in name:
        raise ArchiverError(
            f"{path}: refused: its folder {name!r} would take the name of the receiver's own "
            "files; nothing was kept",
            EXIT_USAGE,
        )


def sender_head(bag: Path) -> dict[str, Any]:
    """The sender's last custody event about the bag, from the copy the bag carries."""
    for copy in (bag / ANCHORS_DIR / BAG_COPY, bag / ORIGINAL_DIR / ANCHORS_DIR / BAG_COPY):
        if copy.is_file():
            lines = copy.read_bytes().split(b"\n")[:-1]
            if lines:
                try:
                    seq = json.loads(lines[-1]).get("seq")
                except (ValueError, AttributeError):
                    seq = None
                return {
                    "copy": copy.relative_to(bag).as_posix(),
                    "seq": seq,
                    "line_sha256": line_sha256(lines[-1] + b"\n"),
                }
    return {}


def _receipt(
    bag: Path,
    valid: bool,
    verify_problems: list[Any],
    profile: tuple[dict[str, Any], str] | None,
    profile_problems: list[Any],
    sender: dict[str, Any],
    entry: dict[str, Any],
) -> dict[str, Any]:
    info = read_bag_info(bag)
    who = userconfig.identity_with_environment()
    original = bag / ORIGINAL_DIR / "tagmanifest-sha256.txt"
    return {
        "format": RECEIPT_FORMAT,
        "bag": bag.name,
        "external_identifier": bag_info_value(info, "External-Identifier") or "",
        "tagmanifest_sha256": tagmanifest_sha256(bag),
        # An export carries its source bag's tag manifest: the sender's bag of record.
        "original_tagmanifest_sha256": (
            hashlib.sha256(original.read_bytes()).hexdigest() if original.is_file() else None
        ),
        "payload_oxum": bag_info_value(info, "Payload-Oxum") or "",
        # What arrived (a tar, zip, tgz): the digest the sender's `exported` event names.
        "archive_sha256": entry["details"].get("archive_sha256"),
        "received_at": entry["at"],
        "receiver": {k: v for k, v in who.items() if v},
        "verification": {
            "valid": valid,
            "errors": [str(p) for p in verify_problems if p.severity == "error"],
            "warnings": sum(p.severity == "warning" for p in verify_problems),
        },
        "profile": (
            {
                "name": profile[1],
                "identifier": profile[0]["BagIt-Profile-Info"].get("BagIt-Profile-Identifier"),
                "problems": [str(p) for p in profile_problems],
            }
            if profile
            else None
        ),
        "sender_custody_head": sender or None,
        "receiver_event": {
            "log": LOG_NAME,
            "seq": entry["seq"],
            "prev_sha256": entry["prev_sha256"],
        },
    }


def write_receipt(into: Path, name: str, receipt: dict[str, Any], key: Any) -> Path:
    """``NAME.receipt.json`` (+ ``.sig``, base64 Ed25519 over its exact bytes) and ``.txt``."""
    if key is not None:
        receipt["signer_key_id"] = key_id(key.public_key())
    body = (json.dumps(receipt, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    target = into / f"{name}.receipt.json"
    replace_file(target, body)
    if key is not None:
        sig = base64.b64encode(key.sign(body)) + b"\n"
        replace_file(into / f"{name}.receipt.json.sig", sig)
    replace_file(into / f"{name}.receipt.txt", _text(receipt).encode("utf-8"))
    return target


def _text(r: dict[str, Any]) -> str:
    v = r["verification"]
    lines = [
        f"Receipt for bag {r['bag']} ({r['external_identifier']})",
        f"Received at {r['received_at']} by {r['receiver'].get('organisation', '(unnamed)')}",
        f"Tag manifest SHA-256: {r['tagmanifest_sha256']}; Payload-Oxum {r['payload_oxum']}",
        f"Verification: {'valid' if v['valid'] else 'INVALID'} ({len(v['errors'])} errors, "
        f"{v['warnings']} warnings)",
        *[f"  {e}" for e in v["errors"]],
    ]
    if r["profile"]:
        ok = not r["profile"]["problems"]
        lines.append(f"Profile {r['profile']['name']}: {'conforms' if ok else 'does not conform'}")
        lines += [f"  {p}" for p in r["profile"]["problems"]]
    head = r["sender_custody_head"]
    if head:
        lines.append(
            f"Links to the sender's custody event seq {head['seq']}: {head['line_sha256']}"
        )
    lines.append(f"Recorded as event seq {r['receiver_event']['seq']} in the receiver's log")
    return "\n".join(lines) + "\n"
