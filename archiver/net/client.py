"""One host's HTTP client: its cookies, its recorded connection pools, and a plain GET.

The GET sends exactly what ``requests`` sends for it (requests prepares the URL and the cookies,
and its adapter picks the pool, proxy and TLS settings), but without requests' per-request
machinery: a ``Session`` and its adapter rebuild the pool key, check the CA bundle on disk and
wrap every answer in a ``Response`` on each call: at zero latency, a fifth of a fetch's CPU.
Here the pool an origin uses is looked up once and kept, and the answer is urllib3's own
response, which the recorder already tees. Errors are urllib3's, as requests would have
wrapped them: their text and causes are the same, so failures are classified and worded as
before (``capture/failures.py``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import LocationValueError

from archiver.net.session import recording_adapter


class HostClient:
    """What one host's fetches share: a cookie jar, the adapter and the pools it opened."""

    def __init__(self) -> None:
        self.cookies = requests.cookies.RequestsCookieJar()  # sent back to this host only
        self.adapter = recording_adapter()
        self._pools: dict[tuple[Any, ...], Any] = {}

    def prepare(self, url: str, headers: dict[str, str]) -> requests.PreparedRequest:
        """The request as requests would send it: its URL (IDNA, re-quoting), our headers in
        their order, then the jar's Cookie header if any cookie applies, then an Authorization
        header from credentials in the URL."""
        prepared = requests.PreparedRequest()
        prepared.method = "GET"
        prepared.prepare_url(url, None)
        prepared.headers = CaseInsensitiveDict(headers)
        if self.cookies:
            prepared.prepare_cookies(self.cookies)
        if "@" in url:  # user:password in the URL: sent as Basic credentials, as requests does
            prepared.prepare_auth(None, url)
        return prepared

    def send(
        self,
        prepared: requests.PreparedRequest,
        env: dict[str, Any],
        timeout: tuple[float, float],
    ) -> urllib3.BaseHTTPResponse:
        """Send ``prepared`` (streamed, never redirected, never retried, never decoded)."""
        assert prepared.url is not None
        proxies = env["proxies"]
        pool = self._pool(prepared, env)
        return pool.urlopen(  # type: ignore[no-any-return]
            method="GET",
            url=self.adapter.request_url(prepared, proxies),
            body=None,
            headers=prepared.headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=self.adapter.max_retries,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            chunked=False,
        )

    def _pool(self, prepared: requests.PreparedRequest, env: dict[str, Any]) -> Any:
        """The pool for the request's origin and route, from the adapter the first time."""
        assert prepared.url is not None
        parts = urlsplit(prepared.url)
        proxies, verify, cert = env["proxies"], env["verify"], env["cert"]
        proxy = requests.utils.select_proxy(prepared.url, proxies) if proxies else None
        key = (parts.scheme.lower(), parts.netloc, proxy, str(verify), str(cert))
        pool = self._pools.get(key)
        if pool is not None and pool.pool is not None:  # not closed since
            return pool
        try:
            pool = self.adapter.get_connection_with_tls_context(
                prepared, verify, proxies=proxies, cert=cert
            )
        except LocationValueError as e:
            raise requests.exceptions.InvalidURL(e, request=prepared) from e
        self.adapter.cert_verify(pool, prepared.url, verify, cert)  # type: ignore[no-untyped-call]
        self._pools[key] = pool
        return pool

    def close(self) -> None:
        self._pools.clear()
        self.adapter.close()
