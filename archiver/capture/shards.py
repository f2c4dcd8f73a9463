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
import ctypes
import functools
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

from archiver.base import faults
from archiver.base.errors import EXIT_RUN_FAILED, ArchiverError
from archiver.base.hashing import FileDigests
from archiver.base.settings import Settings
from archiver.capture.crawl import CaptureResult, crawl
from archiver.capture.hostgate import host_key
from archiver.collect.seeds import Seed
from archiver.net.netpolicy import AddressPolicy
from archiver.warc.writer import WarcWriter

MIN_URLS_PER_PROCESS = 100  # below this, starting a process costs more than it saves
OnFileClosed = Callable[[Path, FileDigests], None]


def process_count(seeds: Sequence[Seed], requested: int | None) -> int:
    """How many capture processes: ``requested`` (None: one per core and one), within reason.

    One process when fork is not safe (not Linux, or a thread already runs), when links are to
    be followed (a page may link to a host another process owns), or when there is one host.
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
        requested = min((os.cpu_count() or 1) + 1, len(seeds) // MIN_URLS_PER_PROCESS)
    hosts = len({host_key(_url(seed)) for seed in seeds})
    return max(1, min(requested, hosts))


def fork_is_safe() -> bool:
    """Linux, and no other thread yet: a fork copies locks a running thread may hold."""
    return sys.platform == "linux" and threading.active_count() == 1


def split_by_host(seeds: Sequence[Seed], parts: int) -> list[list[Seed]]:
    """Whole hosts dealt to ``parts`` groups, the largest host first to the lightest group."""
    by_host: dict[str, list[Seed]] = {}
    for seed in seeds:
        by_host.setdefault(host_key(_url(seed)), []).append(seed)
    groups: list[list[Seed]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for host in sorted(by_host, key=lambda h: (-len(by_host[h]), h)):
        lightest = min(range(parts), key=lambda k: (loads[k], k))
        groups[lightest].extend(by_host[host])
        loads[lightest] += len(by_host[host])
    return groups


def _url(seed: Seed) -> str:
    return urldefrag(seed.url.strip())[0]  # as the crawl queues it


@dataclass
class ShardJob:
    """What one capture process does; the fork copies it, nothing is pickled."""

    seeds: list[Seed]
    settings: Settings
    workers: int  # threads in this process
    make_writer: Callable[[OnFileClosed], WarcWriter]
    skip: frozenset[str]
    spool_dir: Path
    policy: AddressPolicy | None = None


# -- the capture process ------------------------------------------------------------------------


@dataclass
class _Reply:
    event: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class _ParentLink:
    """The child's end of the pipe: sends each result, then waits until the parent is done."""

    def __init__(self, conn: Connection, stop: threading.Event) -> None:
        self.conn = conn
        self.stop = stop
        self.send_lock = threading.Lock()
        self.lock = threading.Lock()
        self.waiting: dict[int, _Reply] = {}
        self.seq = 0
        self.gone = False
        threading.Thread(target=self._listen, name="capture-link", daemon=True).start()

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def on_result(self, result: CaptureResult) -> None:
        reply = _Reply()
        with self.lock:
            if self.gone:
                raise ArchiverError("the parent process has ended", EXIT_RUN_FAILED)
            self.seq += 1
            seq = self.seq
            self.waiting[seq] = reply
        self.send(("result", seq, result))
        faults.point("capture.result-sent")  # a capture process dies, its parent lives on
        reply.event.wait()  # the body stays on disk until the parent has cleaned it
        if reply.error is not None:
            raise ArchiverError(reply.error, EXIT_RUN_FAILED)

    def file_closed(self, path: Path, digests: FileDigests) -> None:
        self.send(("closed", str(path), digests))

    def _listen(self) -> None:
        try:
            while True:
                message = self.conn.recv()
                if message[0] == "stop":
                    self.stop.set()
                elif message[0] == "done":
                    with self.lock:
                        reply = self.waiting.pop(message[1])
                    reply.error = message[2]
                    reply.event.set()
        except (EOFError, OSError):
            self.stop.set()
            with self.lock:
                self.gone = True
                for reply in self.waiting.values():
                    reply.error = "the parent process has ended"
                    reply.event.set()
                self.waiting.clear()


def _die_with_parent() -> None:
    """Linux prctl(PR_SET_PDEATHSIG): a parent killed with -9 takes its capture processes along.

    Written with ctypes because no maintained library wraps this one call.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def _child_main(job: ShardJob, conn: Connection, parent_end: Connection, parent: int) -> None:
    parent_end.close()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C reaches the whole process group
        signal.signal(sig, lambda *_: stop.set())
    link = _ParentLink(conn, stop)
    try:
        writer = job.make_writer(link.file_closed)
        try:
            crawl(
                job.seeds,
                job.settings,
                writer,
                link.on_result,
                stop=stop,
                skip=job.skip,
                spool_dir=job.spool_dir,
                policy=job.policy,
                workers=job.workers,
            )
        finally:
            writer.close()
        message: tuple[Any, ...] = ("end",)
    except ArchiverError as err:
        message = ("error", str(err), err.exit_code)
    except BaseException as err:  # noqa: BLE001 - reported to the parent as one line
        message = ("error", f"{type(err).__name__}: {err}", EXIT_RUN_FAILED)
    with contextlib.suppress(OSError):
        link.send(message)


# -- the parent ---------------------------------------------------------------------------------


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
    """The parent's side: fork the capture processes, answer their results, wait for them."""

    def __init__(self, jobs: Sequence[ShardJob]) -> None:
        context = multiprocessing.get_context("fork")
        self.children: list[_Child] = []
        self.failure: BaseException | None = None  # the first result the parent could not take
        for number, job in enumerate(jobs, 1):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_child_main,
                args=(job, child_end, parent_end, os.getpid()),
                name=f"archiver-capture-{number}",
                daemon=True,
            )
            process.start()
            child_end.close()
            self.children.append(_Child(process, parent_end, job.workers))

    def serve(self, on_result: Callable[[CaptureResult], None], on_closed: OnFileClosed) -> None:
        """Answer every child from now on: results on a pool, closed WARCs as they come."""
        for child in self.children:
            child.pool = ThreadPoolExecutor(child.workers, thread_name_prefix="capture-answer")
            child.thread = threading.Thread(
                target=self._serve, args=(child, on_result, on_closed), daemon=True
            )
            child.thread.start()

    def _serve(
        self, child: _Child, on_result: Callable[[CaptureResult], None], on_closed: OnFileClosed
    ) -> None:
        assert child.pool is not None
        try:
            while True:
                message = child.conn.recv()
                if message[0] == "result":
                    child.pool.submit(self._answer, child, message[1], message[2], on_result)
                elif message[0] == "closed":
                    self._take(functools.partial(on_closed, Path(message[1]), message[2]))
                elif message[0] == "end":
                    child.ended = True
                    return
                elif message[0] == "error":
                    child.error = ArchiverError(message[1], message[2])
                    return
        except (EOFError, OSError):
            return  # the process died: wait() says so

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
        with child.send_lock, contextlib.suppress(OSError):
            child.conn.send(("done", seq, error))

    def guard(self, on_result: Callable[[CaptureResult], None]) -> Callable[[CaptureResult], None]:
        """``on_result`` for the parent's own crawl: it fails once a child's result failed."""

        def guarded(result: CaptureResult) -> None:
            if self.failure is not None:
                raise ArchiverError(f"stopped: {self.failure}", EXIT_RUN_FAILED)
            on_result(result)

        return guarded

    def stop(self) -> None:
        """Ask every child to finish the URLs in flight and end."""
        for child in self.children:
            with child.send_lock, contextlib.suppress(OSError):
                child.conn.send(("stop",))

    def wait(self, stop: threading.Event) -> None:
        """Wait for every child to end; raise the first failure (the parent's own first)."""
        asked = False
        for child in self.children:
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
        if self.failure is not None:
            raise self.failure
        for child in self.children:
            if child.error is not None:
                raise child.error
            if not child.ended:
                raise ArchiverError(
                    f"capture process {child.process.pid} ended unexpectedly (exit code "
                    f"{child.process.exitcode}); run the same command again to complete the bag",
                    EXIT_RUN_FAILED,
                )

    def abandon(self) -> None:
        """The parent failed before serving them: the closed pipe stops each child at once."""
        for child in self.children:
            child.conn.close()
        for child in self.children:
            child.process.join(5)
            if child.process.is_alive():
                child.process.kill()
                child.process.join()


__all__ = [
    "MIN_URLS_PER_PROCESS",
    "OnFileClosed",
    "ShardJob",
    "ShardedCapture",
    "fork_is_safe",
    "process_count",
    "split_by_host",
]
