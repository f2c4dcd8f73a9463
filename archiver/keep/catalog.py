"""The capture history: an embedded SQLite index of every sealed bag's runs and captures.

The catalog is only an index. Every fact in it comes from a sealed bag (``bag-info.txt`` and
``data/capture-log.jsonl``), rows are keyed by those facts (run id, position in the log) and
never by insertion order, so ``rebuild`` from the bags alone gives the same answers as a catalog
built run by run. A catalog written by a newer schema is refused, never rewritten; an older
one is migrated forward in place, in one transaction (``migrate``).

Schema 2 adds ``audits``: one row per ``archiver audit`` result. Audits are not in the bags;
each row is made from the ``audited`` event in the custody log beside the bag, and ``rebuild``
re-reads those events and also keeps the rows of the catalog it replaces, so audit history is
never lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from archiver.bag.reader import bag_info_value, read_bag_info, require_sealed_bag
from archiver.base.errors import EXIT_USAGE, ArchiverError
from archiver.capture.log import read_raw_entries
from archiver.keep.audittable import AUDIT_COLUMNS, logged_audits

SCHEMA_VERSION = 2
CATALOG_NAME = "catalog.sqlite"
CATALOG_ENV = "ARCHIVER_CATALOG"
SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    bag TEXT NOT NULL,
    path TEXT NOT NULL,
    description TEXT,
    capture_start TEXT,
    capture_end TEXT,
    bagging_date TEXT
);
CREATE TABLE captures (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    url TEXT NOT NULL,
    started TEXT,
    outcome TEXT,
    status INTEGER,
    final_url TEXT,
    error_class TEXT,
    payload_sha256 TEXT,
    text_sha256 TEXT,
    record_id TEXT,
    provenance_record TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX captures_url ON captures(url);
"""
TABLES = ("runs", "captures", "audits")
_CAPTURE_COLUMNS = [
    "run_id",
    "seq",
    "url",
    "started",
    "outcome",
    "status",
    "final_url",
    "error_class",
    "payload_sha256",
    "text_sha256",
    "record_id",
    "provenance_record",
]


def catalog_path(given: str | None, default_dir: Path) -> Path:
    """--catalog, else $ARCHIVER_CATALOG, else ``catalog.sqlite`` in ``default_dir``."""
    chosen = given or os.environ.get(CATALOG_ENV)
    return Path(chosen) if chosen else default_dir / CATALOG_NAME


def open_catalog(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (or create) the catalog; a non-SQLite file or a newer schema is a one-line error."""
    _require_sqlite(path)
    if not create and not path.exists():
        raise ArchiverError(
            f"{path}: no catalog here; build one with `archiver catalog rebuild DIR`", EXIT_USAGE
        )
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as err:
        raise ArchiverError(f"{path}: not a readable SQLite catalog ({err})", EXIT_USAGE) from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise ArchiverError(
            f"{path}: catalog schema version {version} is newer than this archiver's "
            f"({SCHEMA_VERSION}); upgrade archiver (the catalog is left untouched)",
            EXIT_USAGE,
        )
    conn.execute("PRAGMA foreign_keys = ON")
    if version == 0:
        _require_empty(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(
            f"BEGIN; {_SCHEMA} {_AUDITS_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        )
    elif version < SCHEMA_VERSION:
        migrate(conn, path)
    return conn


# -- schema version 2: fixity audits (archiver audit) -------------------------------------------

# Audits are not in any bag's capture log: their record is the `audited` custody event beside
# the bag, and each row is made from that event (see keep.audit), so a rebuild can re-read them.
_AUDITS_SCHEMA = """
CREATE TABLE audits (
    audit_id TEXT NOT NULL,
    path TEXT NOT NULL,
    bag TEXT NOT NULL,
    run_id TEXT,
    at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    problems TEXT NOT NULL,
    tagmanifest_sha256 TEXT,
    PRIMARY KEY (audit_id, path)
);
CREATE INDEX audits_path ON audits(path, at);
"""


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring an older catalog forward in place, in one transaction (all steps or none).

    The version is read again under the write lock, so two processes opening the same v1
    catalog at once migrate it once; a newer version is never touched (``open_catalog``).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (1, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"no migration from schema version {version}")
        if version == 1:  # executescript would commit first: one statement at a time
            for statement in filter(str.strip, _AUDITS_SCHEMA.split(";")):
                conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as err:
        conn.execute("ROLLBACK")
        conn.close()
        raise ArchiverError(
            f"{path}: cannot migrate the catalog to schema version {SCHEMA_VERSION} ({err}); "
            "it is left as it was; rebuild one with `archiver catalog rebuild DIR --catalog NEW`",
            EXIT_USAGE,
        ) from None
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def add_audits(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Record audit results (a row already there, same id and bag, is kept as it was)."""
    marks = ", ".join("?" * len(AUDIT_COLUMNS))
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            f"INSERT OR IGNORE INTO audits ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})", rows
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _kept_audits(path: Path) -> list[tuple[Any, ...]]:
    """The audit rows of the catalog being replaced: a rebuild never loses audit history."""
    if not path.exists():
        return []
    conn = open_catalog(path)
    try:
        return list(conn.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audits"))
    finally:
        conn.close()


def _require_empty(conn: sqlite3.Connection, path: Path) -> None:
    """A schema-less SQLite file holding tables is someone else's database: never write to it."""
    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        conn.close()
        raise ArchiverError(
            f"{path}: an SQLite database that is not an archiver catalog (it has tables but no "
            "catalog version); give another --catalog path",
            EXIT_USAGE,
        )


def _require_sqlite(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise ArchiverError(f"{path}: is a folder, not a catalog file", EXIT_USAGE) from None
    except OSError as err:
        raise ArchiverError(
            f"{path}: cannot read the catalog ({err.strerror})", EXIT_USAGE
        ) from None
    if head and head != SQLITE_MAGIC:
        raise ArchiverError(
            f"{path}: not an SQLite catalog; give another --catalog path or move the file away",
            EXIT_USAGE,
        )


def bag_rows(
    bag: Path, captures: Iterable[tuple[Any, ...]] | None = None
) -> tuple[tuple[Any, ...], Iterable[tuple[Any, ...]]]:
    """The run row and the capture rows a sealed bag gives, from its tag files and capture log.

    ``captures``: the capture rows already made from the same lines (``capture_row`` over the
    journal a run copied into this capture log), so the log is not read again.
    """
    require_sealed_bag(bag)
    info = read_bag_info(bag)
    run_id = bag_info_value(info, "External-Identifier")
    if not run_id:
        raise ArchiverError(f"{bag}: bag-info.txt has no External-Identifier (run id)", EXIT_USAGE)
    run = (
        run_id,
        bag.name,
        str(bag.resolve()),
        bag_info_value(info, "External-Description"),
        bag_info_value(info, "Capture-Start"),
        bag_info_value(info, "Capture-End"),
        bag_info_value(info, "Bagging-Date"),
    )
    if captures is None:
        log = bag / "data" / "capture-log.jsonl"
        captures = [capture_row(run_id, seq, e) for seq, e in enumerate(read_raw_entries(log))]
    return run, captures


def capture_row(run_id: str, seq: int, e: dict[str, Any]) -> tuple[Any, ...]:
    """The catalog row of the ``seq``-th entry (from 0) of a run's capture log."""
    responses = [r for r in e.get("records") or [] if r.get("type") == "response"]
    text = e.get("text") if isinstance(e.get("text"), dict) else None
    error = e.get("error") if isinstance(e.get("error"), dict) else None
    return (
        run_id,
        seq,
        e.get("url"),
        e.get("started"),
        e.get("outcome"),
        e.get("status"),
        e.get("final_url"),
        error.get("class") if error else None,
        e.get("payload_sha256"),
        text.get("sha256") if text else None,
        responses[-1].get("record_id") if responses else None,
        e.get("provenance_record"),
    )


def add_bag(
    conn: sqlite3.Connection, bag: Path, captures: Iterable[tuple[Any, ...]] | None = None
) -> int:
    """Index one sealed bag (again: its rows are replaced, never doubled); returns its URL count.

    ``captures``: its capture rows when the caller made them already (see ``bag_rows``).
    """
    run, rows = bag_rows(bag, captures)
    marks = ", ".join("?" * len(_CAPTURE_COLUMNS))
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM captures WHERE run_id = ?", (run[0],))
        conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)", run)
        inserted = conn.executemany(
            f"INSERT INTO captures ({', '.join(_CAPTURE_COLUMNS)}) VALUES ({marks})", rows
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(inserted.rowcount, 0)  # the rows inserted: the bag's URLs


def indexed_paths(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT path FROM runs")}


def sealed_bags(directory: Path, depth: int | None = None) -> list[Path]:
    """Every sealed bag under ``directory`` (``depth`` 1: its children only), in path order."""
    found = set()
    markers = directory.glob("*/bagit.txt") if depth == 1 else directory.rglob("bagit.txt")
    for marker in markers:
        bag = marker.parent
        parts = bag.relative_to(directory).parts
        if any(p.startswith(".") for p in parts):
            continue  # a .NAME.partial staging folder is not sealed
        if (bag / "data" / "capture-log.jsonl").is_file():
            found.add(bag)
    return sorted(found, key=lambda p: p.as_posix())


def rebuild(directory: Path, path: Path) -> int:
    """Build a fresh catalog from the bags under ``directory`` and put it in place atomically."""
    if not directory.is_dir():
        raise ArchiverError(f"{directory}: not a folder of bags", EXIT_USAGE)
    _require_sqlite(path)  # never replace a file that is not ours
    kept = _kept_audits(path)  # refuses a newer schema before anything is replaced
    tmp = path.with_name(f".{path.name}.rebuild")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    bags = sealed_bags(directory)
    conn = open_catalog(tmp)
    try:
        _bulk_load(conn, bags)
        add_audits(conn, logged_audits(directory) + kept)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    for stale in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    os.replace(tmp, path)
    return len(bags)


def _bulk_load(conn: sqlite3.Connection, bags: list[Path]) -> None:
    """Fill a fresh catalog in time linear in the bags.

    The file is new and fsynced before it replaces the old one, so no fsync per bag; the url
    index is built once, sorted, at the end, instead of growing by a thousand scattered inserts
    per bag (which made 1,000 runs cost 18 times 100 runs instead of 10).
    """
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -65536")  # KiB: 64 MiB, for the index sort
    conn.execute("DROP INDEX captures_url")
    for bag in bags:
        add_bag(conn, bag)
    conn.execute("CREATE INDEX captures_url ON captures(url)")


def history(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """Every capture of ``url`` (as logged, or as a final URL), oldest run first."""
    rows = conn.execute(
        "SELECT r.capture_start, r.run_id, r.bag, c.seq, c.url, c.outcome, c.status, "
        "c.final_url, c.error_class, c.payload_sha256, c.text_sha256, c.record_id, c.started "
        "FROM captures c JOIN runs r USING (run_id) WHERE c.url = ? "
        "ORDER BY r.capture_start, c.started, r.run_id, c.seq",
        (url,),
    )
    keys = [
        "run_start",
        "run_id",
        "bag",
        "seq",
        "url",
        "outcome",
        "status",
        "final_url",
        "error",
        "payload_sha256",
        "text_sha256",
        "record_id",
        "started",
    ]
    return [dict(zip(keys, row, strict=True)) for row in rows]


def dump(conn: sqlite3.Connection) -> Iterator[str]:
    """A canonical dump of every table (sorted by key): two catalogs agree iff their dumps do."""
    yield f"user_version {conn.execute('PRAGMA user_version').fetchone()[0]}"
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in (t for t in TABLES if t in present):  # an older schema has fewer tables
        order = {"runs": "run_id", "captures": "run_id, seq"}.get(table, "audit_id, path")
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):  # noqa: S608
            yield f"{table} {json.dumps(list(row), ensure_ascii=False)}"
