"""End to end: crawl local servers into real WARC files, read them back with warcio."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.crawl import CaptureResult, Seed
from archiver.collect.seeds import Citation
from archiver.warc.check import check_warc
from archiver.warc.targets import subject_url
from tests.capture.helpers import SCHEMA, Run, b32, block_at, ref, run_crawl
from tests.servers import CHUNKED_PIECES, ForwardingProxy, TestServer, TLSFiles, chunked_wire


def test_pages_captured_as_request_response_pairs(tmp_path: Path, http_server: TestServer):
    paths = ["/articles/one.html", "/chunked.html", "/gzip.html", "/doc.pdf", "/cp1251.html"]
    run = run_crawl(tmp_path, [Seed(http_server.url(p), 0) for p in paths])
    records = run.by_id()
    for path in paths:
        url = http_server.url(path)
        entry = run.entries[url]
        served = http_server.site.served(path)
        assert entry["outcome"] == "captured" and entry["status"] == 200
        assert entry["ip"] == "127.0.0.1" and entry["resolved_by"] == "client"
        assert entry["payload_sha256"] == hashlib.sha256(served.body).hexdigest()
        assert entry["payload_size"] == len(served.body)
        assert run.payloads[url] == served.decoded  # both encodings removed for the cleaner
        refs = [r for r in entry["records"] if r["target_uri"] == url]
        req = next(r for r in refs if r["type"] == "request")
        resp = next(r for r in refs if r["type"] == "response")
        rh, _, _ = records[resp["record_id"]]
        qh, _, _ = records[req["record_id"]]
        assert rh["WARC-Concurrent-To"] == req["record_id"]
        assert qh["WARC-Concurrent-To"] == resp["record_id"]
        assert rh["WARC-IP-Address"] == qh["WARC-IP-Address"] == "127.0.0.1"
        assert rh["WARC-Date"] == qh["WARC-Date"]
        assert rh["WARC-Payload-Digest"] == b32(served.body)
        assert rh["WARC-Block-Digest"].startswith("sha256:")
        block = block_at(run.warcs[0], resp["offset"], resp["length"])
        assert rh["WARC-Block-Digest"] == b32(block)
    for warc in run.warcs:
        assert check_warc(warc).problems == []


def test_chunked_block_keeps_framing(tmp_path: Path, http_server: TestServer):
    url = http_server.url("/chunked.html")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    resp = ref(run.entries[url], "response")
    block = block_at(run.warcs[0], resp["offset"], resp["length"])
    assert block.endswith(b"\r\n\r\n" + chunked_wire())
    headers, content, _ = run.by_id()[resp["record_id"]]
    assert headers["WARC-Payload-Digest"] == b32(b"".join(CHUNKED_PIECES))  # de-chunked
    assert content == b"".join(CHUNKED_PIECES)


def test_gzip_block_is_as_served(tmp_path: Path, http_server: TestServer):
    url = http_server.url("/gzip.html")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    resp = ref(run.entries[url], "response")
    block = block_at(run.warcs[0], resp["offset"], resp["length"])
    served = http_server.site.served("/gzip.html")
    assert b"\r\nContent-Encoding: gzip\r\n" in block and block.endswith(served.body)


def test_each_redirect_hop_recorded(tmp_path: Path, http_server: TestServer):
    url = http_server.url("/redirect/301")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    e = run.entries[url]
    assert e["outcome"] == "captured" and e["final_url"] == http_server.url("/articles/one.html")
    assert e["redirects"] == [
        {"url": url, "status": 301, "location": "/redirect/302"},
        {"url": http_server.url("/redirect/302"), "status": 302, "location": "/articles/one.html"},
    ]
    pairs = [(r["type"], r["target_uri"]) for r in e["records"] if "robots" not in r["target_uri"]]
    assert pairs == [
        ("request", url),
        ("response", url),
        ("request", http_server.url("/redirect/302")),
        ("response", http_server.url("/redirect/302")),
        ("request", e["final_url"]),
        ("response", e["final_url"]),
        ("metadata", f"urn:x-archiver:provenance:{url}"),  # the URL's provenance record
    ]


def _metadata(run: Run, entry: dict[str, Any], count: int = 1) -> Any:
    """The JSON of the entry's failure metadata record(s): one dict, or a list when ``count`` > 1.

    Provenance records (the entry's own and its robots.txt's) are left out."""
    records = run.by_id()
    meta = [
        r
        for r in entry["records"]
        if r["type"] == "metadata" and b"capture-provenance" not in records[r["record_id"]][1]
    ]
    assert len(meta) == count
    out = []
    for m in meta:
        headers, body, _ = run.by_id()[m["record_id"]]
        assert headers["Content-Type"] == "application/json"
        out.append(json.loads(body))
    return out[0] if count == 1 else out


def test_failures_are_recorded(
    tmp_path: Path, http_server: TestServer, https_server: TestServer, refused_url: str
):
    urls = {
        "refused": refused_url,
        "dns": "http://nobody.invalid/page",
        "tls": https_server.url("/articles/one.html"),  # its CA is not trusted here
        "timeout": http_server.url("/slow?s=3"),
        "reset": http_server.url("/reset"),
        "404": http_server.url("/status/404"),
        "410": http_server.url("/status/410"),
        "500": http_server.url("/status/500"),
        "loop": http_server.url("/loop/a"),
    }
    run = run_crawl(
        tmp_path, [Seed(u, 0) for u in urls.values()], read_timeout=0.5, max_redirects=4
    )
    e = {k: run.entries[u] for k, u in urls.items()}
    for key, cls in [("refused", "connection-refused"), ("dns", "dns"), ("tls", "tls")]:
        assert e[key]["outcome"] == "failed" and e[key]["error"]["class"] == cls
        assert e[key]["error"]["at"].endswith("Z")
        # robots.txt is asked first and fails the same way: a metadata record for it, and
        # one for the page saying it was not requested
        robots_info, page_info = _metadata(run, e[key], 2)
        assert robots_info["error"]["class"] == cls
        assert robots_info["target_uri"].endswith("/robots.txt")
        assert page_info["target_uri"] == urls[key] and page_info["requested"] is False
        assert page_info["error"]["class"] == cls
    assert e["tls"]["ip"] is None and _metadata(run, e["tls"], 2)[0]["server_ip"] == "127.0.0.1"
    t = e["timeout"]
    assert t["outcome"] == "failed" and t["error"]["class"] == "timeout"
    assert [
        (r["type"], r["target_uri"]) for r in t["records"] if "robots" not in r["target_uri"]
    ] == [
        ("request", urls["timeout"]),
        ("metadata", f"urn:x-archiver:failure:{urls['timeout']}"),
        ("metadata", f"urn:x-archiver:provenance:{urls['timeout']}"),
    ]
    assert _metadata(run, t)["target_uri"] == urls["timeout"]
    r = e["reset"]
    assert r["outcome"] == "captured" and r["truncated"] == "disconnect"
    assert r["error"]["class"] == "connection-reset" and 0 < r["payload_size"] <= 10000
    resp = ref(r, "response")
    assert run.by_id()[resp["record_id"]][0]["WARC-Truncated"] == "disconnect"
    for key, status, cls in [
        ("404", 404, "http-4xx"),
        ("410", 410, "http-4xx"),
        ("500", 500, "http-5xx"),
    ]:
        assert e[key]["outcome"] == "http-error" and e[key]["status"] == status
        assert e[key]["error"]["class"] == cls
        assert [x["type"] for x in e[key]["records"]] == ["request", "response", "metadata"]
    loop = e["loop"]
    assert loop["outcome"] == "failed" and loop["error"]["class"] == "too-many-redirects"
    assert len(loop["redirects"]) == 5
    assert run.stats.failed["connection-refused"] == 1 and run.stats.outcomes["http-error"] == 3


def test_truncation_marks_records(tmp_path: Path, http_server: TestServer):
    big = http_server.url("/large?size=2000000")
    slow = http_server.url("/trickle?n=100&every=0.05")
    run = run_crawl(tmp_path, [Seed(big, 0), Seed(slow, 0)], max_size=500_000, max_time_per_url=1.0)
    records = run.by_id()
    for url, why in [(big, "length"), (slow, "time")]:
        entry = run.entries[url]
        assert entry["truncated"] == why and entry["outcome"] == "captured"
        resp = ref(entry, "response")
        assert records[resp["record_id"]][0]["WARC-Truncated"] == why
    assert run.entries[big]["payload_size"] == 500_000


def test_robots_disallow_recorded_and_not_fetched(tmp_path: Path, make_server):
    server = make_server()
    blocked = server.url("/private/secret.html")
    allowed = server.url("/articles/one.html")
    run = run_crawl(tmp_path, [Seed(blocked, 0), Seed(allowed, 0)], concurrency=1)
    e = run.entries[blocked]
    assert e["outcome"] == "blocked" and e["error"]["class"] == "robots"
    assert e["robots"]["allowed"] is False and e["robots"]["override"] is False
    assert e["robots"]["rule"].startswith("disallow: /private/")
    assert e["robots"]["url"] == server.url("/robots.txt")
    assert "/private/secret.html" not in server.stats.paths()
    assert server.stats.paths().count("/robots.txt") == 1  # once per origin
    # the robots.txt exchange is in the WARC and referenced by exactly one entry
    robots_refs = [
        r
        for x in run.entries.values()
        for r in x["records"]
        if subject_url(r["target_uri"]) == server.url("/robots.txt")
    ]
    assert sorted(r["type"] for r in robots_refs) == ["metadata", "request", "response"]
    headers, body, _ = run.by_id()[e["robots"]["record_id"]]
    assert body == server.site.served("/robots.txt").body
    assert run.entries[allowed]["robots"]["allowed"] is True


def test_redirect_into_disallowed_path_is_blocked(tmp_path: Path, make_server):
    server = make_server()
    url = server.url("/redirect/private")
    run = run_crawl(tmp_path, [Seed(url, 0)])
    e = run.entries[url]
    assert e["outcome"] == "blocked" and e["error"]["class"] == "robots"
    assert server.url("/private/secret.html") in e["error"]["message"]
    assert e["redirects"] == [{"url": url, "status": 302, "location": "/private/secret.html"}]
    assert "/private/secret.html" not in server.stats.paths()


def test_robots_override_recorded_and_fetched(tmp_path: Path, make_server):
    server = make_server()
    blocked = server.url("/private/secret.html")
    reason = "page cited as evidence in case 2026-017; legal review 12 Nov"
    run = run_crawl(
        tmp_path, [Seed(blocked, 0)], respect_robots=False, robots_override_reason=reason
    )
    e = run.entries[blocked]
    assert e["outcome"] == "captured"
    assert e["robots"]["allowed"] is False and e["robots"]["override"] is True
    assert e["robots"]["reason"] == reason
    assert "/private/secret.html" in server.stats.paths()


def test_one_connection_per_host(tmp_path: Path, make_server):
    server = make_server()
    urls = [server.url(f"/slowish/{i}") for i in range(6)]
    run_crawl(tmp_path, [Seed(u, 0) for u in urls], concurrency=4)
    assert len([p for p in server.stats.paths() if p.startswith("/slowish/")]) == 6
    assert server.stats.max_in_flight == 1


def test_hosts_are_fetched_concurrently(tmp_path: Path, make_server):
    # Control for the test above: the same server under two host names is two hosts.
    server = make_server()
    urls = [
        server.url(f"/slowish/{i}", host=h) for i in range(3) for h in ("127.0.0.1", "localhost")
    ]
    run_crawl(tmp_path, [Seed(u, 0) for u in urls], concurrency=4)
    assert server.stats.max_in_flight == 2


def test_capture_through_proxy(
    tmp_path: Path,
    http_server: TestServer,
    https_server: TestServer,
    tls_files: TLSFiles,
):
    proxy = ForwardingProxy()
    try:
        plain = http_server.url("/articles/three.html")
        secure = https_server.url("/articles/two.html")
        run = run_crawl(
            tmp_path,
            [Seed(plain, 0), Seed(secure, 0)],
            proxy=proxy.url,
            ca_bundle=str(tls_files.ca_pem),
        )
    finally:
        proxy.close()
    assert plain in proxy.forwarded and http_server.url("/robots.txt") in proxy.forwarded
    assert f"127.0.0.1:{https_server.port}" in proxy.connects
    records = run.by_id()
    for url in (plain, secure):
        e = run.entries[url]
        assert e["outcome"] == "captured" and e["resolved_by"] == "proxy"
        assert e["ip"] is None  # the server's address is the proxy's to know
        assert e["proxy"] == {"url": proxy.url, "ip": "127.0.0.1"}
        resp = ref(e, "response")
        assert "WARC-IP-Address" not in records[resp["record_id"]][0]
    assert run.entries[secure]["tls"]["version"].startswith("TLS")


def test_hops_follow_main_content_links_once(tmp_path: Path, make_server):
    server = make_server()
    seed = server.url("/articles/one.html")
    run = run_crawl(
        tmp_path,
        [Seed(seed, 2, [Citation("report.md", "report.md:3", seed)])],
    )
    two, three, pdf = (
        server.url(p) for p in ("/articles/two.html", "/articles/three.html", "/doc.pdf")
    )
    assert set(run.entries) == {seed, two, three, pdf}
    assert run.entries[seed]["hop"] == 0 and run.entries[seed]["via"] is None
    assert run.entries[seed]["citations"][0]["document"] == "report.md"
    for url in (two, three, pdf):
        assert run.entries[url]["hop"] == 1 and run.entries[url]["via"] == seed
        assert run.entries[url]["citations"][0]["document"] == seed
    fetched = server.stats.paths()
    assert fetched.count("/articles/one.html") == 1  # linked back from two and three
    assert "/about.html" not in fetched  # navigation is not main content


def test_same_url_cited_twice_is_captured_once(tmp_path: Path, make_server):
    server = make_server()
    url = server.url("/articles/two.html")
    c1 = Citation("a.md", "a.md:1", url)
    c2 = Citation("b.md", "b.md:9", url + "#x")
    run = run_crawl(tmp_path, [Seed(url, 0, [c1]), Seed(url + "#x", 0, [c2])])
    assert list(run.entries) == [url]
    assert run.entries[url]["citations"] == [c1.to_json(), c2.to_json()]
    assert server.stats.paths().count("/articles/two.html") == 1


def test_skip_and_stop(tmp_path: Path, make_server):
    server = make_server()
    urls = [server.url(f"/slowish/{i}") for i in range(5)]
    stop = threading.Event()
    run = run_crawl(
        tmp_path,
        [Seed(u, 0) for u in urls],
        lambda r: stop.set(),
        stop=stop,
        skip={urls[0]},
        concurrency=1,
    )
    assert urls[0] not in run.entries
    assert len(run.entries) == 1 and run.stats.interrupted
    assert "/slowish/0" not in server.stats.paths()


def test_on_result_error_is_raised(tmp_path: Path, http_server: TestServer):
    def boom(result: CaptureResult) -> None:
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        run_crawl(tmp_path, [Seed(http_server.url("/articles/one.html"), 0)], boom)


def test_entries_match_schema(tmp_path: Path, http_server: TestServer, refused_url: str):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    urls = [
        http_server.url(p)
        for p in ("/redirect/301", "/status/404", "/private/secret.html", "/reset")
    ] + [refused_url, "ftp://example.org/x"]
    run = run_crawl(tmp_path, [Seed(u, 0) for u in urls])
    assert len(run.entries) == len(urls)
    validator = jsonschema.Draft202012Validator(schema)
    for entry in run.entries.values():
        assert list(validator.iter_errors(entry)) == [], entry["url"]
    bad = dict(run.entries[urls[0]], outcome="fine")
    assert list(validator.iter_errors(bad))  # the schema can fail


def test_a_decoded_copy_is_spooled_only_for_a_reader(tmp_path: Path, http_server: TestServer):
    """No cleaning and no links to follow: no body is decoded to disk, the capture is the same."""
    page = http_server.url("/gzip.html")
    read = run_crawl(tmp_path / "clean", [Seed(page, 0)])
    unread = run_crawl(tmp_path / "no-clean", [Seed(page, 0)], clean=False)
    follow = run_crawl(tmp_path / "hops", [Seed(page, 1)], clean=False)
    assert page in read.payloads and page in follow.payloads
    assert unread.payloads == {} and unread.results[0].payload_path is None
    same = ("payload_sha256", "payload_size", "status", "outcome")
    assert {k: unread.entries[page][k] for k in same} == {k: read.entries[page][k] for k in same}
