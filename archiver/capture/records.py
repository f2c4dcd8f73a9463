"""Turn a fetch into WARC records and a capture-log entry.

Per exchange: a ``request`` record (the bytes sent) and a ``response`` record (the bytes
received, chunk framing and content-encoding kept), tied by ``WARC-Concurrent-To`` both ways,
sharing one ``WARC-Date``, with ``WARC-IP-Address`` of the server when it is known (never the
proxy's). A failure adds a ``metadata`` record (``application/json``) saying what went wrong,
when, and for which URI, so "this URL could not be reached at T" is itself in the WARC.
The exchange that opened a TLS connection adds the certificate chain as a ``resource`` record,
and each URL ends with a provenance ``metadata`` record (archiver.capture.evidence). Records
of ours about a URL target ``urn:x-archiver:<kind>:<url>`` (archiver.warc.targets), never
the URL itself: replay tools would serve them as the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from archiver.base.timefmt import iso
from archiver.capture.evidence import chain_record, dns_facts, provenance_record, tls_facts
from archiver.capture.failures import FetchError
from archiver.capture.fetch import REDIRECT_STATUSES, FetchResult, Hop
from archiver.capture.log import CaptureEntry
from archiver.collect.seeds import Citation
from archiver.net.exchange import Exchange, Peer
from archiver.warc.digest import base32
from archiver.warc.targets import FAILURE, UNPARSED, own_target
from archiver.warc.writer import NewRecord, RecordRef, WarcWriter, new_record_id

HTTP_REQUEST = "application/http;msgtype=request"
# Names the request header fields whose value was replaced by "[redacted by archiver]" in the
# record block (a proxy credential): the block, and its WARC-Block-Digest, are then of the bytes
# recorded, not of the bytes sent. See docs/warc.md.
REDACTED_HEADER = "WARC-Archiver-Redacted"
HTTP_RESPONSE = "application/http;msgtype=response"


def sha256_label(hex_digest: str) -> str:
    """``sha256:<BASE32>``, the digest form warcio and pywb read."""
    return "sha256:" + base32(bytes.fromhex(hex_digest))


def _net_headers(hop: Hop) -> dict[str, str | list[str]]:
    headers: dict[str, str | list[str]] = {}
    if hop.peer is not None and not hop.peer.via_proxy:
        headers["WARC-IP-Address"] = hop.peer.ip
    protocols = [hop.http_version.lower()]
    if hop.tls is not None and hop.tls.version:
        # Proposed WARC fields in use by Heritrix/Browsertrix (warc-specifications #42, #86).
        protocols.append(hop.tls.version.lower().replace("tlsv", "tls/"))
        if hop.tls.cipher:
            headers["WARC-Cipher-Suite"] = hop.tls.cipher
    headers["WARC-Protocol"] = protocols
    return headers


def hop_records(hop: Hop) -> list[NewRecord]:
    """The records for one hop: request/response pair, plus a metadata record on failure."""
    out: list[NewRecord] = []
    request_id = response_id = None
    if hop.exchange is not None and hop.exchange.request_size:
        out, request_id, response_id = _exchange_records(hop, hop.exchange)
    if hop.error is not None:
        extra: dict[str, Any] = {}
        if hop.error.cls == "private-address":  # the evidence of a refusal: what was resolved
            extra = {"requested": False, "dns": hop.dns.to_dict() if hop.dns else None}
        out.append(
            failure_record(
                hop.url, hop.error, hop.peer, hop.started, request_id or response_id, extra=extra
            )
        )
    return out


def _exchange_records(hop: Hop, ex: Exchange) -> tuple[list[NewRecord], str, str | None]:
    """Request, response (or the raw bytes that never formed one) and TLS chain of a hop."""
    date = hop.started
    request_id = new_record_id()
    response_id = new_record_id() if hop.status is not None else None
    headers = _net_headers(hop)
    if response_id:
        headers["WARC-Concurrent-To"] = response_id
    if ex.redacted:  # the block differs from the bytes sent: say which field and why
        headers[REDACTED_HEADER] = ", ".join(dict.fromkeys(ex.redacted))
    out = [
        NewRecord(
            type="request",
            target_uri=hop.url,
            content_type=HTTP_REQUEST,
            block=cast(BinaryIO, ex.request),
            block_length=ex.request_size,
            date=date,
            record_id=request_id,
            headers=headers,
        )
    ]
    if response_id:
        headers = _net_headers(hop)
        headers["WARC-Concurrent-To"] = request_id
        if hop.truncated:
            headers["WARC-Truncated"] = hop.truncated
        out.append(
            NewRecord(
                type="response",
                target_uri=hop.url,
                content_type=HTTP_RESPONSE,
                block=cast(BinaryIO, ex.response),
                block_length=ex.response_size,
                date=date,
                record_id=response_id,
                http_payload=True,
                payload_digest=sha256_label(hop.payload_sha256) if hop.payload_sha256 else None,
                headers=headers,
            )
        )
    elif ex.response_size:
        # Bytes came back but never formed a status line and headers: keep them as they are,
        # under a URN, since a replay tool would serve a resource record at the URL as the page.
        out.append(
            NewRecord(
                type="resource",
                target_uri=own_target(UNPARSED, hop.url),
                content_type="application/octet-stream",
                block=cast(BinaryIO, ex.response),
                block_length=ex.response_size,
                date=date,
                headers={"WARC-Concurrent-To": request_id, "WARC-Truncated": "disconnect"},
            )
        )
    chain = chain_record(hop, response_id or request_id, response_id)
    if chain is not None:
        out.append(chain)
    return out, request_id, response_id


def failure_record(
    url: str,
    error: FetchError,
    peer: Peer | None = None,
    date: datetime | None = None,
    concurrent_to: str | None = None,
    extra: dict[str, Any] | None = None,
) -> NewRecord:
    info: dict[str, Any] = {
        "target_uri": url,
        "error": error.to_dict(),
        "server_ip": peer.ip if peer is not None and not peer.via_proxy else None,
        "proxy": {"url": peer.proxy, "ip": peer.ip}
        if peer is not None and peer.via_proxy
        else None,
        **(extra or {}),
    }
    block = (json.dumps(info, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
    headers: dict[str, str | list[str]] = {}
    if concurrent_to:
        headers["WARC-Concurrent-To"] = concurrent_to
    if peer is not None and not peer.via_proxy:
        headers["WARC-IP-Address"] = peer.ip
    return NewRecord(
        type="metadata",
        target_uri=own_target(FAILURE, url),  # the URL is in the block; never replayed as it
        content_type="application/json",
        block=block,
        block_length=len(block),
        date=date or error.at,
        record_id=new_record_id(),
        headers=headers,
    )


def write_fetch(
    writer: WarcWriter,
    result: FetchResult,
    *,
    facts: Mapping[str, Any] | None = None,
    robots: Any = None,
    summary: dict[str, Any] | None = None,
) -> list[RecordRef]:
    """Write every hop's records (and a metadata record for a fetch-level failure) as one group.

    With ``facts`` (archiver.base.facts.run_facts), a provenance ``metadata`` record for the URL
    ends the group and its id is kept in ``result.provenance_record_id``; ``robots`` is the
    decision that let the URL be fetched, ``summary`` its ``outcome_summary`` if already made.
    """
    per_hop = [hop_records(hop) for hop in result.hops]
    records: list[NewRecord] = [r for group in per_hop for r in group]
    failures: list[NewRecord] = []
    hop_error_written = bool(result.hops) and result.hops[-1].error is result.error
    if (
        result.error is not None
        and not hop_error_written
        and result.error.cls
        not in (
            "invalid-url",
            "unsupported-scheme",
        )
    ):
        last = result.final
        failures.append(
            failure_record(
                last.url if last else result.url,
                result.error,
                last.peer if last else None,
                concurrent_to=None,
            )
        )
    decision = result.blocked
    if decision is not None and decision.failure is not None:
        # robots.txt was unreachable, so the page was not requested; say so for the page too.
        cls, message = decision.failure
        failures.append(
            failure_record(
                result.url,
                FetchError(cls, message, result.ended or datetime.now(UTC)),
                extra={"requested": False, "robots_url": decision.url},
            )
        )
    records.extend(failures)
    if facts is not None and records:
        hop_failures = [r for group in per_hop for r in group if r.type == "metadata"]
        summary = dict(outcome_summary(result, robots) if summary is None else summary)
        decision = summary.pop("robots")
        record = provenance_record(
            result, per_hop, summary, facts, decision, [*hop_failures, *failures]
        )
        result.provenance_record_id = record.record_id
        records.append(record)
    return writer.write(records) if records else []


def ref_dict(ref: RecordRef) -> dict[str, Any]:
    return {
        "warc_file": ref.warc_file,
        "record_id": ref.record_id,
        "type": ref.type,
        "target_uri": ref.target_uri,
        "offset": ref.offset,
        "length": ref.length,
    }


def outcome_summary(result: FetchResult, robots: Any = None) -> dict[str, Any]:
    """The outcome fields shared by the log entry and the provenance record (made once for
    both by the crawl)."""
    responded = [h for h in result.hops if h.status is not None]
    last = responded[-1] if responded else None
    redirects = [
        {"url": h.url, "status": h.status, "location": h.location}
        for h in responded
        if h.location is not None and h.status in REDIRECT_STATUSES
    ]
    outcome, error, robots = _outcome(result, last, robots)
    network = network_facts(result)
    return {
        "started": iso(result.started),
        "ended": iso(result.ended or datetime.now(UTC)),
        "outcome": outcome,
        "status": last.status if last is not None else None,
        "final_url": last.url if last is not None else None,
        "redirects": redirects,
        "error": error,
        "robots": robots,
        "ip": network["ip"],
        "proxy": network["proxy"],
        "attempts": _attempts(result),
    }


def _outcome(
    result: FetchResult, last: Hop | None, robots: Any
) -> tuple[str, dict[str, Any] | None, Any]:
    """(outcome, error, robots decision) of a fetch whose last answered hop is ``last``."""
    error = result.error.to_dict() if result.error is not None else None
    if result.blocked is not None:
        return _blocked(result, robots)
    if result.error is not None and result.error.cls == "private-address":
        return "blocked", error, robots
    if (
        (result.error is not None and result.error.cls == "too-many-redirects")
        or last is None
        or last is not result.final  # the last hop got no answer
    ):
        return "failed", error, robots
    if last.status is not None and last.status >= 400:
        kind = "http-4xx" if last.status < 500 else "http-5xx"
        error = error or {
            "class": kind,
            "message": f"HTTP {last.status} {last.reason}".strip(),
            "at": iso(last.started),
        }
        return "http-error", error, robots
    return "captured", error, robots


def _blocked(result: FetchResult, robots: Any) -> tuple[str, dict[str, Any], Any]:
    """A URL robots.txt kept us from: disallowed, or robots.txt itself could not be had."""
    decision = result.blocked
    assert decision is not None
    at = iso(result.ended or datetime.now(UTC))
    if decision.failure is not None:
        # robots.txt could not be fetched; when its address was refused, so is the page's.
        outcome = "blocked" if decision.failure[0] == "private-address" else "failed"
        error = {"class": decision.failure[0], "message": decision.failure[1], "at": at}
    else:
        outcome = "blocked"
        where = " (redirect target)" if result.hops else ""
        error = {
            "class": "robots",
            "message": f"{result.blocked_url or result.url}{where} is disallowed by "
            f"{decision.url} "
            f"({decision.rule}); not fetched",
            "at": at,
        }
    return outcome, error, robots if robots is not None else decision


def _attempts(result: FetchResult) -> list[dict[str, Any]]:
    """Retry-After attempts, with the attempt after the last wait: how it ended."""
    final = result.final
    attempts = list(result.attempts)
    if attempts and final is not None and attempts[-1]["started"] != iso(final.started):
        attempts.append(
            {
                "url": final.url,
                "started": iso(final.started),
                "status": final.status,
                "retry_after": final.headers.get("retry-after"),
                "wait": None,
                "retried": False,
                "reason": final.error.message if final.error is not None else None,
            }
        )
    return attempts


def network_facts(result: FetchResult) -> dict[str, Any]:
    """``{"ip", "resolved_by", "proxy": {"url", "ip"} | None}`` of a fetch. A URL that robots.txt
    blocked was never connected to; it gets the proxy its robots.txt went through."""
    final = result.final
    responded = [h for h in result.hops if h.status is not None]
    last = responded[-1] if responded else None
    peer = (final.peer if final is not None else None) or (last.peer if last else None)
    proxy = None
    if result.proxy:
        proxy = {
            "url": result.proxy,
            "ip": peer.ip if peer is not None and peer.via_proxy else None,
        }
        robots = getattr(result.blocked, "network", None)
        if proxy["ip"] is None and not result.hops and robots and robots.get("proxy"):
            proxy["ip"] = robots["proxy"].get("ip")
    return {
        "ip": peer.ip if peer is not None and not peer.via_proxy else None,
        "resolved_by": result.resolved_by,
        "proxy": proxy,
    }


def build_entry(
    result: FetchResult,
    refs: Sequence[RecordRef],
    *,
    citations: Sequence[Citation],
    hop: int,
    via: str | None,
    robots: Any = None,
    robots_records: Sequence[dict[str, Any]] = (),
    summary: dict[str, Any] | None = None,
) -> CaptureEntry:
    """The capture-log entry (manifests/capture-log.schema.json) for one URL."""
    final = result.final
    responded = [h for h in result.hops if h.status is not None]
    last = responded[-1] if responded else None
    summary = dict(outcome_summary(result, robots) if summary is None else summary)
    robots = summary.pop("robots")
    ok_payload = summary["outcome"] in ("captured", "http-error") and last is not None
    return CaptureEntry.from_json(
        {
            "url": result.url,
            "citations": [c.to_json() for c in citations],
            "hop": hop,
            "via": via,
            **summary,
            "robots": robots.to_dict() if robots is not None else None,
            "resolved_by": result.resolved_by,
            "dns": dns_facts(final, result),
            "tls": tls_facts(final.tls if final is not None else None),
            "provenance_record": result.provenance_record_id,
            "content_type": last.headers.get("content-type") if ok_payload and last else None,
            "payload_size": last.payload_size if ok_payload and last else None,
            "payload_sha256": last.payload_sha256 if ok_payload and last else None,
            "truncated": last.truncated if ok_payload and last else None,
            "records": [*robots_records, *(ref_dict(r) for r in refs)],
            "text": None,
        }
    )
