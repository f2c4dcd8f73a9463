"""Shared fixtures: real local servers (see tests/servers.py). Nothing here reaches the internet.

Session-scoped servers (``http_server``, ``https_server``, ``proxy_server``, ``socks_proxy``)
are shared; tests that assert on server counters should use ``make_server`` for a private one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if __package__ in (None, ""):  # plain `pytest` puts tests/ on sys.path, not the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import (  # noqa: E402
    ForwardingProxy,
    Socks5Proxy,
    TestServer,
    TLSFiles,
    closed_port,
    make_tls_files,
)

# The test servers listen on 127.0.0.1, which archiver refuses by default. The operator's opt-in
# travels to every `archiver run` subprocess through the environment; tests of the refusal itself
# remove it from their subprocess environment.
os.environ["ARCHIVER_ALLOW_PRIVATE"] = "1"
# The developer's own settings file (~/.config/archiver/settings.toml) must never leak into a
# test: every run reads an empty one unless a test names its own.
os.environ["ARCHIVER_CONFIG"] = os.devnull
# Tests never ask the public web archives about dead links; tests of witnesses (tests/run/
# test_witnesses.py) point the lookups at a local aggregator and remove this.
os.environ["ARCHIVER_WITNESSES"] = "0"
# Every run must say who is capturing (no bag carries a placeholder); the tests' identity comes
# from the environment, so a test's own settings file needs none. Tests of the refusal remove it.
os.environ.setdefault("ARCHIVER_ORGANISATION", "Test Evidence Lab")
os.environ.setdefault("ARCHIVER_OPERATOR", "test operator")
os.environ.setdefault("ARCHIVER_CONTACT", "evidence@example.org")


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A test CA + leaf for 127.0.0.1/localhost; trust ``tls_files.ca_pem`` via ca_bundle."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def http_server() -> Iterator[TestServer]:
    with TestServer() as server:
        yield server


@pytest.fixture(scope="session")
def https_server(tls_files: TLSFiles) -> Iterator[TestServer]:
    with TestServer(tls=tls_files) as server:
        yield server


@pytest.fixture(scope="session")
def proxy_server() -> Iterator[ForwardingProxy]:
    proxy = ForwardingProxy()
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def socks_proxy() -> Iterator[Socks5Proxy]:
    proxy = Socks5Proxy()
    yield proxy
    proxy.close()


@pytest.fixture
def make_server(tls_files: TLSFiles) -> Iterator[Callable[..., TestServer]]:
    """Factory for private servers: ``make_server(tls=False, host="127.0.0.1")``."""
    made: list[TestServer] = []

    def make(*, tls: bool = False, host: str = "127.0.0.1") -> TestServer:
        server = TestServer(host, tls=tls_files if tls else None)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def refused_url() -> str:
    """An http URL on a closed local port: connecting is refused."""
    return f"http://127.0.0.1:{closed_port()}/nothing-here"


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path
