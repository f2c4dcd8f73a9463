"""Texts written into every WARC header: digest labels and record IDs, as the library writes them.

``base32`` (digest labels) against ``base64.b32encode``, and ``new_record_id`` against what
``uuid.uuid4()`` writes.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import uuid

import pytest

from archiver.capture.records import sha256_label
from archiver.warc.digest import base32, label, parse_label
from archiver.warc.digest import sha256_label as hash_label
from archiver.warc.writer import new_record_id


def _samples() -> list[bytes]:
    rng = random.Random(4648)
    out = [b"", b"\x00", b"\xff", b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"]
    for size in range(0, 81):
        out += [bytes(size), b"\xff" * size, rng.randbytes(size), rng.randbytes(size)]
    out += [hashlib.new(a, b"x").digest() for a in ("sha1", "sha256", "sha512", "md5")]
    return out


@pytest.mark.parametrize("raw", _samples(), ids=lambda b: f"{len(b)}:{b[:6].hex()}")
def test_base32_is_base64s(raw: bytes) -> None:
    assert base32(raw) == base64.b32encode(raw).decode("ascii")


def test_labels_are_those_written_before() -> None:
    for data in (b"", b"page", bytes(range(256)) * 9):
        h = hashlib.sha256(data)
        old = "sha256:" + base64.b32encode(h.digest()).decode("ascii")
        assert label("sha256", h.digest()) == hash_label(h) == sha256_label(h.hexdigest()) == old
        assert parse_label(old) == ("sha256", h.digest())


def test_record_ids_are_random_uuids_written_as_uuid4_writes_them() -> None:
    ids = [new_record_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        m = re.fullmatch(r"<urn:uuid:([0-9a-f-]{36})>", text)
        assert m is not None, text
        parsed = uuid.UUID(m.group(1))
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == m.group(1)
    # Every bit that is not the version's or the variant's varies.
    bits = [uuid.UUID(t[10:-1]).int for t in ids]
    fixed = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
    assert all(any(b >> i & 1 for b in bits) for i in range(128) if fixed >> i & 1)
