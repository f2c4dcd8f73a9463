"""A collection's sealed bags, read straight from the runs folder (no catalog needed).

A run's bag is named ``<collection name>-<YYYYMMDDTHHMMSSZ>``, so sorting the names sorts the runs
by start time. Only sealed bags count (bagit.txt and a tag manifest, not a staging folder).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.bag.reader import tag_manifests
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.capture.log import LOG_NAME, OUTCOMES, CaptureEntry, read_entries, read_raw_entries

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass
class RunBag:
    """One sealed bag of the collection; its capture log is read only when first needed.

    Ten years of weekly runs are 500 bags: a report reads the two it compares (and the few an
    absent URL sends it back to), never all of them.
    """

    name: str
    path: Path
    _entries: dict[str, CaptureEntry] | None = field(default=None, repr=False)
    _mementos: dict[str, list[CaptureEntry]] | None = field(default=None, repr=False)

    def _load(self) -> None:
        self._entries, self._mementos = {}, {}
        log = self.path / "data" / LOG_NAME
        if log.is_file():
            for entry in read_entries(log):
                if entry.memento_of is not None:
                    self._mementos.setdefault(entry.memento_of.original_url, []).append(entry)
                    continue
                self._entries[entry.url] = entry

    @property
    def entries(self) -> dict[str, CaptureEntry]:
        """The capture log keyed by URL (the last entry of a URL logged twice)."""
        if self._entries is None:
            self._load()
        assert self._entries is not None
        return self._entries

    @property
    def mementos(self) -> dict[str, list[CaptureEntry]]:
        """Our captures of other archives' mementos, by the URL they are mementos of: never
        taken for a capture of that URL (docs/witnesses.md)."""
        if self._mementos is None:
            self._load()
        assert self._mementos is not None
        return self._mementos

    def timeline(self) -> dict[str, dict[str, Any]]:
        """Per URL, the facts a report's timeline row shows, read straight from the log's JSON.

        An HTML report shows the last 20 runs of every URL: typed entries for all of them cost
        three times the time and most of the memory, for the few fields a row needs.
        """
        rows: dict[str, dict[str, Any]] = {}
        for e in read_raw_entries(self.path / "data" / LOG_NAME):
            url = e.get("url")
            if e.get("memento_of") is not None:
                continue
            if isinstance(url, str) and e.get("outcome") in OUTCOMES:
                rows[url] = _row(e)
        return rows

    def release(self) -> None:
        """Forget the parsed log (read again if asked for): bounds memory on a walk back."""
        self._entries = None
        self._mementos = None

    @property
    def when(self) -> str:
        """The run's UTC start as ISO 8601, from the bag name."""
        s = self.name.rsplit("-", 1)[1]
        return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}Z"


def _row(e: dict[str, Any]) -> dict[str, Any]:
    text, error = e.get("text"), e.get("error")
    ref = text if isinstance(text, dict) and isinstance(text.get("path"), str) else None
    records = e.get("records")
    responses = [
        r
        for r in (records if isinstance(records, list) else [])
        if isinstance(r, dict) and r.get("type") == "response"
    ]
    return {
        "outcome": e.get("outcome"),
        "status": e.get("status"),
        "final_url": e.get("final_url"),
        "error": error.get("class") if isinstance(error, dict) else None,
        "payload_sha256": e.get("payload_sha256"),
        "text": ref.get("path") if ref else None,
        "text_sha256": ref.get("sha256") if ref else None,
        "record_id": responses[-1].get("record_id") if responses else None,
    }


def collection_name(spec: str) -> str:
    """The collection's name: from a folder or collection.toml, or ``spec`` itself as a name."""
    path = Path(spec)
    toml = path / "collection.toml" if path.is_dir() else path
    if toml.is_file():
        try:
            data = tomllib.loads(toml.read_text("utf-8"))
            name = data["collection"]["name"]
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as e:
            raise ArchiverError(f"{toml}: cannot read the collection's name ({e})") from None
        if isinstance(name, str) and _NAME.match(name):
            return name
        raise ArchiverError(f"{toml}: [collection] name is missing or not a valid name")
    if _NAME.match(spec) and not path.exists():
        return spec
    raise ArchiverError(f"{spec}: not a collection folder, collection.toml or collection name")


def find_runs(out: Path, name: str) -> list[RunBag]:
    """Every sealed bag of collection ``name`` in ``out``, oldest first (logs not read yet)."""
    if not out.is_dir():
        raise ArchiverError(f"{out}: no such runs folder (give it with --out)", EXIT_USAGE)
    pattern = re.compile(re.escape(name) + r"-\d{8}T\d{6}Z")
    bags = []
    for child in sorted(out.iterdir(), key=lambda p: p.name):
        if not pattern.fullmatch(child.name) or not child.is_dir():
            continue
        if not (child / "bagit.txt").is_file() or not tag_manifests(child):
            continue
        bags.append(RunBag(child.name, child))
    if not bags:
        raise ArchiverError(
            f"{out}: no sealed bags of collection {name!r} (names {name}-<UTC time>)"
        )
    return bags


def pick_base(bags: list[RunBag], since: str | None) -> RunBag | None:
    """The run to compare the latest with: ``since`` (a bag name or path), else None (per URL)."""
    if since is None:
        return None
    wanted = Path(since).name
    for bag in bags[:-1]:
        if bag.name == wanted:
            return bag
    if bags[-1].name == wanted:
        raise ArchiverError(f"{since}: is the latest run; give an earlier run to compare with")
    raise ArchiverError(
        f"{since}: no such run of this collection (give a bag name, e.g. {bags[0].name})"
    )
