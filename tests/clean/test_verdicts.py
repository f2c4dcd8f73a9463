"""`archiver clean` reads ARC files, and says so in the sidecar when a record's digests fail."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.clean.command import clean_warcs
from tests.warc.helpers import arc_bytes


@pytest.mark.parametrize("name", ["old.arc", "old.arc.gz"])
def test_arc_file_is_cleaned(tmp_path: Path, name: str) -> None:
    parts = arc_bytes()
    path = tmp_path / name
    path.write_bytes(
        b"".join(gzip.compress(p) for p in parts) if name.endswith(".gz") else b"".join(parts)
    )
    summary = clean_warcs([path], tmp_path / "out")
    assert summary.files_failed == 0 and summary.cleaned == 1, summary.to_dict()
    (text,) = (tmp_path / "out").glob("*.txt")
    assert "Press freedom in 2005" in text.read_text()
    sidecar = json.loads(text.with_suffix(".json").read_text())
    assert sidecar["source"]["target_uri"] == "http://example.org/"
    assert sidecar["source"]["warc_date"] == "2005-06-14T07:01:59Z"
    again = clean_warcs([path], tmp_path / "again")  # the made-up record ID is stable
    assert [o.text_name for o in again.outputs] == [o.text_name for o in summary.outputs]


def _html_warc(body: bytes) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    head = StatusAndHeaders(
        "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
    )
    writer.write_record(
        writer.create_warc_record(
            "http://example.org/a", "response", payload=io.BytesIO(body), http_headers=head
        )
    )
    return buf.getvalue()


def test_sidecar_says_when_the_record_digests_fail(tmp_path: Path) -> None:
    body = b"<html><body><main><h1>Detained</h1><p>" + b"Twelve journalists. " * 20
    body += b"</p></main></body></html>"
    good = tmp_path / "good.warc"
    good.write_bytes(_html_warc(body))
    bad = tmp_path / "bad.warc"
    bad.write_bytes(good.read_bytes().replace(b"Twelve", b"Twenty"))
    for path, expect_note in ((good, False), (bad, True)):
        out = tmp_path / f"out-{path.stem}"
        summary = clean_warcs([path], out)
        assert summary.cleaned == 1
        (sidecar,) = out.glob("*.json")
        notes = json.loads(sidecar.read_text())["notes"]
        assert any("does not match its bytes" in n for n in notes) is expect_note, notes
