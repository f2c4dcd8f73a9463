"""Spools: what one pass over a run's entries makes for a later step, without holding it all.

Sealing reads the journal once: each entry's part of the summary, and its catalog row, are made
as the entry goes by and wait here until they can be written (the summary's counts come first
in its file; the catalog is written after the bag is sealed). A spool keeps what it is given in
memory up to a limit, then in an unnamed temporary file on the disk it is given (the output
disk, not a small /tmp), gone when closed or when the process ends, whatever way it ends.
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEXT_LIMIT = 4 << 20  # characters held in memory before a text spool goes to disk
ROW_LIMIT = 10_000  # rows held in memory before a row spool goes to disk
_CHUNK = 1 << 20  # characters read back at a time


class TextSpool:
    """Text appended piece by piece, read back in order in large chunks."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._parts: list[str] = []
        self._size = 0
        self._file: IO[str] | None = None

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= TEXT_LIMIT:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            # surrogatepass: the text is encoded for real (and any error raised) when written
            # out, as it was before it was spooled; newline="": never translated.
            self._file = tempfile.TemporaryFile(  # noqa: SIM115 - closed in close()
                "w+", encoding="utf-8", errors="surrogatepass", newline="", dir=self._directory
            )
        self._file.write("".join(self._parts))
        self._parts.clear()
        self._size = 0

    def chunks(self) -> Iterator[str]:
        """Everything written, in order (once)."""
        if self._file is not None:
            self._file.seek(0)
            while chunk := self._file.read(_CHUNK):
                yield chunk
        yield from self._parts

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class RowSpool:
    """Tuples of plain values (str, int, None) appended one by one, read back in order."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._rows: list[tuple[Any, ...]] = []
        self._file: IO[bytes] | None = None
        self.count = 0

    def append(self, row: tuple[Any, ...]) -> None:
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= ROW_LIMIT:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(dir=self._directory)  # noqa: SIM115 - close()
        self._file.write(marshal.dumps(self._rows))
        self._rows = []

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        """Every row, in order (once)."""
        if self._file is not None:
            self._file.seek(0)
            while True:
                try:
                    batch = marshal.load(self._file)
                except EOFError:
                    break
                yield from batch
        yield from self._rows

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
