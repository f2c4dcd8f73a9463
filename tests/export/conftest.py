"""Bags made by the real CLI, shared by the export tests (each made once: a run takes seconds).

``run_bag``: for the replay and WACZ tests: pages, a redirect, an error page, a PDF, a
gzip-encoded and a chunked page, and two URLs that never answered. ``sealed_bag``: for the
hand-off tests: one captured page and one 404, with our identity from the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import archiver, capture_log
from tests.servers import TestServer, TLSFiles, closed_port


@dataclass
class RunBag:
    bag: Path
    urls: dict[str, str]
    entries: dict[str, dict[str, Any]]

    def entry(self, key: str) -> dict[str, Any]:
        return self.entries[self.urls[key]]


PAGES = {  # key -> path on the test server (see tests/servers.py Site)
    "article": "/articles/one.html",
    "redirect": "/redirect/301",
    "404": "/status/404",
    "chunked": "/chunked.html",
    "gzip": "/gzip.html",
    "pdf": "/doc.pdf",
}


@pytest.fixture(scope="session")
def run_bag(
    tmp_path_factory: pytest.TempPathFactory,
    http_server: TestServer,
    https_server: TestServer,
    tls_files: TLSFiles,
) -> RunBag:
    work = tmp_path_factory.mktemp("handoff-run")
    urls = {key: http_server.url(path) for key, path in PAGES.items()}
    urls["https"] = https_server.url("/articles/three.html")
    urls["refused"] = f"http://127.0.0.1:{closed_port()}/gone"
    urls["dns"] = "http://no-such-host.invalid/page"
    doc = work / "sources.md"
    doc.write_text("".join(f"- <{u}>\n" for u in urls.values()), encoding="utf-8")
    proc = archiver(
        "run", str(doc), "--out", str(work / "out"), "--delay", "0",
        "--ca-bundle", str(tls_files.ca_pem), "--progress", "plain",
        "--operator", "Test Operator", "--organisation", "Test NGO",
        "--contact-email", "archive@example.org", "--read-timeout", "5", "--name", "handoff",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bag = Path(proc.stdout.strip().splitlines()[-1])
    entries = {e["url"]: e for e in capture_log(bag)}
    assert json.dumps(entries)  # the log is plain JSON
    return RunBag(bag, urls, entries)


@pytest.fixture(scope="session")
def sealed_bag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sealed bag of one captured page and one 404, with our identity from the environment."""
    tmp = tmp_path_factory.mktemp("handoff")
    server = TestServer("127.0.0.1")
    try:
        doc = tmp / "doc.txt"
        doc.write_text(
            f"see {server.url('/articles/two.html')}\nand {server.url('/status/404')}\n", "utf-8"
        )
        proc = archiver(
            "run",
            str(doc),
            "--out",
            str(tmp / "runs"),
            "--delay",
            "0",
            "--name",
            "bag-1",
            "--progress",
            "none",
        )
        assert proc.returncode == 0, proc.stderr
        yield tmp / "runs" / "bag-1"
    finally:
        server.close()
