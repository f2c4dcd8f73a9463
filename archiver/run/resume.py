"""Resuming after a crash: adopt what staging holds; find the hop links still to follow."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from archiver.bag.writer import BagBuilder
from archiver.base.errors import (
    ArchiverError,
)
from archiver.base.fsutil import fsync_dir
from archiver.capture.links import MAX_LINK_SCAN, hop_links, is_html
from archiver.capture.log import CaptureEntry, TextRef, journal_lines
from archiver.collect.seeds import Seed
from archiver.run.plan import RunPlan
from archiver.warc.naming import final_name
from archiver.warc.reader import read_record_at
from archiver.warc.salvage import salvage_open_file
from archiver.warc.writer import RecordRef


def recover_hop_links(
    plan: RunPlan, entries: Callable[[], Iterable[CaptureEntry]], warc_dir: Path
) -> list[Seed]:
    """Links of pages captured before an interruption that were still to be followed.

    The crawl queues a page's links only in memory, so a resumed run reads each captured HTML
    page again from its WARC response record (the bytes as captured, content-coding removed)
    and finds the same links the crawl would have followed, with the same hop budget.
    ``entries()`` reads the journal afresh (twice): only each URL's hop and referrer are held.
    """
    chain = {e.url: (e.hop, e.via) for e in entries()}

    def hops_left(url: str | None, depth: int = 0) -> int:
        link = chain.get(url or "")
        if link is None or depth > 1000:
            return 0
        hop, via = link
        if not hop:
            seed = plan.seeds.get(url or "")
            return seed.hops if seed is not None else 0
        return hops_left(via, depth + 1) - 1

    seen = set(chain) | set(plan.seeds)
    found: list[Seed] = []
    for entry in entries():
        left = hops_left(entry.url)
        if entry.outcome != "captured" or left <= 0 or not is_html(entry.content_type):
            continue
        responses = entry.response_refs()
        if not responses:
            continue
        ref = responses[-1]
        try:
            with read_record_at(warc_dir / ref.warc_file, ref.offset) as record:
                html = record.payload(decode_content=True).read(MAX_LINK_SCAN)
        except (OSError, ValueError, KeyError, ArchiverError) as err:
            print(
                f"archiver: {entry.url}: cannot read its capture again to follow its links "
                f"({err}); they are not captured",
                file=sys.stderr,
            )
            continue
        base = entry.final_url or entry.url
        for url, citation in hop_links(html, base, seen, entry.content_type):
            found.append(
                Seed(url, hops=left - 1, citations=[citation], hop=entry.hop + 1, via=entry.url)
            )
    return found


def forget_lost_captures(journal: Path, warc_dir: Path) -> int:
    """Drop journal entries whose WARC records are not all on disk; how many were dropped.

    Each line is written after its records, but the disk may keep them in another order: after
    a power cut a line can name bytes of a ``.open`` WARC that never reached the disk (salvage
    keeps only its complete records). Such a URL was not captured after all; its entry goes and
    the URL is captured again. The journal is rewritten (temporary name, fsync, rename), its
    other lines byte for byte, one line at a time.
    """
    sizes: dict[str, int] = {}

    def on_disk(ref: RecordRef) -> bool:
        if ref.warc_file not in sizes:
            try:
                sizes[ref.warc_file] = (warc_dir / ref.warc_file).stat().st_size
            except OSError:
                sizes[ref.warc_file] = -1
        return ref.offset + ref.length <= sizes[ref.warc_file]

    lost = sum(1 for _, e in journal_lines(journal) if not all(map(on_disk, e.records)))
    if not lost:
        return 0
    temp = journal.with_name(journal.name + ".tmp")
    with open(temp, "wb") as out:
        for line, entry in journal_lines(journal):
            if all(map(on_disk, entry.records)):
                out.write(line)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, journal)
    fsync_dir(journal.parent)
    return lost


def recover_staging(builder: BagBuilder, entries: Iterable[CaptureEntry]) -> None:
    """Make an interrupted staging folder consistent with the capture journal ``entries``.

    A crash can leave a ``.warc.gz.open`` file (its complete records up to the last one the
    journal names are kept and it is closed; records after that belong to a URL that was not
    logged, which is captured again), a closed WARC whose digests were not journaled yet
    (hashed and recorded: its records are complete), a text cut off mid-write (removed), or a
    whole text whose URL was not logged (taken back: the URL is captured and cleaned again).
    """
    logged_end: dict[str, int] = {}
    texts: set[str] = set()
    for entry in entries:
        for ref in entry.records:
            end = ref.offset + ref.length
            logged_end[ref.warc_file] = max(logged_end.get(ref.warc_file, 0), end)
        if isinstance(entry.text, TextRef):
            texts.update((entry.text.path, entry.text.sidecar))
    warc_dir = builder.staging / "data" / "warcs"
    if warc_dir.is_dir():
        for open_file in sorted(warc_dir.glob("*.open")):
            salvage_open_file(open_file, logged_end.get(final_name(open_file.name), 0))
    for rel in builder.unrecorded_files():
        if rel.startswith("warcs/") and rel.endswith((".warc.gz", ".warc")):
            builder.adopt_existing(rel)
        else:
            builder.discard(rel)
    for rel in builder.recorded:
        if rel.startswith("text/") and rel not in texts:
            builder.retract(rel)
