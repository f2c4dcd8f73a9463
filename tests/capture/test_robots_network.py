"""A URL that robots.txt blocks is logged with the network path its robots.txt took, and the
robots.txt exchange has its own provenance record, as any page exchange does."""

from __future__ import annotations

import json
from pathlib import Path

from archiver.capture.crawl import Seed
from archiver.warc.targets import subject_url
from tests.capture.helpers import assert_valid_entry, run_crawl
from tests.servers import ForwardingProxy, Socks5Proxy, TestServer


def provenance_for(run, url: str) -> dict:  # noqa: ANN001
    return next(
        json.loads(body)
        for headers, body, kind in run.records()
        if kind == "metadata"
        and subject_url(headers["WARC-Target-URI"]) == url
        and b"capture-provenance" in body
    )


def test_robots_blocked_url_through_http_proxy_names_the_proxy(tmp_path: Path, make_server):
    server: TestServer = make_server()
    proxy = ForwardingProxy()
    try:
        url = server.url("/private/secret.html")  # robots.txt disallows /private/
        run = run_crawl(tmp_path, [Seed(url, 0)], proxy=proxy.url)
        entry = run.entries[url]
        assert entry["outcome"] == "blocked" and entry["error"]["class"] == "robots"
        assert entry["proxy"] == {"url": proxy.url, "ip": "127.0.0.1"}
        assert entry["resolved_by"] == "proxy"
        assert server.url("/robots.txt") in proxy.forwarded
        robots = provenance_for(run, server.url("/robots.txt"))
        assert robots["proxy"] == {"url": proxy.url, "ip": "127.0.0.1"}
        assert robots["resolved_by"] == "proxy" and robots["status"] == 200
        assert robots["dns"]["resolved_by"] == "proxy"
        assert_valid_entry(entry)
    finally:
        proxy.close()


def test_robots_blocked_url_through_socks_names_the_proxy(tmp_path: Path, make_server):
    server: TestServer = make_server()
    proxy = Socks5Proxy()
    try:
        url = server.url("/private/secret.html")
        run = run_crawl(tmp_path, [Seed(url, 0)], proxy=proxy.url)
        entry = run.entries[url]
        assert entry["outcome"] == "blocked"
        assert entry["proxy"] == {"url": proxy.url, "ip": "127.0.0.1"}
        assert entry["resolved_by"] == "proxy"
    finally:
        proxy.close()


def test_robots_txt_exchange_direct_has_ip_and_provenance(tmp_path: Path, make_server):
    server: TestServer = make_server()
    url = server.url("/private/secret.html")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    robots_url = server.url("/robots.txt")
    response = next(
        h
        for h, _, kind in run.records()
        if kind == "response" and h["WARC-Target-URI"] == robots_url
    )
    assert response["WARC-IP-Address"] == "127.0.0.1"
    robots = provenance_for(run, robots_url)
    assert robots["ip"] == "127.0.0.1" and robots["proxy"] is None
    assert robots["dns"]["connected"] == "127.0.0.1"
    assert robots["hops"][0]["response_record"] == response["WARC-Record-ID"]
