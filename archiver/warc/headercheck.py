"""WARC record headers: version line, required and repeated fields, date and record ID forms."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from archiver.warc.digest import parse_label
from archiver.warc.record import WarcRecord

Add = Callable[[str, str], None]  # report a finding: (code, message)

_REQUIRED = ("WARC-Type", "WARC-Date")
# WARC 1.1 §5: every named field except these may appear at most once per record.
_REPEATABLE = {"warc-concurrent-to", "warc-protocol"}
_NEEDS_TARGET = {"response", "request", "resource", "revisit", "conversion", "continuation"}
_OLD_VERSIONS = {"0.17", "0.18"}
_KNOWN_VERSIONS = {"1.0", "1.1"} | _OLD_VERSIONS
# W3C-DTF (the profile of ISO 8601 WARC-Date uses), from a year alone to fractional seconds.
_W3C_DTF = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2}))?)?)?$"
)
_WARC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>]+$")


def check_headers(rec: WarcRecord, where: str, add: Add, eras: defaultdict[str, list[int]]) -> None:
    """Version line, mandatory and non-repeatable fields, the date and the record ID.

    Sound records of an older era are collected in ``eras`` and reported once per file, so
    800 good WARC/0.17 records do not bury a real problem under 800 lines.
    """
    if rec.version not in _KNOWN_VERSIONS:
        add(
            "warc-unknown-version",
            f"{where}: WARC/{rec.version} is not a published WARC version (0.17, 0.18, 1.0, 1.1)",
        )
    elif rec.version in _OLD_VERSIONS:
        eras[f"WARC/{rec.version}"].append(rec.offset)
    if rec.version_line and not rec.version_line.startswith("WARC/"):
        eras["lower-case"].append(rec.offset)
    for name in _REQUIRED:
        if name not in rec.headers:
            add("warc-missing-header", f"{where}: has no {name}")
    if rec.type in _NEEDS_TARGET and "WARC-Target-URI" not in rec.headers:
        add("warc-missing-header", f"{where}: a {rec.type} record must have a WARC-Target-URI")
    _check_repeated(rec, where, add)
    date = rec.headers.get("WARC-Date")
    if date is not None:
        _check_date(date, where, add)
    if rec.record_id:
        _check_record_id_form(rec.record_id.strip(), where, add)


def _check_repeated(rec: WarcRecord, where: str, add: Add) -> None:
    """A field WARC allows once, given more than once (warning if the values agree)."""
    seen: dict[str, list[str]] = {}
    for name, value in rec.headers.fields:
        seen.setdefault(name.lower(), []).append(value)
    for key, values in seen.items():
        if len(values) < 2 or key in _REPEATABLE:
            continue
        shown = next(n for n, _ in rec.headers.fields if n.lower() == key)
        if len(set(values)) == 1:
            add(
                "warc-repeated-header-same",
                f"{where}: {shown} appears {len(values)} times (with the same value)",
            )
        else:
            add(
                "warc-repeated-header",
                f"{where}: {shown} appears {len(values)} times with different values "
                f"({', '.join(repr(excerpt(v)) for v in values[:3])}); which one holds is "
                "ambiguous",
            )


def _check_date(date: str, where: str, add: Add) -> None:
    form = _date_form(date.strip())
    if form == "bad":
        add(
            "warc-bad-date",
            f"{where}: WARC-Date {excerpt(date)!r} is not a W3C-DTF date (YYYY-MM-DDThh:mm:ssZ)",
        )
    elif form == "loose":
        add(
            "warc-date-form",
            f"{where}: WARC-Date {excerpt(date)!r} is W3C-DTF but not YYYY-MM-DDThh:mm:ss[.f]Z",
        )


def _check_record_id_form(rid: str, where: str, add: Add) -> None:
    if rid.startswith("<") and rid.endswith(">") and _URI.match(rid[1:-1]):
        return
    if _URI.match(rid):
        add("warc-record-id-brackets", f"{where}: WARC-Record-ID {excerpt(rid)!r} lacks its <>")
    else:
        add(
            "warc-bad-record-id",
            f"{where}: WARC-Record-ID {excerpt(rid)!r} is not a URI in <> (e.g. <urn:uuid:...>)",
        )


def _date_form(value: str) -> str:
    """'ok' (WARC's own form), 'loose' (other W3C-DTF) or 'bad'."""
    m = _W3C_DTF.match(value)
    if not m:
        return "bad"
    year, month, day, hour, minute, second = (int(g) if g else None for g in m.groups()[:6])
    try:
        datetime(year or 1, month or 1, day or 1, hour or 0, minute or 0, second or 0)
    except ValueError:
        return "bad"
    if hour is not None and hour > 23:
        return "bad"
    return "ok" if _WARC_DATE.match(value) else "loose"


def excerpt(text: str, limit: int = 80) -> str:
    """At most ``limit`` characters of a value from the file, so a report stays small."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def parse_digest(value: str | None, name: str, where: str, add: Add) -> tuple[str, bytes] | None:
    if value is None:
        return None
    parsed = parse_label(value)
    if parsed is None:
        add(
            "warc-unreadable-digest",
            f"{where}: {name} {excerpt(value)!r} is not a sha1/sha256/sha512 digest",
        )
    return parsed
