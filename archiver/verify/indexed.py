"""What a WARC check learned about each record, and which of a log entry's records are robots.txt's.

The capture log's cross-check and verify's other rules read records through ``IndexedRecord``,
never through the WARC again.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urldefrag, urlsplit

from archiver.warc.targets import subject_url


@dataclass(frozen=True, slots=True)
class IndexedRecord:
    """What a WARC check learned about one record, keyed by WARC-Record-ID.

    A bag of 50,000 URLs has some 150,000 records, all indexed while the capture log is
    cross-checked: slots (no per-record dict) and one shared file name keep each one small.
    """

    warc_file: str
    offset: int
    type: str
    target_uri: str | None
    payload_sha256: str | None
    status: int | None = None  # HTTP status of a response record


def split_robots_records(
    url: str, recs: list[IndexedRecord]
) -> tuple[list[IndexedRecord], list[IndexedRecord]]:
    """(robots.txt records, the URL's own records) of one entry, in log order.

    A capture logs ``[robots.txt fetch..., own fetch...]``; the own fetch starts with a record
    targeting the URL itself (its first request). When there is none (blocked by robots.txt,
    or the connection failed before a request was written) every record belongs to the
    robots.txt fetch. Nothing is set aside unless the leading record targets a ``/robots.txt``
    URL, so a log cannot hide a page's response by calling it robots evidence.
    """
    first = subject_url(recs[0].target_uri) if recs else None
    if not recs or not _is_robots_url(first) or _same_url(first, url):
        return [], recs
    for i, rec in enumerate(recs):
        if _same_url(subject_url(rec.target_uri), url):
            return recs[:i], recs[i:]
    return recs, []


def _is_robots_url(uri: str | None) -> bool:
    if not uri:
        return False
    parts = urlsplit(uri)
    return parts.path == "/robots.txt" and parts.scheme.lower() in ("http", "https")


def _same_url(a: str | None, b: str) -> bool:
    return a is not None and urldefrag(a)[0] == urldefrag(b)[0]
