"""Fault injection for crash tests: ``ARCHIVER_FAULT=POINT[:N]`` kills the process at a named point.

The N-th time (default 1) the process passes ``point(POINT)`` it sends itself SIGKILL: no
handler, no ``finally``, no flush, exactly what a power cut or ``kill -9`` leaves behind. The
crash tests use it to stop ``archiver run`` at chosen steps and check that running the same
command again completes the bag (docs/formats.md, "Fault points"). A testing aid only: when the
variable is unset, ``point`` returns at once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

ENV = "ARCHIVER_FAULT"


def _parse(spec: str) -> tuple[str, int]:
    name, _, count = spec.strip().partition(":")
    try:
        n = int(count) if count else 1
    except ValueError:
        n = 1
    return name, max(n, 1)


_TARGET, _N = _parse(os.environ.get(ENV, "")) if os.environ.get(ENV) else ("", 0)
_lock = threading.Lock()
_passed = 0


def point(name: str, before: Callable[[], object] | None = None) -> None:
    """Die here if ``ARCHIVER_FAULT`` names this point and this is its N-th pass.

    ``before`` runs just before the kill (e.g. flushing a half-written file to the OS, so the
    crash leaves the partial bytes a real crash would).
    """
    global _passed
    if name != _TARGET:
        return
    with _lock:
        _passed += 1
        if _passed != _N:
            return
        if before is not None:
            before()
        os.kill(os.getpid(), signal.SIGKILL)


def enabled() -> bool:
    """True when a fault point is armed (lets callers skip work done only for the crash)."""
    return bool(_TARGET)


__all__ = ["ENV", "point", "enabled"]
