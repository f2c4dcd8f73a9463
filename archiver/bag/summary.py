"""A provenance summary a lawyer can read: what was captured, when, from where, by what and whom.

The machine-readable facts are in ``bag-info.txt``, the capture log and the WARCs; this renders
them as one HTML page and one plain-text file, written into the payload before sealing so the
manifests cover them. Every value shown is filled: a missing fact is said in words ("no HTTP
response", "not recorded"), never left blank, because a blank capture date in an exhibit invites
the question of what else is missing. Every value is HTML-escaped; nothing is a live link.
"""

from __future__ import annotations

import functools
import platform
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from archiver.bag.summaryout import Section, SummaryWriter
from archiver.base.distversions import versions
from archiver.base.settings import Settings
from archiver.base.timefmt import parse_iso

NOT_GIVEN = "not recorded"
_LOGGED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
LIBRARIES = (
    "requests",
    "urllib3",
    "warcio",
    "trafilatura",
    "bagit",
    "rfc3161-client",
    "cryptography",
)


@dataclass
class SummaryCounts:
    """What the overview says: URLs attempted and captured, and whether a proxy resolved any."""

    attempted: int = 0
    captured: int = 0
    via_proxy: bool = False


def _text(value: Any, missing: str = NOT_GIVEN) -> str:
    """A value as display text; None, blanks and "None" become the ``missing`` phrase."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip()
    return text if text and text != "None" else missing


def _when(value: Any) -> str:
    """ISO time plus a spelled-out form, e.g. ``2026-11-20T23:01:02Z (20 November 2026, ...)``."""
    text = _text(value)
    if text == NOT_GIVEN:
        return text
    if _LOGGED_TIME.fullmatch(text):  # as archiver writes them: spelt out once per second
        spelled = _spelled(text[:19])
        return f"{text} ({spelled})" if spelled else text
    moment = parse_iso(text)
    if moment is None:
        return text
    return f"{text} ({moment.day} {moment.strftime('%B %Y, %H:%M:%S')} UTC)"


@functools.lru_cache(maxsize=64)
def _spelled(second: str) -> str | None:
    """``20 November 2026, 23:01:02 UTC`` for ``2026-11-20T23:01:02`` (None: no such time):
    the same for every microsecond of that second, and a run logs many entries in each."""
    moment = parse_iso(f"{second}Z")
    return None if moment is None else f"{moment.day} {moment.strftime('%B %Y, %H:%M:%S')} UTC"


def _info(bag_info: Sequence[tuple[str, str]], label: str) -> str:
    for key, value in bag_info:
        if key.lower() == label.lower():
            return _text(value)
    return NOT_GIVEN


def _redact(url: str) -> str:
    """Drop a password from a proxy URL: the summary is shared, credentials are not."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def components() -> str:
    """``Python 3.11.7, requests 2.32.3, ...``; a library not installed is left out."""
    found = versions(LIBRARIES)
    named = [f"{name} {found[name]}" for name in LIBRARIES if name in found]
    return ", ".join([f"Python {platform.python_version()}", *named])


def _user_agent(settings: dict[str, Any]) -> str:
    if settings.get("effective_user_agent"):
        return str(settings["effective_user_agent"])
    if settings.get("user_agent"):
        return str(settings["user_agent"])

    known = {k: v for k, v in settings.items() if k in Settings.__dataclass_fields__}
    try:
        return Settings(**known).effective_user_agent()
    except TypeError:
        return "archiver's default User-Agent"


def _proxy(settings: dict[str, Any], via_proxy: bool) -> str:
    if settings.get("proxy"):
        return f"yes, through {_redact(str(settings['proxy']))}"
    if via_proxy:
        return "yes, a proxy set in the environment (names were resolved by the proxy)"
    return "no (direct connection)"


def _response_record(entry: dict[str, Any]) -> str:
    records = [r for r in entry.get("records") or [] if isinstance(r, dict)]
    responses = [r for r in records if r.get("type") == "response"]
    if not records:
        return "no WARC record (nothing was received)"
    ref = responses[-1] if responses else records[-1]
    text = (
        f"{_text(ref.get('type'))} record {_text(ref.get('record_id'))} in "
        f"{_text(ref.get('warc_file'))} at byte offset {_text(ref.get('offset'))}"
    )
    if len(records) > 1:
        text += f" ({len(records)} records in all for this URL)"
    return text


def _redirects(entry: dict[str, Any]) -> str:
    hops = [r for r in entry.get("redirects") or [] if isinstance(r, dict)]
    if not hops:
        return "none"
    return "; ".join(
        f"{_text(h.get('url'))} answered {_text(h.get('status'), 'without a status')}, "
        f"redirecting to {_text(h.get('location'), 'an unnamed location')}"
        for h in hops
    )


def _error(entry: dict[str, Any]) -> str:
    err = entry.get("error")
    if not isinstance(err, dict):
        return "none"
    return f"{_text(err.get('class'), 'error')}: {_text(err.get('message'), 'no message')}"


def _capture_rows(entry: dict[str, Any]) -> list[tuple[str, str]]:
    outcome = _text(entry.get("outcome"))
    failed_early = entry.get("status") is None
    return [
        ("URL", _text(entry.get("url"))),
        ("Outcome", outcome),
        ("Final URL", _text(entry.get("final_url"), "not reached (no HTTP response)")),
        ("Redirects", _redirects(entry)),
        ("HTTP status", _text(entry.get("status"), "no HTTP response")),
        (
            "Server IP address",
            _text(
                entry.get("ip"),
                "resolved by the proxy"
                if entry.get("resolved_by") == "proxy"
                else "not reached"
                if failed_early
                else NOT_GIVEN,
            ),
        ),
        ("Started", _when(entry.get("started"))),
        ("Ended", _when(entry.get("ended"))),
        ("Payload SHA-256", _text(entry.get("payload_sha256"), "no payload (no response body)")),
        ("WARC record", _response_record(entry)),
        ("Error", _error(entry)),
        *_third_party_rows(entry),
    ]


def _third_party_rows(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Other archives' copies and save-now answers, labelled apart (docs/witnesses.md)."""
    rows = []
    of = entry.get("memento_of")
    if isinstance(of, dict):
        rows.append(
            (
                "Memento of (another archive's copy, captured by us)",
                f"{_text(of.get('original_url'))} as held by {_text(of.get('archive'))} "
                f"on {_text(of.get('memento_datetime'))}",
            )
        )
    for key, label in (("witnesses", "Third-party witnesses"), ("save_now", "Save-now")):
        said = []
        for q in entry.get(key) or []:
            if not isinstance(q, dict):
                continue
            found = [
                f"{m.get('archive')} {m.get('datetime')} {m.get('url')}"
                for m in q.get("mementos") or []
            ]
            error = q.get("error")
            status = (
                "failed (" + _text(error.get("class")) + ")"
                if isinstance(error, dict)
                else f"HTTP {_text(q.get('status'), 'no answer')}"
            )
            said.append(
                f"{_text(q.get('endpoint'))}: {status}" + (": " + ", ".join(found) if found else "")
            )
        if said:
            rows.append((f"{label} (not our capture)", "; ".join(said)))
    return rows


def _where(settings: dict[str, Any], via_proxy: bool) -> Section:
    """Where the captures were made from: host, proxy, TLS checking."""
    return Section(
        "From where",
        [
            ("Capture computer (hostname)", _text(settings.get("hostname"))),
            ("Proxy", _proxy(settings, via_proxy)),
            (
                "TLS certificate checking",
                "on" if settings.get("verify_tls", True) else "OFF (recorded for each capture)",
            ),
            ("Trusted CA bundle", _text(settings.get("ca_bundle"), "the system default")),
        ],
    )


def _what(bag_info: Sequence[tuple[str, str]], settings: dict[str, Any]) -> Section:
    """Which software made the captures, and with which options."""
    robots = (
        "obeyed"
        if settings.get("respect_robots", True)
        else f"ignored; reason given: {_text(settings.get('robots_override_reason'))}"
    )
    return Section(
        "By what (software and options)",
        [
            ("Capture software", _info(bag_info, "Capture-Software")),
            ("Bagging software", _info(bag_info, "Bag-Software-Agent")),
            ("Components", components()),
            ("User-Agent sent", _user_agent(settings)),
            ("robots.txt", robots),
            ("Links followed from pages given by URL", _text(settings.get("hops"), "default")),
            ("Pause between requests to one host", f"{_text(settings.get('per_host_delay'))} s"),
            ("Time limit per URL", f"{_text(settings.get('max_time_per_url'))} s"),
            ("Size limit per response", f"{_text(settings.get('max_size'))} bytes"),
            ("Text extraction", "on" if settings.get("clean", True) else "off"),
        ],
        "Captured bytes are stored unaltered in WARC files; extracted text is derived from them "
        "and names the record it came from.",
    )


def summary_counts(entries: Iterable[dict[str, Any]]) -> SummaryCounts:
    """The overview's figures, from one pass over the entries."""
    counts = SummaryCounts()
    for e in entries:
        counts.attempted += 1
        counts.captured += e.get("outcome") == "captured"
        counts.via_proxy = counts.via_proxy or e.get("resolved_by") == "proxy"
    return counts


def overview_sections(
    bag_info: Sequence[tuple[str, str]], counts: SummaryCounts, settings: dict[str, Any]
) -> list[Section]:
    overview = Section(
        "Overview",
        [
            ("Collection", _info(bag_info, "External-Description")),
            ("Bag identifier", _info(bag_info, "External-Identifier")),
            ("URLs attempted", str(counts.attempted)),
            ("URLs captured", str(counts.captured)),
            ("URLs not captured", str(counts.attempted - counts.captured)),
        ],
    )
    when = Section(
        "When",
        [
            ("Capture started", _when(_info(bag_info, "Capture-Start"))),
            ("Capture ended", _when(_info(bag_info, "Capture-End"))),
            ("Bagged on", _text(_info(bag_info, "Bagging-Date"))),
        ],
        "Times are the capture computer's clock, in UTC. Trusted timestamps from independent "
        "authorities, added after sealing, are in the bag's provenance-anchors folder.",
    )
    who = Section(
        "By whom",
        [
            ("Organisation", _info(bag_info, "Source-Organization")),
            ("Operator", _info(bag_info, "Capture-Operator")),
            ("Contact", _info(bag_info, "Contact-Name")),
            ("Contact email", _info(bag_info, "Contact-Email")),
        ],
    )
    setup = [_where(settings, counts.via_proxy), _what(bag_info, settings)]
    if any(k == "Import-Software" for k, _ in bag_info):  # another tool's capture
        setup = [_imported(bag_info)]
    return [overview, when, who, *setup]


def _imported(bag_info: Sequence[tuple[str, str]]) -> Section:
    """An import (docs/import.md): whose capture, and that archiver has no network facts."""
    names = ("Capture-Software", "Import-Software", "Import-Date", "Import-Operator")
    rows = [(k.replace("-", " ").capitalize(), _info(bag_info, k)) for k in names]
    note = "Times are the tool's WARC-Dates; IP, TLS and proxy facts only what its WARCs hold."
    return Section("Imported (not captured by archiver)", rows, note)


def stream_summary(
    bag_info: list[tuple[str, str]],
    entries: Callable[[], Iterable[dict[str, Any]]],
    settings: dict[str, Any],
    out: SummaryWriter,
    *,
    counts: SummaryCounts | None = None,
    failures: Callable[[], Iterable[dict[str, Any]]] | None = None,
) -> None:
    """Render the summary into ``out`` reading the entries up to three times, never holding them.

    ``entries`` gives a fresh iterator each call (e.g. over the capture journal): one pass for
    the overview's counts, one for every capture, one for the failures. A caller that has the
    counts already (a run counts while copying its capture log) gives ``counts``; one that can
    give the entries not captured more cheaply than all of them gives ``failures``.
    """
    if counts is None:
        counts = summary_counts(entries())
    out.head(title(bag_info), overview_sections(bag_info, counts, settings))
    for n, e in enumerate(entries(), 1):
        out.capture(*capture_section(n, e))
    out.start_failures(counts.attempted > 0)
    for e in (failures or entries)():
        if e.get("outcome") != "captured":
            out.failure(*failure_row(e))
    out.finish()


def title(bag_info: Sequence[tuple[str, str]]) -> str:
    return f"Provenance summary: {_info(bag_info, 'External-Description')}"


def capture_section(n: int, entry: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """The ``n``-th capture's heading and rows."""
    return f"{n}. {_text(entry.get('url'))}", _capture_rows(entry)


def failure_row(entry: dict[str, Any]) -> tuple[str, str]:
    """A URL not captured, and why."""
    return _text(entry.get("url")), f"{_text(entry.get('outcome'))}: {_error(entry)}"


def render_summary(
    bag_info: list[tuple[str, str]], entries: list[dict[str, Any]], settings: dict[str, Any]
) -> tuple[str, str]:
    """The summary as (HTML, plain text) strings, for callers whose entries are few."""
    html_parts: list[str] = []
    text_parts: list[str] = []
    stream_summary(
        bag_info, lambda: entries, settings, SummaryWriter(html_parts.append, text_parts.append)
    )
    return "".join(html_parts), "".join(text_parts)
