"""The one content decoder: gzip members in a row, deflate with or without zlib header, br."""

from __future__ import annotations

import gzip
import io
import zlib

import brotli
import pytest

from archiver.base.contentcoding import (
    ContentDecoder,
    DecodingError,
    UnsupportedEncoding,
    decode_body,
)

DATA = b"<p>evidence of detention</p>" * 5000


def feed_all(decoder: ContentDecoder, encoded: bytes, step: int = 100) -> bytes:
    out = b"".join(decoder.feed(encoded[i : i + step]) for i in range(0, len(encoded), step))
    return out + decoder.flush()


@pytest.mark.parametrize("wbits", [16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS])
def test_gzip_zlib_and_raw_deflate(wbits: int) -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    encoded = c.compress(DATA) + c.flush()
    decoder = ContentDecoder("gzip" if wbits > zlib.MAX_WBITS else "deflate")
    assert feed_all(decoder, encoded) == DATA
    assert decoder.finished


def test_concatenated_gzip_members_are_all_decoded() -> None:
    encoded = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    decoder = ContentDecoder("gzip")
    assert feed_all(decoder, encoded) == DATA
    body = decode_body(io.BytesIO(encoded), "gzip", len(DATA))
    assert body.data == DATA and body.complete


def test_brotli_larger_than_its_output_buffer() -> None:
    encoded = brotli.compress(DATA * 4)
    assert feed_all(ContentDecoder("br"), encoded, step=4096) == DATA * 4
    body = decode_body(io.BytesIO(encoded), "br", len(DATA) * 4)
    assert body.data == DATA * 4 and body.complete


def test_room_holds_output_back_without_losing_it() -> None:
    for coding, encoded in (("gzip", gzip.compress(DATA)), ("br", brotli.compress(DATA))):
        decoder = ContentDecoder(coding)
        out = decoder.feed(encoded, 1000)
        assert out and decoder.pending
        while decoder.pending:
            out += decoder.feed(b"", 1000)
        assert out == DATA, coding


def test_truncation_is_reported_not_hidden() -> None:
    encoded = gzip.compress(DATA)
    body = decode_body(io.BytesIO(encoded[: len(encoded) // 2]), "gzip", len(DATA))
    assert body.data and DATA.startswith(body.data) and not body.complete


def test_bomb_stops_at_the_limit() -> None:
    body = decode_body(io.BytesIO(gzip.compress(b"\0" * 10_000_000)), "gzip", 1000)
    assert body.data is None


def test_unknown_and_corrupt() -> None:
    with pytest.raises(UnsupportedEncoding):
        ContentDecoder("compress")
    with pytest.raises(DecodingError):
        ContentDecoder("gzip").feed(b"not gzip at all, not at all")
