"""Hash-while-writing must agree with hashing the file afterwards, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from archiver.base.hashing import HashingWriter, hash_file


def test_writer_digests_match_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    chunks = [b"abc" * 1000, b"", bytes(range(256)) * 5000]
    with HashingWriter(path) as w:
        for c in chunks:
            w.write(c)
    data = b"".join(chunks)
    assert w.result is not None
    assert w.result.size == len(data)
    assert w.result.sha256 == hashlib.sha256(data).hexdigest()
    assert w.result.sha512 == hashlib.sha512(data).hexdigest()
    assert hash_file(path) == w.result


def test_writer_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "exists"
    path.write_bytes(b"sealed evidence")
    with pytest.raises(FileExistsError):
        HashingWriter(path)
    assert path.read_bytes() == b"sealed evidence"


def test_md5_on_request(tmp_path: Path) -> None:
    path = tmp_path / "f"
    with HashingWriter(path, ("md5", "sha256")) as w:
        w.write(b"x")
    assert w.result is not None
    assert w.result.digests["md5"] == hashlib.md5(b"x").hexdigest()
    assert hash_file(path, ("md5",)).digests["md5"] == hashlib.md5(b"x").hexdigest()
