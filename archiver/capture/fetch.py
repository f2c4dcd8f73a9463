"""Fetch one URL byte for byte: one recorded exchange per redirect hop, failures as data.

Nothing here raises for network trouble: DNS failures, refused or reset connections, TLS
errors, timeouts, redirect loops and cut-off bodies all come back in a :class:`FetchResult`
whose exchanges still hold whatever bytes crossed the wire, because a failure is evidence too.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3
import urllib3.exceptions
from requests.cookies import extract_cookies_to_jar
from requests.utils import select_proxy

from archiver.base.contentcoding import ContentDecoder, DecodingError
from archiver.base.mediatypes import may_be_cleanable
from archiver.base.settings import Settings
from archiver.base.timefmt import iso
from archiver.capture.failures import (
    FetchError,
    _check_url,
    _exception_chain,
    _message,
    _raise_if_local,
    classify,
)
from archiver.capture.hostgate import HostGate, host_key
from archiver.capture.retry import retry_after_seconds
from archiver.net.exchange import DNSInfo, Exchange, Peer, TLSInfo, redact_proxy
from archiver.net.netpolicy import AddressPolicy, PrivateAddressError, refusal_message
from archiver.net.recorder import recording
from archiver.net.session import recording_session

READ_CHUNK = 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,application/pdf;q=0.9,*/*;q=0.8"
# Proxy schemes where the proxy, not this machine, resolves the origin's name.
PROXY_RESOLVES = ("http", "https", "socks5h", "socks4a")
RETRY_STATUSES = frozenset({429, 503})  # answers whose Retry-After is honoured


@dataclass
class Hop:
    """One request to one URL: the recorded exchange (if any bytes moved) and what came back."""

    url: str
    started: datetime
    exchange: Exchange | None = None
    status: int | None = None
    http_version: str = "HTTP/1.1"
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, last value wins
    location: str | None = None
    payload_sha256: str | None = None  # hex, transfer-encoding removed, content-encoding kept
    payload_size: int = 0
    truncated: str | None = None  # None | "length" | "time" | "disconnect"
    error: FetchError | None = None
    peer: Peer | None = None  # also known when no exchange (TLS failure after TCP connect)
    dns: DNSInfo | None = None  # our own resolution (None when a proxy resolved the name)
    tls: TLSInfo | None = None


@dataclass
class FetchResult:
    url: str
    started: datetime
    ended: datetime | None = None
    hops: list[Hop] = field(default_factory=list)
    error: FetchError | None = None
    proxy: str | None = None
    resolved_by: str = "client"
    blocked: Any = None  # robots decision for a hop that was not fetched
    blocked_url: str | None = None  # that hop's URL
    payload_path: Path | None = None  # final body, both encodings removed (for the cleaner)
    provenance_record_id: str | None = None  # set by records.write_fetch
    attempts: list[dict[str, Any]] = field(default_factory=list)  # Retry-After answers, retries

    @property
    def final(self) -> Hop | None:
        return self.hops[-1] if self.hops else None

    def close(self) -> None:
        for hop in self.hops:
            if hop.exchange is not None:
                hop.exchange.close()
        if self.payload_path is not None:
            self.payload_path.unlink(missing_ok=True)
            self.payload_path = None


class Fetcher:
    """Fetch URLs through recording sessions (one per host), honouring the settings' limits."""

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
        self._sessions: dict[str, requests.Session] = {}
        self._env_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        if not settings.verify_tls:
            # The operator chose this and the settings are recorded with the capture; a warning
            # per request would only bury the progress output.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    # -- sessions ---------------------------------------------------------------------------
    def _session(self, host: str) -> requests.Session:
        with self._lock:
            session = self._sessions.get(host)
            if session is None:
                session = self._sessions[host] = recording_session()
                session.headers.clear()
            return session

    def release_host(self, host: str) -> None:
        """Close the host's idle connection once its queue is done (never while in use: a
        redirect hop from another host may be using it, under the host's lock)."""
        with self.gate.lock_for(host):
            with self._lock:
                session = self._sessions.pop(host, None)
            if session is not None:
                session.close()

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions:
            s.close()

    def _environment(self, session: requests.Session, url: str) -> dict[str, Any]:
        """Proxies and CA bundle for ``url``: settings first, then HTTP(S)_PROXY, NO_PROXY and
        REQUESTS_CA_BUNDLE as requests reads them. Cached per origin, because requests scans
        the whole environment on every call."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        env = self._env_cache.get(key)
        if env is None:
            s = self.settings
            proxies = {"http": s.proxy, "https": s.proxy} if s.proxy else {}
            verify: bool | str = (s.ca_bundle or True) if s.verify_tls else False
            env = session.merge_environment_settings(url, proxies, True, verify, None)
            self._env_cache[key] = env
        return env

    def _headers(self) -> dict[str, str]:
        h = {
            "User-Agent": self.settings.effective_user_agent(),
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
        }
        if self.settings.contact_email:
            h["From"] = self.settings.contact_email
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
                if robots_check is not None:
                    decision = robots_check(current)
                    if decision is not None and not decision.permits:
                        result.blocked = decision
                        result.blocked_url = current
                        network = getattr(decision, "network", None)
                        if not result.hops and network:  # the path robots.txt took
                            result.resolved_by = network["resolved_by"]
                            result.proxy = (network["proxy"] or {}).get("url")
                        break
                keep = (payload_filter or True) if keep_payload else False
                hop = self._exchange(current, result, deadline, max_size, keep)
                result.hops.append(hop)
                seen.append(current)
                if hop.error is not None and hop.status is None:
                    result.error = hop.error
                    break
                if hop.status in RETRY_STATUSES and self._retry_after(hop, result, deadline):
                    continue  # the same URL again, once the host's wait is over
                if hop.status in REDIRECT_STATUSES and hop.location is not None:
                    target = urldefrag(urljoin(current, hop.location))[0]
                    redirects = sum(1 for h in result.hops if h.status in REDIRECT_STATUSES)
                    if redirects > max_redirects:
                        loop = " (redirect loop)" if target in seen else ""
                        result.error = FetchError(
                            "too-many-redirects",
                            f"more than {max_redirects} redirects{loop}; last: {current} -> "
                            f"{target}",
                            datetime.now(UTC),
                        )
                        break
                    if time.monotonic() >= deadline:
                        result.error = FetchError(
                            "timeout",
                            f"time limit of {s.max_time_per_url:g}s per URL reached while "
                            f"following redirects at {current}",
                            datetime.now(UTC),
                        )
                        break
                    current = target
                    continue
                if hop.error is not None:
                    result.error = hop.error
                break
        finally:
            result.ended = datetime.now(UTC)
        return result

    def _retry_after(self, hop: Hop, result: FetchResult, deadline: float) -> bool:
        """Honour a 429/503's Retry-After within the bounds; record the attempt either way.

        True: the host was told to wait (HostGate.back_off) and the URL is to be asked again.
        """
        s = self.settings
        value = hop.headers.get("retry-after")
        if value is None and not result.attempts:
            return False  # no Retry-After: an HTTP error like any other
        wait = retry_after_seconds(value, hop.headers.get("date")) if value is not None else None
        retries = sum(1 for a in result.attempts if a["retried"])
        reason = None
        if value is None:
            reason = "no Retry-After"
        elif wait is None:
            reason = f"Retry-After {value!r} is neither seconds nor an HTTP-date"
        elif wait > s.retry_after_max:
            reason = f"Retry-After of {wait:g}s is beyond the bound of {s.retry_after_max:g}s"
        elif retries >= s.retry_attempts:
            reason = f"{s.retry_attempts} retries done"
        elif time.monotonic() + wait >= deadline:
            reason = f"the wait would pass the time limit of {s.max_time_per_url:g}s per URL"
        result.attempts.append(
            {
                "url": hop.url,
                "started": iso(hop.started),
                "status": hop.status,
                "retry_after": value,
                "wait": wait,
                "retried": reason is None,
                "reason": reason,
            }
        )
        if wait is not None:
            # Also when not waited for: the host said it is overloaded, so go slower.
            self.gate.back_off(host_key(hop.url), wait if reason is None else 0.0, wait)
        if reason is None and self.stop.wait(wait):  # waited here, not holding the host's lock
            result.attempts[-1]["retried"] = False
            result.attempts[-1]["reason"] = "the run was interrupted during the wait"
            return False
        return reason is None

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
            session = self._session(host)
            hop.started = datetime.now(UTC)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                hop.error = FetchError(
                    "timeout", f"time limit of {s.max_time_per_url:g}s per URL reached", hop.started
                )
                return hop
            resp = None
            try:
                # Prepared directly, not via Session.prepare_request: that would add ~/.netrc
                # credentials (never sent unasked from an evidence crawler) and merge settings
                # we do not use, at a cost per request.
                prepared = requests.PreparedRequest()
                prepared.prepare(
                    method="GET", url=url, headers=self._headers(), cookies=session.cookies
                )
                env = self._environment(session, url)
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
                            return hop
                # The adapter, not Session.send: with allow_redirects=False requests still
                # reads a redirect's whole body into memory (resolve_redirects), unbounded.
                resp = session.get_adapter(url).send(
                    prepared,
                    stream=True,
                    timeout=(min(s.connect_timeout, remaining), min(s.read_timeout, remaining)),
                    verify=env["verify"],
                    cert=env["cert"],
                    proxies=env["proxies"],
                )
                if "set-cookie" in resp.headers:  # sent back on later requests to the host
                    extract_cookies_to_jar(session.cookies, prepared, resp.raw)
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
            ex = rec.exchanges[-1] if rec.exchanges else None
            if ex is not None:
                ex.flush_request()
            hop.exchange = ex
            hop.peer = ex.peer if ex is not None and ex.peer else rec.last_peer
            hop.dns = ex.dns if ex is not None and ex.dns else rec.last_dns
            hop.tls = ex.tls if ex is not None else None
            if ex is not None and ex.request_size == 0:  # nothing was sent: nothing to record
                hop.exchange = None
                ex.close()
            if resp is None:
                return hop
            hop.status = resp.status_code
            hop.http_version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(resp.raw.version, "HTTP/1.1")
            hop.reason = resp.reason or ""
            hop.headers = {k.lower(): v for k, v in resp.headers.items()}
            hop.location = resp.headers.get("Location")
            final = not (hop.status in REDIRECT_STATUSES and hop.location)
            want_body = (
                bool(keep_payload)
                and final
                and 200 <= hop.status < 300
                and (keep_payload is True or keep_payload(hop.headers.get("content-type")))
            )
            self._read_body(resp, hop, result, deadline, max_size, want_body)
            hop.tls = ex.tls if ex is not None else hop.tls
            return hop

    def _read_body(
        self,
        resp: requests.Response,
        hop: Hop,
        result: FetchResult,
        deadline: float,
        max_size: int,
        want_body: bool,
    ) -> None:
        """Stream the body off the socket (the recorder keeps the raw bytes), bounded in time,
        size and memory; hash the payload; keep a decoded copy for the cleaner if wanted."""
        s = self.settings
        raw = resp.raw
        ex = hop.exchange
        digest = hashlib.sha256()
        size = 0
        out = None
        decoder: ContentDecoder | None = None
        if want_body:
            try:
                decoder = ContentDecoder(hop.headers.get("content-encoding", ""))
                out = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
                    prefix="payload-", dir=self.spool_dir, delete=False
                )
            except ValueError:
                decoder = None
        decoded_size = 0
        clean = False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    hop.truncated = "time"
                    break
                if ex is not None and left < s.read_timeout:  # the URL's time limit is nearer
                    ex.set_read_timeout(left)
                want = min(READ_CHUNK, max_size - size)
                if want <= 0:
                    remaining = raw.length_remaining
                    if remaining is not None and not raw.chunked:
                        more = remaining > 0
                    else:  # unknown length: one more byte tells us; it stays in the payload
                        extra = raw.read1(1, decode_content=False)
                        more = bool(extra)
                        if extra:
                            digest.update(extra)
                            size += len(extra)
                    if more:
                        hop.truncated = "length"
                    else:
                        clean = True
                    break
                try:
                    data = raw.read1(want, decode_content=False)
                except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
                    hop.truncated = "time"
                    if deadline - time.monotonic() > 0.05:  # the server went quiet: a failure
                        hop.error = FetchError("timeout", _message(exc), datetime.now(UTC))
                    break
                if not data:
                    clean = True
                    break
                digest.update(data)
                size += len(data)
                if out is not None and decoder is not None:
                    try:  # bound the cleaner's copy too
                        decoded_size += _spool_decoded(decoder, data, out, max_size - decoded_size)
                    except DecodingError:
                        decoder = None
        except Exception as exc:  # noqa: BLE001 - a dropped connection keeps what came
            _raise_if_local(exc, hop.url)
            hop.truncated = "disconnect"
            hop.error = FetchError(classify(exc), _message(exc), datetime.now(UTC))
        finally:
            if clean:
                resp.close()  # returns a fully read connection to the pool
            else:
                raw.close()  # never reuse a connection with unread bytes
                resp.close()
        hop.payload_sha256 = digest.hexdigest()
        hop.payload_size = size
        if out is not None:
            if decoder is not None:
                try:
                    if decoded_size < max_size:
                        out.write(decoder.flush()[: max_size - decoded_size])
                except DecodingError:
                    decoder = None
            out.close()
            if decoder is None:  # undecodable: give the cleaner nothing rather than garbage
                Path(out.name).unlink(missing_ok=True)
            else:
                if result.payload_path is not None:
                    result.payload_path.unlink(missing_ok=True)
                result.payload_path = Path(out.name)


def _spool_decoded(decoder: ContentDecoder, data: bytes, out: IO[bytes], room: int) -> int:
    """Decode ``data`` into ``out`` in steps of READ_CHUNK, at most ``room`` bytes; how many."""
    written = 0
    while written < room:
        piece = decoder.feed(data, min(READ_CHUNK, room - written))[: room - written]
        out.write(piece)
        written += len(piece)
        data = b""
        if not piece or not decoder.pending:
            break
    return written
