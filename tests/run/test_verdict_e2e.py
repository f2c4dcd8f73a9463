"""A run with every awkward outcome at once seals a bag that `archiver verify` calls VALID.

Each origin is its own server, so the robots-blocked, timed-out and cut-off URLs are the first
fetched on their site: their capture-log entries then carry that site's robots.txt records,
which is what the verify cross-check once mistook for the page's own response. One cited URL
is 100 KB long, so its WARC-Target-URI header line is longer than 64 KiB. The run is made once
directly and once through an HTTP proxy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import archiver, capture_log
from tests.servers import ForwardingProxy, TestServer, TLSFiles

LONG = "x" * 100_000


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
    }
    env["ARCHIVER_ALLOW_PRIVATE"] = "1"
    return env


def _run(tmp_path: Path, urls: dict[str, str], tls: TLSFiles, *extra: str) -> Path:
    doc = tmp_path / "cited.txt"
    doc.write_text("".join(f"Source {k}: {u}\n" for k, u in urls.items()), encoding="utf-8")
    out = tmp_path / "out"
    proc = archiver(
        "run",
        str(doc),
        "--out",
        str(out),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "bag",
        "--connect-timeout",
        "3",
        "--read-timeout",
        "1.5",
        "--ca-bundle",
        str(tls.ca_pem),
        *extra,
        timeout=180,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    return out / "bag"


@pytest.fixture
def sites(make_server) -> dict[str, str]:  # noqa: ANN001
    blocked: TestServer = make_server()
    slow: TestServer = make_server()
    cut: TestServer = make_server()
    main: TestServer = make_server()
    secure: TestServer = make_server(tls=True)
    return {
        "blocked": blocked.url("/private/secret.html"),
        "timeout": slow.url("/slow?s=4"),
        "cut": cut.url("/close-early"),
        "redirect": main.url("/redirect/301"),
        "article": main.url("/articles/two.html"),
        "long": secure.url(f"/articles/one.html?q={LONG}"),
        "secure": secure.url("/articles/three.html"),
    }


def _check(bag: Path, urls: dict[str, str]) -> dict[str, Any]:
    log = {e["url"]: e for e in capture_log(bag)}
    assert log[urls["blocked"]]["outcome"] == "blocked"
    assert log[urls["blocked"]]["records"], "the blocked entry carries its site's robots.txt"
    assert log[urls["timeout"]]["outcome"] == "failed"
    assert log[urls["timeout"]]["records"], "the timed-out entry carries its site's robots.txt"
    cut = log[urls["cut"]]
    assert cut["truncated"] or cut["outcome"] == "failed", cut  # kept as evidence, marked cut
    assert log[urls["redirect"]]["final_url"] == urls["redirect"].replace(
        "/redirect/301", "/articles/one.html"
    )
    assert log[urls["article"]]["outcome"] == "captured"
    assert log[urls["long"]]["records"], "the 100 KB URL was fetched and recorded"
    assert log[urls["secure"]]["outcome"] == "captured"
    proc = archiver("verify", "--json", str(bag))
    report = json.loads(proc.stdout)
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert proc.returncode == 0, errors
    assert report["valid"] is True
    return report


def test_awkward_run_verifies_valid(tmp_path: Path, sites: dict[str, str], tls_files) -> None:  # noqa: ANN001
    bag = _run(tmp_path, sites, tls_files)
    report = _check(bag, sites)
    assert report["warc_records"] > 10


def test_awkward_run_through_a_proxy_verifies_valid(
    tmp_path: Path,
    sites: dict[str, str],
    tls_files: TLSFiles,
) -> None:
    proxy = ForwardingProxy()
    try:
        bag = _run(tmp_path, sites, tls_files, "--proxy", proxy.url)
        assert proxy.forwarded or proxy.connects, "the run went through the proxy"
        _check(bag, sites)
    finally:
        proxy.close()
