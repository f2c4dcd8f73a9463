"""Target URIs of archiver's own records: never a page's URL, so replay never serves them.

pywb, cdxj-indexer (py-wacz, browsertrix) and ReplayWeb.page index ``metadata`` and
``resource`` records by ``WARC-Target-URI`` (only ``application/warc-fields`` blocks are left
out). A JSON record about a page that carried the page's URL was therefore replayed *as* the
page, and a URL that never answered (only failure records) replayed as a 200 capture. So, as
browsertrix does with ``urn:pageinfo:<url>``, archiver's records about a URL carry
``urn:x-archiver:<kind>:<url>``; ``WARC-Concurrent-To``/``WARC-Refers-To`` still tie them to
the exchange. Bags written before this (the URL itself as target) stay readable: readers ask
``subject_url`` what a record is about, which gives the URL for both layouts. See docs/warc.md.
"""

from __future__ import annotations

PREFIX = "urn:x-archiver:"
PROVENANCE = "provenance"  # the per-URL provenance metadata record (JSON)
FAILURE = "failure"  # a failed fetch, as data (JSON)
UNPARSED = "unparsed-response"  # bytes that came back without forming an HTTP response
TLS_CHAIN = "tls-chain"  # urn:x-archiver:tls-chain:<host>:<port> (not about one URL)
_ABOUT_A_URL = (PROVENANCE, FAILURE, UNPARSED)


def own_target(kind: str, url: str) -> str:
    """``urn:x-archiver:<kind>:<url>``: the target URI of archiver's record of ``kind``."""
    if kind not in _ABOUT_A_URL:
        raise ValueError(f"not a kind of record about a URL: {kind!r}")
    return f"{PREFIX}{kind}:{url}"


def split_own(target: str | None) -> tuple[str, str] | None:
    """``(kind, url)`` of an ``own_target`` URI, else None (a page URL, another tool's URN)."""
    if not target or not target.startswith(PREFIX):
        return None
    kind, sep, url = target[len(PREFIX) :].partition(":")
    if not sep or kind not in _ABOUT_A_URL or not url:
        return None
    return kind, url


def subject_url(target: str | None) -> str | None:
    """The URL a record is about: the URL inside an ``own_target`` URI, else the target itself.

    The one question readers of our WARCs ask, whichever layout wrote them.
    """
    own = split_own(target)
    return own[1] if own is not None else target
