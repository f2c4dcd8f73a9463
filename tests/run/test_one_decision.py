"""`archiver run` and `archiver clean` agree on what is cleaned and how a body is decoded.

One run over a local server serving mislabelled PDFs (and, below, encoded and non-UTF-8
pages); each case failed while capture, run, crawl and clean each had their own copy.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import brotli
import pytest

from tests.helpers import archiver
from tests.servers import Served, TestServer, article_html, simple_pdf

PAGES = {
    "/x-pdf": (simple_pdf("Annex served as x-pdf"), "application/x-pdf"),
    "/octet.bin": (simple_pdf("Annex served as octet-stream"), "application/octet-stream"),
}


class Run:
    def __init__(self, bag: Path, server: TestServer, proc: subprocess.CompletedProcess[str]):
        self.bag = bag
        self.server = server
        self.proc = proc
        lines = (bag / "data" / "capture-log.jsonl").read_text("utf-8").splitlines()
        self.entries = [json.loads(line) for line in lines]
        self.by_url = {e["url"]: e for e in self.entries}

    def entry(self, path: str) -> dict[str, Any]:
        return self.by_url[self.server.url(path)]

    def text(self, path: str) -> str:
        text = self.entry(path)["text"]
        assert text and "path" in text, self.entry(path)
        return (self.bag / "data" / text["path"]).read_text("utf-8")


@pytest.fixture
def run(tmp_path: Path, make_server: Callable[..., TestServer]) -> Run:
    server = make_server()
    for path, (body, ctype) in PAGES.items():
        server.site.add_page(path, body, ctype)
    page = article_html("one")  # links to two.html, three.html and doc.pdf in its main text
    server.site._paths["/br/one.html"] = Served(
        200,
        (("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "br")),
        brotli.compress(page),
        page,
    )
    cyrillic = "/статья.html"  # linked only in windows-1251 bytes; the charset is in the header
    server.site.add_page(quote(cyrillic), article_html("two"))
    links = (
        f'<html><body><main><p>Источник: <a href="{cyrillic}">статья</a>.</p></main></body></html>'
    )
    server.site.add_page(
        "/cp1251-links.html", links.encode("cp1251"), "text/html; charset=windows-1251"
    )
    doc = tmp_path / "sources.md"
    doc.write_text("".join(f"- <{server.url(p)}>\n" for p in PAGES), encoding="utf-8")
    return _run(tmp_path, server, str(doc))


def _run(tmp_path: Path, server: TestServer, source: str) -> Run:
    proc = archiver(
        "run", source, "--out", str(tmp_path / "out"), "--delay", "0",
        "--progress", "none", "--name", "bag",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return Run(tmp_path / "out" / "bag", server, proc)


def test_run_cleans_a_pdf_labelled_x_pdf_or_octet_stream_as_clean_does(
    run: Run, tmp_path: Path
) -> None:
    assert "Annex served as x-pdf" in run.text("/x-pdf")
    assert "Annex served as octet-stream" in run.text("/octet.bin")
    warcs = sorted(str(p) for p in (run.bag / "data" / "warcs").glob("*.warc.gz"))
    out = tmp_path / "clean"
    proc = archiver("clean", *warcs, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for path in ("/x-pdf", "/octet.bin"):
        name = Path(run.entry(path)["text"]["path"]).name
        assert (out / name).read_text("utf-8") == run.text(path)


def test_a_brotli_page_is_cleaned_and_its_links_followed(run: Run, tmp_path: Path) -> None:
    hop = _run(tmp_path / "hop", run.server, run.server.url("/br/one.html"))
    assert "security forces detained four journalists" in hop.text("/br/one.html")
    for path in ("/articles/two.html", "/doc.pdf"):
        assert hop.entry(path)["hop"] == 1, sorted(hop.by_url)


def test_hop_links_are_decoded_with_the_http_charset(run: Run, tmp_path: Path) -> None:
    hop = _run(tmp_path / "hop", run.server, run.server.url("/cp1251-links.html"))
    entry = hop.entry(quote("/статья.html"))
    assert entry["outcome"] == "captured" and entry["hop"] == 1, sorted(hop.by_url)
    assert entry["citations"][0]["cited_as"] == run.server.url("/статья.html")
