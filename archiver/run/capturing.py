"""The capture phase of ``archiver run``: what is still to do, captured into the staging bag.

A resumed run first makes staging consistent with its journal and captures only the URLs not
done yet. Capture runs in this process and, for runs worth it, in forked capture processes
that each own whole hosts (archiver/capture/shards.py); every result, whichever process
captured it, is journaled, cleaned and recorded here.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.bag.writer import BagBuilder
from archiver.base.hashing import FileDigests
from archiver.base.settings import Settings
from archiver.capture.crawl import CaptureResult, crawl
from archiver.capture.log import read_entries
from archiver.capture.shards import (
    OnFileClosed,
    ShardedCapture,
    ShardJob,
    process_count,
    split_by_host,
)
from archiver.capture.witness import Witnesses
from archiver.collect.seeds import Seed
from archiver.run.console import install_stop_handler, restore_stop_handler
from archiver.run.options import RunOptions
from archiver.run.plan import RunPlan, warcinfo_fields
from archiver.run.progress import RunProgress
from archiver.run.resume import forget_lost_captures, recover_hop_links, recover_staging
from archiver.run.sink import RunJournal, Runner
from archiver.run.state import JOURNAL_SUFFIX, drop_torn_tail, run_file
from archiver.warc.writer import WarcWriter


def todo_and_done(
    builder: BagBuilder, plan: RunPlan, journal_path: Path
) -> tuple[list[Seed], set[str]]:
    """Staging made consistent with the journal; the seeds still to capture and the URLs done."""
    drop_torn_tail(journal_path)
    recover_staging(builder, read_entries(journal_path))  # one entry at a time
    lost = forget_lost_captures(journal_path, builder.staging / "data" / "warcs")
    if lost:  # a power cut: lines on disk whose records were not; their texts go too
        recover_staging(builder, read_entries(journal_path))
        print(
            f"archiver: {lost} URLs logged before the interruption lost their WARC records "
            "(the disk did not keep them); they are captured again",
            file=sys.stderr,
        )
    for name_in_bag, doc in plan.local_documents:
        if f"sources/{name_in_bag}" not in builder.recorded:
            builder.add_payload_file(f"sources/{name_in_bag}", doc)
    if plan.collection_toml is not None and "collection.toml" not in builder.recorded:
        builder.add_payload_file("collection.toml", plan.collection_toml)
    done = {e.url for e in read_entries(journal_path)}  # the URLs only, not their entries
    todo = [s for u, s in plan.seeds.items() if u not in done]
    if done:
        # Links found on pages captured before the interruption are found again from the
        # captured bytes: without them a resumed run would silently capture less.
        found = recover_hop_links(
            plan, lambda: read_entries(journal_path), builder.staging / "data" / "warcs"
        )
        todo.extend(found)
        more = f"; {len(found)} links found on them are still to be captured" if found else ""
        print(
            f"archiver: {len(done)} URLs were done before the interruption{more}",
            file=sys.stderr,
        )
    return todo, done


@dataclass
class _Capture:
    """Everything one capture phase opened, closed in order whatever happens."""

    runner: Runner
    writer: WarcWriter
    progress: RunProgress
    stop: threading.Event
    spool: Path
    shards: ShardedCapture | None
    previous_handler: Any = None

    def close(self, failing: bool) -> None:
        """Wait for the capture processes (their results are journaled before anything
        closes), then close the rest, each step whatever the others did. ``failing``: an error
        is already on its way out, and theirs must not replace it."""
        with contextlib.ExitStack() as steps:  # run in the reverse order of registration
            steps.callback(restore_stop_handler, self.previous_handler)
            steps.callback(self.progress.close)
            assert self.runner.journal is not None
            steps.callback(self.runner.journal.close)
            steps.callback(self.writer.close)
            steps.callback(shutil.rmtree, self.spool, ignore_errors=True)
            steps.callback(self.runner.close)  # cleaning workers, third-party lookups
            if self.shards is not None:
                if failing:
                    steps.enter_context(contextlib.suppress(Exception))
                steps.callback(self.shards.wait, self.stop)


def capture_into(
    out: Path,
    name: str,
    builder: BagBuilder,
    plan: RunPlan,
    settings: Settings,
    options: RunOptions,
) -> Runner | None:
    """Capture what is still to do into the staging bag; None when stopped (all is kept)."""
    journal_path = run_file(out, name, JOURNAL_SUFFIX)
    todo, done = todo_and_done(builder, plan, journal_path)
    # Bodies spool on the output disk, not in /tmp: a 1 GB response must not fill a small /tmp.
    spool = out / f".{name}.spool"
    spool.mkdir(exist_ok=True)

    new_writer, record_warc = _warc_writers(builder, settings, plan)

    # The capture processes are forked first, while no thread runs (docs/capture.md).
    own, workers, shards = _start_shards(todo, done, settings, options, new_writer, spool)
    try:
        runner = Runner(plan, settings, options)
        runner.builder = builder
        runner.journal = RunJournal(journal_path)
        runner.progress = RunProgress(len(todo), options.progress)
        writer = new_writer(record_warc)
    except BaseException:
        if shards is not None:
            shards.abandon()
        raise
    job = _Capture(runner, writer, runner.progress, threading.Event(), spool, shards)
    try:
        job.previous_handler = install_stop_handler(job.stop)
        if settings.witnesses or settings.save_now:
            job.runner.witnesses = Witnesses(settings, job.writer, spool_dir=spool, stop=job.stop)
            job.runner.witnesses.seen.update(done)
        on_result: Callable[[CaptureResult], None] = job.runner.on_result
        if shards is not None:
            shards.serve(on_result, record_warc, job.runner.on_line)
            on_result = shards.guard(on_result)  # a child's failure stops this crawl too
        crawl(own, settings, job.writer, on_result, stop=job.stop, skip=done,
              spool_dir=spool, on_discovered=job.progress.add_total, workers=workers)  # fmt: skip
    except BaseException:
        if shards is not None:
            shards.stop()  # this process failed: the others finish what is in flight and end
        job.close(failing=True)
        raise
    job.close(failing=False)
    if job.stop.is_set():
        print(
            f"archiver: interrupted; what was captured is kept in {builder.staging}. "
            "Run the same command again to complete it.",
            file=sys.stderr,
        )
        return None
    return job.runner


def _warc_writers(
    builder: BagBuilder, settings: Settings, plan: RunPlan
) -> tuple[Callable[[OnFileClosed], WarcWriter], OnFileClosed]:
    """How every capture process opens its WARC writer, and how a closed WARC joins the bag."""

    def new_writer(on_closed: OnFileClosed) -> WarcWriter:
        return WarcWriter(
            builder.staging / "data" / "warcs",
            prefix=settings.warc_prefix,
            hostname=settings.hostname,
            warcinfo=warcinfo_fields(settings, plan),
            max_file_size=settings.max_warc_size,
            on_file_closed=on_closed,
        )

    def record_warc(path: Path, digests: FileDigests) -> None:
        builder.record_payload(f"warcs/{path.name}", digests)

    return new_writer, record_warc


def _start_shards(
    todo: list[Seed],
    done: set[str],
    settings: Settings,
    options: RunOptions,
    new_writer: Callable[[OnFileClosed], WarcWriter],
    spool: Path,
) -> tuple[list[Seed], int, ShardedCapture | None]:
    """Fork the extra capture processes; this process's own seeds and threads, the children."""
    count = process_count(todo, options.processes, settings.concurrency)
    if count <= 1:
        return todo, settings.concurrency, None
    # The threads are shared out: --concurrency stays the number of hosts fetched at once.
    share = [
        settings.concurrency // count + (i < settings.concurrency % count) for i in range(count)
    ]
    groups = split_by_host(todo, share)  # URLs in proportion to each process's threads
    jobs = [
        ShardJob(group, settings, max(1, n), new_writer, frozenset(done), spool)
        for group, n in zip(groups[1:], share[1:], strict=True)
    ]
    return groups[0], max(1, share[0]), ShardedCapture(jobs)


__all__ = ["capture_into", "todo_and_done"]
