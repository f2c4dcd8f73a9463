"""The catalog as a read-only shortcut: which bags logged a URL, without reading every log.

For callers that are right without a catalog (``report``): a missing, foreign, damaged or newer
catalog is simply not used, and nothing is ever written to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from archiver.keep.catalog import SCHEMA_VERSION, SQLITE_MAGIC


def open_shortcut(path: Path) -> sqlite3.Connection | None:
    """The catalog opened read-only as a shortcut, or None when it is absent or not one we read.

    For callers that are right without a catalog (``report``): a missing, foreign, damaged or
    newer catalog is simply not used, and nothing is ever written to it.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError:
        return None
    version = int.from_bytes(head[60:64], "big") if len(head) == 100 else 0
    if not head.startswith(SQLITE_MAGIC) or not 1 <= version <= SCHEMA_VERSION:
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT run_id, bag, path FROM runs LIMIT 1").fetchall()
    except sqlite3.Error:
        return None
    return conn


def capture_paths(conn: sqlite3.Connection, url: str) -> Iterator[str]:
    """The paths of the bags that logged ``url``, newest bag name first (by the url index)."""
    rows = conn.execute(
        "SELECT r.path FROM captures c JOIN runs r USING (run_id) WHERE c.url = ? "
        "ORDER BY r.bag DESC",
        (url,),
    )
    for (path,) in rows:
        yield path
