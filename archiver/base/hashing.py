"""Hash while writing, so bagging never has to read the payload again.

A ``HashingWriter`` wraps a file being written: every byte goes through SHA-256 and SHA-512
(and MD5 when a receiving library's profile asks for it) before it reaches the disk. Closing
it fsyncs, so the recorded digests describe bytes that are really on disk.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

DEFAULT_ALGORITHMS: tuple[str, ...] = ("sha256", "sha512")
BLOCK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class FileDigests:
    """Size and hex digests of one file, keyed by hashlib algorithm name."""

    size: int
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return self.digests["sha256"]

    @property
    def sha512(self) -> str:
        return self.digests["sha512"]


class HashingWriter:
    """A binary file opened for writing that digests everything written through it."""

    def __init__(
        self, path: str | os.PathLike[str], algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    ) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "xb")  # noqa: SIM115 - closed in close()
        self._hashes = {name: hashlib.new(name) for name in algorithms}
        self._size = 0
        self.result: FileDigests | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        for h in self._hashes.values():
            h.update(data)
        self._size += len(data)
        return self._file.write(data)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> FileDigests:
        """Flush, fsync and close; return the digests of what was written."""
        if self.result is None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self.result = FileDigests(
                self._size, {n: h.hexdigest() for n, h in self._hashes.items()}
            )
        return self.result

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hash_file(
    path: str | os.PathLike[str], algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
) -> FileDigests:
    """Read a file once, feeding every algorithm from the same 1 MiB buffer."""
    hashes = [hashlib.new(name) for name in algorithms]
    buf = bytearray(BLOCK_SIZE)
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            chunk = view[:n]
            for h in hashes:
                h.update(chunk)
            size += n
    return FileDigests(
        size, {name: h.hexdigest() for name, h in zip(algorithms, hashes, strict=True)}
    )
