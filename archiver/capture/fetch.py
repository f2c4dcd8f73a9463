"""Fetch one URL byte for byte: one recorded exchange per redirect hop, failures as data.

Nothing here raises for network trouble: DNS failures, refused or reset connections, TLS
errors, timeouts, redirect loops and cut-off bodies all come back in a :class:`FetchResult`
whose exchanges still hold whatever bytes crossed the wire, because a failure is evidence too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3
import urllib3.exceptions
from requests.cookies import extract_cookies_to_jar
from requests.utils import check_header_validity, select_proxy

from archiver.base.mediatypes import may_be_cleanable
from archiver.base.settings import Settings
from archiver.capture.body import DecodedCopy, read_body
from archiver.capture.failures import (
    FetchError,
    _check_url,
    _exception_chain,
    _message,
    _raise_if_local,
    classify,
)
from archiver.capture.hop import FetchResult, Hop
from archiver.capture.hostgate import HostGate, host_key
from archiver.capture.retry import honour_retry_after
from archiver.net.client import HostClient
from archiver.net.exchange import Exchange, redact_proxy
from archiver.net.netpolicy import AddressPolicy, PrivateAddressError, refusal_message
from archiver.net.recorder import recording

READ_CHUNK = 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,application/pdf;q=0.9,*/*;q=0.8"
# Proxy schemes where the proxy, not this machine, resolves the origin's name.
PROXY_RESOLVES = ("http", "https", "socks5h", "socks4a")
RETRY_STATUSES = frozenset({429, 503})  # answers whose Retry-After is honoured


class Fetcher:
    """Fetch URLs through recording clients (one per host), honouring the settings' limits."""

    def __init__(
        self,
        settings: Settings,
        *,
        spool_dir: str | Path | None = None,
        gate: HostGate | None = None,
        policy: AddressPolicy | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()  # set on Ctrl-C: a Retry-After wait ends early
        # Which addresses may be connected to; ``policy`` is a test hook (see AddressPolicy).
        self.policy = policy or AddressPolicy(allow_private=settings.allow_private)
        self.spool_dir = str(spool_dir) if spool_dir else None
        self.gate = gate or HostGate(settings.per_host_delay)
        self._clients: dict[str, HostClient] = {}
        self._env_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._env_session = requests.Session()  # reads the environment as requests does
        self._lock = threading.Lock()
        self._request_headers = self._headers()
        if not settings.verify_tls:
            # The operator chose this and the settings are recorded with the capture; a warning
            # per request would only bury the progress output.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    # -- clients ----------------------------------------------------------------------------
    def _client(self, host: str) -> HostClient:
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                client = self._clients[host] = HostClient()
            return client

    def release_host(self, host: str) -> None:
        """Close the host's idle connection once its queue is done (never while in use: a
        redirect hop from another host may be using it, under the host's lock)."""
        with self.gate.lock_for(host):
            with self._lock:
                client = self._clients.pop(host, None)
            if client is not None:
                client.close()

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            c.close()
        self._env_session.close()

    def _environment(self, url: str) -> dict[str, Any]:
        """Proxies and CA bundle for ``url``: settings first, then HTTP(S)_PROXY, NO_PROXY and
        REQUESTS_CA_BUNDLE as requests reads them. Cached per origin, because requests scans
        the whole environment on every call."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        cached = self._env_cache.get(key)
        if cached is not None:
            return cached
        s = self.settings
        proxies = {"http": s.proxy, "https": s.proxy} if s.proxy else {}
        verify: bool | str = (s.ca_bundle or True) if s.verify_tls else False
        env: dict[str, Any] = dict(
            self._env_session.merge_environment_settings(url, proxies, True, verify, None)
        )
        self._env_cache[key] = env
        return env

    def _headers(self) -> dict[str, str]:
        """The request headers, in the order sent; checked once (requests checks each call)."""
        h = {
            "User-Agent": self.settings.effective_user_agent(),
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
        }
        if self.settings.contact_email:
            h["From"] = self.settings.contact_email
        for item in h.items():
            check_header_validity(item)
        return h

    # -- fetching ---------------------------------------------------------------------------
    def fetch(
        self,
        url: str,
        *,
        max_redirects: int | None = None,
        max_size: int | None = None,
        keep_payload: bool = True,
        payload_filter: Callable[[str | None], bool] | None = may_be_cleanable,
        robots_check: Callable[[str], Any] | None = None,
    ) -> FetchResult:
        """Fetch ``url`` (fragment removed), following redirects hop by hop.

        With ``keep_payload``, a final 2xx body whose content type passes ``payload_filter``
        (None: any type) is also written decoded to ``result.payload_path``.

        ``robots_check(url)`` is asked before every hop and returns a ``RobotsDecision`` (or
        None to allow); a hop it does not permit stops the fetch unfetched.
        """
        s = self.settings
        max_redirects = s.max_redirects if max_redirects is None else max_redirects
        max_size = s.max_size if max_size is None else max_size
        url = urldefrag(url)[0]
        result = FetchResult(url=url, started=datetime.now(UTC))
        deadline = time.monotonic() + s.max_time_per_url
        current = url
        seen: list[str] = []
        try:
            while True:
                problem = _check_url(current)
                if problem is not None:
                    result.error = FetchError(problem[0], problem[1], datetime.now(UTC))
                    break
                if robots_check is not None and _blocked(result, current, robots_check):
                    break
                keep = (payload_filter or True) if keep_payload else False
                hop = self._exchange(current, result, deadline, max_size, keep)
                result.hops.append(hop)
                seen.append(current)
                if hop.error is not None and hop.status is None:
                    result.error = hop.error
                    break
                if hop.status in RETRY_STATUSES and honour_retry_after(
                    hop, result, deadline, self.settings, self.gate, self.stop
                ):
                    continue  # the same URL again, once the host's wait is over
                if hop.status in REDIRECT_STATUSES and hop.location is not None:
                    target = _redirect_target(
                        result, hop, current, seen, (deadline, max_redirects, s.max_time_per_url)
                    )
                    if target is None:
                        break
                    current = target
                    continue
                if hop.error is not None:
                    result.error = hop.error
                break
        finally:
            result.ended = datetime.now(UTC)
        return result

    def _exchange(
        self,
        url: str,
        result: FetchResult,
        deadline: float,
        max_size: int,
        keep_payload: Callable[[str | None], bool] | bool | None,
    ) -> Hop:
        s = self.settings
        host = host_key(url)
        hop = Hop(url=url, started=datetime.now(UTC))
        with self.gate.hold(host), recording(self.spool_dir, self.policy) as rec:
            client = self._client(host)
            hop.started = datetime.now(UTC)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                hop.error = FetchError(
                    "timeout", f"time limit of {s.max_time_per_url:g}s per URL reached", hop.started
                )
                return hop
            resp = self._send(client, url, result, hop, remaining)
            ex = _attach_exchange(hop, rec)
            if resp is None:
                return hop
            self._take_response(resp, hop, result, (deadline, max_size), keep_payload)
            hop.tls = ex.tls if ex is not None else hop.tls
            return hop

    def _send(
        self,
        client: HostClient,
        url: str,
        result: FetchResult,
        hop: Hop,
        remaining: float,
    ) -> urllib3.BaseHTTPResponse | None:
        """Send the GET (streamed); None when it failed (``hop.error`` says why)."""
        resp = None
        s = self.settings
        try:
            # Never Session.prepare_request: that would add ~/.netrc credentials (never sent
            # unasked from an evidence crawler) and merge settings we do not use.
            prepared = client.prepare(url, self._request_headers)
            env = self._environment(url)
            proxy = select_proxy(url, env["proxies"]) if env["proxies"] else None
            if proxy:
                result.proxy = redact_proxy(proxy)
                scheme = urlsplit(proxy).scheme.lower()
                result.resolved_by = "proxy" if scheme in PROXY_RESOLVES else "client"
                if result.resolved_by == "proxy":
                    # The proxy resolves the name: check what can be seen from here.
                    parts = urlsplit(url)
                    reason = self.policy.name_refusal(parts.hostname or "", parts.port)
                    if reason is not None:
                        hop.error = FetchError(
                            "private-address", refusal_message(url, reason), datetime.now(UTC)
                        )
                        return None
            # Never redirected by urllib3 or requests: each hop is its own recorded exchange,
            # and a redirect's body is streamed and bounded like any other.
            resp = client.send(
                prepared,
                env,
                (min(s.connect_timeout, remaining), min(s.read_timeout, remaining)),
            )
            if "set-cookie" in resp.headers:  # sent back on later requests to the host
                extract_cookies_to_jar(client.cookies, prepared, resp)
        except requests.exceptions.InvalidURL as exc:
            hop.error = FetchError("invalid-url", _message(exc), datetime.now(UTC))
        except requests.exceptions.InvalidSchema as exc:
            hop.error = FetchError("unsupported-scheme", _message(exc), datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - every network failure is recorded
            _raise_if_local(exc, hop.url)
            hop.error = FetchError(classify(exc), _message(exc), datetime.now(UTC))
            if hop.error.cls == "private-address":
                refused = next(
                    e for e in _exception_chain(exc) if isinstance(e, PrivateAddressError)
                )
                hop.error.message = refusal_message(url, str(refused))
        return resp

    def _take_response(
        self,
        resp: urllib3.BaseHTTPResponse,
        hop: Hop,
        result: FetchResult,
        bounds: tuple[float, int],
        keep_payload: Callable[[str | None], bool] | bool | None,
    ) -> None:
        """Record the status line and headers, then read the body (and the cleaner's copy)."""
        deadline, max_size = bounds
        hop.status = resp.status
        hop.http_version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(resp.version, "HTTP/1.1")
        hop.reason = resp.reason or ""
        # Repeated fields joined with ", " (as requests' headers gave them), names lower-cased.
        hop.headers = {k.lower(): v for k, v in resp.headers.itermerged()}
        hop.location = resp.headers.get("Location")
        final = not (hop.status in REDIRECT_STATUSES and hop.location)
        want_body = (
            bool(keep_payload)
            and final
            and 200 <= hop.status < 300
            and (
                keep_payload is True
                or (callable(keep_payload) and keep_payload(hop.headers.get("content-type")))
            )
        )
        copy = None
        if want_body:
            encoding = hop.headers.get("content-encoding", "")
            copy = DecodedCopy.open(encoding, self.spool_dir, max_size)  # None: the temp folder
        limits = (deadline, max_size, self.settings.read_timeout)
        read_body(resp, hop, result, limits, copy)


def _attach_exchange(hop: Hop, rec: Any) -> Exchange | None:
    """Tie the recorded exchange (if any bytes were sent) and the peer facts to ``hop``.

    Returns the recorder's last exchange even when nothing was sent (its TLS facts still count).
    """
    ex: Exchange | None = rec.exchanges[-1] if rec.exchanges else None
    if ex is not None:
        ex.flush_request()
    hop.exchange = ex
    hop.peer = ex.peer if ex is not None and ex.peer else rec.last_peer
    hop.dns = ex.dns if ex is not None and ex.dns else rec.last_dns
    hop.tls = ex.tls if ex is not None else None
    if ex is not None and ex.request_size == 0:  # nothing was sent: nothing to record
        hop.exchange = None
        ex.close()
    return ex


def _blocked(result: FetchResult, url: str, robots_check: Callable[[str], Any]) -> bool:
    """Does robots.txt forbid ``url``? If so the result records the decision."""
    decision = robots_check(url)
    if decision is None or decision.permits:
        return False
    result.blocked = decision
    result.blocked_url = url
    network = getattr(decision, "network", None)
    if not result.hops and network:  # the path robots.txt took
        result.resolved_by = network["resolved_by"]
        result.proxy = (network["proxy"] or {}).get("url")
    return True


def _redirect_target(
    result: FetchResult,
    hop: Hop,
    current: str,
    seen: list[str],
    bounds: tuple[float, int, float],
) -> str | None:
    """Where a redirect leads; None (with ``result.error`` set) past the redirect or time bound."""
    deadline, max_redirects, max_time = bounds
    assert hop.location is not None
    target = urldefrag(urljoin(current, hop.location))[0]
    redirects = sum(1 for h in result.hops if h.status in REDIRECT_STATUSES)
    if redirects > max_redirects:
        loop = " (redirect loop)" if target in seen else ""
        result.error = FetchError(
            "too-many-redirects",
            f"more than {max_redirects} redirects{loop}; last: {current} -> {target}",
            datetime.now(UTC),
        )
        return None
    if time.monotonic() >= deadline:
        result.error = FetchError(
            "timeout",
            f"time limit of {max_time:g}s per URL reached while following redirects at {current}",
            datetime.now(UTC),
        )
        return None
    return target
