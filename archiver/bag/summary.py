"""A provenance summary a lawyer can read: what was captured, when, from where, by what and whom.

The machine-readable facts are in ``bag-info.txt``, the capture log and the WARCs; this renders
them as one HTML page and one plain-text file, written into the payload before sealing so the
manifests cover them. Every value shown is filled: a missing fact is said in words ("no HTTP
response", "not recorded"), never left blank, because a blank capture date in an exhibit invites
the question of what else is missing. Every value is HTML-escaped; nothing is a live link.
"""

from __future__ import annotations

import html
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from archiver.base.settings import Settings
from archiver.base.timefmt import parse_iso

NOT_GIVEN = "not recorded"
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
class _Section:
    title: str
    rows: list[tuple[str, str]]
    note: str = ""


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
    moment = parse_iso(text)
    if moment is None:
        return text
    return f"{text} ({moment.day} {moment.strftime('%B %Y, %H:%M:%S')} UTC)"


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


def _versions() -> str:
    found = [f"Python {platform.python_version()}"]
    for name in LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


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


def _proxy(settings: dict[str, Any], entries: Sequence[dict[str, Any]]) -> str:
    if settings.get("proxy"):
        return f"yes, through {_redact(str(settings['proxy']))}"
    if any(e.get("resolved_by") == "proxy" for e in entries):
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


def _where(settings: dict[str, Any], entries: Sequence[dict[str, Any]]) -> _Section:
    """Where the captures were made from: host, proxy, TLS checking."""
    return _Section(
        "From where",
        [
            ("Capture computer (hostname)", _text(settings.get("hostname"))),
            ("Proxy", _proxy(settings, entries)),
            (
                "TLS certificate checking",
                "on" if settings.get("verify_tls", True) else "OFF (recorded for each capture)",
            ),
            ("Trusted CA bundle", _text(settings.get("ca_bundle"), "the system default")),
        ],
    )


def _what(bag_info: Sequence[tuple[str, str]], settings: dict[str, Any]) -> _Section:
    """Which software made the captures, and with which options."""
    robots = (
        "obeyed"
        if settings.get("respect_robots", True)
        else f"ignored; reason given: {_text(settings.get('robots_override_reason'))}"
    )
    return _Section(
        "By what (software and options)",
        [
            ("Capture software", _info(bag_info, "Capture-Software")),
            ("Bagging software", _info(bag_info, "Bag-Software-Agent")),
            ("Components", _versions()),
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


def _sections(
    bag_info: Sequence[tuple[str, str]],
    entries: Sequence[dict[str, Any]],
    settings: dict[str, Any],
) -> tuple[list[_Section], list[tuple[str, list[tuple[str, str]]]], list[tuple[str, str]]]:
    captured = sum(e.get("outcome") == "captured" for e in entries)
    failed = [e for e in entries if e.get("outcome") != "captured"]
    overview = _Section(
        "Overview",
        [
            ("Collection", _info(bag_info, "External-Description")),
            ("Bag identifier", _info(bag_info, "External-Identifier")),
            ("URLs attempted", str(len(entries))),
            ("URLs captured", str(captured)),
            ("URLs not captured", str(len(failed))),
        ],
    )
    when = _Section(
        "When",
        [
            ("Capture started", _when(_info(bag_info, "Capture-Start"))),
            ("Capture ended", _when(_info(bag_info, "Capture-End"))),
            ("Bagged on", _text(_info(bag_info, "Bagging-Date"))),
        ],
        "Times are the capture computer's clock, in UTC. Trusted timestamps from independent "
        "authorities, added after sealing, are in the bag's provenance-anchors folder.",
    )
    who = _Section(
        "By whom",
        [
            ("Organisation", _info(bag_info, "Source-Organization")),
            ("Operator", _info(bag_info, "Capture-Operator")),
            ("Contact", _info(bag_info, "Contact-Name")),
            ("Contact email", _info(bag_info, "Contact-Email")),
        ],
    )
    captures = [(f"{n}. {_text(e.get('url'))}", _capture_rows(e)) for n, e in enumerate(entries, 1)]
    failures = [(_text(e.get("url")), f"{_text(e.get('outcome'))}: {_error(e)}") for e in failed]
    setup = [_where(settings, entries), _what(bag_info, settings)]
    if any(k == "Import-Software" for k, _ in bag_info):  # another tool's capture
        setup = [_imported(bag_info)]
    return [overview, when, who, *setup], captures, failures


def _imported(bag_info: Sequence[tuple[str, str]]) -> _Section:
    """An import (docs/import.md): whose capture, and that archiver has no network facts."""
    names = ("Capture-Software", "Import-Software", "Import-Date", "Import-Operator")
    rows = [(k.replace("-", " ").capitalize(), _info(bag_info, k)) for k in names]
    note = "Times are the tool's WARC-Dates; IP, TLS and proxy facts only what its WARCs hold."
    return _Section("Imported (not captured by archiver)", rows, note)


VERIFY_STEPS = (
    ("With archiver", "archiver verify BAG"),
    ("BagIt check with the Library of Congress tool", "bagit.py --validate BAG"),
    (
        "Timestamps, signature and manifests with openssl and coreutils only",
        "see docs/verify-by-hand.md (openssl ts -verify, openssl pkeyutl -verify, sha256sum -c)",
    ),
)
VERIFY_NOTE = (
    "BAG is this bag's folder. This summary is itself in the payload, so it is covered by the "
    "manifests: if it were changed, verification would fail."
)


def render_summary(
    bag_info: list[tuple[str, str]], entries: list[dict[str, Any]], settings: dict[str, Any]
) -> tuple[str, str]:
    """The summary as (HTML, plain text) for ``data/provenance-summary.html`` and ``.txt``."""
    sections, captures, failures = _sections(bag_info, entries, settings)
    title = f"Provenance summary: {_info(bag_info, 'External-Description')}"
    return _html(title, sections, captures, failures), _plain(title, sections, captures, failures)


def _plain(
    title: str,
    sections: list[_Section],
    captures: list[tuple[str, list[tuple[str, str]]]],
    failures: list[tuple[str, str]],
) -> str:
    out = [title, "=" * len(title), ""]
    for s in sections:
        out += [s.title, "-" * len(s.title)]
        out += [f"{label}: {value}" for label, value in s.rows]
        out += [s.note, ""] if s.note else [""]
    out += ["What was captured", "-----------------"]
    for heading, rows in captures:
        out.append(heading)
        out += [f"    {label}: {value}" for label, value in rows]
        out.append("")
    if not captures:
        out += ["No URLs were attempted.", ""]
    out += ["What failed and why", "-------------------"]
    out += [f"{url}: {why}" for url, why in failures] or ["Every URL was captured."]
    out += ["", "How to verify", "-------------"]
    out += [f"{label}: {command}" for label, command in VERIFY_STEPS]
    out += [VERIFY_NOTE, ""]
    return "\n".join(out)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


CSS = (
    "body{font-family:Georgia,serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}"
    "table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{width:16em;background:#eee}td{word-break:break-all;font-family:monospace}"
    "p.note{font-style:italic}"
)


def _html(
    title: str,
    sections: list[_Section],
    captures: list[tuple[str, list[tuple[str, str]]]],
    failures: list[tuple[str, str]],
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    for s in sections:
        parts.append(f"<h2>{_e(s.title)}</h2>{_table(s.rows)}")
        if s.note:
            parts.append(f'<p class="note">{_e(s.note)}</p>')
    parts.append("<h2>What was captured</h2>")
    for heading, rows in captures:
        parts.append(f"<h3>{_e(heading)}</h3>{_table(rows)}")
    if not captures:
        parts.append("<p>No URLs were attempted.</p>")
    parts.append("<h2>What failed and why</h2>")
    parts.append(_table(failures) if failures else "<p>Every URL was captured.</p>")
    parts.append("<h2>How to verify</h2>")
    parts.append(_table(list(VERIFY_STEPS)))
    parts.append(f'<p class="note">{_e(VERIFY_NOTE)}</p></body></html>\n')
    return "\n".join(parts)
