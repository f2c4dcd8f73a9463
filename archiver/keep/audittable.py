"""The catalog's ``audits`` table: rows made from ``audited`` custody events, and read back.

Each row is a function of one custody event and the bag's place beside its log, so an audit
recorded as it happens and the same audit re-read by ``catalog rebuild`` are the same row.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from archiver.attest.custody import LOG_NAME as CUSTODY_LOG_NAME

AUDIT_COLUMNS = [
    "audit_id",
    "path",
    "bag",
    "run_id",
    "at",
    "verdict",
    "problems",
    "tagmanifest_sha256",
]


def audit_row(entry: dict[str, Any], path: str) -> tuple[Any, ...] | None:
    """The catalog row of one ``audited`` custody event (None: not an audit event)."""
    details = entry.get("details")
    bag = entry.get("bag")
    if entry.get("event") != "audited" or not isinstance(details, dict):
        return None
    if not isinstance(bag, dict) or not isinstance(details.get("audit_id"), str):
        return None
    problems = details.get("problems")
    return (
        details["audit_id"],
        path,
        str(bag.get("name") or ""),
        bag.get("external_identifier") or None,
        str(entry.get("at") or ""),
        str(details.get("verdict") or ""),
        json.dumps(sorted(problems) if isinstance(problems, list) else []),
        entry.get("tagmanifest_sha256"),
    )


def logged_audits(directory: Path) -> list[tuple[Any, ...]]:
    """Audit rows from every custody log under ``directory`` (what ``rebuild`` re-reads)."""
    rows: list[tuple[Any, ...]] = []
    for log in sorted(directory.rglob(CUSTODY_LOG_NAME), key=lambda p: p.as_posix()):
        if any(p.startswith(".") for p in log.relative_to(directory).parts) or not log.is_file():
            continue
        for raw in log.read_bytes().split(b"\n")[:-1]:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            bag = entry.get("bag") if isinstance(entry, dict) else None
            if isinstance(bag, dict) and isinstance(bag.get("name"), str):
                row = audit_row(entry, str(log.parent.resolve() / bag["name"]))
                if row is not None:
                    rows.append(row)
    return rows


def last_audits(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The latest audit of each bag path: the share rotation and "changed since" read it."""
    columns = ", ".join(f"a.{c}" for c in AUDIT_COLUMNS)
    rows = conn.execute(
        f"SELECT {columns} FROM audits a JOIN "  # noqa: S608 - fixed column names
        "(SELECT path, MAX(at) AS at FROM audits GROUP BY path) m USING (path, at) "
        "ORDER BY a.path, a.audit_id"
    )
    return {row[1]: dict(zip(AUDIT_COLUMNS, row, strict=True)) for row in rows}
