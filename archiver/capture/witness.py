"""Witnesses for dead links: ask public web archives whether they hold a URL we could not get.

Only URLs that are gone (HTTP 404, 410, 451) or unreachable (DNS, refused, reset, TLS, timeout,
disconnect) are asked about; 5xx answers are usually passing and proxy failures are ours. Each
question is an ordinary recorded fetch: the same address policy, proxy and TLS settings, a
bound on size and time, and its request/response records written to the run's WARC and named
in the entry, so the answer itself is kept as evidence. A lookup never fails the run: whatever
goes wrong is recorded as that lookup's ``error``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from archiver.base.facts import run_facts
from archiver.base.settings import Settings
from archiver.base.timefmt import parse_iso, utc_iso
from archiver.capture.crawl import CaptureResult
from archiver.capture.fetch import Fetcher, FetchResult
from archiver.capture.log import CaptureEntry
from archiver.capture.memento import (
    MementoFormatError,
    availability_url,
    closest_memento,
    parse_availability,
    parse_timemap,
    save_now_url,
    timemap_url,
)
from archiver.capture.records import build_entry, write_fetch
from archiver.capture.witnessparts import Memento, MementoOf, Service, ThirdPartyQuery
from archiver.net.netpolicy import AddressPolicy
from archiver.warc.writer import WarcWriter

GONE_STATUSES = frozenset({404, 410, 451})
UNREACHABLE_ERRORS = frozenset(
    {
        "dns",
        "connection-refused",
        "connection-reset",
        "connection-aborted",
        "tls",
        "timeout",
        "disconnect",
        "network",
    }
)
MAX_LOOKUP_REDIRECTS = 3

Parse = Callable[[bytes], tuple[list[Memento], int | None]]

LIMIT = "lookup-limit"  # a query not asked: the run reached witness_limit


def annotates(settings: Settings, entry: CaptureEntry) -> bool:
    """Would :meth:`Witnesses.annotate` add to ``entry`` (a lookup, a save-now answer)? If not,
    its journal line is final where it was made (a capture process sends just that line)."""
    if entry.memento_of is not None:
        return False
    if settings.witnesses and wants_witnesses(entry):
        return True
    return bool(settings.save_now and entry.outcome == "captured")


def wants_witnesses(entry: CaptureEntry) -> bool:
    """Gone or unreachable, and not itself our capture of a memento."""
    if entry.memento_of is not None:
        return False
    if entry.outcome == "http-error":
        return entry.status in GONE_STATUSES
    return (
        entry.outcome == "failed"
        and entry.error is not None
        and (entry.error.cls in UNREACHABLE_ERRORS)
    )


class Witnesses:
    """The run's third-party lookups; called from capture worker threads."""

    def __init__(
        self,
        settings: Settings,
        writer: WarcWriter,
        *,
        spool_dir: Path | None = None,
        stop: threading.Event | None = None,
        policy: AddressPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.stop = stop or threading.Event()
        bounded = dataclasses.replace(
            settings,
            max_time_per_url=settings.witness_max_time,
            read_timeout=min(settings.read_timeout, settings.witness_max_time),
            max_size=settings.witness_max_size,
            retry_attempts=0,  # an unattended run never waits on a third party's Retry-After
        )
        self.lookups = Fetcher(bounded, spool_dir=spool_dir, policy=policy, stop=self.stop)
        self.pages = Fetcher(
            dataclasses.replace(settings, retry_attempts=0),
            spool_dir=spool_dir,
            policy=policy,
            stop=self.stop,
        )
        self.facts = run_facts(settings)
        # Memento URLs already in the journal (a resumed run) or captured: never logged twice.
        self.seen: set[str] = set()
        self._lock = threading.Lock()
        self.looked_up = 0  # dead URLs asked about in this process (``witness_limit``)

    def close(self) -> None:
        self.lookups.close()
        self.pages.close()

    def annotate(
        self, entry: CaptureEntry, on_memento: Callable[[CaptureResult], None]
    ) -> CaptureEntry:
        """The entry with its witnesses (and save-now answer); a fetched memento goes to
        ``on_memento`` first, so it is journaled before the entry that points to it."""
        s = self.settings
        if self.stop.is_set() or entry.memento_of is not None:
            return entry
        if s.witnesses and wants_witnesses(entry):
            found = self.look_up(entry)
            if s.fetch_mementos:
                self.capture_memento(entry, found, on_memento)
            return dataclasses.replace(entry, witnesses=found)
        if s.save_now and entry.outcome == "captured":
            endpoints = s.save_now_endpoint.split()
            asked = [self._ask("save-now", e, save_now_url(e, entry.url), None) for e in endpoints]
            return dataclasses.replace(entry, save_now=asked)
        return entry

    def look_up(self, entry: CaptureEntry) -> list[ThirdPartyQuery]:
        """Ask every configured TimeMap and availability endpoint about the entry's URL; past
        the run's ``witness_limit``, record each query as not asked."""
        at = parse_iso(entry.ended) or datetime.now(UTC)
        with self._lock:
            within = self.looked_up < self.settings.witness_limit
            self.looked_up += within
        ask = self._ask if within else self._over_limit
        out = []
        for endpoint in self.settings.witness_timemaps.split():
            url = timemap_url(endpoint, entry.url)
            out.append(ask("timemap", endpoint, url, lambda b: parse_timemap(b, at)))
        for endpoint in self.settings.witness_availability.split():
            url = availability_url(endpoint, entry.url, at)
            out.append(ask("wayback-available", endpoint, url, _availability))
        return out

    def _over_limit(
        self, service: Service, endpoint: str, request_url: str, parse: Parse | None
    ) -> ThirdPartyQuery:
        limit = self.settings.witness_limit
        why = f"not asked: this run already looked up {limit} dead URLs (witness_limit)"
        asked = utc_iso(datetime.now(UTC))
        return ThirdPartyQuery(service, endpoint, request_url, asked, None, _err(LIMIT, why))

    def _ask(
        self, service: Service, endpoint: str, request_url: str, parse: Parse | None
    ) -> ThirdPartyQuery:
        """One bounded, recorded request; ``parse`` None: only the status matters (save-now)."""
        asked = utc_iso(datetime.now(UTC))
        result = self.lookups.fetch(
            request_url, max_redirects=MAX_LOOKUP_REDIRECTS, payload_filter=None
        )
        try:
            refs = write_fetch(self.writer, result)
            final = result.final
            status = final.status if final is not None else None
            query = ThirdPartyQuery(service, endpoint, request_url, asked, status, None)
            query = dataclasses.replace(query, records=refs)
            error, mementos, count = _answer(result, parse, service)
            return dataclasses.replace(query, error=error, mementos=mementos, count=count)
        finally:
            result.close()

    def capture_memento(
        self,
        entry: CaptureEntry,
        queries: list[ThirdPartyQuery],
        on_memento: Callable[[CaptureResult], None],
    ) -> None:
        """Capture the memento nearest the failure as its own entry, marked ``memento_of``."""
        at = parse_iso(entry.ended) or datetime.now(UTC)
        pairs = {m.url: q.endpoint for q in queries for m in q.mementos}
        best = closest_memento([m for q in queries for m in q.mementos], at)
        if best is None or best.url == entry.url or self.stop.is_set():
            return
        with self._lock:
            if best.url in self.seen:
                return
            self.seen.add(best.url)
        result = self.pages.fetch(best.url)
        try:
            refs = write_fetch(self.writer, result, facts=self.facts)
            mine = build_entry(result, refs, citations=[], hop=entry.hop, via=None)
            label = MementoOf(entry.url, best.archive, best.datetime, pairs[best.url])
            mine = dataclasses.replace(mine, memento_of=label)
            responses = [r for r in refs if r.type == "response"]
            captured = mine.outcome == "captured"
            on_memento(
                CaptureResult(
                    entry=mine,
                    payload_path=result.payload_path if captured else None,
                    content_type=mine.content_type,
                    response_record=responses[-1] if responses else None,
                    warc_date=utc_iso(result.hops[-1].started) if responses else None,
                )
            )
        finally:
            result.close()


def _availability(body: bytes) -> tuple[list[Memento], int | None]:
    return parse_availability(body), None


def _answer(
    result: FetchResult, parse: Parse | None, service: Service
) -> tuple[dict[str, str] | None, list[Memento], int | None]:
    """(error, mementos, count) of one answer: failures are named, never raised."""
    final = result.final
    if final is None or final.status is None:
        err = result.error
        failure = {"class": err.cls, "message": err.message} if err else _err("network", "")
        return failure, [], None
    if parse is None:
        ok = final.status < 400
        return (None if ok else _err("http-status", f"HTTP {final.status}")), [], None
    if final.truncated:
        why = {"length": "too-large", "time": "timeout"}.get(final.truncated, final.truncated)
        return _err(why, f"answer cut short ({final.truncated}); not read"), [], None
    if service == "timemap" and final.status == 404:
        return None, [], 0  # the aggregator knows of no memento
    if final.status != 200 or result.payload_path is None:
        return _err("http-status", f"HTTP {final.status} {final.reason}".strip()), [], None
    try:
        mementos, count = parse(result.payload_path.read_bytes())
    except MementoFormatError as err:
        return _err("malformed", str(err)), [], None
    except (ValueError, TypeError, OverflowError, RecursionError) as err:  # noqa: BLE001
        # a third party's answer must never end the run; what broke is kept with the lookup
        return _err("malformed", f"{type(err).__name__}: {err}"[:200]), [], None
    return None, mementos, count


def _err(cls: str, message: str) -> dict[str, str]:
    return {"class": cls, "message": message or cls}
