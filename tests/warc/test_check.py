"""check_warc: real files from other tools, our own files, and files broken on purpose."""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections import Counter
from pathlib import Path

import pytest
from warcio.checker import Checker

from archiver.warc.check import check_warc
from archiver.warc.writer import NewRecord, WarcWriter
from tests.helpers import DATA

WARCS = DATA / "warc"

# Expected findings per fixture: {code: count}. Errors make a file fail; warnings do not.
EXPECTED: dict[str, tuple[bool, dict[str, int]]] = {
    # Good files. Two carry genuine (harmless) defects, reported as warnings:
    # - ArchiveWeb.page repeated the warcinfo record (same WARC-Record-ID) at the end of the file.
    "pywacz-example-iana-warc11-sha256.warc.gz": (True, {"warc-duplicate-record-id": 1}),
    "pywb-dupes.warc.gz": (True, {}),
    # - wget 1.14 gave two different resource records the same WARC-Record-ID.
    "pywb-example-wget-1-14.warc.gz": (True, {"warc-duplicate-record-id": 1}),
    "pywb-example-wpull.warc.gz": (True, {}),
    "pywb-example2-warcprox.warc.gz": (True, {}),
    # - This 2014 crawl stored 25 responses de-chunked but kept "Transfer-Encoding: chunked"
    #   (and "Content-Length: -1") in the HTTP headers; the digests match the stored bodies.
    "pywb-iana.warc.gz": (True, {"warc-chunked-header-unchunked-body": 25}),
    "warcio-example-resource.warc.gz": (True, {}),
    "warcio-example-wget-bad-target-uri.warc.gz": (True, {}),
    "warcio-example.warc.gz": (True, {}),
    "warcio-post-test.warc.gz": (True, {}),
    # The legacy chunked digest (over the raw chunked bytes) is a warning, not an error.
    "warcio-example-iana.org-chunked.warc": (True, {"warc-legacy-chunked-payload-digest": 1}),
    # Broken on purpose. The payload digest has a character outside base32 ("1112H3S6..."), and
    # the file repeats one request record four times under the same WARC-Record-ID.
    "warcio-example-digest-bad.warc": (
        False,
        {"warc-unreadable-digest": 1, "warc-duplicate-record-id": 3},
    ),
    # The response's Content-Length runs past its real end: its digests fail and the framing
    # breaks; the checker resumes at the next record.
    "warcio-example-trunc.warc": (
        False,
        {
            "warc-block-digest-mismatch": 1,
            "warc-payload-digest-mismatch": 1,
            "warc-framing": 2,
        },
    ),
}


def test_expectation_table_covers_every_fixture():
    assert set(EXPECTED) == {p.name for p in WARCS.iterdir() if ".warc" in p.name}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_findings(name):
    ok, codes = EXPECTED[name]
    result = check_warc(WARCS / name, display_path=f"warcs/{name}")
    assert Counter(p.code for p in result.problems) == Counter(codes)
    assert result.ok is ok
    assert all(p.path == f"warcs/{name}" for p in result.problems)
    assert result.records > 0


def test_record_counts_and_index_of_a_known_file():
    result = check_warc(WARCS / "pywb-iana.warc.gz")
    assert result.records == 343
    offset, rtype, uri, sha, status = result.index[
        "<urn:uuid:4eec4942-a541-410a-99f4-50de39b62118>"
    ]
    assert status == 200
    assert (offset, rtype, uri) == (334, "response", "http://www.iana.org/")
    assert sha is not None and len(sha) == 64


def test_trunc_fixture_names_the_broken_record():
    result = check_warc(WARCS / "warcio-example-trunc.warc")
    bad = [p for p in result.problems if p.code == "warc-block-digest-mismatch"]
    assert "<urn:uuid:a9c51e3e-0221-11e7-bf66-0242ac120005>" in bad[0].message
    assert "offset 1197" in bad[0].message


# -- our own files --------------------------------------------------------------------------


def write_sample(tmp_path: Path) -> tuple[Path, list]:
    closed: list = []
    w = WarcWriter(
        tmp_path / "w",
        prefix="CHK",
        hostname="h",
        warcinfo={"software": "test"},
        on_file_closed=lambda p, d: closed.append(p),
    )
    refs = []
    for i in range(3):
        body = (f"<html>page {i} ".encode() + bytes(range(256))) * 50
        if i == 1:  # chunked
            resp_body = b"".join(
                b"%x\r\n" % len(body[j : j + 999]) + body[j : j + 999] + b"\r\n"
                for j in range(0, len(body), 999)
            )
            block = (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + resp_body + b"0\r\n\r\n"
            )
        else:
            block = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        refs += w.write(
            [
                NewRecord(
                    "response",
                    f"http://example.org/{i}",
                    "application/http;msgtype=response",
                    block,
                    len(block),
                    http_payload=True,
                )
            ]
        )
    w.close()
    return closed[0], refs


def test_our_files_are_clean_and_indexed(tmp_path, capsys):
    path, refs = write_sample(tmp_path)
    result = check_warc(path)
    assert result.problems == [] and result.records == 4
    for i, ref in enumerate(refs):
        entry = result.index[ref.record_id]
        body = (f"<html>page {i} ".encode() + bytes(range(256))) * 50
        assert entry == (
            ref.offset,
            "response",
            f"http://example.org/{i}",
            hashlib.sha256(body).hexdigest(),
            200,
        )
    # warcio's checker gets the chunked record wrong: it hashes the raw chunked bytes
    checker = Checker(type("Args", (), {"inputs": [str(path)], "verbose": True})())
    assert checker.process_all() == 1
    assert "payload digest failed" in capsys.readouterr().out


@pytest.mark.parametrize("where", [0.3, 0.6, 0.9])
def test_flipped_byte_in_gzip_member_names_the_record(tmp_path, where):
    path, refs = write_sample(tmp_path)
    data = bytearray(path.read_bytes())
    target = refs[1]
    data[target.offset + int(target.length * where)] ^= 0x01
    path.write_bytes(bytes(data))
    result = check_warc(path)
    assert not result.ok
    assert any(
        target.record_id in p.message or f"offset {target.offset}" in p.message
        for p in result.problems
    )
    # the records after the broken one are still checked
    assert refs[2].record_id in result.index


def test_flipped_byte_in_plain_warc_is_a_block_digest_mismatch(tmp_path):
    path, refs = write_sample(tmp_path)
    plain = tmp_path / "plain.warc"
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    data = bytearray(plain.read_bytes())
    i = data.index(b"<html>page 2 ")
    data[i + 1] ^= 0x20  # "<html>" -> "<Html>"
    plain.write_bytes(bytes(data))
    result = check_warc(plain)
    assert Counter(p.code for p in result.problems) == Counter(
        {"warc-block-digest-mismatch": 1, "warc-payload-digest-mismatch": 1}
    )
    assert all(refs[2].record_id in p.message for p in result.problems)


def test_truncated_file(tmp_path):
    path, refs = write_sample(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: refs[2].offset + refs[2].length - 10])
    result = check_warc(path)
    assert [p.code for p in result.problems] == ["warc-truncated-file"]
    assert result.records == 4  # the header of the last record was still readable
    plain = tmp_path / "plain.warc"
    plain.write_bytes(gzip.decompress(data)[:-100])
    result = check_warc(plain)
    assert [p.code for p in result.problems] == ["warc-truncated-file"]
    assert refs[2].record_id in result.problems[0].message


def test_never_crashes_on_any_cut_or_flip(tmp_path):
    path, refs = write_sample(tmp_path)
    # gzip's MTIME/XFL/OS header bytes are not covered by its CRC: a flip there changes nothing
    unchecked = {start + i for start in [0] + [r.offset for r in refs] for i in range(4, 10)}
    data = path.read_bytes()
    broken = tmp_path / "broken.warc.gz"
    for cut in range(1, len(data), 97):
        broken.write_bytes(data[:cut])
        result = check_warc(broken)
        assert not result.ok and all("checking stopped" not in p.message for p in result.problems)
    for pos in range(0, len(data), 89):
        if pos in unchecked:
            continue
        flipped = bytearray(data)
        flipped[pos] ^= 0xFF
        broken.write_bytes(bytes(flipped))
        result = check_warc(broken)
        assert not result.ok, pos
        assert all(p.code != "warc-check-error" for p in result.problems)


def _plain_record(rtype: str, headers: list[tuple[str, str]], block: bytes) -> bytes:
    lines = [f"WARC-Type: {rtype}", "WARC-Date: 2026-11-20T23:41:05Z"]
    lines += [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {len(block)}"]
    return b"WARC/1.0\r\n" + "\r\n".join(lines).encode() + b"\r\n\r\n" + block + b"\r\n\r\n"


def _forms(algo: str, data: bytes) -> list[str]:
    raw = hashlib.new(algo, data).digest()
    return [
        f"{algo}:{base64.b32encode(raw).decode()}",
        f"{algo}:{raw.hex()}",
        f"{algo}:{base64.b64encode(raw).decode()}",
    ]


@pytest.mark.parametrize("algo", ["sha1", "sha256", "sha512"])
def test_digest_algorithms_and_encodings(tmp_path, algo):
    block = b"some resource bytes\n" * 10
    good = b""
    for i, form in enumerate(_forms(algo, block)):
        good += _plain_record(
            "resource",
            [
                ("WARC-Record-ID", f"<urn:uuid:00000000-0000-4000-8000-00000000000{i}>"),
                ("WARC-Target-URI", "urn:x:r"),
                ("WARC-Block-Digest", form),
                ("WARC-Payload-Digest", form),
            ],
            block,
        )
    path = tmp_path / "forms.warc"
    path.write_bytes(good)
    assert check_warc(path).problems == []
    wrong = _forms(algo, block + b"!")[1]
    path.write_bytes(
        good
        + _plain_record(
            "resource",
            [("WARC-Target-URI", "urn:x:r"), ("WARC-Block-Digest", wrong)],
            block,
        )
    )
    result = check_warc(path)
    assert Counter(p.code for p in result.problems) == Counter(
        {"warc-missing-record-id": 1, "warc-block-digest-mismatch": 1}
    )


def test_not_a_warc_and_empty_file(tmp_path):
    p = tmp_path / "x.warc.gz"
    p.write_bytes(b"")
    assert [x.code for x in check_warc(p).problems] == ["warc-empty"]
    p.write_bytes(b"<html>not a warc</html>\n")
    result = check_warc(p)
    assert [x.code for x in result.problems] == ["warc-framing"] and not result.ok
    result = check_warc(tmp_path / "missing.warc.gz")
    assert [x.code for x in result.problems] == ["warc-unreadable"]


def test_missing_digests_are_flagged_when_required(tmp_path):
    """Archiver's own WARCs always carry digests: a record without one is worth a warning."""
    result = check_warc(WARCS / "pywb-dupes.warc.gz", require_digests=True)
    missing = [p for p in result.problems if p.code == "warc-digest-missing"]
    assert missing and all(p.severity == "warning" for p in missing)
    assert result.ok
