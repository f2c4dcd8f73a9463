"""Fixity audits over real bags made by `archiver run`: alterations between audits are reported
and recorded (catalog and custody log), `--share` rotates over every bag, bad input is refused."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from archiver.keep import catalog
from archiver.keep.catalog import dump
from tests.helpers import archiver
from tests.servers import TestServer

BAGS = ["run-a", "run-b", "run-c", "run-d"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVER_TSA", "ARCHIVER_CATALOG")}
    return {**env, "ARCHIVER_ALLOW_PRIVATE": "1"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sealed bags from four real runs against a local server (copied per test)."""
    work = tmp_path_factory.mktemp("audit")
    with TestServer() as server:
        server.site.add_page(
            "/page.html", b"<html><body><main><p>The ministry denies it.</p></main></body></html>"
        )
        doc = work / "sources.md"
        doc.write_text(f"1. [page]({server.url('/page.html')})\n", encoding="utf-8")
        for name in BAGS:
            proc = archiver(
                "run", str(doc), "--out", str(work / "out"), "--delay", "0", "--name", name,
                "--progress", "none", env=_env(),
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
    return work / "out"


@pytest.fixture
def out(made: Path, tmp_path: Path) -> Path:
    """A private copy of the bags, with a catalog that knows them at their new place."""
    copy = tmp_path / "runs"
    shutil.copytree(made, copy)
    proc = archiver("catalog", "rebuild", str(copy), env=_env())
    assert proc.returncode == 0, proc.stderr
    return copy


def audit(out: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    proc = archiver("audit", str(out), "--json", *args, env=env or _env())
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def by_name(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in summary["results"]}


def audit_rows(out: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(out / "catalog.sqlite")
    try:
        return list(conn.execute("SELECT bag, verdict, problems FROM audits ORDER BY at, bag"))
    finally:
        conn.close()


def audited_events(out: Path) -> list[dict[str, Any]]:
    lines = (out / "custody-log.jsonl").read_text("utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "audited"]


def test_altered_bags_are_reported_and_recorded(out: Path) -> None:
    code, first = audit(out)
    assert code == 0
    assert {r["verdict"] for r in first["results"]} == {"valid"}
    assert len(audit_rows(out)) == 4 and len(audited_events(out)) == 4

    warc = next((out / "run-a" / "data" / "warcs").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0x01  # one payload bit
    warc.write_bytes(bytes(data))
    info = out / "run-b" / "bag-info.txt"
    info.write_text(info.read_text("utf-8") + "Contact-Name: someone else\n", encoding="utf-8")
    shutil.rmtree(out / "run-c")

    code, second = audit(out)
    assert code == 1
    results = by_name(second)
    assert results["run-a"]["verdict"] == "invalid"
    assert (
        results["run-a"]["changed_since_sealing"] and results["run-a"]["changed_since_last_audit"]
    )
    assert results["run-b"]["verdict"] == "invalid"
    assert results["run-b"]["changed_since_sealing"]
    assert "tag-checksum-mismatch" in results["run-b"]["new_problems"]
    assert results["run-c"]["verdict"] == "missing"
    assert results["run-d"]["verdict"] == "valid"
    assert not results["run-d"]["changed_since_last_audit"]

    rows = sorted(audit_rows(out)[4:])
    assert [(bag, verdict) for bag, verdict, _ in rows] == [
        ("run-a", "invalid"), ("run-b", "invalid"), ("run-c", "missing"), ("run-d", "valid"),
    ]  # fmt: skip
    assert "bag-missing" in json.loads(rows[2][2])
    events = audited_events(out)[4:]
    assert {e["bag"]["name"]: e["details"]["verdict"] for e in events} == {
        "run-a": "invalid", "run-b": "invalid", "run-c": "missing", "run-d": "valid",
    }  # fmt: skip
    assert all(e["details"]["audit_id"] == second["audit_id"] for e in events)
    check = archiver("custody", "check", str(out / "custody-log.jsonl"), env=_env())
    assert check.returncode == 0, check.stdout + check.stderr  # still one unbroken chain


def test_human_output_names_each_finding(out: Path) -> None:
    audit(out)
    shutil.rmtree(out / "run-d")
    proc = archiver("audit", str(out), env=_env())
    assert proc.returncode == 1
    assert "MISSING  run-d: known to the catalog" in proc.stdout
    assert "OK       run-a (last audited " in proc.stdout
    assert "3 valid, 0 invalid, 1 missing" in proc.stdout.splitlines()[-1]


def test_a_bag_resealed_consistently_is_changed_since_the_last_audit(out: Path) -> None:
    """bag-info.txt edited and both tag manifests recomputed: verify alone finds nothing, but
    the tag-manifest digest differs from the one the last audit recorded."""
    audit(out)
    bag = out / "run-a"
    info = bag / "bag-info.txt"
    info.write_text(info.read_text("utf-8") + "Contact-Name: someone else\n", encoding="utf-8")
    for alg in ("sha256", "sha512"):
        manifest = bag / f"tagmanifest-{alg}.txt"
        lines = []
        for line in manifest.read_text("utf-8").splitlines():
            digest, name = line.split(maxsplit=1)
            if name == "bag-info.txt":
                digest = hashlib.new(alg, info.read_bytes()).hexdigest()
            lines.append(f"{digest}  {name}\n")
        manifest.write_text("".join(lines), encoding="utf-8")
    _, summary = audit(out)
    results = by_name(summary)
    assert results["run-a"]["verdict"] == "valid"  # nothing inside the bag contradicts it
    assert results["run-a"]["changed_since_last_audit"]
    assert not results["run-b"]["changed_since_last_audit"]


def test_share_covers_every_bag_in_n_runs_stalest_first(out: Path) -> None:
    seen: list[list[str]] = []
    for k in (1, 2, 3):
        code, summary = audit(out, "--share", f"{k}/3")
        assert code == 0 and summary["audited"] == 2  # ceil(4/3)
        seen.append(sorted(r["name"] for r in summary["results"]))
    assert seen[0] == ["run-a", "run-b"]  # never audited, ties by name
    assert seen[1] == ["run-c", "run-d"]  # the ones still never audited
    assert seen[2] == ["run-a", "run-b"]  # then the stalest
    assert set(seen[0] + seen[1] + seen[2]) == set(BAGS)


def test_rebuild_keeps_the_audit_history_byte_for_byte(out: Path, tmp_path: Path) -> None:
    audit(out)
    audit(out, "--share", "1/2")
    fresh = tmp_path / "fresh.sqlite"
    proc = archiver("catalog", "rebuild", str(out), "--catalog", str(fresh), env=_env())
    assert proc.returncode == 0, proc.stderr

    def lines(path: Path) -> list[str]:
        conn = sqlite3.connect(path)
        try:
            return list(dump(conn))
        finally:
            conn.close()

    incremental = lines(out / "catalog.sqlite")
    assert sum(line.startswith("audits ") for line in incremental) == 6
    assert lines(fresh) == incremental  # re-read from the `audited` custody events
    os.unlink(out / "custody-log.jsonl")  # even without the log, rebuilding in place keeps them
    proc = archiver("catalog", "rebuild", str(out), env=_env())
    assert proc.returncode == 0, proc.stderr
    assert lines(out / "catalog.sqlite") == incremental


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--share", "0/7"], "--share '0/7'"),
        (["--share", "8/7"], "--share '8/7'"),
        (["--share", "x"], "--share 'x'"),
        (["--expiring-within", "-1"], "--expiring-within"),
        (["--renew"], "--renew needs a TSA"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(out: Path, args: list[str], needle: str) -> None:
    proc = archiver("audit", str(out), *args, env=_env())
    assert proc.returncode == 2
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not audit_rows(out)  # nothing was audited or recorded


def test_missing_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = archiver("audit", str(tmp_path / "nowhere"), env=_env())
    assert proc.returncode == 2
    assert "nowhere: no such folder of bags" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# -- catalog schema 2: the forward migration ---------------------------------------------------


def _v1_catalog(path: Path, bags: list[Path]) -> None:
    """A catalog as schema version 1 made it: the same runs and captures tables, no audits."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(f"BEGIN; {catalog._SCHEMA} PRAGMA user_version = 1; COMMIT;")
        for bag in bags:
            catalog.add_bag(conn, bag)
    finally:
        conn.close()


def _lines(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(dump(conn))
    finally:
        conn.close()


def test_a_v1_catalog_is_migrated_in_place_and_keeps_its_answers(out: Path) -> None:
    v1 = out / "v1.sqlite"
    _v1_catalog(v1, [out / name for name in BAGS])
    before = _lines(v1)
    assert before[0] == "user_version 1"
    url = json.loads((out / "run-a" / "data" / "capture-log.jsonl").read_text().splitlines()[0])
    conn = sqlite3.connect(v1)
    answers = catalog.history(conn, url["url"])
    conn.close()

    proc = archiver("history", url["url"], "--json", "--catalog", str(v1), env=_env())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["captures"] == answers
    after = _lines(v1)
    assert after[0] == "user_version 2"
    assert after[1:] == before[1:]  # every v1 row as it was; the audits table is empty
    rebuilt = out / "rebuilt.sqlite"
    assert archiver("catalog", "rebuild", str(out), "--catalog", str(rebuilt)).returncode == 0
    assert _lines(rebuilt) == after  # a migrated catalog answers as a rebuilt one does

    code, summary = audit(out, "--catalog", str(v1))
    assert code == 0 and summary["audited"] == 4
    assert len(_lines(v1)) == len(after) + 4


def test_a_failed_migration_leaves_the_v1_catalog_untouched(out: Path) -> None:
    v1 = out / "v1.sqlite"
    _v1_catalog(v1, [out / "run-a"])
    conn = sqlite3.connect(v1, isolation_level=None)
    conn.execute("CREATE TABLE audits (x TEXT)")  # in the way of the migration's new table
    conn.close()
    before = v1.read_bytes()
    proc = archiver("audit", str(out), "--catalog", str(v1), env=_env())
    assert proc.returncode == 2
    assert "cannot migrate the catalog to schema version 2" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert v1.read_bytes() == before  # still version 1, every byte as it was


def test_a_wrecked_bag_keeps_twenty_error_lines_and_every_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store of badly damaged bags must not fill memory: error lines are capped per bag."""
    from types import SimpleNamespace

    from archiver.base.problems import Problem
    from archiver.keep import audit

    bag = tmp_path / "bag"
    bag.mkdir()
    problems = [Problem(f"code-{i % 3}", f"data/f{i}", "broken") for i in range(500)]
    report = SimpleNamespace(problems=problems, valid=False, provenance=None)
    monkeypatch.setattr(audit, "verify_bag", lambda *_a, **_k: report)
    from datetime import UTC, datetime

    result = audit.audit_one(bag, None, now=datetime.now(UTC), tsa_roots=[], expiring_within=1)
    assert len(result.details) == audit.MAX_DETAILS + 1
    assert result.details[-1].startswith("... and 480 more errors: run `archiver verify")
    assert result.problems == ["code-0", "code-1", "code-2"] and result.verdict == "invalid"
