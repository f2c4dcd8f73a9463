"""Which records a WACZ index admits, and which page list a capture-log entry lands in."""

from __future__ import annotations

import json

import pytest

from archiver.export.cdxj import replayable
from archiver.export.pages import page_lists
from archiver.export.wacz import _CheckedBag
from tests.helpers import DATA, capture_log

OLD_BAG = DATA / "bags" / "old-layout"


@pytest.mark.parametrize(
    ("record_type", "target", "truncated", "expected"),
    [
        ("response", "https://example.org/page", None, True),
        ("response", "https://example.org/page", "length", True),  # cut, but a real response
        ("revisit", "http://example.org/", None, True),
        ("resource", "https://example.org/scan.pdf", None, True),  # another tool's resource
        # the earlier layout: bytes that never formed a response, at the page URL
        ("resource", "https://example.org/page", "disconnect", False),
        ("metadata", "https://example.org/page", None, False),  # earlier provenance/failure
        ("metadata", "urn:x-archiver:provenance:https://example.org/page", None, False),
        ("resource", "urn:x-archiver:tls-chain:example.org:443", None, False),
        ("resource", "urn:x-archiver:unparsed-response:https://example.org/", None, False),
        ("resource", "urn:pageinfo:https://example.org/", None, False),
        ("request", "https://example.org/page", None, False),
        ("warcinfo", None, None, False),
    ],
)
def test_replayable(record_type: str, target: str | None, truncated: str | None, expected: bool):
    assert replayable(record_type, target, truncated) is expected


def test_pages_of_followed_links_go_to_the_extra_list() -> None:
    entries = capture_log(OLD_BAG)
    reached = next(e for e in entries if e["url"].endswith("/redirect/301"))
    reached["hop"] = 1
    lists = page_lists(OLD_BAG, entries, read=_CheckedBag(OLD_BAG).read)
    assert [p["url"] for p in lists.extra] == [reached["url"]]
    assert reached["url"] not in {p["url"] for p in lists.pages}
    assert len(lists.pages) == 3  # two articles and the 404; failed URLs have no page
    assert all(json.dumps(p) for p in lists.pages)
