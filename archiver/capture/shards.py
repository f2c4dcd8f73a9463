"""Capture in several processes, each owning whole hosts, so a run uses every core.

At zero latency a capture is CPU work in Python (HTTP parsing, WARC records, entries) and one
process does it on one core whatever its thread count. ``archiver run`` therefore forks one
capture process per extra core before it starts any thread. Each process takes whole hosts, so
the one-connection-per-host rule, politeness delays and robots.txt stay within one process, and
writes its own WARC files into the run's folder (the names carry a microsecond timestamp and are
created exclusively, so they never clash). Every capture result comes back to the parent, which
journals, cleans and seals it exactly as one of its own; the child keeps the body on disk until
the parent says it is done with it, and only then moves on.

Used only where a fork is safe and useful: see :func:`process_count`.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

from archiver.base.errors import EXIT_RUN_FAILED, ArchiverError
from archiver.base.facts import run_facts
from archiver.capture.crawl import CaptureResult
from archiver.capture.hostgate import host_key
from archiver.capture.log import EntryLine
from archiver.capture.shardworker import OnFileClosed, ShardJob, child_main
from archiver.collect.seeds import Seed

OnLine = Callable[[EntryLine, dict[str, Any]], None]  # a journal line and its ``brief``
MIN_URLS_PER_PROCESS = 100  # below this, starting a process costs more than it saves


def process_count(seeds: Sequence[Seed], requested: int | None, concurrency: int) -> int:
    """How many capture processes: ``requested`` (None: one per core and one), within reason.

    Never more than ``concurrency`` (each process fetches at least one host at a time) or the
    hosts. One process when fork is not safe (not Linux, or a thread already runs), or when
    links are to be followed (a page may link to a host another process owns).
    """
    if requested is not None and requested <= 1:
        return 1
    if not fork_is_safe():
        return 1
    if any(seed.hops > 0 for seed in seeds):
        return 1
    if requested is None:
        # One capture process per core besides the main one, which also journals and cleans
        # every result: on 2 cores, 3 processes fill the gaps each leaves while it waits on
        # the network, a disk or the GIL (bench/capture: 1.12 s with 2, 1.00 s with 3).
        requested = min(usable_cores() + 1, len(seeds) // MIN_URLS_PER_PROCESS)
    hosts = len({host_key(_url(seed)) for seed in seeds})
    return max(1, min(requested, hosts, concurrency))


def usable_cores() -> int:
    """The cores this process may run on (its affinity, e.g. a container's share), else all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def fork_is_safe() -> bool:
    """Linux, and no other thread yet: a fork copies locks a running thread may hold."""
    return sys.platform == "linux" and threading.active_count() == 1


def split_by_host(seeds: Sequence[Seed], parts: int | Sequence[int]) -> list[list[Seed]]:
    """Whole hosts dealt to groups, the largest host first to the group that would be done
    soonest. ``parts`` is a number of equal groups, or each group's threads: a process with
    more threads fetches more hosts at once, so it is given more URLs in proportion."""
    weights = [1] * parts if isinstance(parts, int) else [max(1, w) for w in parts]
    by_host: dict[str, list[Seed]] = {}
    for seed in seeds:
        by_host.setdefault(host_key(_url(seed)), []).append(seed)
    groups: list[list[Seed]] = [[] for _ in weights]
    loads = [0] * len(weights)
    for host in sorted(by_host, key=lambda h: (-len(by_host[h]), h)):
        size = len(by_host[host])
        soonest = min(range(len(weights)), key=lambda k: ((loads[k] + size) / weights[k], k))
        groups[soonest].extend(by_host[host])
        loads[soonest] += size
    return groups


def _unexpected(line: EntryLine, fields: dict[str, Any]) -> None:
    raise ArchiverError(f"a capture process sent a journal line unasked ({line.url})")


def _url(seed: Seed) -> str:
    return urldefrag(seed.url.strip())[0]  # as the crawl queues it


@dataclass
class _Child:
    process: Any  # multiprocessing Process (fork context)
    conn: Connection
    workers: int
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    pool: ThreadPoolExecutor | None = None
    thread: threading.Thread | None = None
    ended: bool = False  # sent "end": everything it captured was answered
    error: ArchiverError | None = None


class ShardedCapture:
    """The parent's side: fork the capture processes, answer their results, wait for them.

    Any failure, the parent's or a child's, stops every process: the parent's own crawl through
    :meth:`guard`, the children through a "stop" message.
    """

    def __init__(self, jobs: Sequence[ShardJob]) -> None:
        context = multiprocessing.get_context("fork")
        for job in jobs[:1]:  # looked up once (installed versions, the OS: ~10 ms), inherited
            run_facts(job.settings)
        self.children: list[_Child] = []
        self.failure: BaseException | None = None  # the first result the parent could not take
        self.broken: ArchiverError | None = None  # the first child that failed or died
        for number, job in enumerate(jobs, 1):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=child_main,
                args=(job, child_end, [parent_end, *(c.conn for c in self.children)], os.getpid()),
                name=f"archiver-capture-{number}",
                daemon=True,
            )
            process.start()
            child_end.close()
            self.children.append(_Child(process, parent_end, job.workers))

    def serve(
        self,
        on_result: Callable[[CaptureResult], None],
        on_closed: OnFileClosed,
        on_line: OnLine | None = None,
    ) -> None:
        """Answer every child from now on: results on a pool, closed WARCs as they come.

        ``on_line`` takes the journal lines children send for results the parent has nothing
        to add to (no body to clean, no third-party lookup), on the thread that received them
        (a hand-off to the pool per URL cost more than the line).
        """
        for child in self.children:
            child.pool = ThreadPoolExecutor(child.workers, thread_name_prefix="capture-answer")
            child.thread = threading.Thread(
                target=self._serve, args=(child, on_result, on_closed, on_line), daemon=True
            )
            child.thread.start()

    def _serve(
        self,
        child: _Child,
        on_result: Callable[[CaptureResult], None],
        on_closed: OnFileClosed,
        on_line: OnLine | None,
    ) -> None:
        assert child.pool is not None
        try:
            while True:
                message = child.conn.recv()
                if message[0] == "line":  # nobody waits for it: a failure stops every process
                    take = functools.partial(on_line or _unexpected, message[1], message[2])
                    if self._take(take):
                        self.stop()
                elif message[0] == "result":
                    try:
                        child.pool.submit(self._answer, child, message[1], message[2], on_result)
                    except RuntimeError:  # the pool was shut down: the parent is aborting
                        if message[1]:
                            self._reply(child, message[1], "stopped: the run is ending")
                elif message[0] == "closed":
                    self._take(functools.partial(on_closed, Path(message[1]), message[2]))
                elif message[0] == "end":
                    child.ended = True
                    return
                elif message[0] == "error":
                    child.error = ArchiverError(message[1], message[2])
                    self._broke(child.error)
                    return
        except (EOFError, OSError):
            pid = child.process.pid
            self._broke(
                ArchiverError(
                    f"capture process {pid} ended unexpectedly; run the same command again "
                    "to complete the bag",
                    EXIT_RUN_FAILED,
                )
            )

    def _broke(self, error: ArchiverError) -> None:
        """A child failed or died: every other process stops too."""
        if self.broken is None:
            self.broken = error
        self.stop()

    def _take(self, call: Callable[[], object]) -> str | None:
        """Run one of the parent's callbacks; its error stops the run (as a thread's would)."""
        try:
            if self.failure is not None:
                return "stopped: the run failed"
            call()
            return None
        except BaseException as err:  # noqa: BLE001 - re-raised by wait()
            if self.failure is None:
                self.failure = err
            return f"{type(err).__name__}: {err}"

    def _answer(
        self,
        child: _Child,
        seq: int,
        result: CaptureResult,
        on_result: Callable[[CaptureResult], None],
    ) -> None:
        error = self._take(lambda: on_result(result))
        if seq:
            self._reply(child, seq, error)
        elif error is not None:  # nobody waits for this answer: stop every process now
            self.stop()

    def _reply(self, child: _Child, seq: int, error: str | None) -> None:
        with child.send_lock, contextlib.suppress(OSError):
            child.conn.send(("done", seq, error))

    def guard(self, on_result: Callable[[CaptureResult], None]) -> Callable[[CaptureResult], None]:
        """``on_result`` for the parent's own crawl: it fails once any process has failed."""

        def guarded(result: CaptureResult) -> None:
            failed = self.failure or self.broken
            if failed is not None:
                raise ArchiverError(f"stopped: {failed}", EXIT_RUN_FAILED)
            on_result(result)

        return guarded

    def stop(self) -> None:
        """Ask every child to finish the URLs in flight and end."""
        for child in self.children:
            with child.send_lock, contextlib.suppress(OSError):
                child.conn.send(("stop",))

    def wait(self, stop: threading.Event) -> None:
        """Wait for every child to end; raise the first failure (the parent's own first).

        An interrupt while waiting (the second Ctrl-C) kills the children at once.
        """
        try:
            self._wait(stop)
        except BaseException:
            self.abandon()
            raise
        if self.failure is not None:
            raise self.failure
        for child in self.children:
            if child.error is not None:
                raise child.error
        if self.broken is not None:
            raise self.broken

    def _wait(self, stop: threading.Event) -> None:
        asked = False
        for child in self.children:
            if child.thread is None:  # never served: nothing will answer it
                child.conn.close()
            while child.thread is not None and child.thread.is_alive():
                if not asked and (stop.is_set() or self.failure is not None):
                    self.stop()
                    asked = True
                child.thread.join(0.2)
            if child.pool is not None:
                child.pool.shutdown(wait=True)
        for child in self.children:
            child.process.join()
            child.conn.close()

    def abandon(self) -> None:
        """The parent is failing or aborting: close every pipe (each child stops at once, its
        results unanswered), and kill what has not ended after a moment."""
        for child in self.children:
            child.conn.close()
        for child in self.children:
            child.process.join(5)
            if child.process.is_alive():
                child.process.kill()
                child.process.join()
            if child.pool is not None:
                child.pool.shutdown(wait=False, cancel_futures=True)


__all__ = [
    "MIN_URLS_PER_PROCESS",
    "OnFileClosed",
    "ShardJob",
    "ShardedCapture",
    "fork_is_safe",
    "process_count",
    "usable_cores",
    "split_by_host",
]
