"""``archiver audit DIR``: audit the bags under DIR (or a share), record and report the results."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.attest.tsa import TsaConfig
from archiver.base.errors import EXIT_INVALID, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, ArchiverError
from archiver.base.timefmt import clock_now
from archiver.keep.audit import (
    BagAudit,
    Share,
    audit_one,
    known_paths,
    new_audit_id,
    record,
    renew_if_needed,
    select_share,
)
from archiver.keep.audittable import last_audits
from archiver.keep.catalog import catalog_path, open_catalog, sealed_bags


@dataclass
class AuditOptions:
    share: Share | None = None
    catalog: str | None = None
    expiring_within: int = 365
    renew: bool = False
    tsas: list[TsaConfig] = field(default_factory=list)
    tsa_roots: list[Path] = field(default_factory=list)
    timeout: float = 30.0
    actor: str = ""


def _present_bags(directory: Path, known: dict[str, Any]) -> list[Path]:
    """Sealed bags on disk, plus known ones still there whose capture log was removed."""
    bags = {str(b.resolve()): b for b in sealed_bags(directory)}
    for path in known:
        if path not in bags and (Path(path) / "bagit.txt").is_file():
            bags[path] = Path(path)
    return sorted(bags.values(), key=lambda p: p.as_posix())


def run_audit(directory: Path, opts: AuditOptions) -> dict[str, Any]:
    """Audit, record each result as it is made (an interrupted audit keeps what it did)."""
    if not directory.is_dir():
        raise ArchiverError(
            f"{directory}: no such folder of bags; give the folder that holds them (e.g. runs)",
            EXIT_USAGE,
        )
    if opts.expiring_within < 0:
        raise ArchiverError("--expiring-within: give a number of days, 0 or more", EXIT_USAGE)
    if opts.renew and not opts.tsas:
        raise ArchiverError(
            "--renew needs a TSA: give --tsa NAME=URL,ROOT.pem (or set ARCHIVER_TSA)", EXIT_USAGE
        )
    path = catalog_path(opts.catalog, directory)
    conn = open_catalog(path)
    now = clock_now()
    audit_id = new_audit_id(now)
    try:
        last = last_audits(conn)
        known = known_paths(conn, directory)
        present = _present_bags(directory, known)
        chosen = select_share(present, last, opts.share) if opts.share else present
        results: list[BagAudit] = []
        for bag in chosen:
            result = audit_one(
                bag,
                last.get(str(bag.resolve())),
                now=now,
                tsa_roots=opts.tsa_roots,
                expiring_within=opts.expiring_within,
            )
            if opts.renew:
                renew_if_needed(bag, result, opts.tsas, timeout=opts.timeout, actor=opts.actor)
            record(conn, result, audit_id, share=opts.share, actor=opts.actor)
            results.append(result)
        on_disk = {str(b.resolve()) for b in present}
        for gone in sorted(set(known) - on_disk):
            name, run_id = known[gone]
            result = BagAudit(gone, name, "missing", ["bag-missing"], last_audit=last.get(gone))
            record(conn, result, audit_id, share=opts.share, actor=opts.actor, run_id=run_id)
            results.append(result)
    finally:
        conn.close()
    return {
        "audit_id": audit_id,
        "dir": str(directory),
        "catalog": str(path),
        "share": str(opts.share) if opts.share else None,
        "bags_on_disk": len(present),
        "audited": len(chosen),
        "expiring_within_days": opts.expiring_within,
        "results": [r.to_dict() for r in results],
    }


def exit_code(summary: dict[str, Any]) -> int:
    """1 when a bag is invalid or missing; else 3 when a needed renewal failed; else 0."""
    results = summary["results"]
    if any(r["verdict"] != "valid" for r in results):
        return EXIT_INVALID
    if any(r["renewal"] and not r["renewal"]["ok"] for r in results):
        return EXIT_RUN_FAILED
    return EXIT_OK


def audit_command(directory: Path, opts: AuditOptions, *, as_json: bool = False) -> int:
    summary = run_audit(directory, opts)
    code = exit_code(summary)
    summary["exit"] = code
    if as_json:
        json.dump(summary, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        for line in human_lines(summary):
            print(line)
    return code


def human_lines(summary: dict[str, Any]) -> list[str]:
    """One line per finding, then a summary line."""
    lines: list[str] = []
    for r in summary["results"]:
        last = f"last audited {r['last_audit_at']}" if r["last_audit_at"] else "first audit"
        if r["verdict"] == "missing":
            lines.append(f"MISSING  {r['name']}: known to the catalog at {r['path']}, not on disk")
            continue
        state = "OK      " if r["verdict"] == "valid" else "INVALID "
        notes = []
        if r["changed_since_sealing"]:
            notes.append("changed since sealing")
        if r["changed_since_last_audit"]:
            notes.append("changed since the last audit")
        if r["new_problems"] and r["last_audit_at"]:
            notes.append(f"new since the last audit: {', '.join(r['new_problems'])}")
        lines.append(f"{state} {r['name']} ({last}){': ' + '; '.join(notes) if notes else ''}")
        lines += [f"    {d}" for d in r["details"]]
        if r["timestamps_failing"]:
            lines.append(f"TIMESTAMP {r['name']}: {', '.join(r['timestamps_failing'])}")
        for e in r["expiring"]:
            when = "expired" if e["expired"] else "expires"
            lines.append(
                f"EXPIRING {r['name']}: {e['file']}: {e['tsa']}'s certificate {when} "
                f"{e['not_after']}; renew with `archiver timestamp BAG --renew`"
            )
        if r["renewal"]:
            ren = r["renewal"]
            lines.append(
                f"RENEWED  {r['name']}: {ren['statement']}"
                if ren["ok"]
                else f"RENEWAL FAILED {r['name']}: {_renewal_error(ren)}"
            )
    results = summary["results"]
    count = {v: sum(r["verdict"] == v for r in results) for v in ("valid", "invalid", "missing")}
    share = f" (share {summary['share']})" if summary["share"] else ""
    lines.append(
        f"audit {summary['audit_id']}: {summary['audited']} of {summary['bags_on_disk']} bag(s) "
        f"audited{share}: {count['valid']} valid, {count['invalid']} invalid, "
        f"{count['missing']} missing; recorded in {summary['catalog']} and the custody log(s)"
    )
    return lines


def _renewal_error(ren: dict[str, Any]) -> str:
    if ren.get("error"):
        return str(ren["error"])
    return "; ".join(f"{t['tsa']}: {t['error']}" for t in ren.get("tsas", []))
