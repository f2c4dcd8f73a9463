"""WARC file names per WARC 1.1 Annex C: ``Prefix-Timestamp-Serial-Crawlhost.warc.gz``.

The timestamp has microseconds so two writers started in the same second never clash, and the
``.open`` suffix marks a file still being written (renamed when sealed).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

OPEN_SUFFIX = ".open"
_UNSAFE_PREFIX = re.compile(r"[^A-Za-z0-9._]+")  # '-' separates the fields
_UNSAFE_HOST = re.compile(r"[^A-Za-z0-9._-]+")  # last field, so '-' is unambiguous


def _safe(part: str, unsafe: re.Pattern[str]) -> str:
    """Keep a name part portable: no '/', spaces or control characters."""
    return unsafe.sub("_", part).strip("._-") or "x"


def warc_file_name(prefix: str, when: datetime, serial: int, hostname: str) -> str:
    """``{prefix}-{YYYYMMDDHHMMSSffffff}-{serial:05d}-{hostname}.warc.gz`` (time in UTC)."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    stamp = when.strftime("%Y%m%d%H%M%S%f")
    host = _safe(hostname, _UNSAFE_HOST)
    return f"{_safe(prefix, _UNSAFE_PREFIX)}-{stamp}-{serial:05d}-{host}.warc.gz"


def final_name(name: str) -> str:
    """The sealed name of a file: its name without a trailing ``.open``."""
    return name[: -len(OPEN_SUFFIX)] if name.endswith(OPEN_SUFFIX) else name
