"""Bounded cleaning: hostile payloads end within the memory and time caps, and the run goes on.

The hostile files are made here at test time (nothing big is committed): a PDF whose one
FlateDecode content stream inflates to 1 GiB (about 1 MB on the wire), a gzip-encoded HTML page
that inflates to 1 GiB, and a page of 200,000 nested ``<div>`` that holds text. Caps are set low
(300 MiB) so the tests finish quickly.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import threading
import zlib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.clean.html import extract_html
from archiver.clean.workers import (
    MEMORY_LIMIT,
    SIZE_LIMIT,
    TIME_LIMIT,
    WORKER_CRASHED,
    CleanJob,
    CleanLimits,
    CleanPool,
    parse_memory,
)
from tests.helpers import archiver, capture_log
from tests.servers import Served, Site, TestServer

GiB = 1024**3
TEST_LIMITS = ["--clean-memory", "300MiB", "--clean-timeout", "60", "--clean-workers", "2"]
DEEP_WORDS = "Witness statement recorded in the district court archive on the third day."


def _deflate_spaces(size: int, head: bytes = b"", wbits: int = 15) -> bytes:
    """``head`` then ``size`` spaces, compressed: 1 GiB of spaces is about 1 MB."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b" " * (1 << 20)
    parts = [c.compress(head)]
    parts.extend(c.compress(block) for _ in range(size // len(block)))
    parts.append(c.flush())
    return b"".join(parts)


def flate_bomb_pdf(size: int = GiB) -> bytes:
    """A valid one-page PDF whose content stream (FlateDecode) expands to ``size`` bytes."""
    stream = _deflate_spaces(size, b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET\n")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def gzip_bomb_html(size: int = GiB) -> bytes:
    """gzip Content-Encoding of an HTML page padded with ``size`` spaces."""
    return _deflate_spaces(size, b"<!DOCTYPE html><html><body><p>Bomb</p>", wbits=31)


def deep_html(depth: int = 200_000) -> bytes:
    """200,000 nested ``<div>`` around one paragraph of text (about 2 MB)."""
    return (
        "<!DOCTYPE html><html><head><title>Deep page</title></head><body>"
        + "<div>" * depth
        + f"<p>{DEEP_WORDS}</p>"
        + "</div>" * depth
        + "<p>Closing paragraph after the nested blocks.</p></body></html>"
    ).encode()


@pytest.fixture(scope="module")
def hostile_site() -> Site:
    site = Site()
    html = "text/html; charset=utf-8"
    bomb = gzip_bomb_html()
    site._paths.update(
        {
            "/bomb.pdf": Served(200, (("Content-Type", "application/pdf"),), flate_bomb_pdf(), b""),
            "/bomb.html": Served(
                200, (("Content-Type", html), ("Content-Encoding", "gzip")), bomb, b""
            ),
            "/deep.html": Served(200, (("Content-Type", html),), deep_html(), deep_html()),
        }
    )
    return site


# ---- the 200,000-deep page -------------------------------------------------------------------


def test_a_page_deeper_than_the_parser_limit_keeps_its_text() -> None:
    result = extract_html(deep_html().decode(), "http://example.org/deep.html")
    assert result.path == "deep-tree-fallback"
    assert DEEP_WORDS in result.text and "Closing paragraph" in result.text
    assert "Deep page" not in result.text  # the <title> is metadata, not body text
    assert result.metadata["title"] == "Deep page"
    assert any("parser's limit" in note for note in result.notes)


def test_ordinary_pages_do_not_take_the_deep_tree_path() -> None:
    page = "<html><body>" + "<div>" * 200 + f"<p>{DEEP_WORDS}</p>" + "</div>" * 200
    result = extract_html(page + "</body></html>", "http://example.org/")
    assert result.path != "deep-tree-fallback" and DEEP_WORDS in result.text


# ---- the worker pool --------------------------------------------------------------------------


def test_flate_bomb_pdf_stops_at_the_memory_cap_and_the_worker_is_replaced(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(flate_bomb_pdf())
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><body><p>" + DEEP_WORDS.encode() + b"</p></body></html>")
    with CleanPool(CleanLimits(memory=300 * 1024**2, timeout=120, workers=1)) as pool:
        result = pool.clean(CleanJob(str(bomb), "http://x/bomb.pdf", "application/pdf"))
        assert result.empty and result.kind == "pdf"
        assert (result.reason or "").startswith(f"{MEMORY_LIMIT}: ")
        assert "300 MiB" in (result.reason or "")
        after = pool.clean(CleanJob(str(page), "http://x/page.html", "text/html"))
        assert DEEP_WORDS in after.text  # a fresh worker took over


def test_time_cap_kills_a_stuck_worker_and_others_never_wait_on_it(tmp_path: Path) -> None:
    """A FIFO nobody writes to blocks the worker that opens it for as long as we like: a stuck
    payload without timing assumptions. The other worker keeps cleaning meanwhile (no lock)."""
    stuck = tmp_path / "stuck.html"
    os.mkfifo(stuck)
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><body><p>" + DEEP_WORDS.encode() + b"</p></body></html>")
    with CleanPool(CleanLimits(timeout=600, workers=2)) as pool:
        results = {}
        blocked = threading.Thread(
            target=lambda: results.update(stuck=pool.clean(CleanJob(str(stuck), "", "text/html")))
        )
        blocked.start()
        # While one worker is busy, another payload is cleaned at once.
        assert DEEP_WORDS in pool.clean(CleanJob(str(page), "", "text/html")).text
        assert "stuck" not in results
        with open(stuck, "wb") as writer:  # release it: it finishes with real text
            writer.write(page.read_bytes())
        blocked.join(60)
        assert DEEP_WORDS in results["stuck"].text

    fifo = tmp_path / "never.html"
    os.mkfifo(fifo)
    with CleanPool(CleanLimits(timeout=1, workers=1)) as pool:
        result = pool.clean(CleanJob(str(fifo), "", "text/html"))
        assert (result.reason or "").startswith(f"{TIME_LIMIT}: cleaning took longer than 1 s")
        assert DEEP_WORDS in pool.clean(CleanJob(str(page), "", "text/html")).text


def test_memory_sizes_parse() -> None:
    assert parse_memory("1GiB") == GiB
    assert parse_memory("300MiB") == parse_memory("300M") == 300 * 1024**2
    assert parse_memory("1073741824") == GiB
    with pytest.raises(ValueError):
        parse_memory("lots")


# ---- end to end: `archiver run` and `archiver clean` ------------------------------------------


def _sidecar(bag: Path, entry: dict) -> dict:
    return json.loads((bag / "data" / entry["text"]["sidecar"]).read_text("utf-8"))


def test_run_with_hostile_payloads_ends_within_caps_and_seals_a_valid_bag(
    hostile_site: Site, tmp_path: Path
) -> None:
    with TestServer("127.0.0.1", site=hostile_site) as server:
        doc = tmp_path / "sources.md"
        names = ("bomb.pdf", "bomb.html", "deep.html", "articles/one.html")
        doc.write_text("".join(f"- {server.url('/' + n)}\n" for n in names), encoding="utf-8")
        out = tmp_path / "out"
        proc = archiver(
            "run", str(doc), "--out", str(out), "--delay", "0", "--progress", "none", *TEST_LIMITS
        )
    assert proc.returncode == 0, proc.stderr
    bag = Path(proc.stdout.strip().splitlines()[-1])
    by_name = {e["url"].rsplit("/", 1)[-1]: e for e in capture_log(bag)}
    assert all(e["outcome"] == "captured" for e in by_name.values())

    pdf = by_name["bomb.pdf"]
    assert pdf["text"]["reason"] == MEMORY_LIMIT
    assert _sidecar(bag, pdf)["reason"].startswith(f"{MEMORY_LIMIT}: ")

    html = by_name["bomb.html"]
    assert html["text"]["reason"] == SIZE_LIMIT
    assert _sidecar(bag, html)["reason"].startswith(f"{SIZE_LIMIT}: ")

    deep = by_name["deep.html"]
    assert "reason" not in deep["text"]
    assert DEEP_WORDS in (bag / "data" / deep["text"]["path"]).read_text("utf-8")
    assert _sidecar(bag, deep)["extractor"]["path"] == "deep-tree-fallback"

    assert (
        "detained four journalists"
        in (bag / "data" / by_name["one.html"]["text"]["path"]).read_text()
    )
    verify = archiver("verify", str(bag))
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # `archiver clean` over the bag's WARCs reproduces every text and sidecar byte for byte,
    # the capped ones included, under the same caps.
    again = tmp_path / "again"
    warcs = sorted(str(p) for p in (bag / "data" / "warcs").glob("*.warc.gz"))
    proc = archiver("clean", *warcs, "--out", str(again), *TEST_LIMITS)
    assert proc.returncode == 0, proc.stderr
    for entry in by_name.values():
        for key in ("path", "sidecar"):
            name = Path(entry["text"][key]).name
            assert (again / name).read_bytes() == (bag / "data" / entry["text"][key]).read_bytes()


def test_clean_decodes_a_gzip_bomb_in_the_worker_within_the_limit(tmp_path: Path) -> None:
    """`archiver clean` hands the still-encoded body to the worker; it stops at the size limit."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = tmp_path / "bomb.warc.gz"
    body = gzip_bomb_html()
    with open(warc, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
            protocol="HTTP/1.1",
        )
        import io

        record = writer.create_warc_record(
            "http://example.org/bomb.html",
            "response",
            payload=io.BytesIO(body),
            http_headers=headers,
        )
        writer.write_record(record)
    with open(warc, "rb") as f:
        assert sum(1 for _ in ArchiveIterator(f)) == 1
    proc = archiver("clean", str(warc), "--out", str(tmp_path / "out"), *TEST_LIMITS)
    assert proc.returncode == 0, proc.stderr
    (sidecar,) = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert sidecar["reason"].startswith(f"{SIZE_LIMIT}: ")


def test_clean_failure_goes_to_stderr_only(tmp_path: Path) -> None:
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(gzip.compress(b"not a warc\n"))
    proc = archiver("clean", str(bad), "--out", str(tmp_path / "texts"))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "not a readable WARC" in proc.stderr and "cleaned 0 record(s)" in proc.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--clean-memory", "lots"), ("--clean-memory", "1MiB"), ("--clean-timeout", "0")],
)
def test_bad_clean_limits_are_one_line_errors(option: str, value: str, tmp_path: Path) -> None:
    proc = archiver("clean", str(tmp_path / "x.warc"), "--out", str(tmp_path), option, value)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and option in proc.stderr


def test_a_worker_that_crashes_costs_one_text_and_is_replaced(tmp_path: Path) -> None:
    stuck = tmp_path / "stuck.html"
    os.mkfifo(stuck)
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><body><p>" + DEEP_WORDS.encode() + b"</p></body></html>")
    with CleanPool(CleanLimits(timeout=600, workers=1)) as pool:
        results = {}
        blocked = threading.Thread(
            target=lambda: results.update(stuck=pool.clean(CleanJob(str(stuck), "", "text/html")))
        )
        blocked.start()
        with open(stuck, "wb"):  # opened once the worker is inside the job...
            (worker,) = pool._all
            os.kill(worker.proc.pid, signal.SIGSEGV)  # ...where a C library crashes
        blocked.join(60)
        reason = results["stuck"].reason or ""
        assert reason.startswith(f"{WORKER_CRASHED}: ") and "SIGSEGV" in reason
        assert DEEP_WORDS in pool.clean(CleanJob(str(page), "", "text/html")).text


def test_a_collection_file_cannot_set_the_cleaning_caps(tmp_path: Path) -> None:
    collection = tmp_path / "collection.toml"
    collection.write_text(
        '[collection]\nname = "c"\n\n[capture]\nclean_timeout = 100000\n\n'
        '[[url]]\nurl = "http://127.0.0.1:9/"\n',
        encoding="utf-8",
    )
    proc = archiver("run", str(collection), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "clean_timeout" in proc.stderr
