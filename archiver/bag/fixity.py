"""Parallel fixity: read each file once, feed every algorithm, spread files over threads.

Threads rather than processes: hashlib and file reads release the GIL, so threads use every
core without pickling digests between processes, and a thread pool also overlaps I/O waits
(cold caches, network storage). Largest files go first so one big file does not finish last
on its own. Memory is two reusable buffers per worker, whatever the size of the bag.
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

BUFFER_SIZE = 1024 * 1024
SPLIT_THRESHOLD = 8 * BUFFER_SIZE  # files this big hash their algorithms on two threads
_O_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

# RFC 8493 manifest names (lower-case, alphanumerics only) -> hashlib names.
ALGORITHMS = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3224": "sha3_224",
    "sha3256": "sha3_256",
    "sha3384": "sha3_384",
    "sha3512": "sha3_512",
    "blake2b": "blake2b",
    "blake2s": "blake2s",
}
WEAK_ALGORITHMS = {"md5", "sha1"}


def hexdigest_length(algorithm: str) -> int:
    """Length in hex characters of a digest of ``algorithm`` (a hashlib name)."""
    return hashlib.new(algorithm).digest_size * 2


def _constructor(name: str) -> Callable[[], hashlib._Hash]:
    direct = getattr(hashlib, name, None)
    if callable(direct):
        return direct  # type: ignore[no-any-return]
    return lambda: hashlib.new(name)


@dataclass(frozen=True, slots=True)
class HashJob:
    rel: str  # bag-relative path, for the report
    path: str  # absolute path on disk
    size: int  # from the directory walk; used to order the work
    algorithms: tuple[str, ...]  # hashlib names


@dataclass
class HashResult:
    job: HashJob
    size: int = 0
    digests: dict[str, str] | None = None
    error: str | None = None  # why it could not be read


def default_workers() -> int:
    """One hashing thread per core.

    More threads than cores made verify slower on a warm cache, not faster: on 2 cores, 4 threads
    reached 86% of the hashlib limit and 2 threads 96% (bench/verify/run.py), the extra threads
    costing CPU in GIL hand-offs between the small files. On slow or network storage, where
    reads rather than hashing are the limit, ``--processes`` asks for more.
    """
    return os.cpu_count() or 1


class _Helper:
    """A second thread that runs the other algorithms on the chunk the worker is hashing.

    SHA-512 is about half the speed of SHA-256 (with SHA-NI), so a big file hashed on one
    thread is bound by the sum of both; splitting them over two threads (hashlib releases the
    GIL) makes a lone large WARC hash at the speed of the slowest algorithm instead.
    """

    def __init__(self) -> None:
        self.todo: queue.SimpleQueue[tuple[list[Any], memoryview] | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while (item := self.todo.get()) is not None:
            hashes, chunk = item
            try:
                for h in hashes:
                    h.update(chunk)
                self.done.put(None)
            except BaseException as e:  # noqa: BLE001 - handed back to the worker
                self.done.put(e)

    def stop(self) -> None:
        self.todo.put(None)


class _Worker:
    """One hashing thread's reusable state: two read buffers and, lazily, a helper thread."""

    def __init__(self) -> None:
        self.bufs = (bytearray(BUFFER_SIZE), bytearray(BUFFER_SIZE))
        self.views = (memoryview(self.bufs[0]), memoryview(self.bufs[1]))
        self.helper: _Helper | None = None

    def hash(self, job: HashJob) -> HashResult:
        hashes = [_constructor(a)() for a in job.algorithms]
        try:
            fd = os.open(job.path, _O_FLAGS)
        except OSError as e:
            return HashResult(job, error=e.strerror or str(e))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return HashResult(job, error="not a regular file")
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            if len(hashes) > 1 and st.st_size >= SPLIT_THRESHOLD:
                size = self._split(fd, hashes)
            else:
                size = self._simple(fd, hashes)
        except OSError as e:
            return HashResult(job, error=e.strerror or str(e))
        finally:
            os.close(fd)
        digests = {a: h.hexdigest() for a, h in zip(job.algorithms, hashes, strict=True)}
        return HashResult(job, size, digests)

    def _simple(self, fd: int, hashes: list[Any]) -> int:
        buf, view = self.bufs[0], self.views[0]
        size = 0
        while n := os.readv(fd, [buf]):
            chunk = view[:n]
            for h in hashes:
                h.update(chunk)
            size += n
        return size

    def _split(self, fd: int, hashes: list[Any]) -> int:
        """First algorithm here, the others on the helper; read the next chunk meanwhile."""
        if self.helper is None:
            self.helper = _Helper()
        first, others = hashes[0], hashes[1:]
        size = 0
        cur = 0
        n = os.readv(fd, [self.bufs[cur]])
        while n:
            chunk = self.views[cur][:n]
            self.helper.todo.put((others, chunk))
            try:
                first.update(chunk)
                nxt = 1 - cur
                n_next = os.readv(fd, [self.bufs[nxt]])  # the other buffer: not being hashed
            finally:
                error = self.helper.done.get()  # never reuse a buffer the helper still reads
            if error is not None:
                raise error
            size += n
            cur, n = nxt, n_next
        return size

    def close(self) -> None:
        if self.helper is not None:
            self.helper.stop()


def hash_files(
    jobs: Sequence[HashJob],
    workers: int | None = None,
    on_result: Callable[[HashResult], None] | None = None,
    *,
    keep: bool = True,
) -> list[HashResult]:
    """Hash every job, largest first, on ``workers`` threads; results in the order given.

    With ``keep=False`` each result goes only to ``on_result`` (called on the hashing thread)
    and none is returned: a caller that judges each file as it comes holds no digests.
    """
    order = sorted(range(len(jobs)), key=lambda i: jobs[i].size, reverse=True)
    results: list[HashResult | None] = [None] * (len(jobs) if keep else 0)
    lock = threading.Lock()
    position = 0
    failed: list[BaseException] = []  # from on_result: raised here, never lost with a thread

    def work() -> None:
        nonlocal position
        state = _Worker()
        try:
            while True:
                with lock:
                    if position >= len(order) or failed:
                        return
                    i = order[position]
                    position += 1
                try:
                    result = state.hash(jobs[i])
                except Exception as e:  # noqa: BLE001 - reported per file, never lost
                    result = HashResult(jobs[i], error=str(e))
                if keep:
                    results[i] = result
                if on_result is not None:
                    try:
                        on_result(result)
                    except BaseException as e:  # noqa: BLE001 - re-raised by hash_files
                        with lock:
                            failed.append(e)
                        return
        finally:
            state.close()

    count = max(1, min(workers or default_workers(), len(jobs)))
    if count == 1:
        work()
    else:
        threads = [threading.Thread(target=work, daemon=True) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if failed:
        raise failed[0]
    return [r for r in results if r is not None]
