"""Finishing a bag: the provenance summary, then timestamps, signature and custody events."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.attest import custody
from archiver.attest.anchors import ANCHORS_DIR, CHAINS_DIR
from archiver.attest.tsa import TsaConfig
from archiver.bag.summaryout import SummaryWriter
from archiver.bag.summarypass import SummaryPass
from archiver.bag.writer import BagBuilder
from archiver.base.hashing import HashingWriter
from archiver.base.settings import Settings
from archiver.base.timefmt import utc_iso
from archiver.keep.history import index_after_run
from archiver.run.options import RunOptions

SUMMARY_FILES = ("provenance-summary.html", "provenance-summary.txt")


def write_summary(
    builder: BagBuilder,
    bag_info: list[tuple[str, str]],
    summary: SummaryPass,
    settings: Settings,
) -> None:
    """The human-readable provenance summary goes into the payload, so the manifests cover it.

    ``summary`` was filled while the capture log was copied (one read of the journal); a file
    recorded before an interruption is kept.
    """
    facts = {**settings.to_dict(), "effective_user_agent": settings.effective_user_agent()}
    with contextlib.ExitStack() as stack:
        writes: list[Callable[[str], object]] = []
        for name in SUMMARY_FILES:
            if name in builder.recorded:
                writes.append(_ignore)
            else:
                writes.append(_encoded(stack.enter_context(builder.open_payload(name))))
        summary.write(bag_info, facts, SummaryWriter(writes[0], writes[1]))


def _encoded(f: HashingWriter) -> Callable[[str], object]:
    return lambda text: f.write(text.encode("utf-8"))


def _ignore(text: str) -> None:
    """Where a summary file already recorded is not written again."""


def anchor(
    bag: Path,
    out: Path,
    urls: int,
    settings: Settings,
    tsas: list[TsaConfig],
    options: RunOptions,
    started: datetime,
    ended: datetime,
    *,
    event: str = "captured",
    extra: dict[str, object] | None = None,
    captures: Iterable[tuple[Any, ...]] | None = None,
) -> None:
    """After sealing: custody events, trusted timestamps, signature. Never unseals the bag.

    The first event is ``captured`` for a run, ``imported`` (``extra``: whose) for an import;
    ``captures``: the bag's catalog rows when the caller made them (else read from the bag).

    Each step is skipped when the custody log shows it done, so a run stopped half-way through
    these steps is completed by a re-run without doubling any event. A TSA that is down is
    reported with the command that retries it later; the bag is kept.
    """
    log = out / custody.LOG_NAME
    actor = settings.operator or settings.contact_name
    done = custody.events_recorded(log, bag)
    remove_temp_anchor_files(bag)
    details = {
        "urls": urls,
        "capture_start": utc_iso(started),
        "capture_end": utc_iso(ended),
        **(extra or {}),
    }
    if event not in done:
        custody.append_event(log, event, bag=bag, actor=actor, details=details)
    if "sealed" not in done:
        custody.append_event(log, "sealed", bag=bag, actor=actor)
    if tsas and "timestamped" not in done:
        _timestamp(bag, tsas, log, actor)
    elif not tsas:
        print(
            "  no TSA configured: the bag has no trusted timestamp yet "
            f"(add one with `archiver timestamp {bag} --tsa NAME=URL,ROOT.pem`)",
            file=sys.stderr,
        )
    if options.sign_key and "signed" not in done:
        # Imported here, like timestamping: signing loads cryptography.
        from archiver.attest.signing import finish_signature

        org = settings.organisation or ""
        finish_signature(
            bag, Path(options.sign_key), org=org, tsas=tsas, custody_log=log, actor=actor
        )
    custody.copy_into_bag(log, bag)  # again: a crash may have come between an event and its copy
    # The capture history (docs/catalog.md); a failure only warns.
    index_after_run(bag, out, captures)


def _timestamp(bag: Path, tsas: list[TsaConfig], log: Path, actor: str) -> None:
    """Ask each TSA; one that fails is reported with the command that adds its token later."""
    # Imported here: timestamping loads cryptography and rfc3161 (~100 ms), which a run
    # without a TSA never needs.
    from archiver.attest.timestamp import timestamp_bag

    for result in timestamp_bag(bag, tsas, custody_log=log, actor=actor):
        if not result.ok:
            print(
                f"  timestamp: {result.name} failed ({result.error}); add it later with "
                f"`archiver timestamp {bag} --tsa ...`",
                file=sys.stderr,
            )


def remove_temp_anchor_files(bag: Path) -> None:
    """Temporary files a crash left in ``provenance-anchors/`` (never anchors: not yet linked)."""
    for folder in (bag / ANCHORS_DIR, bag / ANCHORS_DIR / CHAINS_DIR):
        if folder.is_dir() and not folder.is_symlink():
            for tmp in folder.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)
