"""A collection's sealed bags, read straight from the runs folder (no catalog needed).

A run's bag is named ``<collection name>-<YYYYMMDDTHHMMSSZ>``, so sorting the names sorts the runs
by start time. Only sealed bags count (bagit.txt and a tag manifest, not a staging folder).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from archiver.bag.reader import tag_manifests
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.capture.log import LOG_NAME, CaptureEntry, read_entries

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass
class RunBag:
    """One sealed bag of the collection and its capture log, keyed by URL."""

    name: str
    path: Path
    entries: dict[str, CaptureEntry] = field(default_factory=dict)
    # Our captures of other archives' mementos, by the URL they are mementos of: never taken
    # for a capture of that URL (docs/witnesses.md).
    mementos: dict[str, list[CaptureEntry]] = field(default_factory=dict)

    @property
    def when(self) -> str:
        """The run's UTC start as ISO 8601, from the bag name."""
        s = self.name.rsplit("-", 1)[1]
        return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}Z"


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
    """Every sealed bag of collection ``name`` in ``out``, oldest first, with its log read."""
    if not out.is_dir():
        raise ArchiverError(f"{out}: no such runs folder (give it with --out)", EXIT_USAGE)
    pattern = re.compile(re.escape(name) + r"-\d{8}T\d{6}Z")
    bags = []
    for child in sorted(out.iterdir(), key=lambda p: p.name):
        if not pattern.fullmatch(child.name) or not child.is_dir():
            continue
        if not (child / "bagit.txt").is_file() or not tag_manifests(child):
            continue
        bag = RunBag(child.name, child)
        log = child / "data" / LOG_NAME
        if log.is_file():
            for entry in read_entries(log):
                if entry.memento_of is not None:
                    bag.mementos.setdefault(entry.memento_of.original_url, []).append(entry)
                    continue
                bag.entries[entry.url] = entry
        bags.append(bag)
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
