"""Tell the person running a capture what is happening, and what happened.

On a terminal a live display (rich) shows counts and the URLs in flight; in a log file or a
scheduler's mail, one plain line per finished URL. Both end with the same summary: captured,
failed by reason, bytes, time. Progress goes to stderr so stdout stays clean for scripts.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class RunProgress:
    """Thread-safe progress reporting; ``mode`` is live, plain or none."""

    def __init__(self, total: int, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
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
            self._progress = Progress(
                TextColumn("[bold]capturing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
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
            if self._progress is not None:
                status = f"{self.outcomes['captured']} ok, {sum(self.failures.values())} failed"
                self._progress.update(self._task, advance=1, status=status)
            elif self.mode == "plain":
                what = entry.get("status") or error.get("class") or outcome
                if entry.get("truncated"):
                    what = f"{what} (truncated: {entry['truncated']})"
                print(
                    f"[{self.done}/{max(self.total, self.done)}] {outcome:<10} {what!s:<20} "
                    f"{entry.get('url')}",
                    file=self.stream,
                    flush=True,
                )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def summary_lines(self) -> list[str]:
        elapsed = time.monotonic() - self.started
        o = self.outcomes
        lines = [
            f"{self.done} URLs in {elapsed:.1f} s: {o['captured']} captured, "
            f"{o['http-error']} HTTP errors (captured as evidence), {o['failed']} failed, "
            f"{o['blocked']} blocked (robots.txt or a private address); "
            f"{human_bytes(self.bytes)} of payload"
        ]
        for reason, count in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {count:>5}  {reason}")
        return lines
