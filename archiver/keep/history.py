"""The catalog verbs: ``archiver catalog rebuild|add`` and ``archiver history URL``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archiver.base.errors import EXIT_OK
from archiver.keep.catalog import (
    add_bag,
    catalog_path,
    history,
    indexed_paths,
    open_catalog,
    rebuild,
    sealed_bags,
)

EXIT_NOT_FOUND = 1  # `history`: the URL is not in the catalog (scripts can test for it)
DEFAULT_OUT = Path("runs")  # where `archiver run` puts bags (and the catalog) by default


def rebuild_command(directory: Path, given: str | None) -> int:
    path = catalog_path(given, directory)
    count = rebuild(directory, path)
    print(f"{path}: rebuilt from {count} sealed bag(s) under {directory}")
    return EXIT_OK


def add_command(bag: Path, given: str | None) -> int:
    path = catalog_path(given, bag.resolve().parent)
    conn = open_catalog(path)
    try:
        urls = add_bag(conn, bag)
    finally:
        conn.close()
    print(f"{path}: added {bag} ({urls} URL(s))")
    return EXIT_OK


def history_command(url: str, given: str | None, as_json: bool) -> int:
    path = catalog_path(given, DEFAULT_OUT)
    conn = open_catalog(path, create=False)
    try:
        rows = history(conn, url)
    finally:
        conn.close()
    if as_json:
        print(json.dumps({"url": url, "catalog": str(path), "captures": rows}, sort_keys=True))
    elif rows:
        print(f"{url}: {len(rows)} capture(s), oldest first")
        for r in rows:
            status = r["status"] if r["status"] is not None else r["error"] or "-"
            print(
                f"  {r['run_start']}  {r['bag']}  {r['outcome']} {status}"
                f"  final {r['final_url'] or '-'}\n"
                f"      payload sha256:{r['payload_sha256'] or '-'}  "
                f"text sha256:{r['text_sha256'] or '-'}  record {r['record_id'] or '-'}"
            )
    if not rows:
        print(f"archiver: {url}: not in the catalog {path}", file=sys.stderr)
        return EXIT_NOT_FOUND
    return EXIT_OK


def index_after_run(
    bag: Path, out: Path, captures: Iterable[tuple[Any, ...]] | None = None
) -> None:
    """After a run: add its bag, and any bag beside it a failed update missed, to the catalog.

    ``captures``: the bag's capture rows, made as the run wrote its capture log (else read from
    the bag). A failure only warns: the bag is already sealed, and the next run or `archiver
    catalog rebuild` indexes it.
    """
    path = catalog_path(None, out)
    try:
        conn = open_catalog(path)
        try:
            add_bag(conn, bag, captures)
            known = indexed_paths(conn)
            for other in sealed_bags(out, depth=1):
                if str(other.resolve()) not in known:
                    add_bag(conn, other)
        finally:
            conn.close()
    except Exception as err:  # noqa: BLE001 - an index must never cost the run its bag
        print(
            f"  warning: catalog {path} not updated ({err}); the bag is sealed; "
            f"run `archiver catalog rebuild {out}` later",
            file=sys.stderr,
        )
