"""What the capture records about *how* each URL was fetched: TLS chain, DNS, software, options.

Real servers on 127.0.0.1 (tests/servers.py); the HTTPS server presents leaf + intermediate under
a test root, so the recorded chain can be compared with exactly what the server was given.
"""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from urllib3.util.connection import allowed_gai_family
from warcio.archiveiterator import ArchiveIterator

from archiver.base.facts import mask_password, run_facts, software
from archiver.base.settings import Settings
from archiver.capture.crawl import Seed
from archiver.capture.fetch import Fetcher
from archiver.capture.records import build_entry, write_fetch
from archiver.warc.check import check_warc
from archiver.warc.writer import NewRecord, WarcWriter
from tests.capture.helpers import Run, assert_valid_entry, run_crawl
from tests.servers import ForwardingProxy, Socks5Proxy, TestServer, TLSFiles

PEM_CHAIN = "application/pem-certificate-chain"


def record(run: Run, record_id: str) -> tuple[dict[str, str], bytes]:
    headers, body, _ = run.by_id()[record_id]
    return headers, body


def ids(entry: dict[str, Any]) -> set[str]:
    return {r["record_id"] for r in entry["records"]}


def final_response_id(entry: dict[str, Any]) -> str:
    return [r for r in entry["records"] if r["type"] == "response"][-1]["record_id"]


def provenance(run: Run, entry: dict[str, Any]) -> dict[str, Any]:
    headers, body = record(run, entry["provenance_record"])
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


# -- TLS ----------------------------------------------------------------------------------------


def test_chain_as_presented_on_the_same_connection(
    tmp_path: Path, make_server, tls_files: TLSFiles
):
    server: TestServer = make_server(tls=True)
    url = server.url("/articles/one.html")
    run = run_crawl(tmp_path, [Seed(url, 0)], ca_bundle=str(tls_files.ca_pem))
    entry = run.entries[url]
    assert entry["outcome"] == "captured"
    # robots.txt and the page went over one keep-alive TLS connection, and nothing else
    # (no second handshake to "fetch the certificate"): the server saw one connection.
    assert server.stats.connections == 1
    assert server.stats.paths() == ["/robots.txt", "/articles/one.html"]

    presented = tls_files.presented_chain()
    assert len(presented) == 2  # leaf + intermediate, as configured
    tls = entry["tls"]
    assert tls["version"].startswith("TLS") and tls["cipher"]
    assert [c["sha256"] for c in tls["chain"]] == [hashlib.sha256(d).hexdigest() for d in presented]
    assert tls["chain"][0]["subject"] == "CN=localhost"
    assert (
        tls["chain"][0]["issuer"] == tls["chain"][1]["subject"] == "CN=archiver test intermediate"
    )
    assert tls["chain"][1]["issuer"] == "CN=archiver test CA"
    assert (
        tls["chain"][0]["not_before"].endswith("Z")
        and tls["chain"][0]["not_after"] > (tls["chain"][0]["not_before"])
    )

    # One chain record, written with the exchange that opened the connection (robots.txt)
    # and listed in this entry's records; the page's response points to it by id.
    chains = [r for r in entry["records"] if r["type"] == "resource"]
    assert [c["record_id"] for c in chains] == [tls["record_id"]]
    assert chains[0]["target_uri"] == f"urn:x-archiver:tls-chain:127.0.0.1:{server.port}"
    headers, pem = record(run, tls["record_id"])
    assert headers["Content-Type"] == PEM_CHAIN
    assert headers["WARC-IP-Address"] == "127.0.0.1"
    robots_response = next(
        r["record_id"]
        for r in entry["records"]
        if r["type"] == "response" and r["target_uri"].endswith("/robots.txt")
    )
    assert headers["WARC-Concurrent-To"] == headers["WARC-Refers-To"] == robots_response
    assert pem == tls_files.cert_pem.read_bytes()  # byte for byte what the server was given
    certs = x509.load_pem_x509_certificates(pem)
    assert [c.public_bytes(serialization.Encoding.DER) for c in certs] == presented
    for warc in run.warcs:
        assert check_warc(warc).problems == []
    assert_valid_entry(entry)


def test_each_new_connection_has_its_chain_and_reuse_points_back(
    tmp_path: Path, make_server, tls_files: TLSFiles, spool_dir: Path
):
    server: TestServer = make_server(tls=True)
    fetcher = Fetcher(
        Settings(per_host_delay=0.0, ca_bundle=str(tls_files.ca_pem), allow_private=True),
        spool_dir=spool_dir,
    )
    writer = WarcWriter(tmp_path / "w", prefix="T", hostname="t", warcinfo={})
    first = fetcher.fetch(server.url("/articles/one.html"))
    second = fetcher.fetch(server.url("/articles/two.html"))  # same keep-alive connection
    fetcher.release_host("127.0.0.1")
    third = fetcher.fetch(server.url("/articles/three.html"))  # a new connection
    try:
        assert server.stats.connections == 2
        a, b, c = (r.final for r in (first, second, third))
        assert a.exchange.opened_tls and not b.exchange.opened_tls and c.exchange.opened_tls
        assert b.tls.record_id == a.tls.record_id != c.tls.record_id
        assert c.tls.chain == tls_files.presented_chain() and not c.tls.resumed
        types = [[ref.type for ref in write_fetch(writer, r)] for r in (first, second, third)]
        assert types == [
            ["request", "response", "resource"],
            ["request", "response"],
            ["request", "response", "resource"],
        ]
    finally:
        for r in (first, second, third):
            r.close()
        fetcher.close()
        writer.close()


def test_unverified_capture_still_records_the_chain(
    tmp_path: Path, make_server, tls_files: TLSFiles
):
    server: TestServer = make_server(tls=True)
    url = server.url("/articles/two.html")
    run = run_crawl(tmp_path, [Seed(url, 0)], verify_tls=False)
    entry = run.entries[url]
    assert entry["outcome"] == "captured"
    digests = [hashlib.sha256(d).hexdigest() for d in tls_files.presented_chain()]
    assert [c["sha256"] for c in entry["tls"]["chain"]] == digests
    info = provenance(run, entry)
    assert info["tls"]["verified"] is False and info["tls"]["verified_root"] is None
    assert info["settings"]["verify_tls"] is False


# -- DNS ----------------------------------------------------------------------------------------


def test_dns_answers_for_localhost(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/articles/one.html", host="localhost")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    entry = run.entries[url]
    assert entry["outcome"] == "captured"
    dns = entry["dns"]
    expected = {
        info[4][0] for info in socket.getaddrinfo("localhost", server.port, allowed_gai_family(), 1)
    }
    assert dns["host"] == "localhost" and dns["resolver"] == "system"
    assert set(dns["answers"]) == expected and set(dns["answers"]) <= {"127.0.0.1", "::1"}
    assert dns["connected"] in dns["answers"] and dns["connected"] == entry["ip"] == "127.0.0.1"
    assert entry["started"] <= dns["at"] <= entry["ended"]
    assert provenance(run, entry)["dns"] == dns
    assert_valid_entry(entry)


def test_ip_literal_is_not_looked_up(tmp_path: Path, http_server: TestServer):
    url = http_server.url("/articles/two.html")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    dns = run.entries[url]["dns"]
    assert dns["resolver"] == "literal" and dns["answers"] == ["127.0.0.1"]
    assert dns["connected"] == "127.0.0.1"


def test_failed_resolution_and_refused_connection_are_recorded(
    tmp_path: Path, spool_dir: Path, refused_url: str
):
    fetcher = Fetcher(
        Settings(per_host_delay=0.0, connect_timeout=5.0, allow_private=True), spool_dir=spool_dir
    )
    writer = WarcWriter(tmp_path / "w", prefix="T", hostname="t", warcinfo={})
    facts = run_facts(fetcher.settings)
    try:
        dns_fail = fetcher.fetch("http://nobody.invalid/page")
        assert dns_fail.error.cls == "dns"
        assert dns_fail.final.dns.answers == [] and dns_fail.final.dns.error
        refused = fetcher.fetch(refused_url)
        refs = write_fetch(writer, refused, facts=facts)
        entry = build_entry(refused, refs, citations=[], hop=0, via=None).to_json()
    finally:
        fetcher.close()
        writer.close()
    assert entry["outcome"] == "failed" and entry["error"]["class"] == "connection-refused"
    assert entry["dns"]["answers"] == ["127.0.0.1"] and entry["dns"]["connected"] is None
    assert entry["provenance_record"] in ids(entry)
    assert_valid_entry(entry)
    with open(writer.closed_files[0], "rb") as f:
        by_id = {
            r.rec_headers.get_header("WARC-Record-ID"): (
                dict(r.rec_headers.headers),
                r.content_stream().read(),
            )
            for r in ArchiveIterator(f)
        }
    headers, body = by_id[entry["provenance_record"]]
    failure = next(
        r["record_id"]
        for r in entry["records"]
        if r["type"] == "metadata" and r["record_id"] != entry["provenance_record"]
    )
    assert headers["WARC-Concurrent-To"] == failure and "WARC-Refers-To" not in headers
    info = json.loads(body)
    assert info["outcome"] == "failed" and info["hops"][0]["error"]["class"] == "connection-refused"


# -- proxies ------------------------------------------------------------------------------------


class _LookupSpy:
    """Record getaddrinfo calls made outside the test servers' own threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hosts: list[str] = []
        real = socket.getaddrinfo

        def spy(host: Any, *args: Any, **kw: Any) -> Any:
            if "process_request" not in threading.current_thread().name:
                self.hosts.append(str(host))
            return real(host, *args, **kw)

        monkeypatch.setattr(socket, "getaddrinfo", spy)


def test_through_http_proxy_the_proxy_resolves(
    tmp_path: Path,
    make_server,
    proxy_server: ForwardingProxy,
    tls_files: TLSFiles,
    monkeypatch: pytest.MonkeyPatch,
):
    plain_server: TestServer = make_server()
    tls_server: TestServer = make_server(tls=True)
    plain = plain_server.url("/articles/one.html", host="localhost")
    secure = tls_server.url("/articles/two.html", host="localhost")
    spy = _LookupSpy(monkeypatch)
    proxy = proxy_server.url.replace("http://", "http://alice:s3cret-pw@")
    run = run_crawl(
        tmp_path,
        [Seed(plain, 0), Seed(secure, 0)],
        proxy=proxy,
        ca_bundle=str(tls_files.ca_pem),
    )
    assert "localhost" not in spy.hosts  # only the proxy looked the name up
    for url in (plain, secure):
        entry = run.entries[url]
        assert entry["outcome"] == "captured" and entry["resolved_by"] == "proxy"
        assert entry["dns"] == {
            "resolved_by": "proxy",
            "host": "localhost",
            "proxy": proxy_server.url,
        }
        assert entry["ip"] is None
        info = provenance(run, entry)
        assert info["dns"] == entry["dns"] and "answers" not in info["dns"]
        assert info["settings"]["proxy"] == proxy_server.url.replace("http://", "http://alice:***@")
        assert_valid_entry(entry)
    # TLS through the CONNECT tunnel: still the chain of that very connection
    digests = [hashlib.sha256(d).hexdigest() for d in tls_files.presented_chain()]
    assert [c["sha256"] for c in run.entries[secure]["tls"]["chain"]] == digests
    assert tls_server.stats.connections == 1
    assert run.entries[plain]["tls"] is None
    # the proxy password is nowhere in what was written
    for warc in run.warcs:
        assert b"s3cret-pw" not in warc.read_bytes()
    assert "s3cret-pw" not in json.dumps(list(run.entries.values()))


def test_socks5h_never_resolves_locally(
    tmp_path: Path,
    make_server,
    socks_proxy: Socks5Proxy,
    tls_files: TLSFiles,
    monkeypatch: pytest.MonkeyPatch,
):
    server: TestServer = make_server(tls=True)
    url = server.url("/articles/three.html", host="localhost")
    spy = _LookupSpy(monkeypatch)
    run = run_crawl(
        tmp_path, [Seed(url, 0)], proxy=socks_proxy.url, ca_bundle=str(tls_files.ca_pem)
    )
    entry = run.entries[url]
    assert entry["outcome"] == "captured" and entry["resolved_by"] == "proxy"
    assert "localhost" not in spy.hosts  # a DNS leak around Tor would show up here
    assert entry["dns"]["resolved_by"] == "proxy" and entry["tls"]["record_id"] in ids(entry)


def test_socks5_without_h_records_our_lookup(tmp_path: Path, make_server, socks_proxy: Socks5Proxy):
    server: TestServer = make_server()
    url = server.url("/articles/one.html", host="localhost")
    proxy = socks_proxy.url.replace("socks5h://", "socks5://")
    run = run_crawl(tmp_path, [Seed(url, 0)], proxy=proxy)
    entry = run.entries[url]
    assert entry["outcome"] == "captured" and entry["resolved_by"] == "client"
    assert (
        entry["dns"]["host"] == "localhost" and entry["dns"]["connected"] in entry["dns"]["answers"]
    )
    # the proxy was handed the address we resolved, not the name
    assert f"{entry['dns']['connected']}:{server.port}" in socks_proxy.connects


# -- the provenance record and warcinfo ---------------------------------------------------------


def test_provenance_record_per_url(tmp_path: Path, make_server, tls_files: TLSFiles):
    server: TestServer = make_server(tls=True)
    url = server.url("/redirect/301", host="localhost")
    run = run_crawl(
        tmp_path,
        [Seed(url, 0)],
        ca_bundle=str(tls_files.ca_pem),
        operator="op-7f3a",
        organisation="Example Rights Watch",
    )
    entry = run.entries[url]
    assert entry["outcome"] == "captured" and len(entry["redirects"]) == 2
    pid = entry["provenance_record"]
    assert pid in ids(entry)
    headers, _ = record(run, pid)
    response = final_response_id(entry)
    assert headers["WARC-Refers-To"] == headers["WARC-Concurrent-To"] == response
    # Not the URL itself: replay tools would serve the JSON as the page (docs/warc.md).
    assert headers["WARC-Target-URI"] == f"urn:x-archiver:provenance:{url}"
    assert headers["WARC-Date"] == record(run, response)[0]["WARC-Date"]
    info = provenance(run, entry)
    assert info["type"] == "archiver/capture-provenance" and info["target_uri"] == url
    for key in ("started", "ended", "outcome", "status", "final_url", "redirects", "ip"):
        assert info[key] == entry[key], key
    assert info["tls"]["chain"] == entry["tls"]["chain"] and info["tls"]["verified"] is True
    assert info["tls"]["verified_root"]["subject"] == "CN=archiver test CA"
    assert [h["status"] for h in info["hops"]] == [301, 302, 200]
    assert info["hops"][-1]["response_record"] == response
    assert all(h["request_record"] in ids(entry) for h in info["hops"])
    assert info["robots"]["allowed"] is True
    versions = info["software"]
    assert versions["openssl"] == ssl.OPENSSL_VERSION
    assert versions["python"].endswith(platform.python_version())
    for lib in ("archiver", "requests", "urllib3", "warcio"):
        assert versions[lib], lib
    import requests
    import urllib3

    assert versions["requests"] == requests.__version__
    assert versions["urllib3"] == urllib3.__version__
    assert info["os"]["system"] == platform.system()
    assert info["os"]["machine"] == platform.machine()
    assert info["settings"]["per_host_delay"] == 0.0
    assert info["settings"]["ca_bundle"] == str(tls_files.ca_pem)
    assert info["operator"] == "op-7f3a" and info["organisation"] == "Example Rights Watch"
    assert_valid_entry(entry)


def test_warcinfo_carries_software_and_options(tmp_path: Path):
    from archiver.run.plan import RunPlan, warcinfo_fields

    settings = Settings(operator="op-1", proxy="socks5h://tor:hunter2@127.0.0.1:9050")
    plan = RunPlan("case", "a test", {}, [], None, {})
    writer = WarcWriter(
        tmp_path, prefix="T", hostname="t", warcinfo=warcinfo_fields(settings, plan)
    )
    writer.write([NewRecord("resource", "urn:x-test:a", "text/plain", b"a", 1)])
    writer.close()
    with open(writer.closed_files[0], "rb") as f:
        info = next(iter(ArchiveIterator(f)))
        assert info.rec_type == "warcinfo"
        text = info.content_stream().read().decode()
    fields = dict(line.split(": ", 1) for line in text.splitlines() if line)
    assert ssl.OPENSSL_VERSION in fields["software"]
    assert f"urllib3 {software()['urllib3']}" in fields["software"]
    assert json.loads(fields["archiver-software"]) == software()
    assert json.loads(fields["archiver-os"])["system"] == platform.system()
    options = json.loads(fields["archiver-options"])
    assert options["proxy"] == "socks5h://tor:***@127.0.0.1:9050" and options["operator"] == "op-1"
    assert "hunter2" not in text
    assert fields["operator"] == "op-1"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://user:pw@proxy:3128", "http://user:***@proxy:3128"),
        ("socks5h://a:b:c@[::1]:9050", "socks5h://a:***@[::1]:9050"),
        ("http://proxy:3128", "http://proxy:3128"),
        ("http://user@proxy:3128", "http://user@proxy:3128"),
        (None, None),
    ],
)
def test_mask_password(url: str | None, masked: str | None):
    assert mask_password(url) == masked
