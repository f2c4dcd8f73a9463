"""A requests session whose every connection (direct, HTTP proxy, SOCKS) is recorded."""

from __future__ import annotations

from typing import Any

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from urllib3.contrib import socks as urllib3_socks

from archiver.net.exchange import redact_proxy
from archiver.net.recorder import (
    RecordingHTTPConnection,
    RecordingHTTPSConnection,
    RecordingSOCKSConnection,
    RecordingSOCKSHTTPSConnection,
)


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = RecordingHTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = RecordingHTTPSConnection


def _socks_pools(proxy_url: str) -> dict[str, type]:
    """Pool classes whose SOCKS connections know the (redacted) proxy they go through."""
    redacted = redact_proxy(proxy_url)

    class Conn(RecordingSOCKSConnection):
        _archiver_proxy_url = redacted

    class TLSConn(RecordingSOCKSHTTPSConnection):
        _archiver_proxy_url = redacted

    class Pool(urllib3_socks.SOCKSHTTPConnectionPool):
        ConnectionCls = Conn

    class TLSPool(urllib3_socks.SOCKSHTTPSConnectionPool):
        ConnectionCls = TLSConn

    return {"http": Pool, "https": TLSPool}


class RecordingAdapter(HTTPAdapter):
    """A requests adapter whose every connection (direct, via HTTP proxy, via SOCKS) records."""

    def init_poolmanager(self, *args: Any, **kw: Any) -> None:
        super().init_poolmanager(*args, **kw)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        fresh = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if fresh:
            if proxy.lower().startswith("socks"):
                manager.pool_classes_by_scheme = _socks_pools(proxy)
            else:
                manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


def recording_session() -> requests.Session:
    """A requests session whose http and https traffic goes through a :class:`RecordingAdapter`.

    One connection per pool: the crawler keeps one session per host, so this is the
    one-connection-per-host rule at the transport level.
    """
    session = requests.Session()
    adapter = recording_adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def recording_adapter() -> RecordingAdapter:
    """One connection per pool, never retried: a failure is recorded, not hidden by a retry."""
    return RecordingAdapter(pool_connections=4, pool_maxsize=1, max_retries=0)
