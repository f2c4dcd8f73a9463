"""Private addresses are refused where the socket connects: cited URLs in every spelling,
redirects, hop links, DNS rebinding, robots.txt, through a proxy, and collection TSAs.

Everything runs on 127.0.0.1, which is itself private. Where a test needs a "public" site that
redirects or links to a private one, it exempts that one endpoint (ip, port) through the
:class:`AddressPolicy` test hook: the refusal of every *other* loopback endpoint is then the
real rule at work, checked on the address the connection would be made to.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

from archiver.capture.crawl import Seed
from archiver.net.netpolicy import AddressPolicy, literal_address, why_private
from tests.capture.helpers import run_crawl
from tests.servers import ForwardingProxy, Socks5Proxy, TestServer

# Every spelling here really means this machine: getaddrinfo resolves it to loopback (or to
# 0.0.0.0 / ::ffff:127.0.0.1, which Linux connects to loopback), so a refusal is not a parse
# accident: with allow_private the same URL reaches the server (see the test below).
SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "0x7f000001",
    "2130706433",
    "127.1",
    "0177.0.0.1",
    "0.0.0.0",
    "[::ffff:127.0.0.1]",
]


def metadata_blocks(run: Any) -> list[dict[str, Any]]:
    return [
        json.loads(body)
        for headers, body, kind in run.records()
        if kind == "metadata" and b'"error"' in body and b"capture-provenance" not in body
    ]


def assert_refused(entry: dict[str, Any]) -> None:
    assert entry["outcome"] == "blocked", entry
    assert entry["error"]["class"] == "private-address"
    assert "--allow-private" in entry["error"]["message"]


@pytest.mark.parametrize("host", SPELLINGS)
def test_cited_private_address_refused_in_every_spelling(tmp_path: Path, make_server, host: str):
    server: TestServer = make_server()
    url = server.url("/articles/one.html", host=host)
    run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False)
    assert_refused(run.entries[url])
    assert run.entries[url]["status"] is None
    assert server.stats.requests == [] and server.stats.connections == 0
    records = run.records()
    assert not [r for r in records if r[2] in ("request", "response")]
    failures = metadata_blocks(run)
    assert failures and all(f["requested"] is False for f in failures)
    assert all(f["error"]["class"] == "private-address" for f in failures)


@pytest.mark.parametrize("host", SPELLINGS)
def test_same_spellings_reach_the_server_when_allowed(tmp_path: Path, make_server, host: str):
    """The control: each spelling really resolves to this machine."""
    server: TestServer = make_server()
    url = server.url("/articles/one.html", host=host)
    run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=True)
    assert run.entries[url]["outcome"] == "captured"
    assert "/articles/one.html" in server.stats.paths()


def test_ipv6_loopback_refused_before_connecting(tmp_path: Path):
    url = "http://[::1]:9/x"  # nothing listens there: a refusal can only come from the rule
    run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False)
    assert_refused(run.entries[url])
    assert "::1 is a loopback address" in run.entries[url]["error"]["message"]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "RFC 1918"),
        ("172.16.5.4", "RFC 1918"),
        ("192.168.1.1", "RFC 1918"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv6 form of 127.0.0.1"),
        ("::ffff:10.0.0.1", "IPv6 form of 10.0.0.1"),
        ("::127.0.0.1", "IPv6 form of 127.0.0.1"),
        ("2002:a9fe:a9fe::1", "IPv6 form of 169.254.169.254"),
        ("64:ff9b::a00:1", "IPv6 form of 10.0.0.1"),
    ],
)
def test_address_classes(address: str, kind: str):
    assert kind in (why_private(address) or "")


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_pass(address: str):
    assert why_private(address) is None
    assert AddressPolicy().refusal(address, 443) is None


@pytest.mark.parametrize(
    ("spelled", "means"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("[::1]", "::1"),
        ("example.org", None),
        ("1.2.3.4.example", None),
    ],
)
def test_numeric_spellings_read_as_the_resolver_reads_them(spelled: str, means: str | None):
    got = literal_address(spelled)
    assert (str(got) if got else None) == means
    if means is not None and not spelled.startswith("["):
        assert socket.getaddrinfo(spelled, 80)[0][4][0] == means  # the OS agrees


def test_redirect_from_allowed_host_to_private_refused(tmp_path: Path, make_server):
    public: TestServer = make_server()
    private: TestServer = make_server()
    public.site.add_redirect("/moved", private.url("/articles/one.html"))
    policy = AddressPolicy(exempt=frozenset({("127.0.0.1", public.port)}))
    url = public.url("/moved")
    run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False, policy=policy)
    entry = run.entries[url]
    assert_refused(entry)
    assert entry["redirects"] == [
        {"url": url, "status": 302, "location": private.url("/articles/one.html")}
    ]
    assert "/moved" in public.stats.paths()
    assert private.stats.requests == [] and private.stats.connections == 0


def test_hop_link_to_private_address_refused(tmp_path: Path, make_server):
    public: TestServer = make_server()
    private: TestServer = make_server()
    inner = private.url("/articles/two.html")
    public.site.add_page(
        "/report.html",
        f"<html><body><main><article><h1>Report</h1><p>Long enough text to be main content, "
        f'see <a href="{inner}">the annex</a> for details of the detentions.</p>'
        f"</article></main></body></html>".encode(),
    )
    policy = AddressPolicy(exempt=frozenset({("127.0.0.1", public.port)}))
    url = public.url("/report.html")
    run = run_crawl(tmp_path, [Seed(url, 1)], allow_private=False, policy=policy)
    assert run.entries[url]["outcome"] == "captured"
    child = run.entries[inner]
    assert child["hop"] == 1 and child["via"] == url
    assert_refused(child)
    assert private.stats.requests == [] and private.stats.connections == 0


def test_dns_rebinding_checked_on_the_address_connected_to(
    tmp_path: Path, make_server, monkeypatch: pytest.MonkeyPatch
):
    """A public-looking name whose DNS answer is a private address: refused at connect, with
    the answer recorded as evidence."""
    server: TestServer = make_server()
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "news.example.org":
            return real("127.0.0.1", *args, **kw)
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    url = f"http://news.example.org:{server.port}/articles/one.html"
    run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False)
    assert_refused(run.entries[url])
    assert server.stats.connections == 0
    dns = [f["dns"] for f in metadata_blocks(run) if f.get("dns")]
    assert dns and dns[0]["host"] == "news.example.org"
    assert dns[0]["answers"] == ["127.0.0.1"] and dns[0]["connected"] is None


def test_robots_txt_redirect_to_private_refused(tmp_path: Path, make_server):
    public: TestServer = make_server()
    private: TestServer = make_server()
    public.site.add_redirect("/robots.txt", private.url("/robots.txt"))
    policy = AddressPolicy(exempt=frozenset({("127.0.0.1", public.port)}))
    url = public.url("/articles/one.html")
    run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False, policy=policy)
    entry = run.entries[url]
    assert_refused(entry)
    assert "robots.txt" in entry["error"]["message"]
    assert public.stats.paths() == ["/robots.txt"]  # the page itself was never requested
    assert private.stats.requests == [] and private.stats.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "localhost"])
def test_through_http_proxy_literal_and_local_names_refused(tmp_path: Path, make_server, host: str):
    server: TestServer = make_server()
    proxy = ForwardingProxy()
    try:
        url = server.url("/articles/one.html", host=host)
        run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False, proxy=proxy.url)
        assert_refused(run.entries[url])
        assert proxy.forwarded == [] and proxy.connects == []
        assert server.stats.connections == 0
    finally:
        proxy.close()


def test_through_socks5h_proxy_localhost_refused(tmp_path: Path, make_server):
    server: TestServer = make_server()
    proxy = Socks5Proxy()
    try:
        url = server.url("/articles/one.html", host="localhost")
        run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False, proxy=proxy.url)
        assert_refused(run.entries[url])
        assert proxy.connects == [] and server.stats.connections == 0
    finally:
        proxy.close()


def test_proxy_on_loopback_is_the_operators_choice(tmp_path: Path, make_server):
    """The proxy's own address is not checked; the target a proxy resolves cannot be."""
    server: TestServer = make_server()
    proxy = ForwardingProxy()
    try:
        url = server.url("/articles/one.html")
        run = run_crawl(
            tmp_path,
            [Seed(url, 0)],
            allow_private=False,
            proxy=proxy.url,
            policy=AddressPolicy(exempt=frozenset({("127.0.0.1", server.port)})),
        )
        assert run.entries[url]["outcome"] == "captured"
        assert url in proxy.forwarded
    finally:
        proxy.close()


def test_refused_answers_are_never_connected_to(
    tmp_path: Path, make_server, monkeypatch: pytest.MonkeyPatch
):
    """A name with a private and a (here: exempted, standing for public) answer: the private
    one is skipped without a connection attempt, the other is used, both are recorded."""
    server: TestServer = make_server()
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if host == "mixed.example.org":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.255.255.1", port)),
                *real("127.0.0.1", port, *args, **kw),
            ]
        return real(host, port, *args, **kw)

    attempted: list[str] = []
    real_connect = urllib3.util.connection.create_connection

    def connect(address: Any, *args: Any, **kw: Any) -> Any:
        attempted.append(address[0])
        return real_connect(address, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)
    url = f"http://mixed.example.org:{server.port}/articles/one.html"
    policy = AddressPolicy(exempt=frozenset({("127.0.0.1", server.port)}))
    run = run_crawl(tmp_path, [Seed(url, 0)], allow_private=False, policy=policy)
    entry = run.entries[url]
    assert entry["outcome"] == "captured"
    assert attempted and set(attempted) == {"127.0.0.1"}  # 10.255.255.1 was never tried
    assert entry["dns"]["answers"] == ["10.255.255.1", "127.0.0.1"]
    assert entry["dns"]["connected"] == "127.0.0.1"
    assert entry["ip"] == "127.0.0.1"


def test_error_messages_drop_credentials():
    from archiver.capture.failures import _message

    err = OSError("Cannot connect to proxy http://user:s3cr3t@proxy.example:8080/ (refused)")
    assert "s3cr3t" not in _message(err) and "proxy.example:8080" in _message(err)
