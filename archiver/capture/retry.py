"""Reading a Retry-After header (seconds or an HTTP date) into a wait."""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from datetime import UTC, datetime

from archiver.base.settings import Settings
from archiver.base.timefmt import iso
from archiver.capture.hop import FetchResult, Hop
from archiver.capture.hostgate import HostGate, host_key


def retry_after_seconds(value: str, date: str | None = None) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (RFC 9110 §10.2.3): delay-seconds or an
    HTTP-date, the latter measured from the response's own ``Date`` when it has one (so a
    skewed clock on either side does not matter). None when it is neither."""
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            sent = email.utils.parsedate_to_datetime(date)
            if sent is not None:
                now = sent if sent.tzinfo else sent.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def honour_retry_after(
    hop: Hop,
    result: FetchResult,
    deadline: float,
    s: Settings,
    gate: HostGate,
    stop: threading.Event,
) -> bool:
    """Honour a 429/503's Retry-After within the bounds; record the attempt either way.

    True: the host was told to wait (HostGate.back_off) and the URL is to be asked again.
    """
    value = hop.headers.get("retry-after")
    if value is None and not result.attempts:
        return False  # no Retry-After: an HTTP error like any other
    wait = retry_after_seconds(value, hop.headers.get("date")) if value is not None else None
    retries = sum(1 for a in result.attempts if a["retried"])
    reason = None
    if value is None:
        reason = "no Retry-After"
    elif wait is None:
        reason = f"Retry-After {value!r} is neither seconds nor an HTTP-date"
    elif wait > s.retry_after_max:
        reason = f"Retry-After of {wait:g}s is beyond the bound of {s.retry_after_max:g}s"
    elif retries >= s.retry_attempts:
        reason = f"{s.retry_attempts} retries done"
    elif time.monotonic() + wait >= deadline:
        reason = f"the wait would pass the time limit of {s.max_time_per_url:g}s per URL"
    result.attempts.append(
        {
            "url": hop.url,
            "started": iso(hop.started),
            "status": hop.status,
            "retry_after": value,
            "wait": wait,
            "retried": reason is None,
            "reason": reason,
        }
    )
    if wait is not None:
        # Also when not waited for: the host said it is overloaded, so go slower.
        gate.back_off(host_key(hop.url), wait if reason is None else 0.0, wait)
    if reason is None and stop.wait(wait):  # waited here, not holding the host's lock
        result.attempts[-1]["retried"] = False
        result.attempts[-1]["reason"] = "the run was interrupted during the wait"
        return False
    return reason is None
