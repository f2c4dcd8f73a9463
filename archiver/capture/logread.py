"""How a capture-log entry is read from JSON (``CaptureEntry.from_json``), quickly.

Sealing reads every journal line back as an entry, and capture builds each entry this way, so
the usual line (every top-level field of its usual JSON type) is checked in one pass and read
at once; any other goes field by field, so the first field of the wrong type is the one named
(tests/capture/test_log_json.py holds both to the same entries and the same verdicts).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from archiver.capture.imported import Imported
from archiver.capture.logparts import (
    Attempt,
    EntryShapeError,
    FetchFailure,
    ProxyFacts,
    Redirect,
    RobotsDecision,
    TlsFacts,
    as_object,
    citation_from_json,
    dns_from_json,
    get_field,
    get_list,
    ref_from_json,
    text_from_json,
)
from archiver.capture.witnessparts import MementoOf, queries_from_json

OUTCOMES = {"captured", "http-error", "failed", "blocked"}

# The entry's top-level fields that from_json reads (outcome, resolved_by, truncated and the
# optional ones aside), in the order its checks read them, and the JSON types each may have.
_TOP = {
    "url": (str,),
    "citations": (list,),
    "hop": (int,),
    "via": (str, None),
    "started": (str,),
    "ended": (str,),
    "status": (int, None),
    "final_url": (str, None),
    "redirects": (list,),
    "error": (dict, None),
    "robots": (dict, None),
    "ip": (str, None),
    "proxy": (dict, None),
    "dns": (dict, None),
    "tls": (dict, None),
    "provenance_record": (str, None),
    "content_type": (str, None),
    "payload_size": (int, None),
    "payload_sha256": (str, None),
    "records": (list,),
    "text": (dict, None),
}
_top_fields = operator.itemgetter(*_TOP)
_TOP_TYPES = tuple(frozenset(type(None) if t is None else t for t in ts) for ts in _TOP.values())


def read_entry(cls: Any, raw: Any) -> Any:
    """A ``cls`` (CaptureEntry) from a parsed line; EntryShapeError when it is not one."""
    r = as_object(raw, "the entry")
    outcome = get_field(r, "outcome", str)
    resolved_by = get_field(r, "resolved_by", str)
    truncated = get_field(r, "truncated", str, null=True)
    if outcome not in OUTCOMES:
        raise EntryShapeError(f"unknown outcome {outcome!r:.40}")
    if resolved_by not in ("client", "proxy") or truncated not in (
        None,
        "length",
        "time",
        "disconnect",
    ):
        raise EntryShapeError("resolved_by or truncated is not a documented value")
    try:
        top = _top_fields(r)
    except KeyError:
        top = None
    if top is None or not all(map(frozenset.__contains__, _TOP_TYPES, map(type, top))):
        return _checked(cls, r, outcome, resolved_by, truncated)
    return _usual(cls, r, top, outcome, resolved_by, truncated)


def _usual(
    cls: Any, r: Mapping[str, Any], top: tuple[Any, ...], outcome: str, resolved_by: str,
    truncated: Any,
) -> Any:  # fmt: skip
    """A line whose top-level fields have their usual types: only the parts are checked."""
    (url, citations, hop, via, started, ended, status, final_url, redirects, error, robots,
     ip, proxy, dns, tls, provenance, content_type, size, sha256, records, text) = top  # fmt: skip
    entry = object.__new__(cls)  # a frozen dataclass's __init__ sets each field by hand
    # In the order of the fields, which reads the parts in the order the checks do.
    entry.__dict__.update(
        {
            "url": url,
            "citations": [citation_from_json(c) for c in citations],
            "hop": hop,
            "via": via,
            "started": started,
            "ended": ended,
            "outcome": outcome,
            "status": status,
            "final_url": final_url,
            "redirects": [Redirect.from_json(x) for x in redirects],
            "error": None if error is None else FetchFailure.from_json(error),
            "robots": None if robots is None else RobotsDecision.from_json(robots),
            "ip": ip,
            "resolved_by": resolved_by,
            "proxy": None if proxy is None else ProxyFacts.from_json(proxy),
            "dns": dns_from_json(dns),
            "tls": None if tls is None else TlsFacts.from_json(tls),
            "provenance_record": provenance,
            "content_type": content_type,
            "payload_size": size,
            "payload_sha256": sha256,
            "truncated": truncated,
            "records": [ref_from_json(x) for x in records],
            "text": text_from_json(text),
            "attempts": [Attempt.from_json(a) for a in get_list(r, "attempts")]
            if "attempts" in r
            else None,
            "witnesses": queries_from_json(r, "witnesses"),
            "save_now": queries_from_json(r, "save_now"),
            "memento_of": MementoOf.from_json(r["memento_of"]) if "memento_of" in r else None,
            "imported": Imported.from_json(r["imported"]) if "imported" in r else None,
        }
    )
    return entry


def _checked(cls: Any, r: Mapping[str, Any], outcome: str, resolved_by: str, truncated: Any) -> Any:
    """Field by field, in order: the first field of the wrong type is the one named."""
    error, robots = r.get("error"), r.get("robots")
    proxy, tls = r.get("proxy"), r.get("tls")
    return cls(
        url=get_field(r, "url", str),
        citations=[citation_from_json(c) for c in get_list(r, "citations")],
        hop=get_field(r, "hop", int),
        via=get_field(r, "via", str, null=True),
        started=get_field(r, "started", str),
        ended=get_field(r, "ended", str),
        outcome=outcome,
        status=get_field(r, "status", int, null=True),
        final_url=get_field(r, "final_url", str, null=True),
        redirects=[Redirect.from_json(x) for x in get_list(r, "redirects")],
        error=FetchFailure.from_json(error)
        if get_field(r, "error", dict, null=True) is not None
        else None,
        robots=RobotsDecision.from_json(robots)
        if get_field(r, "robots", dict, null=True) is not None
        else None,
        ip=get_field(r, "ip", str, null=True),
        resolved_by=resolved_by,
        proxy=ProxyFacts.from_json(proxy)
        if get_field(r, "proxy", dict, null=True) is not None
        else None,
        dns=dns_from_json(get_field(r, "dns", dict, null=True)),
        tls=TlsFacts.from_json(tls) if get_field(r, "tls", dict, null=True) is not None else None,
        provenance_record=get_field(r, "provenance_record", str, null=True),
        content_type=get_field(r, "content_type", str, null=True),
        payload_size=get_field(r, "payload_size", int, null=True),
        payload_sha256=get_field(r, "payload_sha256", str, null=True),
        truncated=truncated,
        records=[ref_from_json(x) for x in get_list(r, "records")],
        text=text_from_json(get_field(r, "text", dict, null=True)),
        attempts=[Attempt.from_json(a) for a in get_list(r, "attempts")]
        if "attempts" in r
        else None,
        witnesses=queries_from_json(r, "witnesses"),
        save_now=queries_from_json(r, "save_now"),
        memento_of=MementoOf.from_json(r["memento_of"]) if "memento_of" in r else None,
        imported=Imported.from_json(r["imported"]) if "imported" in r else None,
    )
