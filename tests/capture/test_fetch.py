"""Fetcher against real local servers: raw bytes kept, failures classified, limits enforced."""

from __future__ import annotations

import gzip
import hashlib
import time
from pathlib import Path

import pytest

from archiver.base.settings import Settings
from archiver.capture.failures import classify
from archiver.capture.fetch import Fetcher, FetchResult
from archiver.capture.hostgate import HostGate, host_key
from tests.servers import (
    CHUNKED_PIECES,
    ForwardingProxy,
    Served,
    Socks5Proxy,
    TestServer,
    TLSFiles,
    chunked_wire,
    large_body,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def settings(**kw: object) -> Settings:
    base = dict(
        per_host_delay=0.0,
        connect_timeout=5.0,
        read_timeout=5.0,
        max_time_per_url=20.0,
        allow_private=True,  # the test servers listen on 127.0.0.1
    )
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def fetch(url: str, spool: Path, **kw: object) -> FetchResult:
    return Fetcher(settings(**kw), spool_dir=spool).fetch(url)


def raw(result: FetchResult, which: str = "response", hop: int = -1) -> bytes:
    ex = result.hops[hop].exchange
    assert ex is not None
    f = ex.response if which == "response" else ex.request
    f.seek(0)
    return f.read()


def test_chunked_framing_kept_and_payload_dechunked(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/chunked.html"), spool_dir)
    body = b"".join(CHUNKED_PIECES)
    block = raw(r)
    assert block.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nTransfer-Encoding: chunked\r\n" in block
    assert block.endswith(b"\r\n\r\n" + chunked_wire())  # framing, extension and all
    assert r.final.payload_sha256 == sha(body)
    assert r.final.payload_size == len(body)
    assert r.payload_path is not None and r.payload_path.read_bytes() == body
    r.close()


def test_gzip_kept_as_served_and_decoded_for_cleaner(http_server: TestServer, spool_dir: Path):
    served = http_server.site.served("/gzip.html")
    r = fetch(http_server.url("/gzip.html"), spool_dir)
    assert raw(r).endswith(b"\r\n\r\n" + served.body)
    assert gzip.decompress(served.body) == served.decoded
    assert r.final.payload_sha256 == sha(served.body)  # content-encoding kept in the digest
    assert r.payload_path.read_bytes() == served.decoded
    r.close()


def test_request_bytes_as_sent_without_fragment(http_server: TestServer, spool_dir: Path):
    r = fetch(
        http_server.url("/articles/one.html#background"),
        spool_dir,
        contact_email="researcher@example.org",
    )
    request = raw(r, "request")
    assert request.startswith(b"GET /articles/one.html HTTP/1.1\r\n")
    assert b"\r\nFrom: researcher@example.org\r\n" in request
    assert b"\r\nUser-Agent: archiver/" in request
    assert request.endswith(b"\r\n\r\n")
    assert r.url == http_server.url("/articles/one.html")
    assert http_server.site.served("/articles/one.html").body == r.payload_path.read_bytes()
    r.close()


def test_redirect_chain_one_exchange_per_hop(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/redirect/301"), spool_dir)
    assert [h.status for h in r.hops] == [301, 302, 200]
    assert [h.url for h in r.hops] == [
        http_server.url("/redirect/301"),
        http_server.url("/redirect/302"),
        http_server.url("/articles/one.html"),
    ]
    assert raw(r, hop=0).startswith(b"HTTP/1.1 301 ")
    assert raw(r, "request", hop=1).startswith(b"GET /redirect/302 HTTP/1.1\r\n")
    assert r.error is None
    r.close()


def test_redirect_loop_is_too_many_redirects(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/loop/a"), spool_dir, max_redirects=3)
    assert r.error is not None and r.error.cls == "too-many-redirects"
    assert "loop" in r.error.message
    assert len(r.hops) == 4 and all(h.exchange is not None for h in r.hops)
    r.close()


def test_peer_ip_and_tls_facts(https_server: TestServer, tls_files: TLSFiles, spool_dir: Path):
    r = fetch(https_server.url("/articles/three.html"), spool_dir, ca_bundle=str(tls_files.ca_pem))
    hop = r.final
    assert hop.status == 200
    assert hop.peer is not None and hop.peer.ip == "127.0.0.1" and not hop.peer.via_proxy
    assert hop.peer.port == https_server.port
    assert hop.tls is not None and hop.tls.version and hop.tls.version.startswith("TLS")
    assert hop.tls.cipher
    assert hop.exchange.ssl_socket is not None  # same connection, for certificate chains
    from cryptography import x509

    # The chain as presented (leaf, intermediate), and the verified one, which ends at the root.
    assert hop.exchange.certificate_chain == tls_files.presented_chain()
    chain = [x509.load_der_x509_certificate(der) for der in hop.tls.verified_chain]
    ca = x509.load_pem_x509_certificate(tls_files.ca_pem.read_bytes())
    assert chain[0].subject.rfc4514_string() == "CN=localhost"
    assert chain[-1] == ca and len(chain) == 3
    assert hop.exchange.opened_tls and not hop.tls.resumed
    r.close()


@pytest.mark.parametrize(
    "path,status", [("/status/404", 404), ("/status/410", 410), ("/status/500", 500)]
)
def test_http_errors_are_responses(http_server: TestServer, spool_dir: Path, path, status):
    r = fetch(http_server.url(path), spool_dir)
    assert r.error is None and r.final.status == status
    assert raw(r).endswith(http_server.site.served(path).body)
    assert r.payload_path is None  # nothing to clean
    r.close()


def test_connection_refused(refused_url: str, spool_dir: Path):
    r = fetch(refused_url, spool_dir)
    assert r.error is not None and r.error.cls == "connection-refused"
    assert r.hops[0].exchange is None  # nothing was sent


def test_dns_failure(spool_dir: Path):
    r = fetch("http://no-such-host.invalid/page", spool_dir)
    assert r.error is not None and r.error.cls == "dns"


def test_tls_failure_without_the_ca(https_server: TestServer, spool_dir: Path):
    r = fetch(https_server.url("/articles/one.html"), spool_dir)  # system CAs only
    assert r.error is not None and r.error.cls == "tls"
    assert "certificate" in r.error.message.lower()
    assert r.hops[0].peer is not None and r.hops[0].peer.ip == "127.0.0.1"  # TCP got through


def test_read_timeout(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/slow?s=3"), spool_dir, read_timeout=0.5)
    assert r.error is not None and r.error.cls == "timeout"
    assert raw(r, "request").startswith(b"GET /slow?s=3 ")  # the request was sent: recorded


def test_reset_mid_body_keeps_what_came(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/reset"), spool_dir)
    hop = r.final
    assert hop.status == 200 and hop.truncated == "disconnect"
    assert hop.error is not None and hop.error.cls == "connection-reset"
    sent = b"<html><body>" + b"a" * (10000 - 12)
    assert 0 < hop.payload_size <= len(sent)  # (unread bytes die with an RST)
    head, _, body = raw(r).partition(b"\r\n\r\n")
    assert body == sent[: hop.payload_size] and hop.payload_sha256 == sha(body)
    r.close()


def test_clean_close_mid_body_is_disconnect(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/close-early"), spool_dir)
    assert r.final.truncated == "disconnect" and r.final.payload_size == 10000
    r.close()


def test_size_cap_truncates_at_max_size(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/large?size=3000000"), spool_dir, max_size=1_000_000)
    hop = r.final
    assert hop.truncated == "length" and hop.payload_size == 1_000_000
    assert hop.payload_sha256 == sha(large_body(1_000_000))
    assert raw(r).endswith(large_body(1_000_000))
    r.close()


def test_body_exactly_at_cap_is_not_truncated(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/large?size=4096"), spool_dir, max_size=4096)
    assert r.final.truncated is None and r.final.payload_sha256 == sha(large_body(4096))
    r.close()


def test_size_cap_on_chunked_body(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/chunked.html"), spool_dir, max_size=50)
    assert r.final.truncated == "length"
    assert 50 <= r.final.payload_size <= 51
    r.close()


def test_time_limit_truncates_body(http_server: TestServer, spool_dir: Path):
    r = fetch(http_server.url("/trickle?n=200&every=0.05"), spool_dir, max_time_per_url=1.0)
    hop = r.final
    assert hop.status == 200 and hop.truncated == "time"
    assert hop.error is None  # a limit we set, not a server failure
    assert 0 < hop.payload_size < 20000
    r.close()


def test_large_body_streams_to_disk(http_server: TestServer, spool_dir: Path):
    size = 5 * 1024 * 1024
    r = fetch(http_server.url(f"/large?size={size}"), spool_dir)
    ex = r.final.exchange
    assert ex.response_size > size
    assert ex.response._rolled  # spooled to a file, not held in memory
    assert r.final.payload_sha256 == sha(large_body(size))
    r.close()


def test_http_through_proxy(
    http_server: TestServer, proxy_server: ForwardingProxy, spool_dir: Path
):
    url = http_server.url("/articles/two.html")
    r = fetch(url, spool_dir, proxy=proxy_server.url)
    assert url in proxy_server.forwarded
    assert raw(r, "request").startswith(f"GET {url} HTTP/1.1\r\n".encode())  # absolute form
    hop = r.final
    assert hop.peer.via_proxy and hop.peer.port == proxy_server.port
    assert r.resolved_by == "proxy" and r.proxy == proxy_server.url
    assert r.payload_path.read_bytes() == http_server.site.served("/articles/two.html").body
    r.close()


def test_https_through_proxy_tunnel(
    https_server: TestServer, proxy_server: ForwardingProxy, tls_files: TLSFiles, spool_dir: Path
):
    r = fetch(
        https_server.url("/chunked.html"),
        spool_dir,
        proxy=proxy_server.url,
        ca_bundle=str(tls_files.ca_pem),
    )
    assert f"127.0.0.1:{https_server.port}" in proxy_server.connects
    request = raw(r, "request")
    assert request.startswith(b"GET /chunked.html HTTP/1.1\r\n")  # not the CONNECT
    assert b"CONNECT" not in request and b"CONNECT" not in raw(r)
    assert raw(r).endswith(chunked_wire())
    assert r.final.tls is not None and r.final.peer.via_proxy
    r.close()


def test_env_proxy_is_used(
    http_server: TestServer,
    proxy_server: ForwardingProxy,
    spool_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("HTTP_PROXY", proxy_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url = http_server.url("/articles/three.html")
    r = fetch(url, spool_dir)
    assert url in proxy_server.forwarded and r.resolved_by == "proxy"
    r.close()


def test_https_through_socks5h(
    https_server: TestServer, socks_proxy: Socks5Proxy, tls_files: TLSFiles, spool_dir: Path
):
    r = fetch(
        https_server.url("/gzip.html", host="localhost"),
        spool_dir,
        proxy=socks_proxy.url,
        ca_bundle=str(tls_files.ca_pem),
    )
    assert f"localhost:{https_server.port}" in socks_proxy.connects  # the proxy resolved it
    hop = r.final
    assert hop.status == 200 and hop.peer.via_proxy and hop.peer.port == socks_proxy.port
    assert r.resolved_by == "proxy"
    assert raw(r).endswith(https_server.site.served("/gzip.html").body)
    assert hop.tls is not None
    r.close()


def test_classify_unknown_is_network():
    assert classify(ValueError("odd")) == "network"


@pytest.mark.parametrize(
    "url,cls",
    [
        ("ftp://example.org/file", "unsupported-scheme"),
        ("mailto:someone@example.org", "unsupported-scheme"),
        ("http:///no-host", "invalid-url"),
        ("http://example.org:99999/", "invalid-url"),
    ],
)
def test_unfetchable_urls(url: str, cls: str, spool_dir: Path):
    r = fetch(url, spool_dir)
    assert r.error is not None and r.error.cls == cls and not r.hops


def test_ca_bundle_from_environment(
    https_server: TestServer,
    tls_files: TLSFiles,
    spool_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca_pem))
    r = fetch(https_server.url("/articles/one.html"), spool_dir)
    assert r.error is None and r.final.status == 200
    r.close()


def test_tls_verification_off_captures_anyway(https_server: TestServer, spool_dir: Path):
    r = fetch(https_server.url("/articles/one.html"), spool_dir, verify_tls=False)
    assert r.error is None and r.final.status == 200 and r.final.tls is not None
    r.close()


def test_host_gate_spaces_requests_to_one_host():
    gate = HostGate(delay=5.0)
    assert gate.next_allowed("a.example") == 0.0  # never asked: go now
    with gate.hold("a.example"):
        pass
    with gate.hold("b.example"):
        pass
    first = gate.next_allowed("a.example")
    assert first - time.monotonic() > 4.0  # the next request to a.example waits ~5 s
    gate.extra_delay["a.example"] = 20.0  # robots.txt Crawl-delay raises it
    assert gate.next_allowed("a.example") - first == pytest.approx(15.0)


def test_host_key_ignores_port_and_case():
    assert host_key("http://Example.ORG:8080/a") == host_key("https://example.org/b")


def test_payload_copy_only_for_cleanable_types(http_server: TestServer, spool_dir: Path):
    f = Fetcher(settings(), spool_dir=spool_dir)
    r = f.fetch(http_server.url("/robots.txt"), payload_filter=lambda ctype: False)
    assert r.final.status == 200 and r.payload_path is None
    r.close()
    r = f.fetch(http_server.url("/robots.txt"), payload_filter=None)  # any type
    assert r.payload_path.read_bytes() == http_server.site.served("/robots.txt").body
    r.close()


def test_a_cookie_a_host_sets_goes_back_to_that_host_only(
    make_server,  # noqa: ANN001
    spool_dir: Path,
) -> None:
    """As a browser would: the session cookie a site sets is sent on its later pages (and
    recorded in the request as sent), never to another host; a host that set none gets none."""
    site, other = make_server(), make_server(host="127.0.0.2")
    body = b"<html><body><p>Welcome</p></body></html>\n"
    headers = (("Content-Type", "text/html"), ("Set-Cookie", "visit=abc123; Path=/"))
    site.site._paths["/welcome"] = Served(200, headers, body, body)
    fetcher = Fetcher(settings(), spool_dir=spool_dir)
    first = fetcher.fetch(site.url("/welcome"))
    later = fetcher.fetch(site.url("/articles/one.html"))
    elsewhere = fetcher.fetch(other.url("/articles/one.html"))
    sent = [dict((k.lower(), v) for k, v in h.items()) for _, _, h in site.stats.requests]
    assert "cookie" not in sent[0]
    assert sent[1]["cookie"] == "visit=abc123"
    assert b"\r\nCookie: visit=abc123\r\n" in raw(later, "request")
    assert b"Cookie" not in raw(first, "request")
    assert "cookie" not in {k.lower() for _, _, h in other.stats.requests for k in h}
    assert elsewhere.hops[-1].status == 200


def test_credentials_in_the_url_are_sent_as_requests_sent_them(
    http_server: TestServer, spool_dir: Path
) -> None:
    """A cited ``http://user:password@host/`` page is asked with those Basic credentials, as
    before the GET left requests' Session (requests' prepare sends them)."""
    url = http_server.url("/robots.txt").replace("http://", "http://alice:s3cret@")
    r = Fetcher(settings(), spool_dir=spool_dir).fetch(url)
    sent = [dict((k.lower(), v) for k, v in h.items()) for _, _, h in http_server.stats.requests]
    assert sent[-1]["authorization"] == "Basic YWxpY2U6czNjcmV0"
    assert r.hops[-1].status == 200
    r.close()
