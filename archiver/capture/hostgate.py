"""Politeness per host: one connection at a time, a delay between requests, back-off when asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

MAX_SLOWDOWN = 30.0  # a Retry-After slows the host's later requests by at most this much


def host_key(url: str) -> str:
    """The politeness unit: one connection at a time per host name."""
    return (urlsplit(url).hostname or "").lower()


class HostGate:
    """One request at a time per host, with a minimum pause between requests to one host."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._not_before: dict[str, float] = {}  # Retry-After: no request to the host before
        self.extra_delay: dict[str, float] = {}  # e.g. robots.txt Crawl-delay, per host

    def next_allowed(self, host: str) -> float:
        with self._lock:
            last = self._last.get(host)
            wait = max(self.delay, self.extra_delay.get(host, 0.0))
            not_before = self._not_before.get(host, 0.0)
        return max(0.0 if last is None else last + wait, not_before)

    def back_off(self, host: str, wait: float, slow_down: float) -> None:
        """The host asked us to wait (Retry-After): no request to it for ``wait`` seconds, and
        a pause of at least ``slow_down`` (at most MAX_SLOWDOWN) between its later requests."""
        with self._lock:
            until = time.monotonic() + wait
            self._not_before[host] = max(self._not_before.get(host, 0.0), until)
            slower = min(slow_down, MAX_SLOWDOWN)
            self.extra_delay[host] = max(self.extra_delay.get(host, 0.0), slower)

    def lock_for(self, host: str) -> threading.Lock:
        """The host's lock, without the politeness pause (for housekeeping)."""
        with self._lock:
            return self._hosts.setdefault(host, threading.Lock())

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with self.lock_for(host):
            pause = self.next_allowed(host) - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                yield
            finally:
                with self._lock:
                    self._last[host] = time.monotonic()
