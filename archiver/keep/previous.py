"""Which earlier run last captured each URL of the latest run, reading as few bags as possible.

The previous run answers for almost every URL. For the rest (a URL new to the collection, or
absent last time), the catalog says which bag logged it last, so a report on ten years of runs
still reads only a handful of bags. Without a catalog that covers every earlier bag, the earlier
runs are walked newest first, one log in memory at a time, and a log whose bytes do not contain
a plain-ASCII URL at all is not parsed: slower than the catalog, the same answer.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from archiver.capture.log import LOG_NAME, CaptureEntry
from archiver.keep.catalog import indexed_paths
from archiver.keep.runs import RunBag
from archiver.keep.shortcut import capture_paths, open_shortcut

Found = dict[str, tuple[RunBag, CaptureEntry]]
# A URL any JSON writer puts into a log verbatim: printable ASCII, no quote, no backslash.
_VERBATIM = re.compile(r"[\x20-\x7e]+")
MAX_PREFILTER = 64  # more pending URLs than this: parsing the log beats searching its bytes


def previous_runs(bags: list[RunBag], urls: Iterable[str], catalog: Path | None) -> Found:
    """For each of ``urls``, the newest bag before the latest that logged it, and that entry."""
    earlier = bags[:-1]
    pending = set(urls)
    found: Found = {}
    if not earlier:
        return found
    _take(earlier[-1], pending, found)
    if not pending:
        return found
    conn = open_shortcut(catalog) if catalog is not None else None
    if conn is not None:
        try:
            by_path = {str(b.path.resolve()): b for b in earlier[:-1]}
            if by_path.keys() <= indexed_paths(conn):
                _from_catalog(conn, by_path, pending, found)
                return found
        except sqlite3.Error:
            pass  # a damaged catalog: read the bags instead
        finally:
            conn.close()
    for bag in reversed(earlier[:-1]):
        if not pending:
            break
        if _may_log(bag, pending):
            _take(bag, pending, found)
            bag.release()  # one old log in memory at a time
    return found


def _take(bag: RunBag, pending: set[str], found: Found) -> None:
    entries = bag.entries
    hits = pending & entries.keys()
    for url in hits:
        found[url] = (bag, entries[url])
    pending -= hits


def _may_log(bag: RunBag, pending: set[str]) -> bool:
    """False only when the log's bytes prove none of ``pending`` is in it."""
    if len(pending) > MAX_PREFILTER or not all(
        _VERBATIM.fullmatch(u) and '"' not in u and "\\" not in u for u in pending
    ):
        return True
    try:
        raw = (bag.path / "data" / LOG_NAME).read_bytes()
    except OSError:
        return True  # let the reader decide
    return any(u.encode("ascii") in raw for u in pending)


def _from_catalog(
    conn: sqlite3.Connection, by_path: dict[str, RunBag], pending: set[str], found: Found
) -> None:
    """Ask the catalog where each pending URL was last logged; confirm it in that bag's log."""
    for url in sorted(pending):
        for path in capture_paths(conn, url):
            bag = by_path.get(path)
            if bag is not None and url in bag.entries:
                found[url] = (bag, bag.entries[url])
                break
