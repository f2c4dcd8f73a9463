"""Crash anywhere, run again, and the bag is complete: kill -9 at twenty points of `archiver run`.

Each test arms one fault point (``ARCHIVER_FAULT=POINT[:N]``, archiver/base/faults.py) so the run
SIGKILLs itself there, runs the same command again, and checks what a careful archivist would:
one bag, VALID for `archiver verify`, `bagit.py` and `warcio check`; every URL logged once; the
custody chain intact with each event once; nothing left beside the bag; and the re-run asked
the server only for what was not captured yet (counted on the server, never timed).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import bagit
import pytest
from warcio.checker import Checker

from archiver.attest import custody
from archiver.attest.keys import new_key_pair
from archiver.cli import main
from tests.helpers import archiver, capture_log
from tests.servers import TestServer
from tests.tsa import LocalTsa, start_tsa

CITED = ["/articles/one.html", "/doc.pdf", "/articles/two.html", "/cp1251.html"]

# (point, what it interrupts); POINT:N dies on the N-th pass.
POINTS = [
    ("warc.warcinfo-written", "capture: a WARC holds only its warcinfo"),
    ("warc.mid-record:4", "capture: a record cut off mid-block (.open file)"),
    ("warc.record-written:5", "capture: after a record, before its URL is journaled"),
    ("run.url-journaled:1", "capture: after the first URL is journaled"),
    ("run.url-journaled:3", "capture: after the third URL is journaled"),
    ("bag.mid-write.text:1", "cleaning: a text cut off mid-write"),
    ("bag.recorded.text:2", "cleaning: text and sidecar written, URL not journaled"),
    ("warc.closed", "capture end: WARC closed, digests not journaled"),
    ("run.capture-log-written", "after the capture log"),
    ("run.summary-written", "after the provenance summary"),
    ("seal.start", "seal: before any tag file"),
    ("seal.bag-info", "seal: after bag-info.txt"),
    ("seal.manifests", "seal: after the payload manifests"),
    ("seal.tag-manifests", "seal: after the tag manifests"),
    ("seal.before-rename", "seal: journal moved out, before the rename"),
    ("seal.renamed", "seal: renamed into place"),
    ("custody.appended:1", "custody: after 'captured'"),
    ("custody.appended:2", "custody: after 'sealed'"),
    ("timestamp.token-written:1", "timestamping: a token written, not indexed or recorded"),
    ("sign.signature-written", "signing: signature written, not timestamped or recorded"),
    ("custody.appended:4", "custody: after 'signed', before the bag's copy"),
    ("run.before-cleanup", "clean-up: everything done, state files still there"),
]


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    started = start_tsa(tmp_path_factory.mktemp("tsa"), "ec", "alpha")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pair = new_key_pair(tmp_path_factory.mktemp("keys"), "org")
    return pair.private_path, pair.public_path


def run_args(doc: Path, out: Path, tsa: LocalTsa, key: Path) -> list[str]:
    return [
        "run",
        str(doc),
        "--out",
        str(out),
        "--name",
        "bag",
        "--delay",
        "0",
        "--concurrency",
        "1",
        "--progress",
        "none",
        "--organisation",
        "Test NGO",
        "--tsa",
        f"{tsa.name}={tsa.url},{tsa.trust_file}",
        "--sign-key",
        str(key),
    ]


def in_process(*args: str) -> tuple[int, str]:
    """Run a quick checking command in this process (no interpreter start-up per check)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = main(list(args))
    return code, buf.getvalue()


def content_paths(server: TestServer) -> list[str]:
    return [p for p in server.stats.paths() if p != "/robots.txt"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", [p for p, _ in POINTS], ids=[p for p, _ in POINTS])
def test_kill_9_then_rerun_completes_the_bag(
    tmp_path: Path,
    make_server,  # noqa: ANN001 - fixture
    tsa: LocalTsa,
    key: tuple[Path, Path],
    point: str,
) -> None:
    server: TestServer = make_server()
    doc = tmp_path / "report.txt"
    doc.write_text("".join(f"Source {i}: {server.url(p)}\n" for i, p in enumerate(CITED)))
    out = tmp_path / "out"
    args = run_args(doc, out, tsa, key[0])

    first = archiver(*args, env={**os.environ, "ARCHIVER_FAULT": point})
    assert first.returncode == -signal.SIGKILL, (point, first.returncode, first.stderr)
    journal = out / ".bag.capture-log.jsonl"
    sealed_before = (out / "bag").is_dir()
    done_before = {
        urlsplit(json.loads(line)["url"]).path
        for line in (journal.read_bytes().split(b"\n")[:-1] if journal.exists() else [])
    }
    server.stats.reset()

    again = archiver(*args, env={k: v for k, v in os.environ.items() if k != "ARCHIVER_FAULT"})
    assert again.returncode == 0, again.stderr
    bag = out / "bag"
    assert again.stdout.strip().splitlines()[-1] == str(bag)

    # The re-run did only what was left: no URL captured before is asked for again, none twice.
    asked = content_paths(server)
    assert not set(asked) & done_before, (asked, done_before)
    assert all(n == 1 for n in Counter(asked).values()), asked
    if sealed_before or len(done_before) == len(CITED):
        assert server.stats.paths() == [], "nothing fetched again once everything was captured"

    # One bag (indexed in the catalog, docs/catalog.md), and nothing of the run's state left.
    assert sorted(p.name for p in out.iterdir()) == ["bag", "catalog.sqlite", "custody-log.jsonl"]
    leftovers = [
        p
        for p in bag.rglob("*")
        if p.name.endswith((".open", ".partial", ".lock", ".tmp")) or p.name.startswith(".")
    ]
    assert leftovers == []

    # Every URL exactly once in the capture log, each captured.
    log = capture_log(bag)
    assert sorted(urlsplit(e["url"]).path for e in log) == sorted(CITED)
    assert {e["outcome"] for e in log} == {"captured"}
    texts = [e["text"] for e in log]
    assert all(t and "path" in t for t in texts), texts

    # Valid for archiver (trusting the TSA root and the key given from outside), bagit, warcio.
    code, text = in_process(
        "verify", "--json", "--tsa-root", str(tsa.root), "--trusted-key", str(key[1]), str(bag)
    )
    report = json.loads(text)
    assert code == 0 and report["problems"] == [], report["problems"]
    assert {s["tsa"] for s in report["provenance"]["timestamps"] if s["ok"]} == {"alpha"}
    assert report["provenance"]["signed_by"].startswith("ed25519:")
    bagit.Bag(str(bag)).validate()
    warcs = sorted((bag / "data" / "warcs").glob("*.warc.gz"))
    assert warcs
    checker = Checker(type("Args", (), {"inputs": [str(w) for w in warcs], "verbose": False})())
    with contextlib.redirect_stdout(io.StringIO()):
        assert checker.process_all() == 0

    # Custody: chain intact, each of the run's events once, the bag's copy complete.
    clog = out / custody.LOG_NAME
    code, text = in_process("custody", "check", str(clog))
    assert code == 0 and "INTACT" in text, text
    events = [json.loads(line)["event"] for line in clog.read_text().splitlines()]
    assert events == ["captured", "sealed", "timestamped", "signed"], events
    copy = bag / "provenance-anchors" / "custody.jsonl"
    assert copy.read_bytes() == clog.read_bytes()
