"""Shared by the capture tests: run a crawl into a real WARC and read what it logged."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.base.settings import Settings
from archiver.capture.crawl import CaptureResult, Seed, crawl
from archiver.warc.writer import WarcWriter
from tests.helpers import REPO

SCHEMA = REPO / "manifests" / "capture-log.schema.json"


def b32(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


@dataclass
class Run:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    payloads: dict[str, bytes] = field(default_factory=dict)  # copied during the callback
    results: list[CaptureResult] = field(default_factory=list)
    warcs: list[Path] = field(default_factory=list)
    stats: Any = None

    def records(self) -> list[Any]:
        """(headers dict, content-stream bytes, record type) for every record, in order."""
        out = []
        for path in self.warcs:
            with open(path, "rb") as f:
                for rec in ArchiveIterator(f):
                    headers = dict(rec.rec_headers.headers)
                    out.append((headers, rec.content_stream().read(), rec.rec_type))
        return out

    def by_id(self) -> dict[str, tuple[dict[str, str], bytes, str]]:
        return {h["WARC-Record-ID"]: (h, body, t) for h, body, t in self.records()}


def block_at(warc: Path, offset: int, length: int) -> bytes:
    """The raw record block (after the WARC headers) of the gzip member at ``offset``."""
    with open(warc, "rb") as f:
        f.seek(offset)
        member = zlib.decompress(f.read(length), 31)
    head, _, rest = member.partition(b"\r\n\r\n")
    assert rest.endswith(b"\r\n\r\n")
    return rest[:-4]


def ref(entry: dict[str, Any], kind: str, url: str | None = None) -> dict[str, Any]:
    """The entry's record of ``kind`` for ``url`` (default: the entry's final URL)."""
    target = url or entry["final_url"] or entry["url"]
    return next(r for r in entry["records"] if r["type"] == kind and r["target_uri"] == target)


def run_crawl(
    tmp_path: Path,
    seeds: Iterable[Seed],
    on_result: Callable[[CaptureResult], None] | None = None,
    **overrides: Any,
) -> Run:
    opts: dict[str, Any] = dict(
        per_host_delay=0.0,
        read_timeout=5.0,
        connect_timeout=5.0,
        max_time_per_url=20.0,
        concurrency=4,
        allow_private=True,  # the test servers listen on 127.0.0.1
    )
    stop = overrides.pop("stop", None)
    skip = overrides.pop("skip", frozenset())
    policy = overrides.pop("policy", None)
    opts.update(overrides)
    settings = Settings(**opts)
    run = Run()
    lock = threading.Lock()
    out = tmp_path / "warcs"

    def collect(result: CaptureResult) -> None:
        with lock:
            run.entries[result.entry.url] = result.entry.to_json()
            run.results.append(result)
            if result.payload_path is not None:
                run.payloads[result.entry.url] = Path(result.payload_path).read_bytes()
        if on_result is not None:
            on_result(result)

    writer = WarcWriter(out, prefix="TEST", hostname="test", warcinfo={"operator": "tests"})
    try:
        run.stats = crawl(
            list(seeds), settings, writer, collect, stop=stop, skip=skip, policy=policy
        )
    finally:
        writer.close()
    run.warcs = list(writer.closed_files)
    return run


def assert_valid_entry(entry: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    assert not list(validator.iter_errors(entry)), list(validator.iter_errors(entry))


def entry(url: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "url": url,
        "citations": [],
        "hop": 0,
        "via": None,
        "outcome": "captured",
        "status": 200,
        "final_url": url,
        "redirects": [],
        "error": None,
        "robots": None,
        "ip": None,
        "resolved_by": "client",
        "proxy": None,
        "dns": None,
        "tls": None,
        "provenance_record": None,
        "content_type": "text/html",
        "payload_size": 10,
        "truncated": None,
        "started": "2026-11-20T00:00:00.000000Z",
        "ended": "2026-11-20T00:00:01.000000Z",
        "records": [
            {
                "warc_file": "a.warc.gz",
                "record_id": f"<urn:uuid:{url[-1]}>",
                "type": "response",
                "offset": 100,
                "length": 50,
                "target_uri": url,
            },
        ],
        "payload_sha256": "ab" * 32,
        "text": None,
    }
    base.update(extra)
    return base
