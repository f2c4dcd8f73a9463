"""The capture history: two real runs against a page that changes between them, then
`archiver history`, `archiver catalog rebuild|add`, and the catalog's refusals."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.keep.catalog import dump
from tests.helpers import archiver
from tests.servers import TestServer


@dataclass
class Runs:
    out: Path
    bags: list[Path]
    url: str
    missing: str


def _page(words: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>Statement</title></head><body><main><h1>Statement</h1>"
        f"<p>{words}</p></main></body></html>\n"
    ).encode()


def _run(doc: Path, out: Path, name: str, env: dict[str, str] | None = None) -> Path:
    proc = archiver(
        "run", str(doc), "--out", str(out), "--delay", "0", "--name", name, "--progress", "none",
        env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "warning: catalog" not in proc.stderr
    return out / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    work = tmp_path_factory.mktemp("catalog")
    with TestServer() as server:
        url = server.url("/statement.html")
        missing = server.url("/status/404")
        doc = work / "sources.md"
        doc.write_text(f"1. [statement]({url})\n2. [gone]({missing})\n", encoding="utf-8")
        server.site.add_page("/statement.html", _page("The ministry denies the detentions."))
        first = _run(doc, work / "out", "run-1")
        server.site.add_page("/statement.html", _page("The ministry confirms three detentions."))
        second = _run(doc, work / "out", "run-2")
    return Runs(work / "out", [first, second], url, missing)


def _history(url: str, catalog: Path) -> dict[str, object]:
    proc = archiver("history", url, "--json", "--catalog", str(catalog))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(dump(conn))
    finally:
        conn.close()


def test_history_shows_both_captures_with_different_digests(runs: Runs) -> None:
    catalog = runs.out / "catalog.sqlite"
    assert catalog.is_file()
    timeline = _history(runs.url, catalog)["captures"]
    assert isinstance(timeline, list) and len(timeline) == 2
    assert [c["bag"] for c in timeline] == ["run-1", "run-2"]
    assert all(c["outcome"] == "captured" and c["status"] == 200 for c in timeline)
    assert timeline[0]["payload_sha256"] != timeline[1]["payload_sha256"]
    assert timeline[0]["text_sha256"] != timeline[1]["text_sha256"]
    assert all(str(c["record_id"]).startswith("<urn:uuid:") for c in timeline)
    logged = json.loads((runs.bags[0] / "data/capture-log.jsonl").read_text().splitlines()[0])
    first = next(c for c in timeline if c["bag"] == "run-1")
    assert first["payload_sha256"] == logged["payload_sha256"] or logged["url"] != runs.url
    text = archiver("history", runs.url, "--catalog", str(catalog))
    assert text.returncode == 0 and "2 capture(s)" in text.stdout and "run-2" in text.stdout
    gone = _history(runs.missing, catalog)["captures"]
    assert [c["status"] for c in gone] == [404, 404]  # type: ignore[index]


def test_a_url_never_captured_exits_1(runs: Runs) -> None:
    proc = archiver(
        "history", "http://example.org/never", "--catalog", str(runs.out / "catalog.sqlite")
    )
    assert proc.returncode == 1
    assert "not in the catalog" in proc.stderr and proc.stdout == ""


def test_rebuild_equals_the_incremental_catalog(runs: Runs, tmp_path: Path) -> None:
    incremental = runs.out / "catalog.sqlite"
    rebuilt = tmp_path / "rebuilt.sqlite"
    proc = archiver("catalog", "rebuild", str(runs.out), "--catalog", str(rebuilt))
    assert proc.returncode == 0, proc.stderr
    assert "2 sealed bag(s)" in proc.stdout
    for url in (runs.url, runs.missing):
        a = archiver("history", url, "--json", "--catalog", str(incremental)).stdout
        b = archiver("history", url, "--json", "--catalog", str(rebuilt)).stdout
        assert a.replace(str(incremental), "") == b.replace(str(rebuilt), "")
    assert _dump(incremental) == _dump(rebuilt)
    assert len(_dump(rebuilt)) == 1 + 2 + 4  # version, two runs, two URLs in each
    # rebuilt in place (the default path), again the same answers
    copy = tmp_path / "copy"
    shutil.copytree(runs.out, copy)
    (copy / "catalog.sqlite").unlink()
    assert archiver("catalog", "rebuild", str(copy)).returncode == 0
    assert [
        line.replace(str(copy.resolve()), "")
        for line in dump(sqlite3.connect(copy / "catalog.sqlite"))
    ] == [line.replace(str(runs.out.resolve()), "") for line in dump(sqlite3.connect(incremental))]


def test_catalog_add_indexes_a_bag_made_elsewhere(runs: Runs, tmp_path: Path) -> None:
    catalog = tmp_path / "elsewhere.sqlite"
    for bag in runs.bags:
        assert archiver("catalog", "add", str(bag), "--catalog", str(catalog)).returncode == 0
    again = archiver("catalog", "add", str(runs.bags[0]), "--catalog", str(catalog))
    assert again.returncode == 0  # adding twice replaces, never doubles
    assert len(_history(runs.url, catalog)["captures"]) == 2  # type: ignore[arg-type]
    env = {**os.environ, "ARCHIVER_CATALOG": str(catalog)}
    proc = archiver("history", runs.url, "--json", env=env)
    assert proc.returncode == 0 and len(json.loads(proc.stdout)["captures"]) == 2


@pytest.mark.parametrize("verb", ["history", "add", "rebuild"])
def test_newer_and_not_sqlite_catalogs_are_one_line_errors(
    runs: Runs, tmp_path: Path, verb: str
) -> None:
    newer = tmp_path / "newer.sqlite"
    shutil.copy(runs.out / "catalog.sqlite", newer)
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = newer.read_bytes()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is a text file, not a catalog\n")
    args: dict[str, Callable[[Path], tuple[str, ...]]] = {
        "history": lambda c: ("history", runs.url, "--catalog", str(c)),
        "add": lambda c: ("catalog", "add", str(runs.bags[0]), "--catalog", str(c)),
        "rebuild": lambda c: ("catalog", "rebuild", str(runs.out), "--catalog", str(c)),
    }
    for path, words in ((newer, "newer than this archiver"), (junk, "not an SQLite catalog")):
        proc = archiver(*args[verb](path))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and str(path) in lines[0], proc.stderr
    assert newer.read_bytes() == before  # never silently rewritten
    assert junk.read_bytes() == b"this is a text file, not a catalog\n"


def test_an_unwritable_catalog_still_seals_the_bag(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "catalog.sqlite").mkdir(parents=True)  # a folder where the catalog file should be
    with TestServer() as server:
        doc = tmp_path / "sources.md"
        doc.write_text(f"[one]({server.url('/articles/one.html')})\n", encoding="utf-8")
        proc = archiver("run", str(doc), "--out", str(out), "--delay", "0", "--name", "b")
    assert proc.returncode == 0, proc.stderr
    assert "warning: catalog" in proc.stderr and "catalog rebuild" in proc.stderr
    assert archiver("verify", str(out / "b")).returncode == 0
    (out / "catalog.sqlite").rmdir()
    assert archiver("catalog", "rebuild", str(out)).returncode == 0
    history = archiver(
        "history", server.url("/articles/one.html"), "--catalog", str(out / "catalog.sqlite")
    )
    assert history.returncode == 0, history.stderr
