"""No proxy credential reaches any artefact: every byte of the bag and of what lies beside it
(custody log, run output) is scanned for the password in every form it could be written.

The proxies require the credentials (a wrong password is refused), so the capture really
authenticated and the credential really was on the wire.
"""

from __future__ import annotations

import base64
import gzip
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.helpers import archiver, capture_log
from tests.servers import ForwardingProxy, Socks5Proxy, TestServer, TLSFiles

USER = "archivist"
PASSWORD = "s3cr3t-p@ss:w/rd"  # '@', ':' and '/' must be percent-encoded in a proxy URL


def secret_forms() -> list[bytes]:
    quoted = quote(PASSWORD, safe="")
    forms = {
        PASSWORD,
        quoted,
        quoted.lower(),
        quote(PASSWORD),  # '/' left as is
        base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        base64.b64encode(f"{USER}:{quoted}".encode()).decode(),
        base64.urlsafe_b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    }
    return [f.encode() for f in forms]


def env(**extra: str) -> dict[str, str]:
    drop = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    out = {k: v for k, v in os.environ.items() if k.lower() not in drop}
    out.update(extra)
    return out


def every_byte(folder: Path) -> list[tuple[Path, bytes]]:
    """Each file under ``folder``, gzip members decompressed as well as raw."""
    out = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        out.append((path, data))
        if data[:2] == b"\x1f\x8b":
            out.append((path, gzip.decompress(data)))
    return out


def assert_no_secret(out: Path, proc: Any) -> None:
    blobs = [
        *every_byte(out),
        (Path("stdout"), proc.stdout.encode()),
        (Path("stderr"), proc.stderr.encode()),
    ]
    names = {p.name for p, _ in blobs}
    # The bag's WARCs, capture log, summary, bag-info, the custody log in the bag and beside it.
    assert {"capture-log.jsonl", "provenance-summary.html", "bag-info.txt"} <= names
    assert (out / "custody-log.jsonl").is_file() and any(n.endswith(".warc.gz") for n in names)
    assert "custody.jsonl" in names  # the bag's copy (provenance-anchors/)
    for path, data in blobs:
        for form in secret_forms():
            assert form not in data, f"{form!r} found in {path}"


def run(tmp_path: Path, urls: list[str], *args: str, environ: dict[str, str]) -> tuple[Any, Path]:
    out = tmp_path / "out"
    proc = archiver(
        "run",
        *urls,
        "--out",
        str(out),
        "--name",
        "bag",
        "--delay",
        "0",
        "--hops",
        "0",
        "--progress",
        "plain",
        "--connect-timeout",
        "5",
        *args,
        env=environ,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, out


def request_records(bag: Path) -> list[tuple[dict[str, str], bytes]]:
    out = []
    for path in sorted((bag / "data" / "warcs").glob("*.warc.gz")):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, no_record_parse=True):  # the block as stored
                if rec.rec_type == "request":
                    out.append((dict(rec.rec_headers.headers), rec.raw_stream.read()))
    return out


@pytest.fixture
def targets(make_server, tls_files: TLSFiles) -> tuple[str, str]:
    http: TestServer = make_server()
    https: TestServer = make_server(tls=True)
    return http.url("/articles/one.html"), https.url("/articles/two.html")


@pytest.mark.parametrize("given", ["option", "environment"])
def test_http_proxy_credentials_never_reach_an_artefact(
    tmp_path: Path, targets: tuple[str, str], tls_files: TLSFiles, given: str
):
    proxy = ForwardingProxy(credentials=(USER, PASSWORD))
    try:
        url = proxy.url_with(USER, PASSWORD)
        args = ["--ca-bundle", str(tls_files.ca_pem)]
        if given == "option":
            proc, out = run(tmp_path, list(targets), *args, "--proxy", url, environ=env())
        else:
            environ = env(HTTP_PROXY=url, HTTPS_PROXY=url)
            proc, out = run(tmp_path, list(targets), *args, environ=environ)
        entries = {e["url"]: e for e in capture_log(out / "bag")}
        assert [entries[u]["outcome"] for u in targets] == ["captured", "captured"]
        assert proxy.refused == []
        assert targets[0] in proxy.forwarded  # http: absolute-form GET with the credential
        assert any(c.endswith(targets[1].split("/")[2].split(":")[1]) for c in proxy.connects)
        through_proxy = [r for r in request_records(out / "bag") if b"GET http://" in r[1]]
        assert len(through_proxy) == 2  # robots.txt and the page
        for headers, block in through_proxy:
            assert b"\r\nProxy-Authorization: Basic [redacted by archiver]\r\n" in block
            assert headers["WARC-Archiver-Redacted"] == "Proxy-Authorization"
        assert_no_secret(out, proc)
    finally:
        proxy.close()


@pytest.mark.parametrize("given", ["option", "environment"])
def test_socks5_credentials_never_reach_an_artefact(
    tmp_path: Path, targets: tuple[str, str], tls_files: TLSFiles, given: str
):
    proxy = Socks5Proxy(credentials=(USER, PASSWORD))
    try:
        url = proxy.url_with(USER, PASSWORD)
        args = ["--ca-bundle", str(tls_files.ca_pem)]
        if given == "option":
            proc, out = run(tmp_path, list(targets), *args, "--proxy", url, environ=env())
        else:
            proc, out = run(tmp_path, list(targets), *args, environ=env(ALL_PROXY=url))
        entries = {e["url"]: e for e in capture_log(out / "bag")}
        assert [entries[u]["outcome"] for u in targets] == ["captured", "captured"]
        assert proxy.refused == [] and len(proxy.connects) >= 2
        assert_no_secret(out, proc)
    finally:
        proxy.close()


def test_proxies_really_require_the_credentials(tmp_path: Path, targets: tuple[str, str]):
    http_proxy = ForwardingProxy(credentials=(USER, PASSWORD))
    socks = Socks5Proxy(credentials=(USER, PASSWORD))
    try:
        wrong = http_proxy.url_with(USER, "not-the-password")
        proc, out = run(tmp_path / "a", [targets[0]], "--proxy", wrong, environ=env())
        [entry] = capture_log(out / "bag")
        assert entry["status"] == 407 and entry["outcome"] == "http-error"
        assert http_proxy.refused and http_proxy.forwarded == []

        wrong = socks.url_with(USER, "not-the-password")
        proc, out = run(tmp_path / "b", [targets[0]], "--proxy", wrong, environ=env())
        [entry] = capture_log(out / "bag")
        assert entry["outcome"] == "failed" and entry["error"]["class"] == "proxy"
        assert socks.refused and socks.connects == []
    finally:
        http_proxy.close()
        socks.close()
