"""The CDXJ index of a bag's replayable records, made by cdxj-indexer (as py-wacz does).

cdxj-indexer indexes ``metadata`` and ``resource`` records by target URI too. Bags written
before archiver's records got their own URNs (docs/warc.md) hold provenance and failure records
at the page's URL, which replay tools would serve as the page; so only what a replay tool should
ever serve is indexed: responses and revisits at http(s) URIs, and ``resource`` records at such
URIs that are whole (bytes that never formed a response were kept as a truncated resource).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer  # type: ignore[import-untyped]

from archiver.warc.targets import split_own


def replayable(record_type: str, target: str | None, truncated: str | None) -> bool:
    """May a replay tool serve this record as a capture of ``target``?"""
    if not target or not target.lower().startswith(("http:", "https:")):
        return False  # urn:x-archiver:..., other tools' urn:/metadata:// records, no target
    if record_type in ("response", "revisit"):
        return True
    return record_type == "resource" and not truncated and split_own(target) is None


class _ReplayableIndexer(CDXJIndexer):
    """cdxj-indexer's CDXJ lines, for the records ``replayable`` admits only."""

    def filter_record(self, record: Any) -> bool:
        headers = record.rec_headers
        return replayable(
            record.rec_type,
            headers.get_header("WARC-Target-URI"),
            headers.get_header("WARC-Truncated"),
        )


def index_warcs(warcs: Sequence[Path]) -> bytes:
    """Sorted CDXJ (UTF-8, one line per replayable record) of ``warcs``; ``filename`` is each
    WARC's base name, as it sits in a WACZ's ``archive/`` folder."""
    out = io.StringIO()
    indexer = _ReplayableIndexer(
        out,
        [str(p) for p in warcs],
        sort=True,
        post_append=True,  # as pywb and py-wacz: POST bodies in the key (archiver sends GETs)
        records="response,revisit,resource",
    )
    indexer.process_all()
    return out.getvalue().encode("utf-8")
