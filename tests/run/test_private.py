"""`archiver run` refuses loopback by default; `--allow-private` lifts it and is recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from tests.helpers import archiver, capture_log
from tests.servers import TestServer


def env_without_opt_in() -> dict[str, str]:
    drop = ("archiver_allow_private", "http_proxy", "https_proxy", "all_proxy", "no_proxy")
    return {k: v for k, v in os.environ.items() if k.lower() not in drop}


def run(tmp_path: Path, url: str, *args: str) -> tuple[Any, Path]:
    proc = archiver(
        "run",
        url,
        "--out",
        str(tmp_path / "out"),
        "--name",
        "bag",
        "--delay",
        "0",
        "--hops",
        "0",
        "--progress",
        "none",
        *args,
        env=env_without_opt_in(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, tmp_path / "out" / "bag"


def warc_records(bag: Path) -> list[tuple[str, dict[str, str], bytes]]:
    out = []
    for path in sorted((bag / "data" / "warcs").glob("*.warc.gz")):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                out.append(
                    (rec.rec_type, dict(rec.rec_headers.headers), rec.content_stream().read())
                )
    return out


def test_run_refuses_loopback_by_default(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/articles/one.html")
    proc, bag = run(tmp_path, url)
    [entry] = capture_log(bag)
    assert entry["outcome"] == "blocked"
    assert entry["error"]["class"] == "private-address"
    assert server.stats.connections == 0
    records = warc_records(bag)
    warcinfo = next(body for kind, _, body in records if kind == "warcinfo").decode()
    assert "private-addresses: refused" in warcinfo
    assert '"allow_private":false' in warcinfo
    provenance = [
        json.loads(body)
        for kind, _, body in records
        if kind == "metadata" and b"capture-provenance" in body
    ]
    assert provenance and provenance[0]["private_addresses"].startswith("refused")
    assert provenance[0]["outcome"] == "blocked"
    assert archiver("verify", str(bag)).returncode == 0


def test_allow_private_option_lifts_it_and_is_recorded(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/articles/one.html")
    proc, bag = run(tmp_path, url, "--allow-private")
    [entry] = capture_log(bag)
    assert entry["outcome"] == "captured"
    assert "/articles/one.html" in server.stats.paths()
    records = warc_records(bag)
    warcinfo = next(body for kind, _, body in records if kind == "warcinfo").decode()
    assert "private-addresses: allowed" in warcinfo
    assert '"allow_private":true' in warcinfo
    provenance = [
        json.loads(body)
        for kind, _, body in records
        if kind == "metadata" and b"capture-provenance" in body
    ]
    assert provenance[0]["private_addresses"].startswith("allowed")
    assert provenance[0]["settings"]["allow_private"] is True
