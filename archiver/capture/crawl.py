"""The crawl scheduler: per-host queues, several hosts at once, one request per host at a time.

Each worker takes the host whose next request is allowed soonest, fetches one URL of it, and
puts the host back with its politeness delay, so a delay on one host never idles a worker that
could serve another. The :class:`HostGate` enforces the one-connection-per-host rule for every
request, including robots.txt and redirect hops to other hosts.
"""

from __future__ import annotations

import heapq
import shutil
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

from archiver.base.compactjson import EncodedFacts
from archiver.base.facts import run_facts
from archiver.base.settings import Settings
from archiver.base.timefmt import utc_iso
from archiver.capture.fetch import Fetcher, FetchResult
from archiver.capture.hostgate import HostGate, host_key
from archiver.capture.links import MAX_LINK_SCAN, hop_links, is_html
from archiver.capture.log import CaptureEntry
from archiver.capture.records import (
    build_entry,
    network_facts,
    outcome_summary,
    ref_dict,
    write_fetch,
)
from archiver.capture.robots import MAX_ROBOTS_SIZE, RobotsDecision, RobotsFile, RobotsPolicy
from archiver.collect.seeds import Citation, Seed
from archiver.net.netpolicy import AddressPolicy
from archiver.warc.writer import RecordRef, WarcWriter

MAX_CRAWL_DELAY = 30.0  # honour robots.txt Crawl-delay up to this many seconds


@dataclass
class CaptureResult:
    entry: CaptureEntry  # what capture logs for the URL
    payload_path: Path | None  # final body, transfer- and content-encoding removed; callback only
    content_type: str | None
    response_record: RecordRef | None
    warc_date: str | None = None  # WARC-Date of response_record, as written


@dataclass
class CrawlStats:
    urls: int = 0
    captured: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # by error class
    bytes: int = 0  # payload bytes of final responses
    seconds: float = 0.0
    interrupted: bool = False


@dataclass
class _Task:
    url: str
    citations: list[Citation]
    hop: int
    via: str | None
    hops_left: int


class _Scheduler:
    """Per-host FIFO queues and a heap of idle hosts keyed by when they may be asked next."""

    def __init__(self, gate: HostGate, *stops: threading.Event) -> None:
        self.gate = gate
        self.stops = stops
        self.cond = threading.Condition()
        self.queues: dict[str, deque[_Task]] = {}
        self.heap: list[tuple[float, int, str]] = []
        self.waiting: set[str] = set()  # hosts in the heap
        self.active: set[str] = set()
        self.pending = 0  # queued + in flight
        self._seq = 0

    def add(self, task: _Task) -> None:
        """Queue a task (caller holds ``cond``)."""
        host = host_key(task.url)
        self.queues.setdefault(host, deque()).append(task)
        self.pending += 1
        if host not in self.active and host not in self.waiting:
            self._push(host)

    def _push(self, host: str) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (self.gate.next_allowed(host), self._seq, host))
        self.waiting.add(host)
        # Wake one idle worker per host made ready; waking all of them on every change
        # costs a GIL hand-off per worker per URL.
        self.cond.notify()

    def take(self) -> tuple[str, _Task] | None:
        with self.cond:
            while True:
                if self.pending == 0 or any(e.is_set() for e in self.stops):
                    self.cond.notify_all()  # everyone may leave
                    return None
                if self.heap:
                    not_before, _, host = self.heap[0]
                    now = time.monotonic()
                    if not_before <= now:
                        heapq.heappop(self.heap)
                        self.waiting.discard(host)
                        self.active.add(host)
                        return host, self.queues[host].popleft()
                    self.cond.wait(min(not_before - now, 0.5))
                else:
                    self.cond.wait(0.5)

    def done(self, host: str, children: list[_Task]) -> bool:
        """Mark one task finished and queue its children; True when the host has no more work."""
        with self.cond:
            self.pending -= 1
            for child in children:
                self.add(child)
            self.active.discard(host)
            idle = not self.queues.get(host)
            if idle:
                self.queues.pop(host, None)
            elif host not in self.waiting:
                self._push(host)
            if self.pending == 0:
                self.cond.notify_all()
            return idle


class _Crawl:
    """One crawl: the fetcher, robots policy, scheduler and stats its worker threads share."""

    def __init__(
        self,
        settings: Settings,
        writer: WarcWriter,
        on_result: Callable[[CaptureResult], None],
        stop: threading.Event,
        spool: Path,
        on_discovered: Callable[[int], None] | None,
        address_policy: AddressPolicy | None,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self.workers = max(1, workers if workers is not None else settings.concurrency)
        self.writer = writer
        self.on_result = on_result
        self.on_discovered = on_discovered
        self.stop = stop
        self.halt = threading.Event()  # stop or an internal error
        self.gate = HostGate(settings.per_host_delay)
        self.fetcher = Fetcher(
            settings, spool_dir=spool, gate=self.gate, policy=address_policy, stop=stop
        )
        # Software, OS, options: the same for every URL, so encoded once for every record.
        self.facts = EncodedFacts(run_facts(settings))
        self.robots = RobotsPolicy(settings, self.fetch_robots)
        self.robots.on_crawl_delay = self._crawl_delay
        self.scheduler = _Scheduler(self.gate, self.halt, stop)
        self.seen: set[str] = set()
        self.stats = CrawlStats()
        self.stats_lock = threading.Lock()
        self.errors: list[BaseException] = []

    def _crawl_delay(self, host: str, delay: float) -> None:
        self.gate.extra_delay[host] = min(delay, MAX_CRAWL_DELAY)

    def fetch_robots(self, robots_url: str) -> RobotsFile:
        """robots.txt, kept with its own provenance record like any page (RFC 9309 limits)."""
        result = self.fetcher.fetch(
            robots_url, max_redirects=5, max_size=MAX_ROBOTS_SIZE, payload_filter=None
        )
        try:
            refs = write_fetch(self.writer, result, facts=self.facts)
            final = result.final
            responses = [r for r in refs if r.type == "response"]
            return RobotsFile(
                url=robots_url,
                status=final.status if final is not None else None,  # None: no answer at all
                body=result.payload_path.read_bytes() if result.payload_path else None,
                error_class=result.error.cls if result.error else None,
                error_message=result.error.message if result.error else None,
                records=[ref_dict(r) for r in refs],
                response_record_id=responses[-1].record_id if responses else None,
                network=network_facts(result),
            )
        finally:
            result.close()

    def queue_seeds(self, seeds: Iterable[Seed], skip: Iterable[str]) -> None:
        """One task per URL (fragment removed): a URL cited twice keeps every citation."""
        self.seen = {urldefrag(u)[0] for u in skip}
        merged: dict[str, _Task] = {}
        for seed in seeds:
            url = urldefrag(seed.url.strip())[0]
            if url in self.seen and url not in merged:
                continue
            task = merged.get(url)
            if task is None:
                merged[url] = _Task(
                    url, list(seed.citations), seed.hop, seed.via, max(seed.hops, 0)
                )
                self.seen.add(url)
            else:
                task.citations.extend(c for c in seed.citations if c not in task.citations)
                task.hops_left = max(task.hops_left, seed.hops)
        with self.scheduler.cond:
            for task in merged.values():
                self.scheduler.add(task)

    def capture(self, task: _Task) -> list[_Task]:
        """Fetch one URL, write its records, report its entry; its hop links to queue."""
        decisions: list[RobotsDecision] = []
        robots_records: list[dict[str, Any]] = []

        def robots_check(url: str) -> RobotsDecision:
            decision = self.robots.check(url)
            decisions.append(decision)
            robots_records.extend(decision.records)
            return decision

        # The decoded body is spooled only for a reader: the cleaner, or the hop links.
        keep = self.settings.clean or task.hops_left > 0
        result = self.fetcher.fetch(task.url, keep_payload=keep, robots_check=robots_check)
        try:
            robots = decisions[0] if decisions else None
            summary = outcome_summary(result, robots)  # the record's and the entry's
            refs = write_fetch(
                self.writer, result, facts=self.facts, robots=robots, summary=summary
            )
            entry = build_entry(
                result,
                refs,
                citations=task.citations,
                hop=task.hop,
                via=task.via,
                robots=robots,
                robots_records=robots_records,
                summary=summary,
            )
            self._report(entry, result, refs)
            if entry.outcome == "captured" and task.hops_left > 0 and result.payload_path:
                return self.children(task, entry, result.payload_path)
            return []
        finally:
            result.close()

    def _report(self, entry: CaptureEntry, result: FetchResult, refs: list[RecordRef]) -> None:
        captured = entry.outcome == "captured"
        responses = [r for r in refs if r.type == "response"]
        self.on_result(
            CaptureResult(
                entry=entry,
                payload_path=result.payload_path if captured else None,
                content_type=entry.content_type,
                response_record=responses[-1] if responses else None,
                warc_date=utc_iso(result.hops[-1].started) if responses and result.hops else None,
            )
        )
        with self.stats_lock:
            self.stats.urls += 1
            self.stats.outcomes[entry.outcome] += 1
            if captured:
                self.stats.captured += 1
                self.stats.bytes += entry.payload_size or 0
            if entry.error is not None:
                self.stats.failed[entry.error.cls] += 1

    def children(self, task: _Task, entry: CaptureEntry, payload: Path) -> list[_Task]:
        """The page's hop links not met before, one level further and one hop less to go."""
        if not is_html(entry.content_type):
            return []
        with open(payload, "rb") as f:
            html = f.read(MAX_LINK_SCAN)
        with self.scheduler.cond:
            links = hop_links(html, entry.final_url or task.url, self.seen, entry.content_type)
        out = [
            _Task(url, [citation], task.hop + 1, task.url, task.hops_left - 1)
            for url, citation in links
        ]
        if out and self.on_discovered is not None:
            self.on_discovered(len(out))
        return out

    def worker(self) -> None:
        while True:
            taken = self.scheduler.take()
            if taken is None:
                return
            host, task = taken
            children: list[_Task] = []
            try:
                children = self.capture(task)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                self.errors.append(exc)
                self.halt.set()
            finally:
                if self.scheduler.done(host, children):
                    self.fetcher.release_host(host)

    def run(self) -> None:
        threads = [
            threading.Thread(target=self.worker, name=f"capture-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        finally:
            self.halt.set()
            self.fetcher.close()


def crawl(
    seeds: Iterable[Seed],
    settings: Settings,
    writer: WarcWriter,
    on_result: Callable[[CaptureResult], None],
    *,
    stop: threading.Event | None = None,
    skip: Iterable[str] = frozenset(),
    spool_dir: Path | None = None,
    on_discovered: Callable[[int], None] | None = None,
    policy: AddressPolicy | None = None,
    workers: int | None = None,
) -> CrawlStats:
    """Capture every seed (and its hop links), calling ``on_result`` from worker threads.

    Returns when everything is done, or, once ``stop`` is set, when in-flight URLs are done.
    ``skip`` lists URLs captured by an interrupted earlier attempt. An exception raised by
    ``on_result`` or the writer stops the crawl and is re-raised here. ``on_discovered(n)``
    is told how many hop links were added, so a progress total can grow. ``policy`` replaces
    the address rule that ``settings.allow_private`` implies (a test hook). ``workers`` threads
    fetch at once (default ``settings.concurrency``; a capture process gets its share).
    """
    started = time.monotonic()
    stop = stop or threading.Event()
    spool = Path(tempfile.mkdtemp(prefix="archiver-capture-", dir=spool_dir))
    try:
        job = _Crawl(settings, writer, on_result, stop, spool, on_discovered, policy, workers)
        job.queue_seeds(seeds, skip)
        job.run()
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    job.stats.seconds = time.monotonic() - started
    job.stats.interrupted = stop.is_set()
    if job.errors:
        raise job.errors[0]
    return job.stats
