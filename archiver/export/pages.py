"""``pages/pages.jsonl`` of a WACZ: the cited pages, their titles and cleaned text.

Replay tools open a WACZ at its pages and search their text (ReplayWeb.page's full-text
search reads ``text``). A page is a capture-log entry that got a response (captured, or an
HTTP error page kept as evidence); failed and blocked URLs have nothing to replay. URLs the run
cited are the pages; pages reached by following links (hop > 0) go to ``extraPages.jsonl``, as
browsertrix-crawler does with non-seed pages. Each page opens at the second of its first
response, so replay follows its redirects as they were captured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.bag.paths import is_inside
from archiver.base.timefmt import parse_iso
from archiver.warc.reader import read_record_at

PAGES = "pages/pages.jsonl"
EXTRA_PAGES = "pages/extraPages.jsonl"
_FORMAT = "json-pages-1.0"
Reader = Callable[[str], bytes]


@dataclass
class PageLists:
    pages: list[dict[str, Any]]  # cited URLs (hop 0)
    extra: list[dict[str, Any]]  # reached by following links


def _first_response_date(bag: Path, entry: dict[str, Any]) -> tuple[str, str] | None:
    """(record id, WARC-Date) of the entry's first response to its own URL (not robots.txt)."""
    for ref in entry.get("records") or []:
        if ref.get("type") != "response" or ref.get("target_uri") != entry.get("url"):
            continue
        path = bag / "data" / "warcs" / str(ref.get("warc_file"))
        if not is_inside(str(bag / "data" / "warcs"), str(path)) or not path.is_file():
            return None
        with read_record_at(path, int(ref["offset"])) as rec:
            return str(ref["record_id"]), rec.date or ""
    return None


def _text(entry: dict[str, Any], read: Reader) -> tuple[str | None, str | None]:
    """(title, cleaned text) from the entry's text file and sidecar, when it has them."""
    text = entry.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("path"), str):
        return None, None
    body = read(f"data/{text['path']}").decode("utf-8", errors="replace")
    title = None
    if isinstance(text.get("sidecar"), str):
        meta = json.loads(read(f"data/{text['sidecar']}")).get("metadata") or {}
        title = meta.get("title") if isinstance(meta.get("title"), str) else None
    return title, body


def _ms(warc_date: str) -> str:
    """ISO 8601 with milliseconds: what browsers' Date (ReplayWeb.page) parses."""
    moment = parse_iso(warc_date)
    if moment is None:
        return warc_date
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def page_lists(bag: Path, entries: list[dict[str, Any]], *, read: Reader) -> PageLists:
    """The pages of ``entries`` (capture-log order), with title, text and HTTP status.

    ``read`` gives a bag file's bytes by bag-relative path, checked against the manifest.
    """
    lists = PageLists([], [])
    for entry in entries:
        if entry.get("outcome") not in ("captured", "http-error"):
            continue
        first = _first_response_date(bag, entry)
        if first is None:
            continue
        record_id, date = first
        title, text = _text(entry, read)
        page: dict[str, Any] = {
            "id": record_id.strip("<>").removeprefix("urn:uuid:"),
            "url": entry["url"],
            "ts": _ms(date),
            "title": title or entry["url"],
            "status": entry.get("status"),
        }
        if text is not None:
            page["text"] = text
        (lists.pages if not entry.get("hop") else lists.extra).append(page)
    return lists


def jsonl(pages: list[dict[str, Any]], *, list_id: str, title: str) -> bytes:
    """A WACZ page list: the ``json-pages-1.0`` header line, then one page per line."""
    header: dict[str, Any] = {"format": _FORMAT, "id": list_id, "title": title}
    if any("text" in p for p in pages):
        header["hasText"] = True
    lines = [header, *pages]
    return "".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in lines).encode()
