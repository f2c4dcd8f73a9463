"""A local public-web-archive stand-in: a Memento aggregator, a Wayback API and memento pages.

Runs on :class:`tests.servers.TestServer` (real sockets on 127.0.0.1) with these paths:

``/timemap/link/<URL>``           RFC 7089 TimeMap (application/link-format) of the mementos
                                  registered for URL, 404 when there are none
``/bad/timemap/<URL>``            200 link-format that is not a TimeMap (malformed)
``/huge/timemap/<URL>``           a valid start, then megabytes of links
``/slow/timemap/<URL>``           answers after ``MementoArchive.slow`` seconds
``/wayback/available?url=&timestamp=``  the Wayback availability JSON (closest memento)
``/web/<14 digits>/<URL>``        the memento page itself, with Memento-Datetime
``/save/<URL>``                   a save-now service: 200, Content-Location of the new memento

Every request lands in ``server.stats`` so a test can prove what was (not) asked.
"""

from __future__ import annotations

import email.utils
import json
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from tests.servers import Handler, TestServer, _page


class MementoArchive(TestServer):
    """The archive: ``add(url, [YYYYMMDDhhmmss, ...])`` registers mementos of ``url``."""

    def __init__(self) -> None:
        super().__init__(handler=_ArchiveHandler)
        self.mementos: dict[str, list[str]] = {}
        self.slow = 3.0
        self.httpd.archive = self  # type: ignore[attr-defined]

    def add(self, url: str, stamps: list[str]) -> None:
        self.mementos[url] = sorted(stamps)

    def memento_url(self, url: str, stamp: str) -> str:
        return self.url(f"/web/{stamp}/{url}")

    def timemap(self, url: str) -> bytes:
        lines = [
            f'<{url}>; rel="original"',
            f'<{self.url("/timemap/link/" + url)}>; rel="self"; type="application/link-format"',
        ]
        stamps = self.mementos[url]
        for i, stamp in enumerate(stamps):
            rel = "memento"
            if i == 0:
                rel = "first memento"
            if i == len(stamps) - 1:
                rel = "last memento" if i else "first last memento"
            lines.append(
                f'<{self.memento_url(url, stamp)}>; rel="{rel}"; datetime="{_http_date(stamp)}"'
            )
        return (",\n".join(lines) + "\n").encode()

    def asked(self, prefix: str) -> list[str]:
        return [p for p in self.stats.paths() if p.startswith(prefix)]


def _http_date(stamp: str) -> str:
    moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return email.utils.format_datetime(moment, usegmt=True)


LINK_FORMAT = "application/link-format"


class _ArchiveHandler(Handler):
    def _dispatch(self) -> None:
        archive: MementoArchive = self.server.archive  # type: ignore[attr-defined]
        path = self.path
        for prefix in ("/timemap/link/", "/bad/timemap/", "/huge/timemap/", "/slow/timemap/"):
            if path.startswith(prefix):
                return self._timemap(archive, prefix, path[len(prefix) :])
        if path.startswith("/wayback/available"):
            return self._available(archive)
        if path.startswith("/web/"):
            stamp, _, url = path[len("/web/") :].partition("/")
            body = (
                f"<html><body><main><h1>Archived copy</h1><p>Memento of {url} taken {stamp}. "
                + "The report documented detentions at the northern checkpoint. " * 20
                + "</p></main></body></html>\n"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Memento-Datetime", _http_date(stamp))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        if path.startswith("/save/"):
            stamp = "20261124120000"
            self.send_response(200)
            self.send_header("Content-Location", f"/web/{stamp}/{path[len('/save/') :]}")
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"saved\n")
            return None
        return super()._dispatch()

    def _timemap(self, archive: MementoArchive, prefix: str, url: str) -> None:
        if prefix == "/bad/timemap/":
            return self._send(_page(b"<html>this is not a TimeMap</html>", LINK_FORMAT))
        if prefix == "/slow/timemap/":
            time.sleep(archive.slow)
        if url not in archive.mementos:
            return self._send(_page(b"no mementos\n", "text/plain", 404))
        body = archive.timemap(url)
        if prefix != "/huge/timemap/":
            return self._send(_page(body, LINK_FORMAT))
        filler = b",\n".join(
            b'<http://x.example/web/%d/y>; rel="memento"; datetime="Wed, 01 Jan 2020 00:00:00 GMT"'
            % i
            for i in range(60000)
        )
        self._head(200, LINK_FORMAT, len(body) + len(filler))
        self.wfile.write(body + filler)
        return None

    def _available(self, archive: MementoArchive) -> None:
        query = parse_qs(urlsplit(self.path).query)
        url = query.get("url", [""])[0]
        stamps = archive.mementos.get(url)
        snapshots: dict[str, object] = {}
        if stamps:
            stamp = stamps[-1]
            snapshots["closest"] = {
                "status": "200",
                "available": True,
                "url": archive.memento_url(url, stamp),
                "timestamp": stamp,
            }
        body = json.dumps({"url": url, "archived_snapshots": snapshots}).encode()
        self._send(_page(body, "application/json"))
