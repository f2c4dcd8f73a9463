"""A run's WARCs, added to pywb (from the pip package) as a receiving library would, replay
each captured page as captured, and never a provenance or failure record as a page."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archiver.warc.reader import read_record_at
from tests.export.conftest import PAGES, RunBag
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


@pytest.fixture(scope="module")
def wayback(run_bag: RunBag, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wayback]:
    wb = Wayback(tmp_path_factory.mktemp("pywb"))
    wb.add(*sorted((run_bag.bag / "data" / "warcs").glob("*.warc.gz")))
    with wb:
        yield wb


def assert_replays_as_captured(wb: Wayback, run_bag: RunBag) -> None:
    """Every response of every captured page, at its own second, is the bytes served."""
    for key, path in {**PAGES, "https": "/articles/three.html"}.items():
        entry = run_bag.entry(key)
        assert entry["outcome"] in ("captured", "http-error"), entry
        for ref in responses(entry):
            status, headers, body = wb.get(ref["target_uri"], timestamp14(run_bag.bag, ref))
            served = SITE.served(urlsplit(ref["target_uri"]).path)
            ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
            assert "json" not in ctype, (key, ref["target_uri"], body[:200])
            assert status == served.status, (key, ref["target_uri"], status)
            if served.status == 200:
                assert body_of(headers, body) == served.decoded, (key, ref["target_uri"])
        assert path  # every page of the run was looked at


def assert_failures_not_archived(wb: Wayback, run_bag: RunBag) -> None:
    for key in ("refused", "dns"):
        assert run_bag.entry(key)["outcome"] == "failed"
        for mode in ("id_", "mp_"):
            status, _, body = wb.get(run_bag.urls[key], mode=mode)
            assert status == 404, (key, mode, body[:300])
            assert b"capture-provenance" not in body and b'"error"' not in body


def test_pages_replay_as_captured(wayback: Wayback, run_bag: RunBag) -> None:
    assert_replays_as_captured(wayback, run_bag)


def test_failed_urls_are_not_archived(wayback: Wayback, run_bag: RunBag) -> None:
    assert_failures_not_archived(wayback, run_bag)


def test_rewritten_page_shows_the_article(wayback: Wayback, run_bag: RunBag) -> None:
    """What a reader sees in the browser (pywb's rewriting mode), through the redirects."""
    status, _, body = wayback.get(run_bag.urls["article"], mode="mp_")
    assert status == 200 and b"Detention of journalists" in body


def test_provenance_is_indexed_under_its_own_urn(wayback: Wayback, run_bag: RunBag) -> None:
    """The records are kept and still reachable by their own URNs, never at the page URL."""
    lines = wayback.index_lines()
    article = run_bag.urls["article"]
    at_page = [line for line in lines if f'"url": "{article}"' in line]
    assert at_page and all('"mime": "application/json"' not in line for line in at_page)
    assert any(f'"url": "urn:x-archiver:provenance:{article}"' in line for line in lines)
