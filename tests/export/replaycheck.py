"""What "replays right" means, asked of a running pywb: shared by the WARC and WACZ tests."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.warc.reader import read_record_at
from tests.export.pywb import Wayback
from tests.servers import Site

SITE = Site()


def timestamp14(bag: Path, ref: dict[str, Any]) -> str:
    """The record's WARC-Date as the 14 digits of a replay URL."""
    with read_record_at(bag / "data" / "warcs" / ref["warc_file"], ref["offset"]) as rec:
        date = rec.date or ""
    return "".join(c for c in date if c.isdigit())[:14]


def responses(entry: dict[str, Any]) -> list[dict[str, Any]]:
    own = [r for r in entry["records"] if "robots" not in r["target_uri"]]
    return [r for r in own if r["type"] == "response"]


def body_of(headers: dict[str, str], body: bytes) -> bytes:
    """The entity body with content coding removed (pywb keeps the captured coding in id_)."""
    coding = {k.lower(): v for k, v in headers.items()}.get("content-encoding", "")
    return gzip.decompress(body) if coding == "gzip" else body


def assert_replays_as_captured(wb: Wayback, bag: Path, entries: list[dict[str, Any]]) -> int:
    """Every response of every captured page, at its own second, is the bytes served (the
    test site's); returns how many were checked."""
    checked = 0
    for entry in entries:
        if entry["outcome"] not in ("captured", "http-error"):
            continue
        for ref in responses(entry):
            status, headers, body = wb.get(ref["target_uri"], timestamp14(bag, ref))
            served = SITE.served(urlsplit(ref["target_uri"]).path)
            ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
            assert "json" not in ctype, (ref["target_uri"], body[:200])
            assert status == served.status, (ref["target_uri"], status)
            if served.status == 200:
                assert body_of(headers, body) == served.decoded, ref["target_uri"]
            checked += 1
    return checked


def assert_failures_not_archived(wb: Wayback, entries: list[dict[str, Any]]) -> int:
    """Every URL that failed is "not found in archive" (404), never a capture."""
    failed = [e["url"] for e in entries if e["outcome"] == "failed"]
    for url in failed:
        for mode in ("id_", "mp_"):
            status, _, body = wb.get(url, mode=mode)
            assert status == 404, (url, mode, body[:300])
            assert b"capture-provenance" not in body and b'"error"' not in body
    return len(failed)
