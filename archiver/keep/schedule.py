"""When each collection is due: its cron schedule against its last run, read from the bags.

The last run comes from the sealed bags in the output folder (``<name>-<YYYYMMDDTHHMMSSZ>``),
never from an index, so deleting or rebuilding any catalog cannot make a collection skip a run.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from croniter import croniter

from archiver.bag.reader import bag_info_value, read_bag_info
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.timefmt import clock_now, parse_iso
from archiver.capture.log import read_entries
from archiver.collect.collection import TOML_NAME, Collection, load_collection

TIMER_CALENDAR = "*:0/15"  # the timer (and cron line) runs --due every quarter hour
CRON_EVERY = "*/15 * * * *"


@dataclass
class LastRun:
    """The latest run of a collection: its bag (or state file), start and outcome counts."""

    bag: str
    start: datetime
    outcomes: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


def find_collections(root: Path) -> list[Collection]:
    """Every collection under ``root`` (each subfolder with a collection.toml), checked."""
    if not root.is_dir():
        raise ArchiverError(f"{root}: not a folder of collections; check the path", EXIT_USAGE)
    tomls = sorted(root.glob(f"*/{TOML_NAME}"))
    if (root / TOML_NAME).is_file():
        tomls.insert(0, root / TOML_NAME)
    return [load_collection(t) for t in tomls]


def _stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _bag_start(bag: Path, stamp: datetime) -> datetime:
    """The later of the name's time and Capture-Start (the name carries --due's clock)."""
    try:
        started = parse_iso(bag_info_value(read_bag_info(bag), "Capture-Start"))
    except (OSError, ValueError, ArchiverError):
        started = None
    return max(stamp, started) if started else stamp


def outcome_counts(bag: Path) -> dict[str, int]:
    """How many URLs ended in each outcome, from the bag's capture log."""
    log = bag / "data" / "capture-log.jsonl"
    if not log.is_file():
        return {}
    return dict(sorted(Counter(e.outcome for e in read_entries(log)).items()))


def interrupted_run(out: Path, name: str) -> str | None:
    """The bag name of an interrupted run of collection ``name`` (its state file is there)."""
    pattern = re.compile(rf"{re.escape(name)}-\d{{8}}T\d{{6}}Z")
    for state_file in sorted(out.glob(f".{name}-*.run.json")):
        try:
            state = json.loads(state_file.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(state, dict) and pattern.fullmatch(str(state.get("name", ""))):
            return str(state["name"])
    return None


def last_run(out: Path, name: str) -> LastRun | None:
    """The latest sealed bag of collection ``name`` in ``out``, or its interrupted run."""
    pattern = re.compile(rf"{re.escape(name)}-(\d{{8}}T\d{{6}}Z)")
    best: LastRun | None = None
    for bag in out.glob(f"{name}-*") if out.is_dir() else []:
        match = pattern.fullmatch(bag.name)
        stamp = _stamp(match.group(1)) if match else None
        if stamp is None or not (bag / "tagmanifest-sha256.txt").is_file():
            continue  # not a sealed bag of this collection
        if best is None or stamp > best.start:
            best = LastRun(bag.name, _bag_start(bag, stamp))
    if best is not None:
        best.outcomes = outcome_counts(out / best.bag)
    pending = interrupted_run(out, name) if out.is_dir() else None
    if pending is not None:
        stamp = _stamp(pending.rsplit("-", 1)[-1]) or datetime.min.replace(tzinfo=UTC)
        return LastRun(pending, stamp, {}, interrupted=True)
    return best


def _cron(c: Collection, start: datetime) -> croniter:
    return croniter(c.schedule, start.astimezone(zoneinfo.ZoneInfo(c.timezone)))


def is_due(c: Collection, last: LastRun | None, moment: datetime) -> bool:
    """Due: an interrupted run, or a fire time after the last start and at or before ``moment``.

    A scheduled collection that never ran is due at once: its first run is the baseline.
    """
    if last is not None and last.interrupted:
        return True
    if not c.schedule:
        return False
    if last is None:
        return True
    fire: datetime = _cron(c, last.start).get_next(datetime)
    return fire <= moment


def next_due(c: Collection, last: LastRun | None, moment: datetime) -> datetime | None:
    """When ``--due`` will next run the collection (``moment`` itself when it is due now)."""
    if is_due(c, last, moment):
        return moment
    if not c.schedule:
        return None
    fire: datetime = _cron(c, moment).get_next(datetime)
    return fire


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def listing(root: Path, out: Path, moment: datetime) -> list[dict[str, Any]]:
    """One entry per collection: schedule, zone, last run and next due time (UTC and local)."""
    rows = []
    for c in find_collections(root):
        last = last_run(out, c.name)
        due = next_due(c, last, moment)
        zone = zoneinfo.ZoneInfo(c.timezone)
        rows.append(
            {
                "collection": c.name,
                "file": str(c.toml_path),
                "schedule": c.schedule or None,
                "timezone": c.timezone,
                "last_run": None
                if last is None
                else {
                    "bag": last.bag,
                    "start": _iso(last.start),
                    "interrupted": last.interrupted,
                    "outcomes": last.outcomes,
                },
                "due_now": due == moment,
                "next_due": _iso(due),
                "next_due_local": due.astimezone(zone).isoformat() if due else None,
            }
        )
    return rows


def archiver_command() -> str:
    """How the installed archiver is started: its script, else this Python with ``-m``."""
    return shutil.which("archiver") or f"{sys.executable} -m archiver"


def install_text(root: Path, out: Path) -> dict[str, str]:
    """The crontab line and the systemd units that run ``--due`` every quarter hour."""
    due = f"{archiver_command()} run --due {root.resolve()} --out {out.resolve()} --quiet"
    service = (
        "[Unit]\nDescription=archiver: run every collection whose schedule is due\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        f"[Service]\nType=oneshot\nExecStart={due}\nNice=10\n"
    )
    timer = (
        "[Unit]\nDescription=archiver: check collection schedules every quarter hour\n\n"
        f"[Timer]\nOnCalendar={TIMER_CALENDAR}\nPersistent=true\n"
        "Unit=archiver-due.service\n\n[Install]\nWantedBy=timers.target\n"
    )
    return {"crontab": f"{CRON_EVERY} {due}", "service": service, "timer": timer}


def _row_text(r: dict[str, Any]) -> str:
    head = f"{r['collection']}: schedule {r['schedule'] or '(none)'} in {r['timezone']}"
    last = r["last_run"]
    if last is None:
        run = "never run"
    elif last["interrupted"]:
        run = f"interrupted {last['bag']} (resumed by the next --due)"
    else:
        counts = ", ".join(f"{k} {v}" for k, v in last["outcomes"].items()) or "no URLs"
        run = f"{last['bag']} started {last['start']} ({counts})"
    due = "due now" if r["due_now"] else (r["next_due_local"] or "never (no schedule)")
    return f"{head}\n  last run: {run}\n  next due: {due}"


def schedule_command(root: Path, out: Path, as_json: bool) -> int:
    """``archiver schedule``: the listing, then what to install to drive ``run --due``."""
    moment = clock_now()
    rows = listing(root, out, moment)
    units = install_text(root, out)
    if as_json:
        print(json.dumps({"now": _iso(moment), "collections": rows, **units}, indent=2))
        return 0
    print(f"collections in {root} (bags in {out}), now {_iso(moment)}:")
    for r in rows:
        print(_row_text(r))
    if not rows:
        print("  (none: add subfolders with a collection.toml)")
    print(f"\ncrontab line (crontab -e):\n{units['crontab']}")
    print(f"\n/etc/systemd/system/archiver-due.service:\n{units['service']}")
    print(f"/etc/systemd/system/archiver-due.timer:\n{units['timer']}")
    print("then: systemctl daemon-reload && systemctl enable --now archiver-due.timer")
    return 0
