"""Cleaning in worker processes, each with a hard memory cap and a wall-clock cap.

Why processes: trafilatura, lxml and PDFium parse hostile bytes in C. A flate bomb in a PDF
makes PDFium allocate gigabytes and then abort; a Python ``try`` cannot contain that, only a
process can. Each worker sets ``RLIMIT_AS`` on itself (its loaded footprint plus the memory cap)
and the parent kills it when a payload takes longer than the time cap. A worker that dies costs
only that payload's text: the parent records why (``clean-memory-limit``, ``clean-time-limit``,
``clean-worker-crashed``) and starts a fresh worker for the next payload.

Why a plain subprocess protocol and not ``multiprocessing``: the capture threads call the pool,
and ``fork`` in a threaded parent can copy a held lock into the child. ``subprocess`` starts a
fresh interpreter (fork+exec in C, safe with threads), and the parent is the worker's real
parent, so ``wait4`` gives its peak memory, which tells a memory death from another crash.
Workers live as long as the pool, so trafilatura is imported once per worker, not per page.

Why it stays deterministic: the worker runs exactly ``run_job``, the same code a single process
runs, so a text and its sidecar are byte for byte the same whichever worker made them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from archiver.base.contentcoding import DecodedBody, decode_body, decode_head
from archiver.base.mediatypes import cleanable_kind
from archiver.clean.extract import (
    MAX_HTML_BYTES,
    MAX_PDF_BYTES,
    Extraction,
    engine_versions,
    extract,
    unreadable,
)
from archiver.clean.language import detect_language

# Documented defaults (docs/clean.md): enough for any real article or report, far below what a
# bomb asks for. The memory cap is on top of the worker's own loaded footprint (~60-200 MB).
DEFAULT_MEMORY = 1024**3
DEFAULT_TIMEOUT = 60.0
MIN_MEMORY = 64 * 1024**2
# Reason codes: the first word of the sidecar's ``reason`` and the capture log's text.reason.
MEMORY_LIMIT = "clean-memory-limit"
TIME_LIMIT = "clean-time-limit"
WORKER_CRASHED = "clean-worker-crashed"
SIZE_LIMIT = "clean-size-limit"
CODES = (MEMORY_LIMIT, TIME_LIMIT, WORKER_CRASHED, SIZE_LIMIT)
_START_TIMEOUT = 120.0  # importing the engines on a busy machine; not a per-page cost
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)


def default_workers() -> int:
    """One worker per core the process may use: cleaning is CPU-bound."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class CleanLimits:
    """The operator's caps per payload. Not part of ``Settings``: a collection cannot set them."""

    memory: int = DEFAULT_MEMORY  # bytes of address space a worker may add while cleaning
    timeout: float = DEFAULT_TIMEOUT  # wall-clock seconds per payload
    workers: int = 0  # 0: one per core

    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else default_workers()


def parse_memory(text: str) -> int:
    """``1GiB``, ``300MB``, ``512M``, ``1073741824`` -> bytes (K/M/G/T are powers of 1024)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size; write e.g. 1GiB, 300MiB or 500000000")
    power = " KMGT".index((m.group(2) or " ").upper())
    return int(float(m.group(1)) * 1024**power)


def format_memory(size: int) -> str:
    for unit, power in (("GiB", 3), ("MiB", 2), ("KiB", 1)):
        if size >= 1024**power and size % 1024**power == 0:
            return f"{size // 1024**power} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class CleanJob:
    """One payload to clean, named by a file so the parent never holds the body in memory.

    ``coding`` is the HTTP Content-Encoding still on the file (``archiver clean`` reads entity
    bodies from WARCs); a run's payload files are already decoded (None). Decoding happens in
    the worker, so a gzip bomb inflates under the caps too.
    """

    path: str
    url: str
    content_type: str | None
    capture_date: datetime | None = None
    coding: str | None = None
    http_charset: str | None = None


def run_job(job: CleanJob) -> Extraction:
    """Decode (bounded), sniff, size-check and extract: the same code in a worker or in-process."""
    with open(job.path, "rb") as f:
        head = decode_head(f, job.coding, 1024)
        kind = cleanable_kind(head, job.content_type)
        limit = MAX_PDF_BYTES if kind == "pdf" else MAX_HTML_BYTES
        if job.coding:
            f.seek(0)
            body = decode_body(f, job.coding, limit)
        else:  # read on from the head (no seek: the path may be a pipe)
            data = head + f.read(limit + 1 - len(head))
            body = DecodedBody(data if len(data) <= limit else None, True)
    if body.data is None:
        return unreadable(
            f"{SIZE_LIMIT}: the payload is larger than the cleaner's {limit}-byte limit",
            kind or ("pdf" if "pdf" in (job.content_type or "").lower() else "html"),
        )
    result = extract(
        body.data,
        job.url,
        job.content_type,
        http_charset=job.http_charset,
        capture_date=job.capture_date,
    )
    if not body.complete:
        result.notes.append(
            f"the {job.coding} stream is cut off or corrupt: the text may be partial"
        )
    return result


def failed(code: str, detail: str, job: CleanJob) -> Extraction:
    """The empty extraction recorded when a cap stopped the cleaning of ``job``."""
    kind = "pdf" if "pdf" in (job.content_type or "").lower() else "html"
    return unreadable(f"{code}: {detail}; the capture is kept, its text was not extracted", kind)


def reason_code(extraction: Extraction) -> str | None:
    """The cap that emptied this text, if any (for the capture log's ``text.reason``)."""
    first = (extraction.reason or "").split(":", 1)[0]
    return first if first in CODES else None


class _Worker:
    """One worker process and its two pipe ends."""

    def __init__(self, limits: CleanLimits) -> None:
        child_in, parent_out = os.pipe()
        parent_in, child_out = os.pipe()
        # The worker must import this very archiver (also when run from a checkout); -P keeps
        # the current folder off sys.path, so a file there cannot shadow a library.
        here = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        # stdout/stderr to /dev/null: library chatter and crash dumps must not reach the
        # user's terminal or stdout (which carries results only).
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-P",
                "-c",
                "from archiver.clean.workers import _serve; _serve()",
                str(child_in),
                str(child_out),
                str(limits.memory),
                str(limits.timeout),
            ],
            pass_fds=(child_in, child_out),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C goes to the parent, which finishes in-flight work
        )
        os.close(child_in)
        os.close(child_out)
        self.send = Connection(parent_out, readable=False)
        self.recv = Connection(parent_in, writable=False)
        self.base_rss = 0
        try:
            if not self.recv.poll(_START_TIMEOUT):
                raise EOFError
            hello = self.recv.recv()
        except (EOFError, OSError):
            self.kill()
            raise RuntimeError(
                f"the cleaning process did not start (exit status {self.proc.returncode})"
            ) from None
        self.base_rss = int(hello.get("rss", 0))

    def kill(self) -> tuple[int, int]:
        """Kill (if alive) and reap; returns (wait status, peak RSS in bytes)."""
        if self.proc.returncode is None:  # not Popen.kill(): it reaps, and wait4 must
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
        return self._reap()

    def _reap(self) -> tuple[int, int]:
        status, peak = 0, 0
        if self.proc.returncode is None:
            try:
                _, status, usage = os.wait4(self.proc.pid, 0)
                peak = int(usage.ru_maxrss) * 1024  # Linux reports KiB
                self.proc.returncode = (
                    -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                )
            except ChildProcessError:
                self.proc.returncode = -1
        for conn in (self.send, self.recv):
            with contextlib.suppress(OSError):
                conn.close()
        return status, peak


class CleanPool:
    """Long-lived cleaning workers shared by the capture threads; ``clean()`` is thread-safe.

    No global lock: a capture thread takes an idle worker (or waits for one), so up to
    ``workers`` payloads are cleaned at once while the other threads keep capturing.
    """

    def __init__(self, limits: CleanLimits | None = None) -> None:
        self.limits = limits or CleanLimits()
        self._slots: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(self.limits.worker_count()):
            self._slots.put(None)  # workers start on first use
        self._all: set[_Worker] = set()
        self._guard = threading.Lock()

    def clean(self, job: CleanJob) -> Extraction:
        worker = self._slots.get()
        try:
            if worker is not None and worker.proc.poll() is not None:  # died while idle
                worker.kill()
                self._forget(worker)
                worker = None
            if worker is None:
                worker = self._start()
            result, keep = self._run(worker, job)
            if not keep:
                self._forget(worker)
                worker = None
            return result
        except Exception as exc:  # noqa: BLE001 - a pipe error costs this text, not the run
            if worker is not None:
                worker.kill()
                self._forget(worker)
                worker = None
            return failed(WORKER_CRASHED, str(exc) or type(exc).__name__, job)
        finally:
            self._slots.put(worker)

    def _start(self) -> _Worker:
        worker = _Worker(self.limits)
        with self._guard:
            self._all.add(worker)
        return worker

    def _forget(self, worker: _Worker) -> None:
        with self._guard:
            self._all.discard(worker)

    def _run(self, worker: _Worker, job: CleanJob) -> tuple[Extraction, bool]:
        limits = self.limits
        worker.send.send(job)
        if not worker.recv.poll(limits.timeout):
            worker.kill()
            return failed(TIME_LIMIT, f"cleaning took longer than {limits.timeout:g} s", job), False
        try:
            status, payload = worker.recv.recv()
        except (EOFError, OSError):
            wait_status, peak = worker.kill()
            return self._death(worker, wait_status, peak, job), False
        if status == "ok":
            return payload, True
        worker.kill()  # after a MemoryError the worker's heap is suspect: start afresh
        if status == "memory":
            cap = format_memory(limits.memory)
            detail = f"cleaning needed more than the {cap} memory cap"
            return failed(MEMORY_LIMIT, detail, job), False
        return failed(WORKER_CRASHED, str(payload), job), False

    def _death(self, worker: _Worker, status: int, peak: int, job: CleanJob) -> Extraction:
        """Why a worker died mid-job. C libraries abort when an allocation fails under the cap,
        so a death after growing by half the cap or more is counted as the memory cap."""
        how = (
            signal.Signals(os.WTERMSIG(status)).name
            if os.WIFSIGNALED(status)
            else f"exit status {os.WEXITSTATUS(status)}"
        )
        cap = format_memory(self.limits.memory)
        if peak - worker.base_rss >= self.limits.memory // 2:
            detail = f"the cleaning process died ({how}) at the {cap} memory cap"
            return failed(MEMORY_LIMIT, detail, job)
        return failed(WORKER_CRASHED, f"the cleaning process died ({how})", job)

    def close(self) -> None:
        """Stop every worker (idle ones read EOF and exit; busy ones are killed)."""
        with self._guard:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.send.close()
            deadline = time.monotonic() + 2  # idle workers exit at once on EOF
            while worker.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            worker.kill()  # reaps; kills one still busy (only after an error or Ctrl-C)

    def __enter__(self) -> CleanPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _address_space() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _warm_up() -> None:
    """Import the engines and load the language model once, before the cap is set."""
    import html_text  # noqa: F401
    import pypdfium2  # noqa: F401
    import readability  # noqa: F401
    import trafilatura  # noqa: F401

    detect_language("warm up the language model with a short English sentence")
    engine_versions("html")
    engine_versions("pdf")


def _serve() -> None:
    """Worker main: cap itself, then clean jobs until the parent closes the pipe."""
    fd_in, fd_out, memory = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    timeout = float(sys.argv[4])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    recv = Connection(fd_in, writable=False)
    send = Connection(fd_out, readable=False)
    _warm_up()
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not write a core file
    base = _address_space()
    if base:
        # Soft and hard: nothing in this process can raise it again.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (base + memory, base + memory))
    send.send({"rss": _rss()})
    while True:
        try:
            job = recv.recv()
        except (EOFError, OSError):
            return
        # Backstop if the parent is gone (kill -9) and cannot enforce the time cap: SIGALRM's
        # default action ends this process.
        signal.alarm(int(timeout) + 30)
        try:
            send.send(("ok", run_job(job)))
        except MemoryError:
            with contextlib.suppress(Exception):
                send.send(("memory", ""))
            return
        except Exception as exc:  # noqa: BLE001 - reported as a crash of this job only
            send.send(("error", f"the cleaner failed ({type(exc).__name__}: {exc})"))
        signal.alarm(0)
