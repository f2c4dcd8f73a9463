"""Fetch one URL byte for byte: one recorded exchange per redirect hop, failures as data.

Nothing here raises for network trouble: DNS failures, refused or reset connections, TLS
errors, timeouts, redirect loops and cut-off bodies all come back in a :class:`FetchResult`
whose exchanges still hold whatever bytes crossed the wire, because a failure is evidence too.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import hashlib
import re
import socket
import ssl
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3
import urllib3.exceptions
from requests.cookies import extract_cookies_to_jar
from requests.utils import select_proxy

from archiver.base.errors import EXIT_RUN_FAILED, ArchiverError
from archiver.base.settings import Settings
from archiver.net.exchange import DNSInfo, Exchange, Peer, TLSInfo, redact_proxy
from archiver.net.netpolicy import AddressPolicy, PrivateAddressError, refusal_message
from archiver.net.recorder import recording
from archiver.net.session import recording_session

READ_CHUNK = 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,application/pdf;q=0.9,*/*;q=0.8"
# Proxy schemes where the proxy, not this machine, resolves the origin's name.
PROXY_RESOLVES = ("http", "https", "socks5h", "socks4a")
_SPACE = re.compile(r"\s")
RETRY_STATUSES = frozenset({429, 503})  # answers whose Retry-After is honoured
MAX_SLOWDOWN = 30.0  # a Retry-After slows the host's later requests by at most this much


@dataclass
class FetchError:
    cls: str  # "dns", "connection-refused", "tls", "timeout", ... (see docs/capture.md)
    message: str
    at: datetime

    def to_dict(self) -> dict[str, str]:
        return {"class": self.cls, "message": self.message, "at": iso(self.at)}


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


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, microseconds kept."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def cleanable(content_type: str | None) -> bool:
    """Is a decoded copy of this body worth keeping for the cleaner and for hop links?

    Text, markup and PDF are; images, video and archives are not (their bytes are in the WARC).
    """
    if not content_type:
        return True  # unlabelled: the cleaner sniffs
    ctype = content_type.split(";")[0].strip().lower()
    return (
        ctype.startswith("text/")
        or ctype.endswith(("+xml", "/xml", "/json"))
        or ctype in ("application/pdf", "application/xhtml+xml", "application/octet-stream")
    )


def host_key(url: str) -> str:
    """The politeness unit: one connection at a time per host name."""
    return (urlsplit(url).hostname or "").lower()


class HostGate:
    """One request at a time per host, with a minimum pause between requests to one host."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._not_before: dict[str, float] = {}  # Retry-After: no request to the host before
        self.extra_delay: dict[str, float] = {}  # e.g. robots.txt Crawl-delay, per host

    def next_allowed(self, host: str) -> float:
        with self._lock:
            last = self._last.get(host)
            wait = max(self.delay, self.extra_delay.get(host, 0.0))
            not_before = self._not_before.get(host, 0.0)
        return max(0.0 if last is None else last + wait, not_before)

    def back_off(self, host: str, wait: float, slow_down: float) -> None:
        """The host asked us to wait (Retry-After): no request to it for ``wait`` seconds, and
        a pause of at least ``slow_down`` (at most MAX_SLOWDOWN) between its later requests."""
        with self._lock:
            until = time.monotonic() + wait
            self._not_before[host] = max(self._not_before.get(host, 0.0), until)
            slower = min(slow_down, MAX_SLOWDOWN)
            self.extra_delay[host] = max(self.extra_delay.get(host, 0.0), slower)

    def lock_for(self, host: str) -> threading.Lock:
        """The host's lock, without the politeness pause (for housekeeping)."""
        with self._lock:
            return self._hosts.setdefault(host, threading.Lock())

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with self.lock_for(host):
            pause = self.next_allowed(host) - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                yield
            finally:
                with self._lock:
                    self._last[host] = time.monotonic()


def classify(exc: BaseException) -> str:
    """Map an exception from requests/urllib3/socket/ssl to a stable error class."""
    chain = list(_exception_chain(exc))
    if any(isinstance(e, PrivateAddressError) for e in chain):
        return "private-address"
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in chain):
        return "dns"
    if any(
        isinstance(e, requests.exceptions.ProxyError | urllib3.exceptions.ProxyError) for e in chain
    ) or any(type(e).__module__ == "socks" for e in chain):
        return "proxy"
    if any(
        isinstance(e, ssl.SSLError | ssl.CertificateError | requests.exceptions.SSLError)
        for e in chain
    ):
        return "tls"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection-refused"
    if any(isinstance(e, ConnectionResetError | BrokenPipeError) for e in chain):
        return "connection-reset"
    # urllib3's NewConnectionError subclasses its ConnectTimeoutError: only the cause counts.
    if any(
        isinstance(
            e,
            TimeoutError
            | socket.timeout
            | urllib3.exceptions.TimeoutError
            | requests.exceptions.Timeout,
        )
        and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in chain
    ):
        return "timeout"
    if any(isinstance(e, ConnectionAbortedError) for e in chain):
        return "connection-aborted"
    if any(
        isinstance(e, urllib3.exceptions.ProtocolError | requests.exceptions.ChunkedEncodingError)
        for e in chain
    ):
        return "disconnect"
    return "network"


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])


_USERINFO = re.compile(r"(?<=//)[^/\s@'\"]+@")


def _message(exc: BaseException) -> str:
    """One line for the log; credentials in any URL it quotes (a proxy's) are dropped first."""
    text = _USERINFO.sub("", " ".join(str(exc).split()))
    return text[:500] or type(exc).__name__


class _Decoder:
    """Undo Content-Encoding for the cleaner's copy, in bounded steps (gzip bombs stay on disk)."""

    def __init__(self, encoding: str) -> None:
        enc = encoding.strip().lower()
        self._z: Any = None
        if enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj()
            self._raw_deflate_fallback = True
        elif enc not in ("", "identity"):
            raise ValueError(f"unsupported content-encoding {encoding!r}")
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            yield data
            return
        if self._first and getattr(self, "_raw_deflate_fallback", False):
            self._first = False
            try:
                yield from self._drain(data)
                return
            except zlib.error:  # servers often send raw deflate without the zlib header
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        self._first = False
        yield from self._drain(data)

    def _drain(self, data: bytes) -> Iterator[bytes]:
        out = self._z.decompress(data, READ_CHUNK)
        yield out
        while self._z.unconsumed_tail:
            yield self._z.decompress(self._z.unconsumed_tail, READ_CHUNK)

    def flush(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


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
        payload_filter: Callable[[str | None], bool] | None = cleanable,
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
        decoder: _Decoder | None = None
        if want_body:
            try:
                decoder = _Decoder(hop.headers.get("content-encoding", ""))
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
                    try:
                        for piece in decoder.feed(data):
                            if decoded_size < max_size:  # bound the cleaner's copy too
                                out.write(piece)
                                decoded_size += len(piece)
                    except zlib.error:
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
                    tail = decoder.flush()
                    if decoded_size < max_size:
                        out.write(tail)
                except zlib.error:
                    decoder = None
            out.close()
            if decoder is None:  # undecodable: give the cleaner nothing rather than garbage
                Path(out.name).unlink(missing_ok=True)
            else:
                if result.payload_path is not None:
                    result.payload_path.unlink(missing_ok=True)
                result.payload_path = Path(out.name)


def retry_after_seconds(value: str, date: str | None = None) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (RFC 9110 §10.2.3): delay-seconds or an
    HTTP-date, the latter measured from the response's own ``Date`` when it has one (so a
    skewed clock on either side does not matter). None when it is neither."""
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            sent = email.utils.parsedate_to_datetime(date)
            if sent is not None:
                now = sent if sent.tzinfo else sent.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


_LOCAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def local_storage_error(exc: BaseException | None) -> OSError | None:
    """The disk-full (quota, read-only) error behind ``exc``, if any: urllib3 wraps it."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _LOCAL_ERRNOS:
            return e
        stack.extend([e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return None


def _raise_if_local(exc: BaseException, url: str) -> None:
    """Our disk failing is not the server failing: stop the run instead of recording it."""
    local = local_storage_error(exc)
    if local is not None:
        raise ArchiverError(
            f"{local.filename or 'the output disk'}: {local.strerror} while capturing {url}; "
            "that URL was not recorded. Free space and run the same command again to resume",
            EXIT_RUN_FAILED,
        ) from exc


def _check_url(url: str) -> tuple[str, str] | None:
    """Return (class, message) when ``url`` cannot be fetched at all."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        return "invalid-url", f"{url!r} is not a valid URL ({exc}); correct it in the source"
    del port
    if parts.scheme.lower() not in ("http", "https"):
        return (
            "unsupported-scheme",
            f"{url!r} uses scheme {parts.scheme or '(none)'!r}; only http and https are captured",
        )
    if not parts.hostname:
        return "invalid-url", f"{url!r} has no host name; correct it in the source"
    if _SPACE.search(url):
        return "invalid-url", f"{url!r} contains white space; correct it in the source"
    return None
