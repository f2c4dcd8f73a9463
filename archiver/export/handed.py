"""The sender's side of a hand-off: each export is an ``exported`` event in the bag's custody log.

The event names what was made (format, profile, file) and the SHA-256 that identifies it: of the
file for a tar, zip, tgz or WACZ, of the export's ``tagmanifest-sha256.txt`` for a folder. The
receiver's ``received`` event and receipt carry the same digest, so the two logs meet on one
value, and ``custody record BAG acknowledged --receipt`` names the export it acknowledges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archiver.attest.custody import append_event, default_log, tagmanifest_sha256
from archiver.base import userconfig
from archiver.base.hashing import hash_file


def export_digest(result: Path) -> dict[str, str | None]:
    """What identifies an export: its file's SHA-256, or a folder's tag manifest SHA-256."""
    if result.is_dir():
        return {"archive_sha256": None, "tagmanifest_sha256": tagmanifest_sha256(result)}
    return {"archive_sha256": hash_file(result, ("sha256",)).digests["sha256"]}


def record_export(source: Path, result: Path, fmt: str, profile: str | None) -> dict[str, Any]:
    """Append ``exported`` for sealed bag ``source`` to the custody log beside it."""
    details: dict[str, Any] = {"format": fmt, "profile": profile, "file": result.name}
    details.update(export_digest(result))
    return append_event(
        default_log(source), "exported", bag=source, actor=userconfig.default_actor(),
        details=details,
    )  # fmt: skip
