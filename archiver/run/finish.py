"""Finishing a bag: the provenance summary, then timestamps, signature and custody events."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.attest import custody
from archiver.attest.anchors import ANCHORS_DIR, CHAINS_DIR
from archiver.attest.signing import finish_signature
from archiver.attest.timestamp import timestamp_bag
from archiver.attest.tsa import TsaConfig
from archiver.bag.summary import render_summary
from archiver.bag.writer import BagBuilder
from archiver.base.settings import Settings
from archiver.base.timefmt import utc_iso
from archiver.capture.log import CaptureEntry
from archiver.keep.history import index_after_run
from archiver.run.options import RunOptions


def write_summary(
    builder: BagBuilder,
    bag_info: list[tuple[str, str]],
    entries: list[dict[str, Any]],
    settings: Settings,
) -> None:
    """The human-readable provenance summary goes into the payload, so the manifests cover it.

    ``entries`` are the capture log's entries as JSON (as journaled: no re-encoding)."""
    facts = {**settings.to_dict(), "effective_user_agent": settings.effective_user_agent()}
    html, text = render_summary(bag_info, entries, facts)
    with builder.open_payload("provenance-summary.html") as f:
        f.write(html.encode("utf-8"))
    with builder.open_payload("provenance-summary.txt") as f:
        f.write(text.encode("utf-8"))


def anchor(
    bag: Path,
    out: Path,
    entries: list[CaptureEntry],
    settings: Settings,
    tsas: list[TsaConfig],
    options: RunOptions,
    started: datetime,
    ended: datetime,
    *,
    event: str = "captured",
    extra: dict[str, object] | None = None,
) -> None:
    """After sealing: custody events, trusted timestamps, signature. Never unseals the bag.

    The first event is ``captured`` for a run, ``imported`` (``extra``: whose) for an import.

    Each step is skipped when the custody log shows it done, so a run stopped half-way through
    these steps is completed by a re-run without doubling any event. A TSA that is down is
    reported with the command that retries it later; the bag is kept.
    """
    log = out / custody.LOG_NAME
    actor = settings.operator or settings.contact_name
    done = custody.events_recorded(log, bag)
    remove_temp_anchor_files(bag)
    details = {
        "urls": len(entries),
        "capture_start": utc_iso(started),
        "capture_end": utc_iso(ended),
        **(extra or {}),
    }
    if event not in done:
        custody.append_event(log, event, bag=bag, actor=actor, details=details)
    if "sealed" not in done:
        custody.append_event(log, "sealed", bag=bag, actor=actor)
    if tsas and "timestamped" not in done:
        for result in timestamp_bag(bag, tsas, custody_log=log, actor=actor):
            if not result.ok:
                print(
                    f"  timestamp: {result.name} failed ({result.error}); add it later with "
                    f"`archiver timestamp {bag} --tsa ...`",
                    file=sys.stderr,
                )
    elif not tsas:
        print(
            "  no TSA configured: the bag has no trusted timestamp yet "
            f"(add one with `archiver timestamp {bag} --tsa NAME=URL,ROOT.pem`)",
            file=sys.stderr,
        )
    if options.sign_key and "signed" not in done:
        finish_signature(
            bag,
            Path(options.sign_key),
            org=settings.organisation or "",
            tsas=tsas,
            custody_log=log,
            actor=actor,
        )
    custody.copy_into_bag(log, bag)  # again: a crash may have come between an event and its copy
    index_after_run(bag, out)  # the capture history (docs/catalog.md); a failure only warns


def remove_temp_anchor_files(bag: Path) -> None:
    """Temporary files a crash left in ``provenance-anchors/`` (never anchors: not yet linked)."""
    for folder in (bag / ANCHORS_DIR, bag / ANCHORS_DIR / CHAINS_DIR):
        if folder.is_dir() and not folder.is_symlink():
            for tmp in folder.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)
