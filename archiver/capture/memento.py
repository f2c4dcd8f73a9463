"""Reading what public web archives answer: RFC 7089 TimeMaps and the Wayback availability API.

A TimeMap (``application/link-format``, RFC 6690) is a list of RFC 8288 links; ``httplink``
parses that syntax (quoted commas inside URLs, multi-valued ``rel``). The answers come from
third parties and may be huge, slow or garbage, so everything here is a pure function over
bytes already bounded by the caller, and anything unreadable raises :class:`MementoFormatError`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit

import httplink

from archiver.base.timefmt import utc_iso
from archiver.capture.witnessparts import Memento


class MementoFormatError(ValueError):
    """An archive's answer that is not the format it should be."""


def timemap_url(endpoint: str, url: str) -> str:
    """The TimeMap of ``url`` at an aggregator: ``{url}`` in the endpoint, else appended."""
    return endpoint.replace("{url}", url) if "{url}" in endpoint else endpoint + url


def availability_url(endpoint: str, url: str, at: datetime) -> str:
    """``endpoint?url=...&timestamp=YYYYMMDDhhmmss`` (the Wayback availability API)."""
    return f"{endpoint}?{urlencode({'url': url, 'timestamp': at.strftime('%Y%m%d%H%M%S')})}"


def save_now_url(endpoint: str, url: str) -> str:
    return endpoint.replace("{url}", url) if "{url}" in endpoint else endpoint + url


def archive_of(memento_url: str) -> str:
    return (urlsplit(memento_url).hostname or "").lower() or "(unknown archive)"


def _http_date(text: str) -> datetime:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as err:
        raise MementoFormatError(f"datetime {text[:60]!r} is not an HTTP date") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_timemap(body: bytes, at: datetime) -> tuple[list[Memento], int]:
    """(first, last and closest-to-``at`` mementos, how many the TimeMap lists).

    Only three are kept: a TimeMap of a popular page lists hundreds of thousands, and the
    earliest, the latest and the one nearest the failure are what a reader of the log needs.
    """
    try:
        text = body.decode("utf-8")
        links = httplink.parse_link_header(text.strip()).links
    except (UnicodeDecodeError, ValueError) as err:
        raise MementoFormatError(f"not a link-format TimeMap ({str(err)[:80]})") from err
    if text.strip() and not links:
        raise MementoFormatError("not a link-format TimeMap (no links)")
    found: list[tuple[datetime, str]] = []
    for link in links:
        if "memento" in link.rel and "datetime" in link:
            found.append((_http_date(link["datetime"]), link.target))
    if not found:
        return [], 0
    found.sort()
    closest = min(found, key=lambda m: abs((m[0] - at).total_seconds()))
    picks = [("first", found[0]), ("last", found[-1]), ("closest", closest)]
    out: list[Memento] = []
    for rel, (when, target) in picks:
        if any(m.url == target for m in out):
            continue
        out.append(Memento(archive_of(target), target, utc_iso(when, micros=False), rel))
    return out, len(found)


def parse_availability(body: bytes) -> list[Memento]:
    """The closest snapshot the availability API names (none: an empty list)."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise MementoFormatError("availability answer is not JSON") from err
    snapshots = data.get("archived_snapshots") if isinstance(data, dict) else None
    if not isinstance(snapshots, dict):
        raise MementoFormatError("availability answer has no archived_snapshots object")
    closest = snapshots.get("closest")
    if closest is None:
        return []
    if not isinstance(closest, dict) or not isinstance(closest.get("url"), str):
        raise MementoFormatError("availability answer's closest snapshot has no url")
    if closest.get("available") is False:
        return []
    stamp = str(closest.get("timestamp", ""))
    try:
        when = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as err:
        raise MementoFormatError(f"timestamp {stamp[:20]!r} is not YYYYMMDDhhmmss") from err
    url = closest["url"]
    return [Memento(archive_of(url), url, utc_iso(when, micros=False), "closest")]


def closest_memento(mementos: list[Memento], at: datetime) -> Memento | None:
    """The memento nearest ``at`` among all answers (the one ``--fetch-mementos`` captures)."""
    dated = []
    for m in mementos:
        try:
            dated.append((abs((datetime.fromisoformat(m.datetime) - at).total_seconds()), m))
        except ValueError:
            continue
    return min(dated, key=lambda d: (d[0], d[1].url))[1] if dated else None
