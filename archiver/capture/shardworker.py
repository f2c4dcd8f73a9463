"""One capture process: crawls its own hosts and hands every result to the main process.

Forked by :class:`archiver.capture.shards.ShardedCapture`. Each result goes over the pipe and
the process waits for the main process's answer before the body is deleted (the main process may
be cleaning it). A closed WARC is reported with its digests, for the bag. The process dies with
the main process (Linux's parent-death signal) and stops when the pipe closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from archiver.base import faults
from archiver.base.errors import EXIT_RUN_FAILED, ArchiverError
from archiver.base.hashing import FileDigests
from archiver.base.settings import Settings
from archiver.capture.crawl import CaptureResult, crawl
from archiver.capture.log import CaptureEntry, EntryLine, brief, dumps_entry
from archiver.capture.witness import annotates
from archiver.collect.seeds import Seed
from archiver.net.netpolicy import AddressPolicy
from archiver.warc.writer import WarcWriter

OnFileClosed = Callable[[Path, FileDigests], None]


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


@dataclass
class _Reply:
    event: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class _ParentLink:
    """The child's end of the pipe: sends each result, then waits until the parent is done."""

    def __init__(
        self,
        conn: Connection,
        stop: threading.Event,
        as_line: Callable[[CaptureEntry], bool] = lambda entry: False,
    ) -> None:
        self.conn = conn
        self.stop = stop
        self.as_line = as_line  # does a result without a body go as its journal line?
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
        """Send a result; one with a body on disk waits until the parent is done with it.

        A result without a body (always so with ``--no-clean``) is sent as sequence 0 and not
        answered: nothing of it needs to outlive the send, and a round trip per URL cost a
        pipe message and two thread wake-ups in each process. A parent that cannot take it
        stops every process (ShardedCapture.stop), as an answered error would. When ``as_line``
        says so (the parent has nothing to add to the entry), such a result goes as its journal
        line and its ``brief``: the parent then neither unpickles nor re-encodes the entry.
        """
        reply = _Reply()
        wait = result.payload_path is not None
        with self.lock:
            if self.gone:
                raise ArchiverError("the parent process has ended", EXIT_RUN_FAILED)
            seq = 0
            if wait:
                self.seq += 1
                seq = self.seq
                self.waiting[seq] = reply
        if not wait and self.as_line(result.entry):
            entry = result.entry
            self.send(("line", EntryLine(entry.url, dumps_entry(entry)), brief(entry)))
        else:
            self.send(("result", seq, result))
        faults.point("capture.result-sent")  # a capture process dies, its parent lives on
        if not wait:
            return
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


def child_main(job: ShardJob, conn: Connection, inherited: list[Connection], parent: int) -> None:
    for other in inherited:  # the parent's ends of this and earlier children's pipes
        other.close()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        # Ctrl-C reaches the whole process group: the first finishes the URLs in flight,
        # the second aborts, as in the main process (what was journaled is kept).
        if stop.is_set():
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    # Unless a third-party lookup is to annotate it, an entry's journal line is final here.
    link = _ParentLink(conn, stop, lambda entry: not annotates(job.settings, entry))
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


__all__ = ["OnFileClosed", "ShardJob", "child_main"]
