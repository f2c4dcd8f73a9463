"""The cleaner on realistic article pages in Chinese, Russian, Arabic and Spanish.

Each page has a navigation menu, a breadcrumb, an article of several paragraphs, a "related"
sidebar and a footer, like a typical NGO or news site. The texts were written for this project
(no third-party content). ``page_bytes`` encodes a page the way a server would send it.
"""

from __future__ import annotations

import pytest

from archiver.clean.extract import extract
from tests.clean.helpers import (
    ARABIC,
    CHINESE,
    MOJIBAKE,
    RUSSIAN,
    SPANISH,
    Page,
    page_bytes,
    page_html,
)

# --------------------------------------------------------------------------------------------
# Tests


def _check(page: Page, data: bytes, content_type: str | None = "text/html", **kw: object) -> None:
    result = extract(data, "https://ngo.example.org/news/2024/report", content_type, **kw)
    assert result.path == "trafilatura", result.reason
    assert result.kind == "html"
    for paragraph in page.paragraphs:
        assert paragraph in result.text, paragraph[:40]
    for item in page.menu[1:] + page.related:
        assert item not in result.text
    assert page.footer.split()[-1].rstrip(".") not in result.text  # "... reserved", site map
    assert result.language == page.lang
    assert result.title == page.title
    assert not any(sign in result.text for sign in MOJIBAKE if sign not in page_html(page, None))
    assert result.text.endswith(page.paragraphs[-1])


@pytest.mark.parametrize(
    ("page", "encoding", "meta", "header"),
    [
        pytest.param(CHINESE, "gbk", "gbk", None, id="zh-gbk-meta"),
        pytest.param(CHINESE, "gb18030", None, "text/html; charset=GB2312", id="zh-gb2312-header"),
        pytest.param(CHINESE, "utf-8", None, "text/html; charset=utf-8", id="zh-utf8-header"),
        pytest.param(CHINESE, "utf-8", "utf-8", None, id="zh-utf8-meta"),
        pytest.param(RUSSIAN, "windows-1251", "windows-1251", None, id="ru-cp1251-meta"),
        pytest.param(RUSSIAN, "windows-1251", None, "text/html; charset=windows-1251", id="ru-hdr"),
        pytest.param(RUSSIAN, "windows-1251", None, None, id="ru-cp1251-undeclared"),
        pytest.param(ARABIC, "utf-8", "utf-8", None, id="ar-utf8-meta"),
        pytest.param(ARABIC, "cp1256", None, "text/html; charset=windows-1256", id="ar-cp1256"),
        pytest.param(SPANISH, "iso-8859-1", None, "text/html; charset=ISO-8859-1", id="es-latin1"),
        pytest.param(SPANISH, "utf-8", "utf-8", "text/html", id="es-utf8-meta"),
    ],
)
def test_article_pages_in_many_languages(
    page: Page, encoding: str, meta: str | None, header: str | None
) -> None:
    _check(page, page_bytes(page, encoding, meta), header or "text/html")


def test_http_charset_keyword_is_trusted_over_meta() -> None:
    # The bytes are windows-1251; the page's <meta> wrongly claims KOI8-R, the header is right.
    data = page_bytes(RUSSIAN, "windows-1251", "koi8-r")
    result = extract(data, "https://ngo.example.org/ru", "text/html", http_charset="windows-1251")
    assert (result.charset, result.charset_source) == ("cp1251", "http-header")
    _check(RUSSIAN, data, "text/html", http_charset="windows-1251")


def test_wrong_utf8_header_falls_back_to_meta() -> None:
    # A server default of UTF-8 for a GBK page: the bytes are not UTF-8, so <meta> decides.
    data = page_bytes(CHINESE, "gbk", "gbk")
    result = extract(data, "https://ngo.example.org/zh", "text/html; charset=utf-8")
    assert (result.charset, result.charset_source) == ("gb18030", "meta")
    _check(CHINESE, data, "text/html; charset=utf-8")


def test_bom_beats_meta() -> None:
    data = b"\xef\xbb\xbf" + page_bytes(SPANISH, "utf-8", "iso-8859-1")
    result = extract(data, "https://ngo.example.org/es", None)
    assert (result.charset, result.charset_source) == ("utf-8-sig", "bom")
    assert not result.text.startswith("\ufeff")
    _check(SPANISH, data, None)


def test_page_date_is_bounded_by_capture_date() -> None:
    from datetime import UTC, datetime

    data = page_bytes(SPANISH, "utf-8", "utf-8")
    url = "https://ngo.example.org/es"
    assert extract(data, url, "text/html").date == "2024-03-14"
    before = extract(data, url, "text/html", capture_date=datetime(2023, 1, 1, tzinfo=UTC))
    assert before.date != "2024-03-14"  # a date after the capture cannot be the page's date
    opts = before.extractor.options["trafilatura"]["date_extraction_params"]
    assert opts["max_date"] == "2023-01-01"


def test_extractor_info_names_engines_and_options() -> None:
    result = extract(page_bytes(SPANISH, "utf-8", "utf-8"), "https://ngo.example.org/", None)
    info = result.extractor
    assert info.name == "archiver.clean"
    assert {"trafilatura", "readability-lxml", "py3langid"} <= set(info.engines)
    assert info.options["trafilatura"]["favor_precision"] is True


def test_readability_fallback_when_trafilatura_keeps_a_fragment(monkeypatch) -> None:
    from archiver.clean import html as html_mod

    class Fragment:
        text = "Only a teaser line."
        title = author = date = sitename = description = language = hostname = None

    monkeypatch.setattr(html_mod, "_run_trafilatura", lambda *a: Fragment())
    result = extract(page_bytes(SPANISH, "utf-8", "utf-8"), "https://ngo.example.org/", None)
    assert result.path == "readability-fallback"
    assert SPANISH.paragraphs[2] in result.text
    assert result.title == SPANISH.title  # from <title>, as trafilatura gave none


def test_body_text_fallback_when_both_engines_find_nothing(monkeypatch) -> None:
    from archiver.clean import html as html_mod

    monkeypatch.setattr(html_mod, "_run_trafilatura", lambda *a: None)
    monkeypatch.setattr(html_mod, "_run_readability", lambda *a: "")
    result = extract(b"<html><body><p>Short notice: office closed.</p></body></html>", "u", None)
    assert result.path == "body-text-fallback"
    assert result.text == "Short notice: office closed."


@pytest.mark.parametrize(
    ("data", "content_type", "reason_part"),
    [
        (b"", "text/html", "empty"),
        (b"   \n\t ", "text/html", "empty"),
        (b"<html><head><title>x</title></head><body></body></html>", "text/html", "no visible"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "not HTML or PDF"),
        (bytes(range(256)) * 40, "application/octet-stream", "not HTML or PDF"),
        (b"<html>\xff\xfe\x00\x81\x82<p>\x00\x00\x00</html>", "text/html", ""),
        (b"<" * 100_000, "text/html", ""),
        (b"<div>" * 50_000, "text/html", ""),
    ],
)
def test_bad_input_never_raises(data: bytes, content_type: str, reason_part: str) -> None:
    result = extract(data, "https://example.org/x", content_type)
    assert isinstance(result.text, str)
    if not result.text:
        assert result.reason and reason_part in result.reason
        assert result.path == "empty"


def test_html_sniffed_when_content_type_missing() -> None:
    data = page_bytes(ARABIC, "utf-8", "utf-8")
    _check(ARABIC, data, None)
    _check(ARABIC, data, "application/octet-stream")


def test_same_input_same_output() -> None:
    data = page_bytes(CHINESE, "gbk", "gbk")
    a = extract(data, "https://ngo.example.org/zh", "text/html")
    b = extract(data, "https://ngo.example.org/zh", "text/html")
    assert a == b
