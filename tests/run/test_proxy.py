"""`archiver run` through proxies, as a Tor user or an institution behind a proxy would run it.

The proxies are real servers on 127.0.0.1 that count what they forwarded, so each test proves the
traffic went through them, and the capture log says the proxy (not archiver) resolved the names.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import archiver, capture_log
from tests.servers import ForwardingProxy, Socks5Proxy, TestServer, TLSFiles, closed_port


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
    }
    env.update(extra)
    return env


def run(
    tmp_path: Path, urls: list[str], *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]], Path]:
    doc = tmp_path / "cited.txt"
    doc.write_text("".join(f"Source: {u}\n" for u in urls), encoding="utf-8")
    out = tmp_path / "out"
    proc = archiver(
        "run",
        str(doc),
        "--out",
        str(out),
        "--delay",
        "0",
        "--progress",
        "none",
        "--name",
        "bag",
        "--connect-timeout",
        "3",
        "--read-timeout",
        "5",
        *args,
        timeout=120,
        env=env or clean_env(),
    )
    assert proc.returncode == 0, proc.stderr
    bag = out / "bag"
    return proc, {e["url"]: e for e in capture_log(bag)}, bag


def verify(bag: Path) -> None:
    proc = archiver("verify", str(bag))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def proxy() -> Any:
    p = ForwardingProxy()
    yield p
    p.close()


def test_proxy_option_carries_http_and_https(
    tmp_path: Path,
    make_server,
    tls_files: TLSFiles,
    proxy: ForwardingProxy,  # noqa: ANN001
) -> None:
    plain: TestServer = make_server()
    secure: TestServer = make_server(tls=True)
    http_url = plain.url("/articles/one.html")
    https_url = secure.url("/articles/two.html")
    _, log, bag = run(
        tmp_path, [http_url, https_url], "--proxy", proxy.url, "--ca-bundle", str(tls_files.ca_pem)
    )
    assert http_url in proxy.forwarded, "http went through the proxy in absolute form"
    assert f"127.0.0.1:{secure.port}" in proxy.connects, "https went through a CONNECT tunnel"
    for url in (http_url, https_url):
        entry = log[url]
        assert entry["outcome"] == "captured" and entry["status"] == 200
        assert entry["resolved_by"] == "proxy"
    verify(bag)


def test_proxy_from_environment(
    tmp_path: Path,
    make_server,
    tls_files: TLSFiles,
    proxy: ForwardingProxy,  # noqa: ANN001
) -> None:
    secure: TestServer = make_server(tls=True)
    url = secure.url("/articles/three.html")
    env = clean_env(HTTPS_PROXY=proxy.url, REQUESTS_CA_BUNDLE=str(tls_files.ca_pem))
    _, log, _ = run(tmp_path, [url], env=env)
    assert f"127.0.0.1:{secure.port}" in proxy.connects
    assert log[url]["outcome"] == "captured" and log[url]["resolved_by"] == "proxy"


def test_no_proxy_is_honoured(
    tmp_path: Path,
    make_server,
    proxy: ForwardingProxy,  # noqa: ANN001
) -> None:
    plain: TestServer = make_server()
    url = plain.url("/articles/one.html")
    env = clean_env(HTTP_PROXY=proxy.url, NO_PROXY="127.0.0.1")
    _, log, _ = run(tmp_path, [url], env=env)
    assert proxy.forwarded == [] and proxy.connects == []
    assert log[url]["outcome"] == "captured" and log[url]["resolved_by"] == "client"


def test_socks5h_as_tor_users_run_it(
    tmp_path: Path,
    make_server,
    tls_files: TLSFiles,  # noqa: ANN001
) -> None:
    socks = Socks5Proxy()
    try:
        secure: TestServer = make_server(tls=True)
        url = secure.url("/articles/one.html")
        _, log, bag = run(
            tmp_path, [url], "--proxy", socks.url, "--ca-bundle", str(tls_files.ca_pem)
        )
        assert any(str(secure.port) in target for target in socks.connects)
        assert log[url]["outcome"] == "captured" and log[url]["resolved_by"] == "proxy"
        verify(bag)
    finally:
        socks.close()


def test_dead_proxy_is_recorded_not_fatal(tmp_path: Path, make_server) -> None:  # noqa: ANN001
    plain: TestServer = make_server()
    url = plain.url("/articles/one.html")
    proc, log, bag = run(tmp_path, [url], "--proxy", f"http://127.0.0.1:{closed_port()}")
    entry = log[url]
    assert entry["outcome"] == "failed"
    assert entry["error"]["class"] and entry["error"]["message"]
    assert "Traceback" not in proc.stderr
    verify(bag)
