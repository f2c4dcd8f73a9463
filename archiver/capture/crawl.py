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

from archiver.base.charset import charset_from_content_type as charset_of
from archiver.base.facts import run_facts
from archiver.base.mediatypes import HTML_TYPES
from archiver.base.settings import Settings
from archiver.base.timefmt import utc_iso
from archiver.capture.fetch import Fetcher, FetchResult
from archiver.capture.hostgate import HostGate, host_key
from archiver.capture.records import build_entry, network_facts, ref_dict, write_fetch
from archiver.capture.robots import MAX_ROBOTS_SIZE, RobotsFile, RobotsPolicy
from archiver.collect.html import find_urls_in_html
from archiver.net.netpolicy import AddressPolicy
from archiver.warc.writer import RecordRef, WarcWriter

MAX_CRAWL_DELAY = 30.0  # honour robots.txt Crawl-delay up to this many seconds
MAX_LINK_SCAN = 20 * 1024 * 1024  # HTML beyond this is not scanned for hop links


@dataclass
class Seed:
    url: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    hops: int = 0  # 0: just this URL; n: also links in its main content, n levels deep
    hop: int = 0  # > 0: a link found on page ``via`` (a resumed run re-queues these)
    via: str | None = None


@dataclass
class CaptureResult:
    entry: dict[str, Any]  # the capture-log entry (manifests/capture-log.schema.json)
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
    citations: list[dict[str, Any]]
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
) -> CrawlStats:
    """Capture every seed (and its hop links), calling ``on_result`` from worker threads.

    Returns when everything is done, or, once ``stop`` is set, when in-flight URLs are done.
    ``skip`` lists URLs captured by an interrupted earlier attempt. An exception raised by
    ``on_result`` or the writer stops the crawl and is re-raised here. ``on_discovered(n)``
    is told how many hop links were added, so a progress total can grow. ``policy`` replaces
    the address rule that ``settings.allow_private`` implies (a test hook).
    """
    started = time.monotonic()
    stop = stop or threading.Event()
    halt = threading.Event()  # stop or an internal error
    gate = HostGate(settings.per_host_delay)
    spool = Path(tempfile.mkdtemp(prefix="archiver-capture-", dir=spool_dir))
    fetcher = Fetcher(settings, spool_dir=spool, gate=gate, policy=policy, stop=stop)
    stats = CrawlStats()
    facts = run_facts(settings)  # software, OS, options: the same for every URL of the crawl
    stats_lock = threading.Lock()
    errors: list[BaseException] = []

    def fetch_robots(robots_url: str) -> RobotsFile:
        # RFC 9309: follow at least five redirects; parse at least 500 KiB; any content type.
        result = fetcher.fetch(
            robots_url, max_redirects=5, max_size=MAX_ROBOTS_SIZE, payload_filter=None
        )
        try:
            # Its own provenance record, like any page: the proxy, address and DNS it went by.
            refs = write_fetch(writer, result, facts=facts)
            final = result.final
            status = final.status if final is not None else None  # None: no answer at all
            body = result.payload_path.read_bytes() if result.payload_path else None
            responses = [r for r in refs if r.type == "response"]
            return RobotsFile(
                url=robots_url,
                status=status,
                body=body,
                error_class=result.error.cls if result.error else None,
                error_message=result.error.message if result.error else None,
                records=[ref_dict(r) for r in refs],
                response_record_id=responses[-1].record_id if responses else None,
                network=network_facts(result),
            )
        finally:
            result.close()

    policy = RobotsPolicy(settings, fetch_robots)
    policy.on_crawl_delay = lambda host, d: gate.extra_delay.__setitem__(
        host, min(d, MAX_CRAWL_DELAY)
    )
    scheduler = _Scheduler(gate, halt, stop)
    seen: set[str] = {urldefrag(u)[0] for u in skip}
    merged: dict[str, _Task] = {}
    for seed in seeds:
        url = urldefrag(seed.url.strip())[0]
        if url in seen and url not in merged:
            continue
        task = merged.get(url)
        if task is None:
            merged[url] = _Task(url, list(seed.citations), seed.hop, seed.via, max(seed.hops, 0))
            seen.add(url)
        else:  # the same URL cited twice: one capture, every citation kept
            task.citations.extend(c for c in seed.citations if c not in task.citations)
            task.hops_left = max(task.hops_left, seed.hops)
    with scheduler.cond:
        for task in merged.values():
            scheduler.add(task)

    def capture(task: _Task) -> list[_Task]:
        decisions: list[Any] = []
        robots_records: list[dict[str, Any]] = []

        def robots_check(url: str) -> Any:
            decision = policy.check(url)
            decisions.append(decision)
            robots_records.extend(decision.records)
            return decision

        result: FetchResult = fetcher.fetch(task.url, robots_check=robots_check)
        try:
            refs = write_fetch(
                writer, result, facts=facts, robots=decisions[0] if decisions else None
            )
            entry = build_entry(
                result,
                refs,
                citations=task.citations,
                hop=task.hop,
                via=task.via,
                robots=decisions[0] if decisions else None,
                robots_records=robots_records,
            )
            captured = entry["outcome"] == "captured"
            responses = [r for r in refs if r.type == "response"]
            on_result(
                CaptureResult(
                    entry=entry,
                    payload_path=result.payload_path if captured else None,
                    content_type=entry["content_type"],
                    response_record=responses[-1] if responses else None,
                    warc_date=utc_iso(result.hops[-1].started)
                    if responses and result.hops
                    else None,
                )
            )
            with stats_lock:
                stats.urls += 1
                stats.outcomes[entry["outcome"]] += 1
                if captured:
                    stats.captured += 1
                    stats.bytes += entry["payload_size"] or 0
                if entry["error"] is not None:
                    stats.failed[entry["error"]["class"]] += 1
            if captured and task.hops_left > 0 and result.payload_path is not None:
                return _children(task, entry, result.payload_path)
            return []
        finally:
            result.close()

    def _children(task: _Task, entry: dict[str, Any], payload: Path) -> list[_Task]:
        ctype = (entry["content_type"] or "").split(";")[0].strip().lower()
        if ctype not in HTML_TYPES:
            return []

        with open(payload, "rb") as f:
            html = f.read(MAX_LINK_SCAN)
        base = entry["final_url"] or task.url
        out: list[_Task] = []
        with scheduler.cond:
            for c in find_urls_in_html(html, base, http_charset=charset_of(entry["content_type"])):
                url = urldefrag(c.url)[0]
                if url in seen:
                    continue
                seen.add(url)
                citation = {"document": base, "locator": c.locator, "cited_as": c.cited_as}
                out.append(_Task(url, [citation], task.hop + 1, task.url, task.hops_left - 1))
        if out and on_discovered is not None:
            on_discovered(len(out))
        return out

    def worker() -> None:
        while True:
            taken = scheduler.take()
            if taken is None:
                return
            host, task = taken
            children: list[_Task] = []
            try:
                children = capture(task)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                errors.append(exc)
                halt.set()
            finally:
                if scheduler.done(host, children):
                    fetcher.release_host(host)

    threads = [
        threading.Thread(target=worker, name=f"capture-{i}", daemon=True)
        for i in range(max(1, settings.concurrency))
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    finally:
        halt.set()
        fetcher.close()
        shutil.rmtree(spool, ignore_errors=True)
    stats.seconds = time.monotonic() - started
    stats.interrupted = stop.is_set()
    if errors:
        raise errors[0]
    return stats
