"""Real HTTP, HTTPS and proxy servers on 127.0.0.1 for capture and end-to-end tests.

Everything runs over real sockets on ephemeral ports; nothing touches the internet.

* :class:`TestServer` -- a threaded HTTP/1.1 server (keep-alive) serving :class:`Site` paths:
  ``/`` and three article pages that link to each other (``/articles/{one,two,three}.html``,
  with nav and footer), ``/redirect/301`` -> ``/redirect/302`` -> ``/articles/one.html``,
  ``/redirect/private`` (into a disallowed path), ``/loop/a`` <-> ``/loop/b``,
  ``/status/{404,410,500}``, ``/chunked.html`` (raw chunk framing, :func:`chunked_wire`),
  ``/gzip.html``, ``/doc.pdf``, ``/cp1251.html``, ``/robots.txt`` disallowing ``/private/``,
  and the dynamic paths listed on :class:`Handler` (slow, trickle, large, reset, close-early).
  Pass ``tls=TLSFiles`` for HTTPS.
* :func:`make_tls_files` -- a test root CA, an intermediate and a leaf for 127.0.0.1/localhost
  made with ``cryptography``; the server presents leaf + intermediate
  (``TLSFiles.presented_chain()``); give ``TLSFiles.ca_pem`` (the root) to a capture as
  ``Settings(ca_bundle=...)``.
* :class:`ForwardingProxy` -- a threaded HTTP proxy (CONNECT tunnels and absolute-form GET) that
  counts what it forwarded, so a test can prove traffic went through it.
* :class:`Socks5Proxy` -- a minimal SOCKS5 proxy (as Tor offers) that lists its targets.
* :func:`closed_port` -- a local port with nothing listening (connection refused).

``server.site.served(path)`` returns what a path serves (:class:`Served`: status, headers, the
entity body exactly as sent, and the body with content-encoding removed), so tests can compare
a WARC payload with exactly what was served. ``server.stats`` counts requests, connections and
the most requests ever in flight at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import gzip
import hashlib
import ipaddress
import select
import socket
import socketserver
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

# --------------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------------

ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"

_ARTICLES = {
    "one": (
        "Detention of journalists in the northern province",
        [
            "On 3 March 2026 security forces detained four journalists at a checkpoint outside "
            "the provincial capital. Witnesses said the reporters were held without charge.",
            "Family members told our researchers that they were not informed of the place of "
            "detention for eleven days, in breach of the national code of criminal procedure.",
            'A follow-up visit is described in the <a href="/articles/two.html">second report'
            '</a>, and the official response is analysed in <a href="/articles/three.html">'
            "the third report</a>.",
            'The full list of names is in <a href="/doc.pdf">the annex (PDF)</a>.',
        ],
    ),
    "two": (
        "Follow-up visit to the detention facility",
        [
            "Researchers returned to the facility on 21 March 2026. Access to the detainees was "
            "refused by the administration, citing an ongoing investigation.",
            "Lawyers for two of the journalists filed a habeas corpus petition the same week; "
            "the court scheduled a hearing for April.",
            'Background is in <a href="/articles/one.html#background">the first report</a>.',
        ],
    ),
    "three": (
        "Official response and its inconsistencies",
        [
            "The ministry stated on 2 April that no journalists were in custody. Court records "
            "obtained later show that three of them were transferred on 28 March.",
            "This contradicts the statement published on the ministry's own website, which was "
            "modified after our inquiry.",
            'See <a href="/articles/one.html">the first report</a> and <a href="/articles/'
            'two.html">the follow-up</a>.',
        ],
    ),
}


def article_html(key: str) -> bytes:
    title, paragraphs = _ARTICLES[key]
    body = "\n".join(f"      <p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} | Monitor</title>
  <meta name="author" content="Field Research Team">
  <meta property="article:published_time" content="2026-04-05T09:00:00Z">
</head>
<body>
  <header>
    <nav><a href="/">Home</a> | <a href="/about.html">About</a> | <a href="/donate">Donate</a></nav>
  </header>
  <main>
    <article>
      <h1>{title}</h1>
      <p class="byline">By the Field Research Team, 5 April 2026</p>
{body}
    </article>
  </main>
  <footer>
    <p>&copy; 2026 Monitor.
       <a href="/privacy.html">Privacy</a> <a href="/contact.html">Contact</a></p>
  </footer>
</body>
</html>
""".encode()


def cp1251_html() -> bytes:
    text = (
        '<!DOCTYPE html>\n<html><head><meta charset="windows-1251">'
        "<title>Заявление правозащитников</title></head>\n<body><article>"
        "<h1>Заявление правозащитников</h1>"
        "<p>Журналисты были задержаны без предъявления обвинений 3 марта 2026 года.</p>"
        "<p>Родственники не получили информации о месте содержания под стражей.</p>"
        "</article></body></html>\n"
    )
    return text.encode("windows-1251")


def simple_pdf(text: str = "Annex: names of detained journalists") -> bytes:
    """A small valid PDF 1.4 with one page of Helvetica text; xref offsets computed."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def status_html(code: int, text: str) -> bytes:
    return f"<!DOCTYPE html><html><body><h1>{code} {text}</h1></body></html>\n".encode()


CHUNKED_PIECES = [
    b"<!DOCTYPE html><html><head><title>Chunked statement</title></head><body>\n",
    b"<article><h1>Chunked statement</h1><p>This body was sent in several chunks.</p>\n",
    b"<p>The archive must keep the chunk framing in the record block.</p></article>\n",
    b"</body></html>\n",
]


def chunked_wire(pieces: list[bytes] = CHUNKED_PIECES) -> bytes:
    """The exact chunked framing the server writes (with a chunk extension on the first)."""
    out = bytearray()
    for i, p in enumerate(pieces):
        ext = b";note=first" if i == 0 else b""
        out += b"%x%s\r\n%s\r\n" % (len(p), ext, p)
    out += b"0\r\n\r\n"
    return bytes(out)


_BLOCK = hashlib.sha256(b"archiver-test").digest() * 2048  # 64 KiB, deterministic


def large_body(size: int) -> bytes:
    """The first ``size`` bytes of the ``/large`` stream (use only for small sizes)."""
    reps = size // len(_BLOCK) + 1
    return (_BLOCK * reps)[:size]


def large_body_sha256(size: int) -> str:
    h = hashlib.sha256()
    full, rest = divmod(size, len(_BLOCK))
    for _ in range(full):
        h.update(_BLOCK)
    h.update(_BLOCK[:rest])
    return h.hexdigest()


@dataclass(frozen=True)
class Served:
    """What one path serves."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes  # entity body as sent: content-encoding kept, no chunk framing
    decoded: bytes  # content-encoding removed (what the cleaner should get)

    @property
    def content_type(self) -> str:
        return dict(self.headers).get("Content-Type", "")


def _page(body: bytes, ctype: str = "text/html; charset=utf-8", status: int = 200) -> Served:
    return Served(status, (("Content-Type", ctype),), body, body)


def _redirect(status: int, location: str) -> Served:
    body = f'<html><body>Moved to <a href="{location}">{location}</a></body></html>\n'.encode()
    return Served(status, (("Location", location), ("Content-Type", "text/html")), body, body)


class Site:
    """The registry of fixed paths. Dynamic paths are documented on :class:`Handler`."""

    def __init__(self) -> None:
        gz_source = article_html("two")
        self._paths: dict[str, Served] = {
            "/": _page(
                b"<!DOCTYPE html><html><body><main><h1>Monitor</h1><ul>"
                b'<li><a href="/articles/one.html">One</a></li>'
                b'<li><a href="/articles/two.html">Two</a></li>'
                b'<li><a href="/articles/three.html">Three</a></li></ul></main></body></html>\n'
            ),
            "/articles/one.html": _page(article_html("one")),
            "/articles/two.html": _page(article_html("two")),
            "/articles/three.html": _page(article_html("three")),
            "/doc.pdf": _page(simple_pdf(), "application/pdf"),
            "/cp1251.html": _page(cp1251_html(), "text/html; charset=windows-1251"),
            "/gzip.html": Served(
                200,
                (("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")),
                gzip.compress(gz_source, mtime=0),
                gz_source,
            ),
            "/robots.txt": _page(ROBOTS_TXT, "text/plain"),
            "/private/secret.html": _page(b"<html><body><p>Private page</p></body></html>\n"),
            "/redirect/301": _redirect(301, "/redirect/302"),
            "/redirect/302": _redirect(302, "/articles/one.html"),
            "/redirect/private": _redirect(302, "/private/secret.html"),
            "/loop/a": _redirect(302, "/loop/b"),
            "/loop/b": _redirect(302, "/loop/a"),
            "/status/404": _page(status_html(404, "Not Found"), status=404),
            "/status/410": _page(status_html(410, "Gone"), status=410),
            "/status/500": _page(status_html(500, "Internal Server Error"), status=500),
        }
        chunked = b"".join(CHUNKED_PIECES)
        self._paths["/chunked.html"] = Served(
            200,
            (("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")),
            chunked,
            chunked,
        )

    def paths(self) -> list[str]:
        return sorted(self._paths)

    def add_page(self, path: str, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
        """Serve ``body`` at ``path`` (200)."""
        self._paths[path] = _page(body, ctype)

    def add_redirect(self, path: str, location: str, status: int = 302) -> None:
        """Redirect ``path`` to ``location`` (any URL, also on another server)."""
        self._paths[path] = _redirect(status, location)

    def served(self, path: str) -> Served:
        """What ``path`` serves; ``/large?size=N`` is computed (keep N small here)."""
        parts = urlsplit(path)
        if parts.path == "/large":
            n = int(parse_qs(parts.query)["size"][0])
            return _page(large_body(n), "application/octet-stream")
        return self._paths[parts.path]

    def get(self, path: str) -> Served | None:
        return self._paths.get(path)


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


@dataclass
class Stats:
    """Counters a test can assert on; reset with :meth:`reset`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.connections = 0
            self.max_in_flight = self.in_flight

    def paths(self) -> list[str]:
        with self.lock:
            return [p for _, p, _ in self.requests]


class Handler(BaseHTTPRequestHandler):
    """Serves :class:`Site` paths plus these dynamic ones:

    ``/slow?s=SECONDS``           sleeps before answering (default 3 s)
    ``/retry-after?times=N&value=V&status=S``  S (503) with Retry-After V N times, then a page
    ``/slowish/<anything>``       answers a small page after 0.15 s (for concurrency tests)
    ``/trickle?n=N&every=SEC``    Content-Length N*100, 100 bytes every SEC seconds
    ``/large?size=N``             N deterministic bytes (:func:`large_body`), streamed
    ``/reset``                    promises 100000 bytes, sends 10000, then resets (RST)
    ``/close-early``              promises 100000 bytes, sends 10000, then closes cleanly
    """

    protocol_version = "HTTP/1.1"
    server_version = "TestServer/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet tests
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.stats.lock:  # type: ignore[attr-defined]
            self.server.stats.connections += 1  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        stats: Stats = self.server.stats  # type: ignore[attr-defined]
        with stats.lock:
            stats.requests.append((self.command, self.path, dict(self.headers.items())))
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            self._dispatch()
        finally:
            with stats.lock:
                stats.in_flight -= 1

    def _dispatch(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/chunked.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            wire = chunked_wire()
            for i in range(0, len(wire), 37):  # several writes, split mid-chunk on purpose
                self.wfile.write(wire[i : i + 37])
            return
        if path == "/retry-after":
            # The first `times` requests for this exact path+query get `status` with Retry-After
            # `value` (seconds, or "date+N": an HTTP-date N seconds after this answer's Date);
            # later ones get article one.
            times = int(query.get("times", ["1"])[0])
            with self.server.stats.lock:  # type: ignore[attr-defined]
                seen = sum(1 for _, p, _ in self.server.stats.requests if p == self.path)  # type: ignore[attr-defined]
            if seen <= times:
                now = int(time.time())
                value = query.get("value", ["1"])[0]
                if value.startswith("date+"):
                    value = email.utils.formatdate(now + int(value[5:]), usegmt=True)
                body = status_html(int(query.get("status", ["503"])[0]), "Busy")
                self.send_response_only(int(query.get("status", ["503"])[0]))
                self.send_header("Date", email.utils.formatdate(now, usegmt=True))
                self.send_header("Retry-After", value)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            return self._send(site.served("/articles/one.html"))
        if path == "/slow":
            time.sleep(float(query.get("s", ["3"])[0]))
            return self._send(site.served("/articles/one.html"))
        if path.startswith("/slowish/"):
            time.sleep(0.15)
            return self._send(_page(b"<html><body><p>%s</p></body></html>\n" % path.encode()))
        if path == "/trickle":
            n, every = int(query.get("n", ["100"])[0]), float(query.get("every", ["0.1"])[0])
            self._head(200, "application/octet-stream", n * 100)
            for _ in range(n):
                self.wfile.write(b"x" * 100)
                time.sleep(every)
            return
        if path == "/large":
            size = int(query["size"][0])
            self._head(200, "application/octet-stream", size)
            sent = 0
            while sent < size:
                piece = _BLOCK[: min(len(_BLOCK), size - sent)]
                self.wfile.write(piece)
                sent += len(piece)
            return
        if path in ("/reset", "/close-early"):
            self._head(200, "text/html; charset=utf-8", 100000)
            self.wfile.write(b"<html><body>" + b"a" * (10000 - 12))
            time.sleep(0.3)  # let the client read what was sent: an RST discards unread data
            if path == "/reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.connection.close()
            self.close_connection = True
            return
        served = site.get(path)
        if served is None:
            return self._send(_page(status_html(404, "Not Found"), status=404))
        self._send(served)

    def _head(self, status: int, ctype: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, served: Served) -> None:
        self.send_response(served.status)
        for name, value in served.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(served.body)))
        self.end_headers()
        self.wfile.write(served.body)


class _ThreadingServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], handler: type, tls: ssl.SSLContext | None):
        self.tls_context = tls
        super().__init__(addr, handler)

    def finish_request(self, request: socket.socket, client_address: object) -> None:
        if self.tls_context is not None:  # handshake in the worker thread, not the accept loop
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # resets and refused handshakes are part of the tests


class TestServer:
    """An HTTP (or, with ``tls``, HTTPS) server on ``host`` serving :class:`Site`."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: TLSFiles | None = None,
        site: Site | None = None,
        handler: type[BaseHTTPRequestHandler] = Handler,
    ) -> None:
        ctx = None
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(tls.cert_pem, tls.key_pem)
        self.site = site or Site()
        self.stats = Stats()
        self.httpd = _ThreadingServer((host, port), handler, ctx)
        self.httpd.site = self.site  # type: ignore[attr-defined]
        self.httpd.stats = self.stats  # type: ignore[attr-defined]
        self.host = host
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> TestServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    ca_pem: Path  # the test root: trust this (Settings.ca_bundle) to accept the server
    cert_pem: Path  # what the server presents: leaf, then intermediate (PEM, in that order)
    key_pem: Path
    intermediate_pem: Path | None = None  # the intermediate alone (also inside cert_pem)

    def presented_chain(self) -> list[bytes]:
        """DER of the certificates the server presents, in order (leaf first)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        certs = x509.load_pem_x509_certificates(self.cert_pem.read_bytes())
        return [c.public_bytes(serialization.Encoding.DER) for c in certs]


def _ca_extensions(builder, key, path_length: int):  # noqa: ANN001, ANN202 - local helper
    from cryptography import x509

    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def make_tls_files(directory: Path) -> TLSFiles:
    """A throwaway root CA, an intermediate CA under it, and a leaf for 127.0.0.1 and localhost
    issued by the intermediate, valid for a day. The server presents leaf + intermediate (as
    real sites do); clients trust only the root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def base(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archiver test CA")])
    ca = _ca_extensions(base(ca_name, ca_name, ca_key), ca_key, 1).sign(ca_key, hashes.SHA256())
    mid_key = ec.generate_private_key(ec.SECP256R1())
    mid_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archiver test intermediate")])
    mid = (
        _ca_extensions(base(mid_name, ca_name, mid_key), mid_key, 0)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    leaf = (
        base(leaf_name, mid_name, key)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(mid_key.public_key()), False
        )
        .sign(mid_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "intermediate.pem",
    )
    pem = serialization.Encoding.PEM
    files.ca_pem.write_bytes(ca.public_bytes(pem))
    assert files.intermediate_pem is not None
    files.intermediate_pem.write_bytes(mid.public_bytes(pem))
    files.cert_pem.write_bytes(leaf.public_bytes(pem) + mid.public_bytes(pem))
    files.key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


# --------------------------------------------------------------------------------------------
# Proxy
# --------------------------------------------------------------------------------------------


class _ProxyHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        proxy: ForwardingProxy = self.server.proxy  # type: ignore[attr-defined]
        line = self.rfile.readline(65537)
        if not line:
            return
        headers = []
        while True:
            h = self.rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            headers.append(h)
        method, target, _version = line.decode("latin-1").split()
        if proxy.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(proxy.credentials).encode()).decode()
            given = [
                h.split(b":", 1)[1].strip().decode("latin-1")
                for h in headers
                if h.lower().startswith(b"proxy-authorization:")
            ]
            if given != [expected]:
                with proxy.lock:
                    proxy.refused.append(target)
                self.wfile.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host, int(port)), timeout=10)
            except OSError:
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with proxy.lock:
                proxy.connects.append(target)
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._relay(upstream)
            return
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        with proxy.lock:
            proxy.forwarded.append(target)
        origin_form = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [
            h
            for h in headers
            if not h.lower().startswith((b"proxy-", b"connection:", b"keep-alive:"))
        ]
        upstream.sendall(
            f"{method} {origin_form} HTTP/1.1\r\n".encode("latin-1")
            + b"".join(kept)
            + b"Connection: close\r\n\r\n"
        )
        # One request per client connection, so say so: a client that kept the connection
        # for its next request would race our close.
        head = b""
        while b"\r\n\r\n" not in head and (data := upstream.recv(65536)):
            head += data
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            head = head[: end + 2] + b"Connection: close\r\n" + head[end + 2 :]
        self.wfile.write(head)
        while data := upstream.recv(65536):
            self.wfile.write(data)
        upstream.close()

    def _relay(self, upstream: socket.socket) -> None:
        client = self.connection
        upstream.settimeout(None)
        socks = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 30)
                if not readable:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class _LocalProxy:
    """A proxy server on 127.0.0.1 in a daemon thread; ``connects`` lists its targets.

    With ``credentials=(user, password)`` it serves only clients that authenticate (HTTP:
    ``Proxy-Authorization: Basic``; SOCKS5: RFC 1929); ``refused`` lists who did not.
    ``url`` never holds the credentials; ``url_with(user, password)`` does, percent-encoded.
    """

    scheme = ""
    handler: type[socketserver.BaseRequestHandler]

    def __init__(
        self, host: str = "127.0.0.1", *, credentials: tuple[str, str] | None = None
    ) -> None:
        self.lock = threading.Lock()
        self.credentials = credentials
        self.refused: list[str] = []
        self.connects: list[str] = []
        self.httpd = _ThreadingServer((host, 0), self.handler, None)
        self.httpd.proxy = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.url = f"{self.scheme}://{host}:{self.port}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url_with(self, user: str, password: str) -> str:
        scheme, _, hostport = self.url.partition("://")
        return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{hostport}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ForwardingProxy(_LocalProxy):
    """A small HTTP proxy on 127.0.0.1: CONNECT for https, absolute-form GET for http.

    ``connects`` lists CONNECT targets (``host:port``), ``forwarded`` lists absolute URLs.
    """

    scheme = "http"
    handler = _ProxyHandler

    def __init__(
        self, host: str = "127.0.0.1", *, credentials: tuple[str, str] | None = None
    ) -> None:
        self.forwarded: list[str] = []
        super().__init__(host, credentials=credentials)


def closed_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago and has nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Socks5Handler(socketserver.StreamRequestHandler):
    """RFC 1928 CONNECT only, no authentication or (with credentials) RFC 1929 username and
    password; names are resolved here (socks5h)."""

    def handle(self) -> None:
        proxy: Socks5Proxy = self.server.proxy  # type: ignore[attr-defined]
        conn = self.connection
        try:
            ver, nmethods = self.rfile.read(2)
            methods = self.rfile.read(nmethods)
            if proxy.credentials is None:
                conn.sendall(b"\x05\x00")
            elif 2 not in methods:
                conn.sendall(b"\x05\xff")  # no acceptable method
                with proxy.lock:
                    proxy.refused.append("no username/password offered")
                return
            else:  # RFC 1929 username/password
                conn.sendall(b"\x05\x02")
                _auth_ver, ulen = self.rfile.read(2)
                user = self.rfile.read(ulen).decode()
                password = self.rfile.read(self.rfile.read(1)[0]).decode()
                if (user, password) != proxy.credentials:
                    conn.sendall(b"\x01\x01")
                    with proxy.lock:
                        proxy.refused.append(f"bad credentials for {user}")
                    return
                conn.sendall(b"\x01\x00")
            ver, cmd, _rsv, atyp = self.rfile.read(4)
            if atyp == 1:
                host = socket.inet_ntoa(self.rfile.read(4))
            elif atyp == 3:
                host = self.rfile.read(self.rfile.read(1)[0]).decode("idna")
            else:
                conn.sendall(b"\x05\x08\x00\x01" + b"\x00" * 6)
                return
            port = struct.unpack("!H", self.rfile.read(2))[0]
            if ver != 5 or cmd != 1:
                conn.sendall(b"\x05\x07\x00\x01" + b"\x00" * 6)
                return
            try:
                upstream = socket.create_connection((host, port), timeout=10)
            except socket.gaierror:
                conn.sendall(b"\x05\x04\x00\x01" + b"\x00" * 6)  # host unreachable
                return
            except OSError:
                conn.sendall(b"\x05\x05\x00\x01" + b"\x00" * 6)  # connection refused
                return
            with proxy.lock:
                proxy.connects.append(f"{host}:{port}")
            bound = upstream.getsockname()
            conn.sendall(
                b"\x05\x00\x00\x01" + socket.inet_aton(bound[0]) + struct.pack("!H", bound[1])
            )
        except (OSError, ValueError, IndexError):
            return
        _ProxyHandler._relay(self, upstream)  # type: ignore[arg-type]


class Socks5Proxy(_LocalProxy):
    """A minimal SOCKS5 proxy on 127.0.0.1 (as Tor offers); ``connects`` lists its targets."""

    scheme = "socks5h"
    handler = _Socks5Handler
