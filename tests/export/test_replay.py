"""A run's WARCs, added to pywb (from the pip package) as a receiving library would, replay
each captured page as captured, and never a provenance or failure record as a page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.export.conftest import RunBag
from tests.export.pywb import Wayback
from tests.export.replaycheck import assert_failures_not_archived, assert_replays_as_captured


@pytest.fixture(scope="module")
def wayback(run_bag: RunBag, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wayback]:
    wb = Wayback(tmp_path_factory.mktemp("pywb"))
    wb.add(*sorted((run_bag.bag / "data" / "warcs").glob("*.warc.gz")))
    with wb:
        yield wb


def test_pages_replay_as_captured(wayback: Wayback, run_bag: RunBag) -> None:
    entries = list(run_bag.entries.values())
    # two pages, a redirect chain, a 404, chunked, gzip, a PDF, HTTPS (and robots.txt left out)
    assert assert_replays_as_captured(wayback, run_bag.bag, entries) == 9


def test_failed_urls_are_not_archived(wayback: Wayback, run_bag: RunBag) -> None:
    entries = list(run_bag.entries.values())
    assert {run_bag.urls["refused"], run_bag.urls["dns"]} <= {
        e["url"] for e in entries if e["outcome"] == "failed"
    }
    assert assert_failures_not_archived(wayback, entries) == 2


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
