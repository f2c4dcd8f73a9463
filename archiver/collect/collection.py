"""A collection: the documents a researcher relies on, the URLs they cite, and how to capture them.

A collection is a folder holding ``collection.toml`` (format in ``docs/collections.md``). The
file is checked strictly: an unknown key, a missing URL or a file that is not there is an error
naming the file, the entry and what to change, because a typo silently ignored becomes a page
silently not preserved.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import typing
import zoneinfo
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.base.settings import (
    SIZE_KEYS,
    Settings,
    parse_size,
)
from archiver.collect.normalize import normalize_url
from archiver.collect.trust import expected, fits, toml_value

TOML_NAME = "collection.toml"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # becomes part of the bag's folder name


@dataclass(frozen=True)
class Curator:
    """Who answers for the collection (recorded in the bag)."""

    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class Document:
    """A citing document: captured from ``url``; ``file`` is a local copy kept beside it."""

    url: str  # normalised: what gets fetched
    title: str
    cited_as: str  # the URL as written in collection.toml
    file: Path | None = None  # collection root / the relative path written in the TOML
    publisher: str = ""
    published: str = ""
    note: str = ""
    hops: int | None = None  # None: use the run's setting


@dataclass(frozen=True)
class ExtraUrl:
    """A URL to capture that is not a document, with where it was cited."""

    url: str  # normalised: what gets fetched
    cited_as: str  # as written, fragment kept
    cited_in: str | None = None  # URL (or file) of the document citing it
    locator: str = ""  # where in that document, e.g. a line, page or heading
    note: str = ""


@dataclass(frozen=True)
class Collection:
    """A checked collection.toml; ``root`` is its folder, against which ``file`` paths resolve."""

    name: str
    title: str
    description: str
    curator: Curator
    organisation: str
    documents: list[Document]
    extra_urls: list[ExtraUrl]
    capture_overrides: dict[str, Any]
    root: Path
    toml_path: Path
    raw: dict[str, Any] = field(repr=False, default_factory=dict)  # the parsed TOML, as is
    # The [[tsa]] tables as written; `archiver run` turns them into TSA configurations (attest).
    tsa_tables: list[dict[str, Any]] = field(default_factory=list)
    schedule: str = ""  # a cron expression (docs/schedules.md); "" = not scheduled
    timezone: str = "UTC"  # IANA zone the schedule is read in

    def seed_urls(self) -> list[str]:
        """Every URL to capture once: documents first, then extra URLs, in file order."""
        return list(
            dict.fromkeys([d.url for d in self.documents] + [u.url for u in self.extra_urls])
        )


_TOP_KEYS = {"collection", "document", "url", "capture", "tsa"}
_COLLECTION_KEYS = {
    "name",
    "title",
    "description",
    "curator",
    "organisation",
    "schedule",
    "timezone",
}
_CURATOR_KEYS = {"name", "email"}
_DOCUMENT_KEYS = {"url", "title", "file", "publisher", "published", "note", "hops"}
_URL_KEYS = {"url", "cited_in", "locator", "note"}


class _Checker:
    """Reads one collection.toml, raising one-line errors that name the file and the entry."""

    def __init__(self, toml_path: Path) -> None:
        self.toml_path = toml_path
        self.root = toml_path.parent

    def fail(self, where: str, what: str) -> typing.NoReturn:
        place = f"{self.toml_path}: {where}: " if where else f"{self.toml_path}: "
        raise ArchiverError(place + what, EXIT_USAGE)

    def table(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, "must be a table; see docs/collections.md")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = (
                    f"did you mean '{close[0]}'?"
                    if close
                    else (f"use one of {', '.join(sorted(allowed))}")
                )
                self.fail(where, f"unknown key '{key}'; {hint} (see docs/collections.md)")
        return value

    def string(self, table: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
        value = table.get(key)
        if value is None:
            if required:
                self.fail(where, f"missing '{key}'; add {key} = \"...\"")
            return ""
        if not isinstance(value, str):
            self.fail(where, f"'{key}' must be a string in quotes")
        if required and not value.strip():
            self.fail(where, f"'{key}' is empty; give a value")
        return value.strip()

    def url(self, table: dict[str, Any], key: str, where: str) -> tuple[str, str]:
        written = self.string(table, key, where, required=True)
        url = normalize_url(written)
        if url is None:
            self.fail(where, f"'{key}' = \"{written}\" is not an http(s) URL; give the full URL")
        return url, written

    def entries(self, raw: dict[str, Any], key: str) -> list[Any]:
        value = raw.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"write each entry as [[{key}]] (an array of tables)")
        return value

    def file(self, value: Any, where: str) -> Path:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "'file' must be a path in quotes, relative to the collection folder")
        rel = Path(value)
        if rel.is_absolute():
            self.fail(where, f"file '{value}' is absolute; give a path relative to {self.root}")
        resolved = (self.root / rel).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            self.fail(where, f"file '{value}' is outside the collection folder; move it inside")
        if not resolved.is_file():
            self.fail(
                where, f"file '{value}' does not exist in {self.root}; add it or fix the path"
            )
        return self.root / rel

    def hops(self, value: Any, where: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(where, "'hops' must be a whole number, 0 or more")
        return value

    def capture(self, value: Any) -> dict[str, Any]:
        hints = typing.get_type_hints(Settings)
        # allow_private is accepted here only to be named and ignored (decide_capture): the
        # operator's own network is never opened by a collection file.
        table = dict(self.table(value, "[capture]", {f.name for f in fields(Settings)}))
        for key, val in table.items():
            if key in SIZE_KEYS and isinstance(val, str):
                try:
                    table[key] = val = parse_size(val)
                except ValueError as err:
                    self.fail("[capture]", f"'{key}': {err}")
            if key == "warc_prefix" and not (isinstance(val, str) and _NAME.fullmatch(val)):
                self.fail(
                    "[capture]", "'warc_prefix' may only use letters, digits, '.', '_' and '-'"
                )
            if not fits(val, hints[key]):
                shown = toml_value(val)
                self.fail(
                    "[capture]", f"'{key}' = {shown} has the wrong type; {expected(hints[key])}"
                )
            if isinstance(val, int | float) and not isinstance(val, bool) and val < 0:
                self.fail("[capture]", f"'{key}' = {val} is negative; give 0 or more")
        if (
            table.get("respect_robots") is False
            and not str(table.get("robots_override_reason", "")).strip()
        ):
            self.fail(
                "[capture]",
                'respect_robots = false needs robots_override_reason = "..." saying why',
            )
        return dict(table)


def _locate(path: Path) -> Path:
    path = Path(path)
    if path.is_dir():
        toml_path = path / TOML_NAME
        if not toml_path.is_file():
            raise ArchiverError(
                f"{path}: no {TOML_NAME} in this folder; create one (see docs/collections.md)",
                EXIT_USAGE,
            )
        return toml_path
    if not path.exists():
        raise ArchiverError(
            f"{path}: no such collection file or folder; check the path", EXIT_USAGE
        )
    return path


def load_collection(path: Path) -> Collection:
    """Read and check a collection from its folder or its ``collection.toml``."""
    toml_path = _locate(path)
    c = _Checker(toml_path)
    raw = _read_toml(toml_path, c)

    c.table(raw, "top level", _TOP_KEYS)
    if "collection" not in raw:
        c.fail("", 'missing the [collection] table; add one with at least name = "..."')
    meta = c.table(raw["collection"], "[collection]", _COLLECTION_KEYS)
    name = c.string(meta, "name", "[collection]", required=True)
    if not _NAME.fullmatch(name):
        c.fail(
            "[collection]",
            f"name '{name}' may only use letters, digits, '.', '_' and '-' (it names the bag)",
        )
    curator = _curator(meta.get("curator", {}), c)
    schedule, zone = _schedule(meta, c)

    documents = _documents(raw, c)
    extra = _extra_urls(raw, c)
    tsa_tables = c.entries(raw, "tsa") if "tsa" in raw else []

    return Collection(
        name=name,
        title=c.string(meta, "title", "[collection]"),
        description=c.string(meta, "description", "[collection]"),
        curator=curator,
        organisation=c.string(meta, "organisation", "[collection]"),
        documents=documents,
        extra_urls=extra,
        capture_overrides=c.capture(raw["capture"]) if "capture" in raw else {},
        root=toml_path.parent,
        toml_path=toml_path,
        raw=raw,
        tsa_tables=tsa_tables,
        schedule=schedule,
        timezone=zone,
    )


def _schedule(meta: dict[str, Any], c: _Checker) -> tuple[str, str]:
    """``schedule`` (cron, checked by croniter) and ``timezone`` (IANA, checked by zoneinfo)."""
    from croniter import croniter

    schedule = c.string(meta, "schedule", "[collection]")
    zone = c.string(meta, "timezone", "[collection]") or "UTC"
    if schedule and not croniter.is_valid(schedule):
        c.fail(
            _line_of(c.toml_path, "schedule"),
            f'schedule = "{schedule}" is not a cron expression; give five fields'
            ' (minute hour day month weekday), e.g. "0 3 * * 1" (see docs/schedules.md)',
        )
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        c.fail(
            _line_of(c.toml_path, "timezone"),
            f'timezone = "{zone}" is not an IANA time zone; give one such as "Europe/Berlin"'
            ' or "UTC" (see docs/schedules.md)',
        )
    return schedule, zone


def _line_of(toml_path: Path, key: str) -> str:
    """``line N`` of ``key = `` in the file: tomllib gives no line numbers, so scan the text."""
    pattern = re.compile(rf"\s*{key}\s*=")
    lines = toml_path.read_text("utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return f"line {number}: [collection]"
    return "[collection]"


def _read_toml(toml_path: Path, c: _Checker) -> dict[str, Any]:
    try:
        with open(toml_path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        c.fail("", f"invalid TOML: {exc}; fix the syntax")
    except UnicodeDecodeError:
        c.fail("", "is not UTF-8 text; save it as UTF-8")
    except OSError as exc:
        c.fail("", f"cannot be read ({exc.strerror}); check its permissions")


def _curator(value: Any, c: _Checker) -> Curator:
    """``curator = "Name"`` or a ``[collection.curator]`` table."""
    if isinstance(value, str):
        return Curator(name=value.strip())
    ct = c.table(value, "[collection.curator]", _CURATOR_KEYS)
    return Curator(
        name=c.string(ct, "name", "[collection.curator]"),
        email=c.string(ct, "email", "[collection.curator]"),
    )


def _documents(raw: dict[str, Any], c: _Checker) -> list[Document]:
    """The ``[[document]]`` entries, each URL listed once."""
    documents: list[Document] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(c.entries(raw, "document"), start=1):
        where = _entry_name("document", i, entry)
        d = c.table(entry, where, _DOCUMENT_KEYS)
        url, written = c.url(d, "url", where)
        if url in seen:
            c.fail(where, f"url {written} is already document #{seen[url]}; list it once")
        seen[url] = i
        documents.append(
            Document(
                url=url,
                title=c.string(d, "title", where, required=True),
                cited_as=written,
                file=c.file(d["file"], where) if "file" in d else None,
                publisher=c.string(d, "publisher", where),
                published=_date_text(d.get("published"), where, c),
                note=c.string(d, "note", where),
                hops=c.hops(d.get("hops"), where),
            )
        )
    return documents


def _extra_urls(raw: dict[str, Any], c: _Checker) -> list[ExtraUrl]:
    """The ``[[url]]`` entries: URLs cited outside the documents."""
    extra: list[ExtraUrl] = []
    for i, entry in enumerate(c.entries(raw, "url"), start=1):
        where = _entry_name("url", i, entry)
        u = c.table(entry, where, _URL_KEYS)
        url, written = c.url(u, "url", where)
        extra.append(
            ExtraUrl(
                url=url,
                cited_as=written,
                cited_in=c.string(u, "cited_in", where) or None,
                locator=c.string(u, "locator", where),
                note=c.string(u, "note", where),
            )
        )
    return extra


def _entry_name(kind: str, number: int, entry: Any) -> str:
    """``[[document]] #2 (https://...)``: the number counts entries of that kind in the file."""
    url = entry.get("url") if isinstance(entry, dict) else None
    return f"[[{kind}]] #{number}" + (f" ({url})" if isinstance(url, str) and url else "")


def _date_text(value: Any, where: str, c: _Checker) -> str:
    """``published`` may be a TOML date (2019-01-30) or a string ("2019", "January 2019")."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    c.fail(where, "'published' must be a date (2019-01-30) or a string in quotes")
