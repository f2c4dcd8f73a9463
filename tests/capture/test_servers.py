"""The test servers themselves: what they serve is what the registry says, and is valid."""

from __future__ import annotations

import gzip
import socket

import pypdfium2
import pytest
import requests

from tests.servers import CHUNKED_PIECES, TestServer, chunked_wire, simple_pdf


def test_pdf_is_valid_and_has_text():
    pdf = pypdfium2.PdfDocument(simple_pdf("Annex: names of detained journalists"))
    try:
        assert len(pdf) == 1
        text = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    assert "Annex: names of detained journalists" in text


def test_registry_matches_what_is_served(http_server: TestServer):
    for path in ("/articles/one.html", "/gzip.html", "/doc.pdf", "/cp1251.html", "/status/410"):
        served = http_server.site.served(path)
        with requests.get(http_server.url(path), stream=True, timeout=10) as r:
            assert r.status_code == served.status
            assert r.raw.read(decode_content=False) == served.body
    assert gzip.decompress(http_server.site.served("/gzip.html").body).startswith(b"<!DOCTYPE")
    html = http_server.site.served("/cp1251.html").body.decode("windows-1251")
    assert "правозащитников" in html


def test_chunked_wire_is_sent_verbatim(http_server: TestServer):
    with socket.create_connection((http_server.host, http_server.port), timeout=10) as s:
        s.sendall(b"GET /chunked.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == chunked_wire()
    assert http_server.site.served("/chunked.html").body == b"".join(CHUNKED_PIECES)


def test_https_needs_the_test_ca(https_server: TestServer, tls_files):
    r = requests.get(https_server.url("/"), verify=str(tls_files.ca_pem), timeout=10)
    assert r.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):  # not trusted by default
        requests.get(https_server.url("/"), verify=True, timeout=10)
