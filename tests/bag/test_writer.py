"""BagBuilder: staging, hash-while-writing, sealing, refusal rules, crash safety and resume."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import bagit
import pytest

from archiver.bag.validate import validate_bag
from archiver.bag.writer import JOURNAL_NAME, BagBuilder
from archiver.base.errors import ArchiverError
from archiver.base.hashing import HashingWriter, hash_file
from tests.helpers import REPO

INFO = [("Source-Organization", "Example Org"), ("Contact-Name", "A. Person")]


def build(path: Path, files: dict[str, bytes] | None = None) -> Path:
    files = (
        files
        if files is not None
        else {
            "capture-log.jsonl": b'{"url": "https://example.org/"}\n',
            "text/abc.txt": "caf\u00e9 text\n".encode(),
            "sources/My File (1).pdf": b"%PDF-1.4 " + bytes(range(256)) * 40,
            "\u00e9t\u00e9/\u6587\u4ef6.txt": b"unicode names",
        }
    )
    b = BagBuilder(path)
    for rel, data in files.items():
        with b.open_payload(rel) as w:
            w.write(data)
    return b.seal(INFO)


def test_layout_and_tag_files(tmp_path: Path) -> None:
    bag = build(tmp_path / "out" / "run-1")
    assert sorted(os.listdir(bag)) == [
        "bag-info.txt",
        "bagit.txt",
        "data",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "tagmanifest-sha256.txt",
        "tagmanifest-sha512.txt",
    ]
    assert (bag / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    info = (bag / "bag-info.txt").read_text().splitlines()
    assert info[:2] == ["Source-Organization: Example Org", "Contact-Name: A. Person"]
    assert info[2].startswith("Bagging-Date: ") and info[3].startswith("Bag-Software-Agent: ")
    size = sum(p.stat().st_size for p in (bag / "data").rglob("*") if p.is_file())
    assert info[4] == f"Payload-Oxum: {size}.4"
    manifest = (bag / "manifest-sha256.txt").read_bytes()
    assert not manifest.startswith(b"\xef\xbb\xbf") and b"\r" not in manifest
    paths = [line.split("  ", 1)[1] for line in manifest.decode().splitlines()]
    assert paths == sorted(paths) and "data/sources/My File (1).pdf" in paths
    tags = (bag / "tagmanifest-sha512.txt").read_text()
    assert "manifest-sha256.txt" in tags and "tagmanifest" not in tags
    assert not (tmp_path / "out" / ".run-1.partial").exists()
    assert not list((tmp_path / "out").glob(".*journal*"))
    assert not (bag / JOURNAL_NAME).exists()
    report = validate_bag(bag)
    assert report.valid and not report.problems, [str(p) for p in report.problems]


def test_bagit_python_accepts_our_bag(tmp_path: Path) -> None:
    bag = build(tmp_path / "bag")
    bagit.Bag(str(bag)).validate()  # raises BagValidationError if not valid
    cmd = [shutil.which("bagit.py") or "", "--validate", str(bag)]
    if not cmd[0]:
        cmd = [sys.executable, "-m", "bagit", "--validate", str(bag)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_percent_and_newline_names_round_trip(tmp_path: Path) -> None:
    bag = build(tmp_path / "bag", {"100%.txt": b"a", "two\nlines.txt": b"b", "x%0A": b"c"})
    text = (bag / "manifest-sha256.txt").read_text()
    assert "data/100%25.txt" in text and "data/two%0Alines.txt" in text and "data/x%250A" in text
    assert validate_bag(bag).valid


def test_add_payload_file_and_record_payload(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    b = BagBuilder(tmp_path / "bag")
    digests = b.add_payload_file("sources/src.bin", src)
    assert digests == hash_file(src)
    (b.data / "warcs").mkdir()
    w = HashingWriter(b.data / "warcs" / "A.warc.gz")
    w.write(b"WARC/1.1\r\n")
    b.record_payload(b.data / "warcs" / "A.warc.gz", w.close())  # absolute path form
    bag = b.seal(INFO)
    assert (bag / "data" / "sources" / "src.bin").read_bytes() == src.read_bytes()
    assert validate_bag(bag).valid


def test_refusals(tmp_path: Path) -> None:
    b = BagBuilder(tmp_path / "bag")
    for bad in ["../x", "/abs", "a/../b", "a\\b", "a\x00b", "", "a//b", "./a", "C:/x", "dir/"]:
        with pytest.raises(ArchiverError):
            b.open_payload(bad)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    (tmp_path / "target").write_bytes(b"t")
    with pytest.raises(ArchiverError, match="symbolic link"):
        b.add_payload_file("l", link)
    with pytest.raises(ArchiverError, match="not a regular file"):
        b.add_payload_file("d", tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ArchiverError, match="not a regular file"):
        b.add_payload_file("f", fifo)
    with pytest.raises(ArchiverError, match="not a regular file"):
        b.add_payload_file("f", Path("/dev/null"))
    assert b.unrecorded_files() == [] and b.recorded == frozenset()
    with b.open_payload("a.txt") as w:
        w.write(b"a")
    with pytest.raises(ArchiverError, match="already in the bag"):
        b.open_payload("a.txt")
    (b.data / "rec.txt").write_bytes(b"12345")
    with pytest.raises(ArchiverError, match="5 bytes|regular file of"):
        b.record_payload("rec.txt", hash_file(b.data / "a.txt"))
    with pytest.raises(ArchiverError, match="computed by the bag writer"):
        b.seal([("Payload-Oxum", "1.1")])
    with pytest.raises(ArchiverError, match="label"):
        b.seal([("Bad: label", "x")])
    (b.data / "rec.txt").unlink()
    (b.data / "sneaky").symlink_to(tmp_path / "target")
    with pytest.raises(ArchiverError, match="symlink"):
        b.seal(INFO)
    (b.data / "sneaky").unlink()
    bag = b.seal(INFO)
    with pytest.raises(ArchiverError, match="sealed"):
        b.open_payload("late.txt")
    with pytest.raises(ArchiverError, match="already exists"):
        BagBuilder(bag)
    assert validate_bag(bag).valid


def test_refuses_existing_staging_and_existing_final(tmp_path: Path) -> None:
    BagBuilder(tmp_path / "bag")
    with pytest.raises(ArchiverError, match="resume"):
        BagBuilder(tmp_path / "bag")
    b2 = BagBuilder(tmp_path / "other")
    (tmp_path / "other").mkdir()  # someone else created the final name meanwhile
    with pytest.raises(ArchiverError, match="never overwritten|appeared"):
        b2.seal(INFO)
    assert list((tmp_path / "other").iterdir()) == []


def test_exception_midway_leaves_no_bag_and_resume_completes(tmp_path: Path) -> None:
    final = tmp_path / "bag"
    b = BagBuilder(final)
    with b.open_payload("one.txt") as w:
        w.write(b"one")
    with pytest.raises(RuntimeError), b.open_payload("two.txt") as w:
        w.write(b"half")
        raise RuntimeError("network died")
    assert not final.exists()
    assert not (b.data / "two.txt").exists()  # the half-written file is dropped
    del b
    r = BagBuilder.resume(final)
    assert set(r.recorded) == {"one.txt"} and r.unrecorded_files() == [] and r.lost == []
    with r.open_payload("two.txt") as w:
        w.write(b"two, complete")
    bag = r.seal(INFO)
    assert validate_bag(bag).valid
    assert (bag / "data" / "two.txt").read_bytes() == b"two, complete"


def test_crash_in_another_process_then_resume(tmp_path: Path) -> None:
    """A process killed mid-write (no cleanup at all) leaves a resumable staging folder."""
    final = tmp_path / "bag"
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from archiver.bag.writer import BagBuilder
        b = BagBuilder({str(final)!r})
        for i in range(3):
            with b.open_payload(f"warcs/{{i}}.bin") as w:
                w.write(bytes([i]) * 100_000)
        w = b.open_payload("warcs/partial.bin")
        w.write(b"cut off")
        w.flush()
        os._exit(9)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert done.returncode == 9
    assert not final.exists()
    r = BagBuilder.resume(final)
    assert sorted(r.recorded) == [f"warcs/{i}.bin" for i in range(3)]
    assert r.unrecorded_files() == ["warcs/partial.bin"]
    with pytest.raises(ArchiverError, match="never recorded"):
        r.seal(INFO)
    r.discard("warcs/partial.bin")
    bag = r.seal(INFO)
    report = validate_bag(bag)
    assert report.valid and report.files_checked == 3 + 4
    assert "Payload-Oxum: 300000.3" in (bag / "bag-info.txt").read_text()


def test_crash_during_seal_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / "bag"
    b = BagBuilder(final)
    with b.open_payload("a.txt") as w:
        w.write(b"a")
    real_rename = os.rename

    def failing_rename(src, dst):  # type: ignore[no-untyped-def]
        if Path(dst) == final:
            raise OSError(5, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError):
        b.seal(INFO)
    monkeypatch.undo()
    assert not final.exists() and b.staging.exists()
    r = BagBuilder.resume(final)  # the journal had been moved beside the staging folder
    assert set(r.recorded) == {"a.txt"}
    bag = r.seal(INFO)
    assert validate_bag(bag).valid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag"]


def test_resume_drops_changed_files(tmp_path: Path) -> None:
    final = tmp_path / "bag"
    b = BagBuilder(final)
    for name in ("a.txt", "b.txt"):
        with b.open_payload(name) as w:
            w.write(name.encode())
    (b.data / "b.txt").write_bytes(b"truncated!")  # different size from the journal
    r = BagBuilder.resume(final)
    assert r.lost == ["b.txt"] and set(r.recorded) == {"a.txt"}
    assert r.unrecorded_files() == ["b.txt"]
    r.adopt_existing("b.txt")
    assert validate_bag(r.seal(INFO)).valid


def test_resume_without_staging_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiverError, match="no unfinished bag") as info:
        BagBuilder.resume(tmp_path / "nothing")
    assert "\n" not in str(info.value)


def test_threads_write_concurrently(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    b = BagBuilder(tmp_path / "bag")

    def write(i: int) -> None:
        with b.open_payload(f"t/{i}.txt") as w:
            w.write(f"payload {i}".encode() * 100)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(40)))
    bag = b.seal(INFO)
    assert len((bag / "manifest-sha512.txt").read_text().splitlines()) == 40
    assert validate_bag(bag).valid


def test_tampering_is_reported_per_file(tmp_path: Path) -> None:
    files = {f"f{i}.txt": f"content {i}\n".encode() * 50 for i in range(6)}
    bag = build(tmp_path / "bag", files)
    assert validate_bag(bag).valid

    flipped = bag / "data" / "f1.txt"
    data = bytearray(flipped.read_bytes())
    data[10] ^= 0x01
    flipped.write_bytes(bytes(data))
    (bag / "data" / "f2.txt").unlink()
    (bag / "data" / "added.txt").write_bytes(b"new")
    manifest = bag / "manifest-sha256.txt"
    lines = manifest.read_text().splitlines(True)
    idx = next(i for i, line in enumerate(lines) if line.endswith("data/f3.txt\n"))
    lines[idx] = "0" * 64 + lines[idx][64:]
    manifest.write_text("".join(lines))

    report = validate_bag(bag)
    got = {(p.code, p.path) for p in report.errors}
    assert ("payload-checksum-mismatch", "data/f1.txt") in got
    assert ("payload-file-missing", "data/f2.txt") in got
    assert ("payload-file-unlisted", "data/added.txt") in got
    assert ("payload-checksum-mismatch", "data/f3.txt") in got
    assert ("tag-checksum-mismatch", "manifest-sha256.txt") in got
    assert ("payload-oxum-mismatch", "bag-info.txt") in got
    f1 = [p for p in report.errors if p.path == "data/f1.txt"]
    assert len(f1) == 2  # one per algorithm
    f3 = [p for p in report.errors if p.path == "data/f3.txt"]
    assert len(f3) == 1 and "sha256" in f3[0].message  # sha512 still matches
    untouched = {f"data/f{i}.txt" for i in (0, 4, 5)}
    assert not untouched & {p.path for p in report.problems}


def test_extra_tag_file_is_covered_by_tagmanifests(tmp_path: Path) -> None:
    b = BagBuilder(tmp_path / "bag")
    with b.open_payload("a.txt") as w:
        w.write(b"a")
    (b.staging / "meta").mkdir()
    (b.staging / "meta" / "premis.xml").write_bytes(b"<premis/>")
    bag = b.seal(INFO)
    for alg in ("sha256", "sha512"):
        assert "  meta/premis.xml\n" in (bag / f"tagmanifest-{alg}.txt").read_text()
    report = validate_bag(bag)
    assert report.valid and not report.problems


def test_resume_before_anything_was_written(tmp_path: Path) -> None:
    """A crash right after the staging folder was made leaves nothing to lose: resume works."""
    final = tmp_path / "bag"
    (tmp_path / ".bag.partial").mkdir()
    r = BagBuilder.resume(final)
    with r.open_payload("a.txt") as w:
        w.write(b"a")
    assert validate_bag(r.seal(INFO)).valid


def test_resume_with_files_but_no_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".bag.partial" / "data").mkdir(parents=True)
    (tmp_path / ".bag.partial" / "data" / "x").write_bytes(b"unknown")
    with pytest.raises(ArchiverError, match="journal is missing"):
        BagBuilder.resume(tmp_path / "bag")


def test_recorded_digests_are_held_compactly_and_come_back_exact(tmp_path: Path) -> None:
    """A run records two files per URL: their digests are kept as raw bytes, not hex strings in
    a dict per file, and the manifests and ``digests_of`` give back exactly what was hashed."""
    b = BagBuilder(tmp_path / "bag")
    with b.open_payload("a.txt") as w:
        w.write(b"alpha")
    digests = b.digests_of("a.txt")
    assert digests is not None and digests.digests == hash_file(b.data / "a.txt").digests
    assert b.digests_of("missing.txt") is None
    size, raw = b._records["a.txt"]
    assert size == 5 and isinstance(raw, bytes) and len(raw) == 32 + 64
    bag = b.seal([("Source-Organization", "x")])
    manifest = (bag / "manifest-sha512.txt").read_text()
    assert manifest == f"{digests.sha512}  data/a.txt\n"
