"""Reading a Retry-After header (seconds or an HTTP date) into a wait."""

from __future__ import annotations

import contextlib
import email.utils
from datetime import UTC, datetime


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
