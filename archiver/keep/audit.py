"""Fixity audits: re-verify sealed bags on a schedule and keep every result.

Each bag is checked by ``archiver verify``'s own ``verify_bag`` (nothing re-implemented), and
each result is recorded twice: as an ``audited`` event in the custody log beside the bag (the
record that travels with the evidence) and as a row in the catalog made from that event (the
index that answers "when was this bag last checked").

``--share K/N`` audits ceil(n/N) bags: those least recently audited according to the catalog,
never-audited first, ties by bag name then path. A fixed slot per day (bag i on day i mod N)
would leave a bag unchecked for another N runs whenever its day's run is missed; picking the
stalest bags means a missed day only delays, and every bag is covered in N consecutive runs.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.attest import custody, renewal
from archiver.attest.tsa import ROOT_UNVERIFIED, TsaConfig, _iso
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.timefmt import compact, utc_iso
from archiver.keep.audittable import audit_row
from archiver.keep.catalog import add_audits
from archiver.verify.report import verify_bag

DEFAULT_EXPIRING_DAYS = 365
_SHARE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
# Problems about the bag's own bytes (fixity, WARCs, capture log), as opposed to its anchors.
_ANCHOR_PREFIXES = ("timestamp-", "renewal-", "custody-", "anchors-", "signature-")


@dataclass(frozen=True)
class Share:
    k: int
    n: int

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def parse_share(text: str) -> Share:
    """``K/N`` with 1 <= K <= N; anything else is a one-line usage error."""
    found = _SHARE.match(text)
    k, n = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    if not found or not 1 <= k <= n:
        raise ArchiverError(
            f"--share {text!r}: expected K/N with 1 <= K <= N, e.g. --share 1/7 to audit a "
            "seventh of the bags each day",
            EXIT_USAGE,
        )
    return Share(k, n)


MAX_DETAILS = 20  # error lines kept per bag; the codes are all kept, verify shows the rest


@dataclass
class BagAudit:
    """One bag's audit result."""

    path: str
    name: str
    verdict: str  # "valid", "invalid" or "missing"
    problems: list[str] = field(default_factory=list)  # problem codes, sorted, unique
    tagmanifest_sha256: str | None = None
    last_audit: dict[str, Any] | None = None
    changed_since_last_audit: bool = False
    changed_since_sealing: bool = False
    new_problems: list[str] = field(default_factory=list)  # codes the last audit did not have
    timestamps_failing: list[str] = field(default_factory=list)
    expiring: list[dict[str, Any]] = field(default_factory=list)
    renewal: dict[str, Any] | None = None
    details: list[str] = field(default_factory=list)  # the error lines, for humans

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "last_audit"}
        out["last_audit_at"] = self.last_audit["at"] if self.last_audit else None
        return out


def select_share(bags: list[Path], last: dict[str, dict[str, Any]], share: Share) -> list[Path]:
    """The ceil(n/N) bags least recently audited (never first), ties by name then path."""
    count = math.ceil(len(bags) / share.n)

    def staleness(bag: Path) -> tuple[str, str, str]:
        seen = last.get(str(bag.resolve()))
        return (seen["at"] if seen else "", bag.name, bag.as_posix())

    return sorted(bags, key=staleness)[:count]


def known_paths(conn: sqlite3.Connection, directory: Path) -> dict[str, tuple[str, str | None]]:
    """Bags the catalog knows under ``directory``: path -> (name, run id)."""
    root = directory.resolve()
    known: dict[str, tuple[str, str | None]] = {}
    rows = list(conn.execute("SELECT path, bag, run_id FROM runs"))
    rows += list(conn.execute("SELECT DISTINCT path, bag, run_id FROM audits"))
    for path, name, run_id in rows:
        if Path(path).is_relative_to(root):
            known.setdefault(path, (name, run_id))
    return known


def audit_one(
    bag: Path,
    last: dict[str, Any] | None,
    *,
    now: datetime,
    tsa_roots: list[Path],
    expiring_within: int,
) -> BagAudit:
    """Verify one bag as ``archiver verify`` would and judge it against its last audit."""
    report = verify_bag(bag, tsa_roots=tsa_roots)
    errors = [p for p in report.problems if p.severity == "error"]
    result = BagAudit(
        str(bag.resolve()),
        bag.name,
        "valid" if report.valid else "invalid",
        sorted({p.code for p in report.problems}),
        custody.tagmanifest_sha256(bag),
        last,
    )
    result.details = [str(p) for p in errors[:MAX_DETAILS]]
    if len(errors) > MAX_DETAILS:  # a store of wrecked bags must not fill memory with lines
        result.details.append(
            f"... and {len(errors) - MAX_DETAILS} more errors: run `archiver verify {bag}`"
        )
    result.changed_since_sealing = any(not p.code.startswith(_ANCHOR_PREFIXES) for p in errors)
    result.changed_since_last_audit = last is not None and (
        last.get("tagmanifest_sha256") != result.tagmanifest_sha256
        or (last.get("verdict") == "valid" and not report.valid)
    )
    if last is not None:
        result.new_problems = sorted(set(result.problems) - set(json.loads(last["problems"])))
    checks = report.provenance.token_checks if report.provenance is not None else []
    result.timestamps_failing = sorted(
        {
            c.problem.code
            for c in checks
            if c.problem is not None and c.problem.code != ROOT_UNVERIFIED
        }
        | {p.code for p in report.problems if p.code.startswith("renewal-")}
    )
    for life in renewal.expiring_tokens(bag, checks, now, expiring_within):
        result.expiring.append(
            {
                "file": life.check.file,
                "tsa": life.check.tsa,
                "not_after": _iso(life.not_after) if life.not_after else None,
                "expired": bool(life.not_after and life.not_after < now),
            }
        )
    return result


def record(
    conn: sqlite3.Connection,
    result: BagAudit,
    audit_id: str,
    *,
    share: Share | None,
    actor: str,
    run_id: str | None = None,
) -> None:
    """The ``audited`` custody event beside the bag, then the catalog row made from it."""
    path = Path(result.path)
    details = {
        "audit_id": audit_id,
        "verdict": result.verdict,
        "problems": result.problems,
        "share": str(share) if share else None,
        "changed_since_last_audit": result.changed_since_last_audit,
        "expiring_tokens": [e["file"] for e in result.expiring],
        "renewal": result.renewal.get("statement") if result.renewal else None,
        "verifier": f"archiver {__version__}",
    }
    log = path.parent / custody.LOG_NAME
    if result.verdict == "missing":
        if not path.parent.is_dir():  # nowhere to keep the event; the catalog still has it
            lone = (audit_id, result.path, result.name, run_id, utc_iso(), "missing")
            add_audits(conn, [(*lone, "[]", None)])
            return
        identity = {"name": result.name, "external_identifier": run_id or ""}
        entry = custody.append_event(
            log, "audited", actor=actor, details=details, identity=identity
        )
    else:
        entry = custody.append_event(log, "audited", bag=path, actor=actor, details=details)
    row = audit_row(entry, result.path)
    if row is not None:
        add_audits(conn, [row])


def new_audit_id(now: datetime) -> str:
    return f"audit-{compact(now)}-{uuid.uuid4().hex[:8]}"


def renew_if_needed(
    bag: Path, result: BagAudit, tsas: list[TsaConfig], *, timeout: float, actor: str
) -> None:
    """Renew the bag's timestamps when some are expiring and it is otherwise intact."""
    if not result.expiring:
        return
    if result.changed_since_sealing:
        result.renewal = {"statement": None, "ok": False, "error": "bag is damaged; not renewed"}
        return
    statement, results = renewal.renew_bag(bag, tsas, timeout=timeout, actor=actor)
    result.renewal = {
        "statement": statement,
        "ok": statement is not None,
        "tsas": [r.to_dict() for r in results],
    }
