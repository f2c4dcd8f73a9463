"""Shared by the WARC tests: hand-built records and ARC files."""

from __future__ import annotations


def arc_bytes() -> list[bytes]:
    """An ARC v1 file: the filedesc version block, then one HTTP response."""
    version = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n\n"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(HTML)
    return [
        arc_record("filedesc://old.arc", "20050614070144", "text/plain", version),
        arc_record("http://example.org/", "20050614070159", "text/html", http + HTML),
    ]


def arc_record(url: str, date: str, ctype: str, body: bytes) -> bytes:
    return f"{url} 93.184.216.34 {date} {ctype} {len(body)}\n".encode() + body + b"\n"


HTML = b"<html><body><main><h1>Press freedom in 2005</h1><p>" + b"Reported. " * 40
