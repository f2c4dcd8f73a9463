"""Per-URL provenance: the TLS chain as a ``resource`` record and one JSON ``metadata`` record.

A response record shows *what* a server sent; a court or a reviewer also asks *from whom* (the
certificate chain of the handshake, the address connected to, the DNS answers behind it) and
*how* (the software, system and options that made the capture). Those facts are written next to
the response, tied to it by ``WARC-Concurrent-To``/``WARC-Refers-To``, and summarised in the
capture-log entry. See docs/capture.md ("Provenance records").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.base.compactjson import EncodedFacts, compact
from archiver.base.timefmt import iso
from archiver.capture.fetch import FetchResult, Hop
from archiver.net.certs import PEM_CHAIN, pem_chain
from archiver.net.exchange import TLSInfo
from archiver.warc.targets import PREFIX, PROVENANCE, TLS_CHAIN, own_target
from archiver.warc.writer import NewRecord, new_record_id

PROVENANCE_TYPE = "archiver/capture-provenance"
PROVENANCE_VERSION = 1


def chain_target(url: str) -> str:
    """``urn:x-archiver:tls-chain:<host>:<port>``: a URI no replay tool mistakes for the page."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{PREFIX}{TLS_CHAIN}:{host}:{parts.port or 443}"


def chain_record(hop: Hop, concurrent_to: str, refers_to: str | None) -> NewRecord | None:
    """The PEM chain of the hop's TLS connection, when this hop opened that connection."""
    ex, tls = hop.exchange, hop.tls
    if ex is None or not ex.opened_tls or tls is None or not tls.chain or not tls.record_id:
        return None
    block = pem_chain(tls.chain)
    headers: dict[str, str | list[str]] = {"WARC-Concurrent-To": concurrent_to}
    if refers_to:
        headers["WARC-Refers-To"] = refers_to
    if hop.peer is not None and not hop.peer.via_proxy:
        headers["WARC-IP-Address"] = hop.peer.ip
    return NewRecord(
        type="resource",
        target_uri=chain_target(hop.url),
        content_type=PEM_CHAIN,
        block=block,
        block_length=len(block),
        date=hop.started,
        record_id=tls.record_id,
        headers=headers,
    )


def tls_facts(tls: TLSInfo | None, *, full: bool = False) -> dict[str, Any] | None:
    """The log's ``tls`` object; ``full`` adds session resumption and the verified root."""
    if tls is None:
        return None
    out: dict[str, Any] = {
        "version": tls.version,
        "cipher": tls.cipher,
        "chain": tls.chain_summary(),
        "record_id": tls.record_id if tls.chain else None,
    }
    if full:
        out["resumed"] = tls.resumed
        out["verified"] = tls.verified_chain is not None
        out["verified_root"] = tls.root_summary()
    return out


def _hop_tls(tls: TLSInfo | None) -> dict[str, Any] | None:
    """Per hop, the chain by digest only: the full description is in the chain record and,
    for the final hop, in the record's top-level ``tls``."""
    if tls is None:
        return None
    return {
        "version": tls.version,
        "cipher": tls.cipher,
        "resumed": tls.resumed,
        "chain_sha256": [c["sha256"] for c in tls.chain_summary()],
        "record_id": tls.record_id if tls.chain else None,
    }


def dns_facts(hop: Hop | None, result: FetchResult) -> dict[str, Any] | None:
    """The log's ``dns`` object: our own resolution, or a note that the proxy resolved it."""
    if hop is None:
        return None
    if result.resolved_by == "proxy":
        return {
            "resolved_by": "proxy",
            "host": (urlsplit(hop.url).hostname or "").lower(),
            "proxy": result.proxy,
        }
    return hop.dns.to_dict() if hop.dns is not None else None


def _hops(
    result: FetchResult, hop_records: Sequence[Sequence[NewRecord]]
) -> tuple[list[dict[str, Any]], str | None, str | None, datetime]:
    """Each hop's facts; the last request and response record IDs and the response's date."""
    hops = []
    response_id = request_id = None
    date = result.started
    for hop, records in zip(result.hops, hop_records, strict=True):
        ids = {r.type: r.record_id for r in records if r.type in ("request", "response")}
        if "response" in ids:
            response_id, date = ids["response"], hop.started
        request_id = ids.get("request", request_id)
        hops.append(
            {
                "url": hop.url,
                "started": iso(hop.started),
                "status": hop.status,
                "location": hop.location,
                "truncated": hop.truncated,
                "ip": hop.peer.ip if hop.peer is not None and not hop.peer.via_proxy else None,
                "dns": dns_facts(hop, result),
                "tls": _hop_tls(hop.tls),
                "request_record": ids.get("request"),
                "response_record": ids.get("response"),
                "error": hop.error.to_dict() if hop.error is not None else None,
            }
        )
    return hops, request_id, response_id, date


def provenance_record(
    result: FetchResult,
    hop_records: Sequence[Sequence[NewRecord]],
    summary: dict[str, Any],
    facts: Mapping[str, Any],
    robots: Any,
    others: Sequence[NewRecord],
) -> NewRecord:
    """One JSON ``metadata`` record with everything known about how ``result.url`` was fetched.

    ``hop_records`` are each hop's records (same order as ``result.hops``), ``summary`` the
    outcome fields of the log entry, ``facts`` the run-wide facts (archiver.base.facts), and
    ``others`` the failure records of the URL, used to tie the record when nothing responded.
    """
    hops, request_id, response_id, date = _hops(result, hop_records)
    final = result.final
    info: dict[str, Any] = {
        "type": PROVENANCE_TYPE,
        "version": PROVENANCE_VERSION,
        "target_uri": result.url,
        **summary,
        "resolved_by": result.resolved_by,
        "dns": dns_facts(final, result),
        "tls": tls_facts(final.tls if final is not None else None, full=True),
        "hops": hops,
        "robots": robots.to_dict() if robots is not None else None,
    }
    # Compact: json's C encoder is skipped whenever ``indent`` is given (several ms per URL).
    # The run's facts are the same in every record: encoded once when the crawl wraps them.
    joined = facts.joined if isinstance(facts, EncodedFacts) else None
    text = joined(info) if joined is not None else compact({**info, **facts})
    block = (text + "\n").encode()
    headers: dict[str, str | list[str]] = {}
    tie = response_id or request_id or (others[-1].record_id if others else None)
    if tie:
        headers["WARC-Concurrent-To"] = tie
    if response_id:
        headers["WARC-Refers-To"] = response_id
    return NewRecord(
        type="metadata",
        target_uri=own_target(PROVENANCE, result.url),  # not the URL: replay would serve it
        content_type="application/json",
        block=block,
        block_length=len(block),
        date=date,
        record_id=new_record_id(),
        headers=headers,
    )
