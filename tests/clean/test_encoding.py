"""Charset choice for captured HTML: header, BOM, <meta>, detection, in that order of trust."""

from __future__ import annotations

import pytest

from archiver.base.charset import charset_from_content_type, codec_for, decode_html

RU = "<p>Правозащитный центр опубликовал доклад о задержаниях журналистов и блогеров.</p>" * 20


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=UTF-8", "UTF-8"),
        ('text/html; charset="windows-1251"', "windows-1251"),
        ("text/html;charset=gbk ", "gbk"),
        ("text/html", None),
        (None, None),
    ],
)
def test_charset_from_content_type(content_type: str | None, expected: str | None) -> None:
    assert charset_from_content_type(content_type) == expected


def test_labels_map_to_what_browsers_use() -> None:
    assert codec_for("ISO-8859-1") == "cp1252"
    assert codec_for("gb2312") == "gb18030"
    assert codec_for("Shift_JIS") == "cp932"
    assert codec_for("no-such-charset") is None


def test_header_beats_meta() -> None:
    data = ('<meta charset="koi8-r">' + RU).encode("cp1251")
    decoded = decode_html(data, "windows-1251")
    assert (decoded.charset, decoded.source) == ("cp1251", "http-header")
    assert "Правозащитный" in decoded.text


def test_unknown_header_label_is_ignored() -> None:
    data = (
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">' + RU
    ).encode("cp1251")
    decoded = decode_html(data, "x-made-up")
    assert decoded.source == "meta"
    assert "Правозащитный" in decoded.text


def test_utf16_bom() -> None:
    data = ("<html>" + RU).encode("utf-16")
    decoded = decode_html(data, None)
    assert decoded.source == "bom"
    assert "Правозащитный" in decoded.text


def test_meta_claiming_utf16_on_ascii_bytes_means_utf8() -> None:
    data = ('<meta charset="utf-16">' + RU).encode("utf-8")
    decoded = decode_html(data, None)
    assert (decoded.charset, decoded.source) == ("utf-8", "meta")


def test_detection_without_any_declaration() -> None:
    decoded = decode_html(RU.encode("cp1251"), None)
    assert (decoded.charset, decoded.source) == ("cp1251", "detected")
    assert decoded.text == RU


def test_a_stray_byte_does_not_discard_a_declared_utf8() -> None:
    data = ("<p>Ñandú</p>" * 400).encode("utf-8") + b"\xff"
    decoded = decode_html(data, "utf-8")
    assert (decoded.charset, decoded.source, decoded.errors) == ("utf-8", "http-header", 1)
    assert "Ñandú" in decoded.text


def test_empty_input() -> None:
    decoded = decode_html(b"", None)
    assert decoded.text == ""
