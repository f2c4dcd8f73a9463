"""Tell the person running a capture what is happening, and what happened.

On a terminal a live display (rich) shows counts and the URLs in flight; in a log file or a
scheduler's mail, one plain line per finished URL. Both end with the same summary: captured,
failed by reason, bytes, time, in the same words as the live display (``outcome_counts``).
Progress goes to stderr so stdout stays clean for scripts; ``--log FILE`` also appends every
progress line and warning, timestamped, to a file (``LogTee``). ``NO_COLOR`` turns off colour
and text styles (https://no-color.org/).
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, TextIO

from archiver.base.timefmt import utc_iso

if TYPE_CHECKING:  # rich (~40 ms) is imported only for the live display, on a terminal
    from rich.progress import Progress


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


#: One vocabulary for the live display, the plain lines and the summary: capture-log outcomes.
OUTCOME_WORDS = {
    "captured": ("captured", "captured"),
    "http-error": ("HTTP error", "HTTP errors"),  # the server's error page is kept as evidence
    "failed": ("failed", "failed"),  # no answer: DNS, refused, TLS, timeout, ...
    "blocked": ("blocked", "blocked"),  # not fetched on purpose: robots.txt, private address
}


def outcome_counts(outcomes: Mapping[str, int]) -> str:
    """``3 captured, 1 HTTP error, 0 failed, 0 blocked`` (plus any other outcome seen)."""
    parts = []
    for outcome, (one, many) in OUTCOME_WORDS.items():
        n = outcomes.get(outcome, 0)
        parts.append(f"{n} {one if n == 1 else many}")
    parts += [f"{n} {k}" for k, n in sorted(outcomes.items()) if k not in OUTCOME_WORDS and n]
    return ", ".join(parts)


def no_color() -> bool:
    """https://no-color.org/: set and not empty means no colour."""
    return bool(os.environ.get("NO_COLOR"))


class LogTee(io.TextIOBase):
    """Stands in for stderr during a run: writes through, and appends each line, timestamped,
    to the ``--log`` file if any (plain text, no terminal codes); carries ``--quiet``."""

    def __init__(self, primary: TextIO, log: IO[str] | None, *, quiet: bool = False) -> None:
        self.primary = primary
        self.log = log
        self.quiet = quiet
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        self.primary.write(text)
        self.log_text(text)
        return len(text)

    def log_text(self, text: str) -> None:
        if self.log is None:
            return
        with self._lock:
            self._partial += text
            *lines, self._partial = self._partial.split("\n")
            for line in lines:
                if line.strip():
                    stamp = utc_iso(micros=False)
                    self.log.write(f"{stamp} {line}\n")
            self.log.flush()

    def flush(self) -> None:
        self.primary.flush()
        if self.log is not None:
            self.log.flush()

    def isatty(self) -> bool:
        return self.primary.isatty()

    def fileno(self) -> int:
        return self.primary.fileno()


class RunProgress:
    """Thread-safe progress reporting; ``mode`` is live, plain or none."""

    def __init__(self, total: int, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.log: LogTee | None = None
        if isinstance(self.stream, LogTee):  # progress lines go to the log; the display doesn't
            self.log = self.stream
            self.stream = self.log.primary
            if self.log.quiet:
                mode = "none"
        self.quiet = self.log is not None and self.log.quiet
        if mode == "auto":
            mode = "live" if self.stream.isatty() else "plain"
        self.mode = mode
        self.total = total
        self.done = 0
        self.bytes = 0
        self.outcomes: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: Any = None
        if mode == "live":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            plain = no_color()
            self._progress = Progress(
                TextColumn("capturing" if plain else "[bold]capturing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(file=self.stream, no_color=plain or None),
                transient=False,
            )
            self._task = self._progress.add_task("capture", total=total or None, status="")
            self._progress.start()

    def add_total(self, n: int) -> None:
        """URLs discovered by following links grow the total."""
        with self._lock:
            self.total += n
            if self._progress is not None:
                self._progress.update(self._task, total=self.total)

    def url_done(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.done += 1
            outcome = entry.get("outcome", "?")
            self.outcomes[outcome] += 1
            error = entry.get("error") or {}
            if outcome != "captured":
                self.failures[error.get("class") or outcome] += 1
            self.bytes += int(entry.get("payload_size") or 0)
            what = entry.get("status") or error.get("class") or outcome
            if entry.get("truncated"):
                what = f"{what} (truncated: {entry['truncated']})"
            line = (
                f"[{self.done}/{max(self.total, self.done)}] {outcome:<10} {what!s:<20} "
                f"{entry.get('url')}"
            )
            if self._progress is not None:
                status = outcome_counts(self.outcomes)
                self._progress.update(self._task, advance=1, status=status)
            elif self.mode == "plain":
                print(line, file=self.stream, flush=True)
            if self.log is not None:
                self.log.log_text(line + "\n")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def summary_lines(self) -> list[str]:
        """The end-of-run summary; empty with --quiet (the bag path alone is printed)."""
        if self.quiet:
            return []
        elapsed = time.monotonic() - self.started
        lines = [
            f"{self.done} URLs in {elapsed:.1f} s: {outcome_counts(self.outcomes)}; "
            f"{human_bytes(self.bytes)} of payload"
            + (" (HTTP error pages are kept as evidence)" if self.outcomes["http-error"] else "")
        ]
        for reason, count in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {count:>5}  {reason}")
        return lines
