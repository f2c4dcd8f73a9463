"""`archiver check WARC...`: the WARC checker as a verb, with verify's exit codes."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from archiver.warc.digest import label
from tests.helpers import DATA, archiver

WARCS = DATA / "warc"


def record(n: int, body: bytes) -> bytes:
    fields = [
        ("WARC-Type", "resource"),
        ("WARC-Record-ID", f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>"),
        ("WARC-Date", "2020-01-01T00:00:00Z"),
        ("WARC-Target-URI", f"http://example.org/{n}"),
        ("Content-Type", "text/plain"),
        ("WARC-Block-Digest", label("sha256", hashlib.sha256(body).digest())),
        ("Content-Length", str(len(body))),
    ]
    head = "".join(f"{k}: {v}\r\n" for k, v in fields).encode()
    return b"WARC/1.1\r\n" + head + b"\r\n" + body + b"\r\n\r\n"


def test_sound_files_exit_0_and_name_every_file() -> None:
    files = [WARCS / "warcio-example.warc.gz", WARCS / "pywb-example-wpull.warc.gz"]
    proc = archiver("check", *map(str, files))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("OK: ") == 2 and "Traceback" not in proc.stderr


def test_problems_exit_1_with_json() -> None:
    proc = archiver("check", "--json", str(WARCS / "warcio-example-trunc.warc"))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    (f,) = report["files"]
    assert report["valid"] is False and f["ok"] is False and f["records"] == 4
    assert {p["code"] for p in f["problems"]} >= {"warc-block-digest-mismatch", "warc-framing"}


def test_missing_folder_or_non_warc_exit_2(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a web archive\n")
    for target in (tmp_path / "absent.warc", tmp_path, text):
        proc = archiver("check", str(target))
        assert proc.returncode == 2, (target, proc.stdout, proc.stderr)
        assert "UNREADABLE" in proc.stdout and "Traceback" not in proc.stderr


def test_every_unreadable_record_is_reported_with_its_offset(tmp_path: Path) -> None:
    """A corrupt gzip member, then a record with no Content-Length, then sound records."""
    members = [gzip.compress(record(i, b"record %d\n" % i)) for i in range(5)]
    broken = bytearray(members[1])
    broken[len(broken) // 2] ^= 0xFF
    members[1] = bytes(broken)
    members[3] = gzip.compress(b"WARC/1.1\r\nWARC-Type: resource\r\n\r\nbody\r\n\r\n")
    offsets = [sum(len(m) for m in members[:i]) for i in range(5)]
    path = tmp_path / "damaged.warc.gz"
    path.write_bytes(b"".join(members))
    proc = archiver("check", "--json", str(path))
    assert proc.returncode == 1
    (f,) = json.loads(proc.stdout)["files"]
    messages = " | ".join(p["message"] for p in f["problems"])
    assert f"offset {offsets[1]}" in messages, messages
    assert f"offset {offsets[3]}" in messages, messages
    assert f["records"] >= 3  # records 0, 2 and 4 were read: reading never stopped


def test_arc_file_is_checked(tmp_path: Path) -> None:
    version = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n\n"
    head = f"filedesc://x.arc 0.0.0.0 20050614070144 text/plain {len(version)}\n".encode()
    body = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"
    rec = f"http://example.org/ 1.2.3.4 20050614070159 text/plain {len(body)}\n".encode()
    path = tmp_path / "x.arc.gz"
    path.write_bytes(gzip.compress(head + version + b"\n") + gzip.compress(rec + body + b"\n"))
    proc = archiver("check", str(path))
    assert proc.returncode == 0, proc.stdout
    assert "(ARC)" in proc.stdout and "2 records" in proc.stdout
