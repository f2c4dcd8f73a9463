"""Catalog files that are not ours: refused in one line with exit 2, and never written to.

Complements tests/keep/test_catalog.py (a newer schema, a text file): here someone else's SQLite
database, a damaged catalog, and the verbs that use the catalog only as a shortcut (``report``)
or update it after the fact (``run``), which must keep working and leave such a file alone.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from archiver.keep.catalog import rebuild
from tests.helpers import REPO, archiver
from tests.servers import TestServer


def _synthetic_runs(folder: Path, runs: int = 4, urls: int = 12) -> list[Path]:
    """A few synthetic sealed-bag-like runs from the keep benchmark's generator."""
    spec = importlib.util.spec_from_file_location("keep_bench", REPO / "bench/keep/run.py")
    assert spec is not None and spec.loader is not None
    bench: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.build(folder, runs, urls)
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _foreign(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('an interview transcript')")
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("verb", ["history", "add", "rebuild"])
def test_someone_elses_sqlite_database_is_refused_and_untouched(tmp_path: Path, verb: str) -> None:
    bags = _synthetic_runs(tmp_path / "runs")
    db = tmp_path / "notes.db"
    before = _foreign(db)
    args = {
        "history": ("history", "http://site0.example.org/doc/0", "--catalog", str(db)),
        "add": ("catalog", "add", str(bags[0]), "--catalog", str(db)),
        "rebuild": ("catalog", "rebuild", str(tmp_path / "runs"), "--catalog", str(db)),
    }[verb]
    proc = archiver(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(db) in lines[0] and "not an archiver catalog" in lines[0]
    assert db.read_bytes() == before  # not rewritten, not replaced by a rebuilt catalog
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db", "runs"]


def test_a_damaged_catalog_is_one_line_and_exit_2(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _synthetic_runs(runs)
    catalog = runs / "catalog.sqlite"
    rebuild(runs, catalog)
    data = catalog.read_bytes()
    catalog.write_bytes(data[: len(data) // 3])
    before = catalog.read_bytes()
    proc = archiver("history", "http://site0.example.org/doc/0", "--catalog", str(catalog))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(catalog) in lines[0] and "not a readable" in lines[0]
    assert catalog.read_bytes() == before


def _newer(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


@pytest.mark.parametrize("kind", ["newer", "junk", "foreign"])
def test_report_ignores_a_catalog_it_cannot_use_and_leaves_it_alone(
    tmp_path: Path, kind: str
) -> None:
    runs = tmp_path / "runs"
    _synthetic_runs(runs)
    plain = archiver("report", "watch", "--out", str(runs), "--json")
    assert plain.returncode in (0, 4), plain.stderr
    catalog = runs / "catalog.sqlite"
    if kind == "newer":
        rebuild(runs, catalog)
        _newer(catalog)
    elif kind == "junk":
        catalog.write_bytes(b"not a database\n")
    else:
        _foreign(catalog)
    before = catalog.read_bytes()
    proc = archiver("report", "watch", "--out", str(runs), "--json")
    assert proc.returncode == plain.returncode, proc.stderr
    assert json.loads(proc.stdout) == json.loads(plain.stdout)  # the bags alone answer
    assert catalog.read_bytes() == before


def test_run_with_a_newer_catalog_seals_the_bag_and_leaves_the_catalog(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    catalog = out / "catalog.sqlite"
    sqlite3.connect(catalog).close()
    _newer(catalog)
    before = catalog.read_bytes()
    with TestServer() as server:
        doc = tmp_path / "sources.md"
        doc.write_text(f"[one]({server.url('/articles/one.html')})\n", encoding="utf-8")
        proc = archiver("run", str(doc), "--out", str(out), "--delay", "0", "--name", "b")
    assert proc.returncode == 0, proc.stderr
    assert (out / "b" / "tagmanifest-sha256.txt").is_file()
    warnings = [line for line in proc.stderr.splitlines() if "not updated" in line]
    assert len(warnings) == 1 and "newer than this archiver" in warnings[0]
    assert catalog.read_bytes() == before
